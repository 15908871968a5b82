# cython: language_level=3
"""Per-sample negative log-likelihood kernels on raw predictions.

Each family has scalar ``cdef inline`` functions, written in a numerically stable
form, for its loss and gradient, observed Hessian and Fisher information on one row of
raw predictions.  Three switches on the family code (``_row_loss_gradient``,
``_row_hessian``, ``_row_fisher``) dispatch to them, and every loop (the per-sample
entry points :func:`loss_gradient`, :func:`hessian` and :func:`fisher_information`,
the fused pass over X and the Gram kernels) goes through these switches, so each loop
is written once for all families.  No loop accumulates across samples in an order that
depends on the thread count, so results are identical for any number of threads; the
per-sample entry points write one value (or one row) per sample and the sums are taken
by the caller.

Conventions
-----------
* ``raw_prediction`` has one row per sample and one column per raw prediction: the
  logit (Bernoulli), the class scores (categorical), the mean (Gaussian), the log of
  the mean (Poisson, Gamma) and, for the Gaussian with learned scale, a second column
  holding ``log sigma`` (Gamma: the log dispersion).
* ``sample_weight`` multiplies each sample's loss, gradient and Hessian.
* Losses are *full* negative log-likelihoods, constants included.
* For finite inputs with ``|raw_prediction| <= 1e300`` no kernel returns NaN or
  raises a floating-point overflow.  Bernoulli, categorical and Gaussian losses stay
  finite (squared residuals too large for a double saturate at the largest finite
  double); the exp-link families return ``+inf`` exactly where the true NLL exceeds
  the doubles (the linear model then reports an infinite objective and the line
  search backs off); gradients and Hessians saturate at +-DBL_MAX.
* An unknown family code is refused by every Python entry point (ValueError); inside
  the nogil loops it yields NaN, never another family's formula.
"""

from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport (exp, expm1, log, log1p, fabs, floor, fmin, sqrt, copysign,
                        INFINITY, NAN)
from libc.float cimport DBL_MAX
from libc.stdlib cimport malloc, free
from libc.string cimport memcpy, memset
from scipy.linalg.cython_blas cimport dgemm, dsyrk
from scipy.special.cython_special cimport gammaln, psi

import numpy as np

cdef double HALF_LOG_2PI = 0.91893853320467274178032973640562
cdef double LOG_2 = 0.69314718055994530941723212145818
# log(DBL_MAX) ~ 709.78: exp of anything above overflows.
cdef double LOG_DBL_MAX = 709.782712893384

#: Rows per accumulation block.  The partial sums of each block are added in block
#: order afterwards, so the result does not depend on the number of threads.
cdef Py_ssize_t BLOCK_ROWS = 2048
FUSED_BLOCK_ROWS = BLOCK_ROWS
#: Rows per BLAS update when forming Gram matrices (bounds the scratch buffers).
cdef Py_ssize_t GRAM_ROWS = 256

#: log(k!) = lgamma(k + 1) for the integers k below LOG_FACTORIAL_TABLE, filled at
#: import by the same gammaln that computes any other value: the count families' NLL
#: constant (Poisson, negative binomial) read from it is the same to the bit, at a
#: table look-up instead of a call per sample and evaluation (on 500 000 Poisson
#: counts that call was most of an evaluation's time).
cdef enum:
    LOG_FACTORIAL_TABLE = 1024
cdef double LOG_FACTORIAL[LOG_FACTORIAL_TABLE]
cdef int _k
for _k in range(LOG_FACTORIAL_TABLE):
    LOG_FACTORIAL[_k] = gammaln(_k + 1.0)


cdef inline double _log_factorial(double y) noexcept nogil:
    """lgamma(y + 1): from the table for an integer 0 <= y < LOG_FACTORIAL_TABLE."""
    cdef int k
    if y >= 0.0 and y < LOG_FACTORIAL_TABLE:
        k = <int> y
        if k == y:
            return LOG_FACTORIAL[k]
    return gammaln(y + 1.0)


# ----------------------------------------------------------------------------------
# Family codes.  Adding a family takes: one scalar function per formula (loss
# and gradient, observed Hessian, Fisher information on one row) in its own
# ``_<family>.pxi`` beside its Python class, included below; the next code here
# with one row in FAMILY_N_RAW, and one case in each switch: _row_loss_gradient,
# _row_hessian and, unless the Fisher information is the observed Hessian (canonical
# link, no other parameter), _row_fisher.  The loops need no change.
# ----------------------------------------------------------------------------------
cdef enum:
    BERNOULLI = 0
    CATEGORICAL = 1
    GAUSSIAN_FIXED = 2
    GAUSSIAN = 3
    POISSON = 4
    GAMMA = 5
    NEGATIVE_BINOMIAL = 6
    STUDENT_T = 7

FAMILY_BERNOULLI = BERNOULLI
FAMILY_CATEGORICAL = CATEGORICAL
FAMILY_GAUSSIAN_FIXED = GAUSSIAN_FIXED
FAMILY_GAUSSIAN = GAUSSIAN
FAMILY_POISSON = POISSON
FAMILY_GAMMA = GAMMA
FAMILY_NEGATIVE_BINOMIAL = NEGATIVE_BINOMIAL
FAMILY_STUDENT_T = STUDENT_T

#: Raw-prediction columns of each family code; 0 means any number >= 2 (one score
#: per class).
FAMILY_N_RAW = {
    FAMILY_BERNOULLI: 1,
    FAMILY_CATEGORICAL: 0,
    FAMILY_GAUSSIAN_FIXED: 1,
    FAMILY_GAUSSIAN: 2,
    FAMILY_POISSON: 1,
    FAMILY_GAMMA: 2,
    FAMILY_NEGATIVE_BINOMIAL: 2,
    FAMILY_STUDENT_T: 3,
}


def check_family(family, n_raw):
    """Raise a ValueError unless ``family`` is a known code taking ``n_raw`` columns."""
    expected = FAMILY_N_RAW.get(family)
    if expected is None:
        raise ValueError(f"Unknown family code {family!r}; the kernels know "
                         f"{sorted(FAMILY_N_RAW)}.")
    if (n_raw < 2) if expected == 0 else (n_raw != expected):
        wanted = "at least 2" if expected == 0 else str(expected)
        raise ValueError(f"Family code {family} takes {wanted} raw-prediction "
                         f"column(s); got {n_raw}.")


cdef inline double _exp_capped(double x) noexcept nogil:
    """exp(x), saturating at DBL_MAX instead of overflowing to inf."""
    if x >= LOG_DBL_MAX:
        return DBL_MAX
    return exp(x)


# ----------------------------------------------------------------------------------
# Each family's scalar formulas, one file per family beside its Python class.
# ----------------------------------------------------------------------------------
include "_bernoulli.pxi"
include "_categorical.pxi"
include "_gaussian.pxi"
include "_poisson.pxi"
include "_gamma.pxi"
include "_special.pxi"
include "_negative_binomial.pxi"
include "_student_t.pxi"


# ----------------------------------------------------------------------------------
# The three switches.  Each family is an explicit case; an unknown code writes NaN.
# ----------------------------------------------------------------------------------
cdef inline void _fill_nan(double *out, Py_ssize_t count) noexcept nogil:
    cdef Py_ssize_t k
    for k in range(count):
        out[k] = NAN


cdef inline double _weighted(double w, double loss) noexcept nogil:
    """w * loss, and 0 for a zero weight even where the loss is +inf."""
    if w == 0.0:
        return 0.0
    return w * loss


cdef inline void _weigh(double *values, Py_ssize_t count, double w) noexcept nogil:
    """values *= w in place (0 for a zero weight even where a value is infinite)."""
    cdef Py_ssize_t k
    for k in range(count):
        values[k] = _weighted(w, values[k])


cdef inline double _row_loss_gradient(int family, double y, double *row, Py_ssize_t m,
                                      double w, double *memo=NULL) noexcept nogil:
    """Overwrite the raw predictions in ``row`` by w * dNLL/draw; return w * NLL."""
    cdef double loss, g0, g1
    if family == BERNOULLI:
        loss = _bernoulli_loss_grad(y, row[0], &row[0])
        row[0] = w * row[0]
        return w * loss
    if family == CATEGORICAL:
        return _categorical_loss_grad(y, row, m, w)
    if family == GAUSSIAN_FIXED:
        g0 = y - row[0]
        row[0] = -w * g0
        return w * (_half_square_capped(g0) + HALF_LOG_2PI)
    if family == GAUSSIAN:
        loss = _gaussian_loss_grad(y, row[0], row[1], &g0, &g1)
        row[0] = w * g0
        row[1] = w * g1
        return w * loss
    if family == POISSON:
        loss = _poisson_loss_grad(y, row[0], &row[0])
        row[0] = w * row[0]
        return _weighted(w, loss)
    if family == GAMMA:
        loss = _gamma_loss_grad(y, row[0], row[1], &g0, &g1, memo)
        row[0] = w * g0
        row[1] = w * g1
        return _weighted(w, loss)
    if family == NEGATIVE_BINOMIAL:
        loss = _nb_loss_grad(y, row[0], row[1], row)
        _weigh(row, 2, w)
        return _weighted(w, loss)
    if family == STUDENT_T:
        loss = _t_loss_grad(y, row[0], row[1], row[2], row)
        _weigh(row, 3, w)
        return _weighted(w, loss)
    _fill_nan(row, m)
    return NAN


cdef inline void _row_hessian(int family, double y, const double *row, Py_ssize_t m,
                              double w, double *out) noexcept nogil:
    """Weighted observed Hessian wrt the raw predictions of one sample, as the upper
    triangle ``out[pair(j, k)]``, j <= k, in row order: (0,0), (0,1), ..., (1,1), ..."""
    if family == BERNOULLI:
        out[0] = w * _bernoulli_hessian(row[0])
    elif family == CATEGORICAL:
        _categorical_hessian(row, m, w, out)
    elif family == GAUSSIAN_FIXED:
        out[0] = w
    elif family == GAUSSIAN:
        _gaussian_hessian(y, row, w, out)
    elif family == POISSON:
        out[0] = w * _exp_capped(row[0])
    elif family == GAMMA:
        _gamma_hessian(y, row, w, out)
    elif family == NEGATIVE_BINOMIAL:
        _nb_hessian(y, row[0], row[1], out)
        _weigh(out, 3, w)
    elif family == STUDENT_T:
        _t_hessian(y, row[0], row[1], row[2], out)
        _weigh(out, 6, w)
    else:
        _fill_nan(out, m * (m + 1) // 2)


cdef inline void _row_fisher(int family, double y, const double *row, Py_ssize_t m,
                             double w, double *out) noexcept nogil:
    """Weighted expected Hessian (Fisher information) of one sample, upper triangle in
    the order of :func:`_row_hessian`.  Families with a canonical link and no further
    parameter have it equal to the observed Hessian and have no case here."""
    if family == GAUSSIAN:
        # E[d2/dmu2] = 1/sigma^2, E[d2/dmu dlog sigma] = 0, E[d2/dlog sigma2] = 2
        out[0] = w * _exp_capped(-2.0 * row[1])
        out[1] = 0.0
        out[2] = 2.0 * w
    elif family == GAMMA:
        out[0] = w * _exp_capped(-row[1])
        out[1] = 0.0
        out[2] = w * _gamma_d(row[1])
    elif family == NEGATIVE_BINOMIAL:
        _nb_fisher(row[0], row[1], out)
        _weigh(out, 3, w)
    elif family == STUDENT_T:
        _t_fisher(row[1], row[2], out)
        _weigh(out, 6, w)
    else:
        # the observed Hessian (which writes NaN for an unknown code)
        _row_hessian(family, y, row, m, w, out)


# ----------------------------------------------------------------------------------
# Per-sample entry points: one loop each for every family.
# ----------------------------------------------------------------------------------
def _check_per_sample(family, Py_ssize_t n, Py_ssize_t m, Py_ssize_t n_y,
                      Py_ssize_t n_weight, tuple out_shape, tuple expected_out):
    check_family(family, m)
    if n_y != n or n_weight != n or out_shape != expected_out:
        raise ValueError(f"Kernel inputs disagree: {n} rows of {m} raw predictions, "
                         f"{n_y} targets, {n_weight} weights, output {out_shape} "
                         f"(expected {expected_out}).")


cdef inline Py_ssize_t _block_stop(Py_ssize_t b, Py_ssize_t n) noexcept nogil:
    """End of row block ``b`` (blocks of ``BLOCK_ROWS`` rows) of ``n`` rows."""
    return n if (b + 1) * BLOCK_ROWS > n else (b + 1) * BLOCK_ROWS


cdef void _loss_gradient_block(int family, const floating *y,
                               const floating *raw_prediction,
                               const floating *sample_weight, Py_ssize_t start,
                               Py_ssize_t stop, Py_ssize_t m, double *loss_out,
                               double *gradient_out) noexcept nogil:
    """Weighted NLL and gradient of rows ``start:stop``, with one memo of the shape's
    special functions for the block (see ``_gamma_loss_grad``)."""
    cdef double memo[4]
    cdef Py_ssize_t i, k
    _reset_memo(memo)
    for i in range(start, stop):
        # the gradient overwrites the raw predictions in place, in the output row
        for k in range(m):
            gradient_out[i * m + k] = raw_prediction[i * m + k]
        loss_out[i] = _row_loss_gradient(family, y[i], gradient_out + i * m, m,
                                         sample_weight[i], memo)


def loss_gradient(
    int family,
    const floating[::1] y,
    const floating[:, ::1] raw_prediction,
    const floating[::1] sample_weight,
    double[::1] loss_out,
    double[:, ::1] gradient_out,
    int n_threads=1,
):
    """Weighted NLL (n,) of ``family`` and its gradient (n, m) wrt the raw predictions.

    ``y`` holds the targets (class indices stored as floats for the categorical).
    """
    cdef Py_ssize_t n = raw_prediction.shape[0], m = raw_prediction.shape[1]
    cdef Py_ssize_t n_blocks = (n + BLOCK_ROWS - 1) // BLOCK_ROWS
    cdef Py_ssize_t b, stop
    _check_per_sample(family, n, m, y.shape[0], sample_weight.shape[0],
                      (loss_out.shape[0], gradient_out.shape[0], gradient_out.shape[1]),
                      (n, n, m))
    if n == 0:
        return
    for b in prange(n_blocks, nogil=True, schedule="static", num_threads=n_threads):
        stop = _block_stop(b, n)
        _loss_gradient_block(family, &y[0], &raw_prediction[0, 0], &sample_weight[0],
                             b * BLOCK_ROWS, stop, m, &loss_out[0], &gradient_out[0, 0])


cdef int _constant_loss_block(int family, const floating *y, const double *raw_row,
                              const floating *sample_weight, Py_ssize_t start,
                              Py_ssize_t stop, Py_ssize_t m, double *total) noexcept nogil:
    """Weighted NLL summed over rows ``start:stop``, every row at ``raw_row``.
    Returns 1 if its row buffer could not be allocated, else 0."""
    cdef double *row = <double *> malloc(m * sizeof(double))
    cdef double memo[4]
    cdef double sum = 0.0
    cdef Py_ssize_t i
    if row == NULL:
        return 1
    _reset_memo(memo)
    for i in range(start, stop):
        memcpy(row, raw_row, m * sizeof(double))
        sum = sum + _row_loss_gradient(family, y[i], row, m, sample_weight[i], memo)
    total[0] = sum
    free(row)
    return 0


def constant_loss(
    int family,
    const floating[::1] y,
    const double[::1] raw_row,
    const floating[::1] sample_weight,
    int n_threads=1,
):
    """Weighted NLL of ``family`` summed over samples that all have the raw
    prediction ``raw_row`` (m,), e.g. a null model's: no per-sample arrays.  Summed
    per block of ``BLOCK_ROWS`` rows, then over the blocks in order, so the total
    does not depend on ``n_threads``."""
    cdef Py_ssize_t n = y.shape[0], m = raw_row.shape[0]
    cdef Py_ssize_t n_blocks = (n + BLOCK_ROWS - 1) // BLOCK_ROWS
    cdef Py_ssize_t b
    cdef int failed = 0
    _check_per_sample(family, n, m, n, sample_weight.shape[0], (), ())
    if n == 0:
        return 0.0
    cdef double[::1] block_loss = np.empty(n_blocks)
    for b in prange(n_blocks, nogil=True, schedule="static", num_threads=n_threads):
        failed += _constant_loss_block(family, &y[0], &raw_row[0], &sample_weight[0],
                                       b * BLOCK_ROWS, _block_stop(b, n), m,
                                       &block_loss[b])
    if failed:
        raise MemoryError("constant_loss: no memory for a row buffer")
    if n_blocks == 1:
        return block_loss[0]
    return float(np.sum(block_loss.base))


cdef inline void _unpack_upper(double *a, Py_ssize_t m) noexcept nogil:
    """Spread the packed upper triangle at the start of ``a`` (as written by
    ``_row_hessian``) to the full symmetric m x m matrix ``a``, in place.  The packed
    index of (j, k) never exceeds its full index j m + k, so going backwards reads
    every packed entry before it is overwritten."""
    cdef Py_ssize_t j, k, c = m * (m + 1) // 2 - 1
    for j in range(m - 1, -1, -1):
        for k in range(m - 1, j - 1, -1):
            a[j * m + k] = a[c]
            c = c - 1
    for j in range(m):
        for k in range(j + 1, m):
            a[k * m + j] = a[j * m + k]


cdef int _hessian_block(int family, bint expected, const floating *y,
                        const floating *raw_prediction, const floating *sample_weight,
                        Py_ssize_t start, Py_ssize_t stop, Py_ssize_t m,
                        double *out) noexcept nogil:
    """Observed (or, if ``expected``, expected) Hessians of rows ``start:stop`` into
    ``out`` (n, m, m).  Returns 1 if its row buffer could not be allocated, else 0."""
    cdef double *raw = <double *> malloc(m * sizeof(double))
    cdef Py_ssize_t i, k
    if raw == NULL:
        return 1
    for i in range(start, stop):
        for k in range(m):
            raw[k] = raw_prediction[i * m + k]
        if expected:
            _row_fisher(family, y[i], raw, m, sample_weight[i], out + i * m * m)
        else:
            _row_hessian(family, y[i], raw, m, sample_weight[i], out + i * m * m)
        _unpack_upper(out + i * m * m, m)
    free(raw)
    return 0


def _hessians(int family, bint expected, const floating[::1] y,
              const floating[:, ::1] raw_prediction, const floating[::1] sample_weight,
              double[:, :, ::1] hessian_out, int n_threads):
    cdef Py_ssize_t n = raw_prediction.shape[0], m = raw_prediction.shape[1]
    cdef Py_ssize_t n_blocks = (n + BLOCK_ROWS - 1) // BLOCK_ROWS
    cdef Py_ssize_t b, stop
    cdef int failed = 0
    _check_per_sample(family, n, m, y.shape[0], sample_weight.shape[0],
                      (hessian_out.shape[0], hessian_out.shape[1], hessian_out.shape[2]),
                      (n, m, m))
    if n == 0:
        return
    for b in prange(n_blocks, nogil=True, schedule="static", num_threads=n_threads):
        stop = _block_stop(b, n)
        failed += _hessian_block(family, expected, &y[0], &raw_prediction[0, 0],
                                 &sample_weight[0], b * BLOCK_ROWS, stop, m,
                                 &hessian_out[0, 0, 0])
    if failed:
        raise MemoryError("Hessian kernel: no memory for a row buffer")


def hessian(family, y, raw_prediction, sample_weight, hessian_out, n_threads=1):
    """Weighted observed Hessian (n, m, m) of the NLL of ``family`` wrt the raw
    predictions, written to ``hessian_out``."""
    _hessians(family, False, y, raw_prediction, sample_weight, hessian_out, n_threads)


def fisher_information(family, y, raw_prediction, sample_weight, hessian_out,
                       n_threads=1):
    """Weighted Fisher information (expected Hessian given the raw predictions, n x m
    x m) of ``family``, written to ``hessian_out``; positive semi-definite."""
    _hessians(family, True, y, raw_prediction, sample_weight, hessian_out, n_threads)


# ----------------------------------------------------------------------------------
# One pass over dense row-major X: raw predictions, per-sample loss and gradient, and
# the gradient with respect to the coefficients, in a single sweep.
# ----------------------------------------------------------------------------------


cdef inline double _dot_row(const floating *x, const double *c, Py_ssize_t d) noexcept nogil:
    """``sum_k x[k] c[k]`` in double, as eight interleaved partial sums added in a fixed
    order (independent chains the compiler can vectorise; no -ffast-math needed)."""
    cdef double a0 = 0.0, a1 = 0.0, a2 = 0.0, a3 = 0.0
    cdef double a4 = 0.0, a5 = 0.0, a6 = 0.0, a7 = 0.0
    cdef Py_ssize_t k = 0
    while k + 8 <= d:
        a0 = a0 + <double> x[k] * c[k]
        a1 = a1 + <double> x[k + 1] * c[k + 1]
        a2 = a2 + <double> x[k + 2] * c[k + 2]
        a3 = a3 + <double> x[k + 3] * c[k + 3]
        a4 = a4 + <double> x[k + 4] * c[k + 4]
        a5 = a5 + <double> x[k + 5] * c[k + 5]
        a6 = a6 + <double> x[k + 6] * c[k + 6]
        a7 = a7 + <double> x[k + 7] * c[k + 7]
        k = k + 8
    while k < d:
        a0 = a0 + <double> x[k] * c[k]
        k = k + 1
    return ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7))


cdef inline void _axpy_row(double g, const floating *x, double *out,
                           Py_ssize_t d) noexcept nogil:
    """``out += g * x`` in double."""
    cdef Py_ssize_t k
    for k in range(d):
        out[k] = out[k] + g * <double> x[k]


cdef inline void _raw_row(const floating *x, Py_ssize_t d, const double *coef,
                          const double *intercept, const Py_ssize_t *coef_rows,
                          Py_ssize_t n_free, Py_ssize_t m, double *raw) noexcept nogil:
    """Raw predictions of one row: ``x @ coef[j] + intercept[j]``."""
    cdef Py_ssize_t j, r
    for j in range(m):
        raw[j] = intercept[j]
    for r in range(n_free):
        j = coef_rows[r]
        raw[j] = raw[j] + _dot_row(x, coef + j * d, d)


cdef inline void _add_row_gradient(const double *gradient, const floating *x,
                                   Py_ssize_t d, Py_ssize_t m,
                                   const Py_ssize_t *coef_rows, Py_ssize_t n_free,
                                   double *raw_gradient,
                                   double *coef_gradient) noexcept nogil:
    """Add one row's gradient wrt its raw predictions (m,) to ``raw_gradient`` and its
    rows ``coef_rows`` times x to ``coef_gradient`` (n_free, d)."""
    cdef Py_ssize_t j, r
    cdef double g
    for j in range(m):
        raw_gradient[j] = raw_gradient[j] + gradient[j]
    for r in range(n_free):
        g = gradient[coef_rows[r]]
        if g != 0.0:
            _axpy_row(g, x, coef_gradient + r * d, d)


cdef int _fused_block(const floating *X, Py_ssize_t d, Py_ssize_t start, Py_ssize_t stop,
                       const double *y, const double *sample_weight, const double *coef,
                       const double *intercept, const Py_ssize_t *coef_rows,
                       Py_ssize_t n_free, Py_ssize_t m, int family, double *loss,
                       double *raw_gradient, double *coef_gradient) noexcept nogil:
    """Loss, raw-prediction gradient and coefficient gradient summed over rows
    ``start:stop``, written to this block's slots of the outputs.  Returns 1 if its
    scratch memory could not be allocated, else 0."""
    cdef double *raw = <double *> malloc(m * sizeof(double))
    cdef const floating *x
    cdef double total = 0.0
    cdef double memo[4]
    cdef Py_ssize_t i
    if raw == NULL:
        return 1
    _reset_memo(memo)
    memset(raw_gradient, 0, m * sizeof(double))
    memset(coef_gradient, 0, n_free * d * sizeof(double))
    for i in range(start, stop):
        x = X + i * d
        _raw_row(x, d, coef, intercept, coef_rows, n_free, m, raw)
        total = total + _row_loss_gradient(family, y[i], raw, m, sample_weight[i], memo)
        _add_row_gradient(raw, x, d, m, coef_rows, n_free, raw_gradient, coef_gradient)
    loss[0] = total
    free(raw)
    return 0


cdef int _check_linear_model(int family, Py_ssize_t n, Py_ssize_t d, const double[::1] y,
                             const double[::1] sample_weight, const double[:, ::1] coef,
                             const double[::1] intercept,
                             const Py_ssize_t[::1] coef_rows) except -1:
    """The family code against the number of raw columns m = coef.shape[0], and the
    shapes of a linear model's inputs against X's (n, d)."""
    cdef Py_ssize_t m = coef.shape[0]
    check_family(family, m)
    if (y.shape[0] != n or sample_weight.shape[0] != n or coef.shape[1] != d
            or intercept.shape[0] != m):
        raise ValueError(f"Linear-model inputs disagree with X ({n} x {d}): "
                         f"{y.shape[0]} targets, {sample_weight.shape[0]} weights, "
                         f"coef {coef.shape[0]} x {coef.shape[1]}, "
                         f"{intercept.shape[0]} intercepts.")
    _check_coef_rows(coef_rows, m)
    return 0


cdef int _check_coef_rows(const Py_ssize_t[::1] coef_rows, Py_ssize_t m) except -1:
    """Every entry of ``coef_rows`` a row of the m raw columns of ``coef``."""
    cdef Py_ssize_t r
    for r in range(coef_rows.shape[0]):
        if coef_rows[r] < 0 or coef_rows[r] >= m:
            raise ValueError(f"coef_rows[{r}] = {coef_rows[r]} is not a row of coef "
                             f"({m} rows).")
    return 0


def fused_loss_gradient(
    const floating[:, ::1] X,
    const double[::1] y,
    const double[::1] sample_weight,
    const double[:, ::1] coef,
    const double[::1] intercept,
    const Py_ssize_t[::1] coef_rows,
    int family,
    double[::1] block_loss,
    double[:, ::1] block_raw_gradient,
    double[:, :, ::1] block_coef_gradient,
    int n_threads=1,
):
    """One sweep over row-major X for a linear model with ``m = coef.shape[0]`` outputs.

    For each sample: ``raw = X[i] @ coef[j] + intercept[j]`` for the rows ``j`` in
    ``coef_rows`` (``intercept[j]`` alone for the others), accumulated in double even
    for float32 X; then its weighted NLL and gradient ``g`` with respect to ``raw``.
    Per block of ``FUSED_BLOCK_ROWS`` rows ``b``, ``block_loss[b]`` is the sum of the
    NLLs, ``block_raw_gradient[b]`` the sum of ``g`` and ``block_coef_gradient[b, r]``
    the sum of ``g[coef_rows[r]] * X[i]``.  Summing the blocks in order (axis 0) gives
    the totals; no per-sample array is written.
    """
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], m = coef.shape[0]
    cdef Py_ssize_t n_free = coef_rows.shape[0]
    cdef Py_ssize_t n_blocks = (n + BLOCK_ROWS - 1) // BLOCK_ROWS
    cdef Py_ssize_t b, stop
    cdef int failed = 0
    if n == 0 or d == 0:
        raise ValueError("fused_loss_gradient needs at least one row and one column")
    _check_linear_model(family, n, d, y, sample_weight, coef, intercept, coef_rows)
    if (block_loss.shape[0] != n_blocks or block_raw_gradient.shape[0] != n_blocks
            or block_raw_gradient.shape[1] != m
            or block_coef_gradient.shape[0] != n_blocks
            or block_coef_gradient.shape[1] != n_free
            or block_coef_gradient.shape[2] != d):
        raise ValueError("fused_loss_gradient: block outputs of the wrong shape")
    for b in prange(n_blocks, nogil=True, schedule="static", num_threads=n_threads):
        stop = _block_stop(b, n)
        failed += _fused_block(&X[0, 0], d, b * BLOCK_ROWS, stop, &y[0], &sample_weight[0],
                     &coef[0, 0], &intercept[0], &coef_rows[0] if n_free else NULL,
                     n_free, m, family, &block_loss[b], &block_raw_gradient[b, 0],
                     &block_coef_gradient[b, 0, 0] if n_free else NULL)
    if failed:
        raise MemoryError("fused_loss_gradient: no memory for a row buffer")


# ----------------------------------------------------------------------------------
# The fused pass over CSR X: the same per-row sequence as _fused_block (raw
# predictions, the family's NLL and gradient, the coefficient gradient), reading each
# row's stored entries only.  Blocks of rows are given by the caller (their number
# fixed by the data's shape, never by the thread count), each writing its own partial
# sums, so the result does not depend on the number of threads.
# ----------------------------------------------------------------------------------
ctypedef fused sparse_index:
    int
    long long


cdef inline void _csr_raw_row(const floating *data, const sparse_index *indices,
                              Py_ssize_t first, Py_ssize_t last, Py_ssize_t d,
                              const double *coef, const double *intercept,
                              const Py_ssize_t *coef_rows, Py_ssize_t n_free,
                              Py_ssize_t m, double *raw) noexcept nogil:
    """Raw predictions of one CSR row (stored entries ``first:last``):
    ``x @ coef[j] + intercept[j]``."""
    cdef Py_ssize_t j, r, k
    cdef const double *c
    cdef double dot
    for j in range(m):
        raw[j] = intercept[j]
    for r in range(n_free):
        j = coef_rows[r]
        c = coef + j * d
        dot = 0.0
        for k in range(first, last):
            dot = dot + <double> data[k] * c[indices[k]]
        raw[j] = raw[j] + dot


cdef inline void _csr_axpy_row(double g, const floating *data,
                               const sparse_index *indices, Py_ssize_t first,
                               Py_ssize_t last, double *out) noexcept nogil:
    """``out += g * x`` for one CSR row (stored entries ``first:last``)."""
    cdef Py_ssize_t k
    for k in range(first, last):
        out[indices[k]] = out[indices[k]] + g * <double> data[k]


cdef int _fused_block_csr(const floating *data, const sparse_index *indices,
                          const sparse_index *indptr, Py_ssize_t d, Py_ssize_t start,
                          Py_ssize_t stop, const double *y, const double *sample_weight,
                          const double *coef, const double *intercept,
                          const Py_ssize_t *coef_rows, Py_ssize_t n_free, Py_ssize_t m,
                          int family, double *loss, double *raw_gradient,
                          double *coef_gradient) noexcept nogil:
    """:func:`_fused_block` on rows ``start:stop`` of CSR X (``data``, ``indices``,
    ``indptr``).  Returns 1 if its scratch memory could not be allocated, else 0."""
    cdef double *raw = <double *> malloc(m * sizeof(double))
    cdef double total = 0.0, g
    cdef double memo[4]
    cdef Py_ssize_t i, j, r
    if raw == NULL:
        return 1
    _reset_memo(memo)
    memset(raw_gradient, 0, m * sizeof(double))
    memset(coef_gradient, 0, n_free * d * sizeof(double))
    for i in range(start, stop):
        _csr_raw_row(data, indices, indptr[i], indptr[i + 1], d, coef, intercept,
                     coef_rows, n_free, m, raw)
        total = total + _row_loss_gradient(family, y[i], raw, m, sample_weight[i], memo)
        for j in range(m):
            raw_gradient[j] = raw_gradient[j] + raw[j]
        for r in range(n_free):
            g = raw[coef_rows[r]]
            if g != 0.0:
                _csr_axpy_row(g, data, indices, indptr[i], indptr[i + 1],
                              coef_gradient + r * d)
    loss[0] = total
    free(raw)
    return 0


cdef int _fisher_product_block_csr(
        const floating *data, const sparse_index *indices, const sparse_index *indptr,
        Py_ssize_t d, Py_ssize_t start, Py_ssize_t stop, const double *y,
        const double *sample_weight, const double *coef, const double *intercept,
        const double *vector_coef, const double *vector_intercept,
        const Py_ssize_t *coef_rows, Py_ssize_t n_free, Py_ssize_t m, int family,
        double *raw_out, double *coef_out) noexcept nogil:
    """Rows ``start:stop`` of CSR X: ``sum_i F_i (z_i @ vector)`` on the raw columns
    into ``raw_out`` (m) and times ``x_i`` into ``coef_out`` (n_free, d), ``F_i`` the
    weighted Fisher information at the raw predictions ``z_i @ (coef, intercept)``.
    Returns 1 if its scratch memory could not be allocated, else 0."""
    cdef double *raw = <double *> malloc((3 * m + m * m) * sizeof(double))
    cdef double *change
    cdef double *product
    cdef double *fisher
    cdef double u
    cdef Py_ssize_t i, j, k, r
    if raw == NULL:
        return 1
    change, product, fisher = raw + m, raw + 2 * m, raw + 3 * m
    memset(raw_out, 0, m * sizeof(double))
    memset(coef_out, 0, n_free * d * sizeof(double))
    for i in range(start, stop):
        _csr_raw_row(data, indices, indptr[i], indptr[i + 1], d, coef, intercept,
                     coef_rows, n_free, m, raw)
        _csr_raw_row(data, indices, indptr[i], indptr[i + 1], d, vector_coef,
                     vector_intercept, coef_rows, n_free, m, change)
        _row_fisher(family, y[i], raw, m, sample_weight[i], fisher)
        _unpack_upper(fisher, m)
        for j in range(m):
            u = 0.0
            for k in range(m):
                u = u + fisher[j * m + k] * change[k]
            product[j] = u
            raw_out[j] = raw_out[j] + u
        for r in range(n_free):
            u = product[coef_rows[r]]
            if u != 0.0:
                _csr_axpy_row(u, data, indices, indptr[i], indptr[i + 1], coef_out + r * d)
    free(raw)
    return 0


cdef int _fisher_moments_block_csr(
        const floating *data, const sparse_index *indices, const sparse_index *indptr,
        Py_ssize_t d, Py_ssize_t start, Py_ssize_t stop, const double *y,
        const double *sample_weight, const double *coef, const double *intercept,
        const Py_ssize_t *coef_rows, Py_ssize_t n_free, Py_ssize_t m, int family,
        Py_ssize_t column, double *unit_out, double *first_out,
        double *second_out) noexcept nogil:
    """Rows ``start:stop`` of CSR X: the weighted Fisher informations ``F_i`` summed
    into ``unit_out`` (m, m), and ``sum_i F_i[column, column] x_i`` and ``... x_i**2``
    into ``first_out`` and ``second_out`` (d).  Returns 1 if its scratch memory could
    not be allocated, else 0."""
    cdef double *raw = <double *> malloc((m + m * m) * sizeof(double))
    cdef double *fisher
    cdef double c, x
    cdef Py_ssize_t i, k
    if raw == NULL:
        return 1
    fisher = raw + m
    memset(unit_out, 0, m * m * sizeof(double))
    memset(first_out, 0, d * sizeof(double))
    memset(second_out, 0, d * sizeof(double))
    for i in range(start, stop):
        _csr_raw_row(data, indices, indptr[i], indptr[i + 1], d, coef, intercept,
                     coef_rows, n_free, m, raw)
        _row_fisher(family, y[i], raw, m, sample_weight[i], fisher)
        _unpack_upper(fisher, m)
        for k in range(m * m):
            unit_out[k] = unit_out[k] + fisher[k]
        c = fisher[column * m + column]
        for k in range(indptr[i], indptr[i + 1]):
            x = <double> data[k]
            first_out[indices[k]] = first_out[indices[k]] + c * x
            second_out[indices[k]] = second_out[indices[k]] + c * x * x
    free(raw)
    return 0


def fisher_column_moments_csr(
    const floating[::1] data,
    const sparse_index[::1] indices,
    const sparse_index[::1] indptr,
    Py_ssize_t d,
    const Py_ssize_t[::1] block_starts,
    const double[::1] y,
    const double[::1] sample_weight,
    const double[:, ::1] coef,
    const double[::1] intercept,
    const Py_ssize_t[::1] coef_rows,
    int family,
    Py_ssize_t column,
    double[:, :, ::1] block_unit,
    double[:, :, ::1] block_moments,
    int n_threads=1,
):
    """The Fisher information of a linear model summed over the rows of CSR X (see
    :func:`fused_loss_gradient_csr` for the arrays and blocks), and the columns of X
    weighted by its entry ``column`` of raw column ``column``: per block ``b``,
    ``block_unit[b] = sum_i F_i`` (m, m), ``block_moments[b, 0] = sum_i
    F_i[column, column] x_i`` and ``block_moments[b, 1]`` the same of ``x_i**2``,
    ``F_i`` the weighted Fisher information at ``x_i @ coef[j] + intercept[j]``.  The
    squares are those of the stored entries (of the columns' values where no index
    repeats in a row, SciPy's canonical format), as in the linear model's column
    moments.
    """
    cdef Py_ssize_t m = coef.shape[0]
    cdef Py_ssize_t n_free = coef_rows.shape[0]
    cdef Py_ssize_t n_blocks = block_starts.shape[0] - 1
    cdef Py_ssize_t b
    cdef int failed = 0
    _check_csr_model(family, indptr, data.shape[0], indices.shape[0], d, block_starts, y,
                     sample_weight, coef, intercept, coef_rows)
    if not 0 <= column < m or (
            block_unit.shape[0] != n_blocks or block_unit.shape[1] != m
            or block_unit.shape[2] != m or block_moments.shape[0] != n_blocks
            or block_moments.shape[1] != 2 or block_moments.shape[2] != d):
        raise ValueError("fisher_column_moments_csr: no such column, or outputs of the "
                         "wrong shape")
    for b in prange(n_blocks, nogil=True, schedule="dynamic", num_threads=n_threads):
        failed += _fisher_moments_block_csr(
            &data[0] if data.shape[0] else NULL,
            &indices[0] if indices.shape[0] else NULL, &indptr[0], d,
            block_starts[b], block_starts[b + 1], &y[0], &sample_weight[0],
            &coef[0, 0], &intercept[0], &coef_rows[0] if n_free else NULL, n_free, m,
            family, column, &block_unit[b, 0, 0], &block_moments[b, 0, 0],
            &block_moments[b, 1, 0])
    if failed:
        raise MemoryError("fisher_column_moments_csr: no memory for a row buffer")


def _check_csr_model(int family, const sparse_index[::1] indptr, Py_ssize_t n_data,
                     Py_ssize_t n_indices, Py_ssize_t d,
                     const Py_ssize_t[::1] block_starts, y, sample_weight, coef,
                     intercept, coef_rows, block_raw=None, block_coef=None):
    """The CSR arrays, the row blocks and a linear model's inputs (see
    :func:`_check_linear_model`) against each other and, if given, the per-block
    outputs on the raw columns (n_blocks, m) and the coefficients (n_blocks, n_free,
    d)."""
    cdef Py_ssize_t n = indptr.shape[0] - 1
    cdef Py_ssize_t n_blocks = block_starts.shape[0] - 1, b
    if n < 1 or d < 1 or n_blocks < 1:
        raise ValueError("CSR kernels need at least one row, one column and one block")
    if block_starts[0] != 0 or block_starts[n_blocks] != n:
        raise ValueError("CSR kernels: blocks must cover rows 0 to n")
    for b in range(n_blocks):
        if block_starts[b + 1] < block_starts[b]:
            raise ValueError("CSR kernels: block starts must not decrease")
    if indptr[0] != 0 or n_indices < indptr[n] or n_data < indptr[n]:
        raise ValueError("CSR kernels: fewer stored entries than indptr says")
    _check_linear_model(family, n, d, y, sample_weight, coef, intercept, coef_rows)
    if block_raw is not None and (
            tuple(block_raw.shape) != (n_blocks, coef.shape[0])
            or tuple(block_coef.shape) != (n_blocks, coef_rows.shape[0], d)):
        raise ValueError("CSR kernels: block outputs of the wrong shape")


def fused_fisher_product_csr(
    const floating[::1] data,
    const sparse_index[::1] indices,
    const sparse_index[::1] indptr,
    Py_ssize_t d,
    const Py_ssize_t[::1] block_starts,
    const double[::1] y,
    const double[::1] sample_weight,
    const double[:, ::1] coef,
    const double[::1] intercept,
    const double[:, ::1] vector_coef,
    const double[::1] vector_intercept,
    const Py_ssize_t[::1] coef_rows,
    int family,
    double[:, ::1] block_raw_out,
    double[:, :, ::1] block_coef_out,
    int n_threads=1,
):
    """The product of the Fisher information of a linear model with a change of its
    parameters, over CSR X (see :func:`fused_loss_gradient_csr` for the arrays and
    blocks): per block ``b``, ``block_raw_out[b] = sum_i F_i v_i`` and
    ``block_coef_out[b, r] = sum_i (F_i v_i)[coef_rows[r]] x_i`` over its rows, with
    ``v_i = x_i @ vector_coef[j] + vector_intercept[j]`` (rows ``j`` in ``coef_rows``;
    ``vector_intercept[j]`` alone for the others) and ``F_i`` the weighted Fisher
    information at ``x_i @ coef[j] + intercept[j]``.
    """
    cdef Py_ssize_t m = coef.shape[0]
    cdef Py_ssize_t n_free = coef_rows.shape[0]
    cdef Py_ssize_t n_blocks = block_starts.shape[0] - 1
    cdef Py_ssize_t b
    cdef int failed = 0
    _check_csr_model(family, indptr, data.shape[0], indices.shape[0], d, block_starts, y,
                     sample_weight, coef, intercept, coef_rows, block_raw_out,
                     block_coef_out)
    if (vector_coef.shape[0] != m or vector_coef.shape[1] != d
            or vector_intercept.shape[0] != m):
        raise ValueError("fused_fisher_product_csr: the vector's shape differs from coef's")
    for b in prange(n_blocks, nogil=True, schedule="dynamic", num_threads=n_threads):
        failed += _fisher_product_block_csr(
            &data[0] if data.shape[0] else NULL,
            &indices[0] if indices.shape[0] else NULL, &indptr[0], d,
            block_starts[b], block_starts[b + 1], &y[0], &sample_weight[0],
            &coef[0, 0], &intercept[0], &vector_coef[0, 0], &vector_intercept[0],
            &coef_rows[0] if n_free else NULL, n_free, m, family,
            &block_raw_out[b, 0], &block_coef_out[b, 0, 0] if n_free else NULL)
    if failed:
        raise MemoryError("fused_fisher_product_csr: no memory for a row buffer")


def fused_loss_gradient_csr(
    const floating[::1] data,
    const sparse_index[::1] indices,
    const sparse_index[::1] indptr,
    Py_ssize_t d,
    const Py_ssize_t[::1] block_starts,
    const double[::1] y,
    const double[::1] sample_weight,
    const double[:, ::1] coef,
    const double[::1] intercept,
    const Py_ssize_t[::1] coef_rows,
    int family,
    double[::1] block_loss,
    double[:, ::1] block_raw_gradient,
    double[:, :, ::1] block_coef_gradient,
    int n_threads=1,
):
    """:func:`fused_loss_gradient` for CSR X of ``d`` columns (``data``, ``indices``,
    ``indptr``, with sorted or unsorted column indices, no duplicates needed): block
    ``b`` covers rows ``block_starts[b]:block_starts[b + 1]`` (``block_starts`` runs
    from 0 to n, non-decreasing), and writes ``block_loss[b]``,
    ``block_raw_gradient[b]`` and ``block_coef_gradient[b]``.  Column indices are
    trusted to lie in ``[0, d)`` (SciPy checks them when the matrix is made).
    """
    cdef Py_ssize_t m = coef.shape[0]
    cdef Py_ssize_t n_free = coef_rows.shape[0]
    cdef Py_ssize_t n_blocks = block_starts.shape[0] - 1
    cdef Py_ssize_t b
    cdef int failed = 0
    _check_csr_model(family, indptr, data.shape[0], indices.shape[0], d, block_starts, y,
                     sample_weight, coef, intercept, coef_rows, block_raw_gradient,
                     block_coef_gradient)
    if block_loss.shape[0] != n_blocks:
        raise ValueError("fused_loss_gradient_csr: block outputs of the wrong shape")
    for b in prange(n_blocks, nogil=True, schedule="dynamic", num_threads=n_threads):
        failed += _fused_block_csr(
            &data[0] if data.shape[0] else NULL,
            &indices[0] if indices.shape[0] else NULL, &indptr[0], d,
            block_starts[b], block_starts[b + 1], &y[0], &sample_weight[0],
            &coef[0, 0], &intercept[0], &coef_rows[0] if n_free else NULL, n_free, m,
            family, &block_loss[b], &block_raw_gradient[b, 0],
            &block_coef_gradient[b, 0, 0] if n_free else NULL)
    if failed:
        raise MemoryError("fused_loss_gradient_csr: no memory for a row buffer")


# ----------------------------------------------------------------------------------
# Weighted Gram matrices of the design [X, 1]: sum_i h_i z_i z_i^T, z_i = (x_i, 1),
# one per column of per-sample weights h (the Hessian is assembled from these).
# Rows are copied GRAM_ROWS at a time into a double buffer and added with BLAS syrk
# (non-negative weights, on sqrt(h) z) or gemm (weights of either sign).  Rows are
# split into a fixed number of partitions, each summed in row order into its own
# output, so the result does not depend on the number of threads.
# ----------------------------------------------------------------------------------
cdef void _gram_update(const double *design, double *scaled, const double *weights,
                       Py_ssize_t q, Py_ssize_t c, int rows, int d1,
                       double *gram) noexcept nogil:
    """``gram += sum_i weights[i, c] z_i z_i^T`` over ``rows`` rows of ``design``
    (row-major rows x d1); only the lower triangle (row-major) is guaranteed."""
    cdef Py_ssize_t i, k
    cdef double w, root
    cdef bint any_negative = False, any_nonzero = False
    cdef double one = 1.0
    cdef char upper = b"U", no_trans = b"N", trans = b"T"
    for i in range(rows):
        w = weights[i * q + c]
        if w != 0.0:
            any_nonzero = True
        if w < 0.0:
            any_negative = True
    if not any_nonzero:
        return
    if not any_negative:
        for i in range(rows):
            root = sqrt(weights[i * q + c])
            for k in range(d1):
                scaled[i * d1 + k] = root * design[i * d1 + k]
        # column-major view: scaled is d1 x rows, gram is d1 x d1 (upper = our lower)
        dsyrk(&upper, &no_trans, &d1, &rows, &one, scaled, &d1, &one, gram, &d1)
    else:
        for i in range(rows):
            w = weights[i * q + c]
            for k in range(d1):
                scaled[i * d1 + k] = w * design[i * d1 + k]
        # dgemm only reads its B operand; scipy's cython_blas declares it non-const
        dgemm(&no_trans, &trans, &d1, &d1, &rows, &one, scaled, &d1, <double *> design, &d1,
              &one, gram, &d1)


cdef int _gram_partition(const floating *X, Py_ssize_t d, Py_ssize_t start,
                          Py_ssize_t stop, const double *given_weights, Py_ssize_t q,
                          const double *y, const double *sample_weight,
                          const double *coef, const double *intercept,
                          const Py_ssize_t *coef_rows, Py_ssize_t n_free, Py_ssize_t m,
                          int family, double *grams, const double *start_raw,
                          double *start_loss, double *start_raw_gradient,
                          double *start_coef_gradient) noexcept nogil:
    """Add rows ``start:stop`` to ``grams`` (q, d+1, d+1).  Per-sample weights are
    ``given_weights`` (n, q) if not NULL, else the Fisher information of ``family``
    at the raw predictions of the model (coef, intercept).  With given weights and
    ``start_raw`` (m,) not NULL, also add each row's NLL under ``family`` at the raw
    prediction ``start_raw`` (weighted by ``sample_weight``) to ``start_loss[0]``,
    its gradient wrt the raw prediction to ``start_raw_gradient`` (m,) and the
    gradient's rows ``coef_rows`` times x to ``start_coef_gradient`` (n_free, d).
    Returns 1 if its scratch memory could not be allocated, else 0."""
    cdef int d1 = <int> (d + 1), rows
    cdef Py_ssize_t block, i, k, c, j
    cdef double total = 0.0
    cdef double memo[4]
    cdef double *design = <double *> malloc(GRAM_ROWS * d1 * sizeof(double))
    cdef double *scaled = <double *> malloc(GRAM_ROWS * d1 * sizeof(double))
    cdef double *weights = <double *> malloc(GRAM_ROWS * q * sizeof(double))
    cdef double *raw = <double *> malloc((m if m > 0 else 1) * sizeof(double))
    cdef const floating *x
    cdef int failed = (design == NULL or scaled == NULL or weights == NULL
                       or raw == NULL)
    _reset_memo(memo)
    if not failed:
        block = start
        while block < stop:
            rows = <int> (stop - block if stop - block < GRAM_ROWS else GRAM_ROWS)
            for i in range(rows):
                x = X + (block + i) * d
                for k in range(d):
                    design[i * d1 + k] = <double> x[k]
                design[i * d1 + d] = 1.0
                if given_weights != NULL:
                    for c in range(q):
                        weights[i * q + c] = given_weights[(block + i) * q + c]
                    if start_raw != NULL:
                        for j in range(m):
                            raw[j] = start_raw[j]
                        total = total + _row_loss_gradient(
                            family, y[block + i], raw, m, sample_weight[block + i], memo)
                        _add_row_gradient(raw, x, d, m, coef_rows, n_free,
                                          start_raw_gradient, start_coef_gradient)
                else:
                    _raw_row(x, d, coef, intercept, coef_rows, n_free, m, raw)
                    _row_fisher(family, y[block + i], raw, m, sample_weight[block + i],
                                weights + i * q)
            for c in range(q):
                _gram_update(design, scaled, weights, q, c, rows, d1,
                             grams + c * d1 * d1)
            block = block + rows
        if start_raw != NULL:
            start_loss[0] = total
    free(design)
    free(scaled)
    free(weights)
    free(raw)
    return failed


def weighted_grams_dense(
    const floating[:, ::1] X,
    const double[:, ::1] weights,
    double[:, :, :, ::1] partition_grams,
    int n_threads=1,
):
    """Partial weighted Gram matrices of [X, 1], one per column of ``weights`` (n, q).

    ``partition_grams`` (P, q, d+1, d+1) must be zeroed; rows are split into P equal
    contiguous partitions.  Sum over axis 0 and mirror the lower triangle (row-major)
    to the upper one for the full matrices.
    """
    _check_gram_shapes(X.shape[0], X.shape[1], partition_grams)
    if weights.shape[0] != X.shape[0] or weights.shape[1] != partition_grams.shape[1]:
        raise ValueError("weights must have shape (n_samples, q)")
    _grams(X, &weights[0, 0], NULL, NULL, NULL, NULL, NULL, 0, 0, -1,
           &partition_grams[0, 0, 0, 0], partition_grams.shape[0],
           partition_grams.shape[1],
           partition_grams.shape[1] * partition_grams.shape[2] * partition_grams.shape[3],
           n_threads)


def weighted_gram_and_start(
    const floating[:, ::1] X,
    const double[::1] sample_weight,
    const double[::1] y,
    const double[::1] start_raw,
    const Py_ssize_t[::1] coef_rows,
    int family,
    double[:, ::1] partition_sums,
    int n_threads=1,
):
    """:func:`weighted_grams_dense` with the one weight column ``sample_weight``, and
    in the same sweep the weighted NLL of ``family`` and its gradient at the constant
    raw prediction ``start_raw`` (m,): at a linear model whose coefficients are 0 and
    whose intercepts are ``start_raw`` (the null model a fit starts from).

    ``partition_sums`` (P, (d+1)**2 + 1 + m + n_free * d) must be zeroed; rows are
    split into P partitions as in :func:`weighted_grams_dense`, and row ``p`` gets
    that partition's sums: the Gram matrix of [X, 1] (row-major, lower triangle),
    the NLLs, their gradients wrt the raw prediction (m) and the gradients' rows
    ``coef_rows`` times x (n_free, d).  Summed over axis 0 in order they are what
    :func:`fused_loss_gradient` returns at that model, up to rounding.
    """
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], m = start_raw.shape[0]
    cdef Py_ssize_t n_free = coef_rows.shape[0]
    if n == 0 or d == 0 or partition_sums.shape[0] == 0:
        raise ValueError("weighted_gram_and_start needs rows, columns and a partition")
    check_family(family, m)
    if (sample_weight.shape[0] != n or y.shape[0] != n
            or partition_sums.shape[1] != (d + 1) * (d + 1) + 1 + m + n_free * d):
        raise ValueError("weighted_gram_and_start: inputs or outputs of the wrong shape")
    _check_coef_rows(coef_rows, m)
    _grams(X, &sample_weight[0], &y[0], &sample_weight[0], NULL, NULL,
           &coef_rows[0] if n_free else NULL, n_free, m, family, &partition_sums[0, 0],
           partition_sums.shape[0], 1, partition_sums.shape[1], n_threads, &start_raw[0])


def fisher_grams(
    const floating[:, ::1] X,
    const double[::1] y,
    const double[::1] sample_weight,
    const double[:, ::1] coef,
    const double[::1] intercept,
    const Py_ssize_t[::1] coef_rows,
    int family,
    double[:, :, :, ::1] partition_grams,
    int n_threads=1,
):
    """As :func:`weighted_grams_dense`, with the weights of pair (j, k), j <= k in row
    order, the weighted Fisher information of ``family`` at the raw predictions
    ``X @ coef[coef_rows].T + intercept``, computed row by row (no per-sample array)."""
    cdef Py_ssize_t m = coef.shape[0], n_free = coef_rows.shape[0]
    _check_gram_shapes(X.shape[0], X.shape[1], partition_grams)
    _check_linear_model(family, X.shape[0], X.shape[1], y, sample_weight, coef,
                        intercept, coef_rows)
    if partition_grams.shape[1] != m * (m + 1) // 2:
        raise ValueError("fisher_grams needs q = m (m + 1) / 2 partial Grams")
    _grams(X, NULL, &y[0], &sample_weight[0], &coef[0, 0], &intercept[0],
           &coef_rows[0] if n_free else NULL, n_free, m, family,
           &partition_grams[0, 0, 0, 0], partition_grams.shape[0],
           partition_grams.shape[1],
           partition_grams.shape[1] * partition_grams.shape[2] * partition_grams.shape[3],
           n_threads)


def _check_gram_shapes(Py_ssize_t n, Py_ssize_t d, double[:, :, :, ::1] partition_grams):
    if n == 0 or d == 0 or partition_grams.shape[0] == 0:
        raise ValueError("weighted Gram matrices need rows, columns and a partition")
    if partition_grams.shape[2] != d + 1 or partition_grams.shape[3] != d + 1:
        raise ValueError("partition_grams must have shape (P, q, d+1, d+1)")


cdef int _grams(const floating[:, ::1] X, const double *given, const double *y,
                 const double *sample_weight, const double *coef,
                 const double *intercept, const Py_ssize_t *coef_rows,
                 Py_ssize_t n_free, Py_ssize_t m, int family, double *partitions,
                 Py_ssize_t n_parts, Py_ssize_t q, Py_ssize_t stride, int n_threads,
                 const double *start_raw=NULL) except -1:
    """Rows split into ``n_parts`` partitions, each added by :func:`_gram_partition` to
    its own ``stride`` doubles of ``partitions``: q Gram matrices, then (with
    ``start_raw``) the NLL, the raw gradient (m) and the coefficient gradient
    (n_free, d) at the null model."""
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1]
    cdef Py_ssize_t p, start, stop, grams = q * (d + 1) * (d + 1)
    cdef double *out
    cdef int failed = 0
    for p in prange(n_parts, nogil=True, schedule="static", num_threads=n_threads):
        start = (n * p) // n_parts
        stop = (n * (p + 1)) // n_parts
        out = partitions + p * stride
        failed += _gram_partition(&X[0, 0], d, start, stop, given, q, y, sample_weight, coef,
                        intercept, coef_rows, n_free, m, family, out, start_raw,
                        out + grams if start_raw != NULL else NULL,
                        out + grams + 1 if start_raw != NULL else NULL,
                        out + grams + 1 + m if start_raw != NULL and n_free else NULL)
    if failed:
        raise MemoryError("weighted Gram kernel: no memory for its row buffers")
    return 0


# ----------------------------------------------------------------------------------
# Existence certificate of the Bernoulli / categorical MLE (see _separation.py): per
# sample, with class probabilities p at the model, q at a reference model (where the
# Hessian was formed) and a step t of the raw predictions,
#     max_{k != y} (q_k / p_k) (t_k - sum_l q_l t_l)
# (Bernoulli: class 0 has score 0 and step 0).  The ratio is taken from log-
# probabilities, so it is exact where p_k underflows (it is then infinite).
# ----------------------------------------------------------------------------------
cdef inline double _log_sigmoid(double z) noexcept nogil:
    if z >= 0:
        return -log1p(exp(-z))
    return z - log1p(exp(z))


cdef inline double _row_margin_growth(int family, double y, const double *raw,
                                      const double *ref, const double *step,
                                      Py_ssize_t m, double *ref_proba) noexcept nogil:
    cdef double lse, ref_lse, mean_step, worst, value
    cdef Py_ssize_t k, label = <Py_ssize_t> y
    if family == 0:
        # classes (0, 1): q_1 = sigmoid(ref), mean step q_1 * step
        mean_step = exp(_log_sigmoid(ref[0])) * step[0]
        if label == 1:      # wrong class 0: ratio q_0 / p_0, step 0
            return exp(_log_sigmoid(-ref[0]) - _log_sigmoid(-raw[0])) * (-mean_step)
        return exp(_log_sigmoid(ref[0]) - _log_sigmoid(raw[0])) * (step[0] - mean_step)
    lse = _row_log_sum_exp(raw, m)
    ref_lse = _row_log_sum_exp(ref, m)
    mean_step = 0.0
    for k in range(m):
        ref_proba[k] = exp(ref[k] - ref_lse)
        mean_step = mean_step + ref_proba[k] * step[k]
    worst = -DBL_MAX
    for k in range(m):
        if k != label:
            value = exp((ref[k] - ref_lse) - (raw[k] - lse)) * (step[k] - mean_step)
            if value > worst:
                worst = value
    return worst


cdef int _margin_growth_block(const floating *X, Py_ssize_t d, Py_ssize_t start,
                              Py_ssize_t stop, const double *y,
                              const double *sample_weight, const double *coef,
                              const double *intercept, const double *ref_coef,
                              const double *ref_intercept, const double *step_coef,
                              const double *step_intercept, const Py_ssize_t *coef_rows,
                              Py_ssize_t n_free, Py_ssize_t m, int family,
                              double *out) noexcept nogil:
    cdef double *raw = <double *> malloc(4 * m * sizeof(double))
    cdef double worst = -DBL_MAX, value
    cdef Py_ssize_t i
    if raw == NULL:
        return 1
    for i in range(start, stop):
        if sample_weight[i] <= 0.0:
            continue
        _raw_row(X + i * d, d, coef, intercept, coef_rows, n_free, m, raw)
        _raw_row(X + i * d, d, ref_coef, ref_intercept, coef_rows, n_free, m, raw + m)
        _raw_row(X + i * d, d, step_coef, step_intercept, coef_rows, n_free, m,
                 raw + 2 * m)
        value = _row_margin_growth(family, y[i], raw, raw + m, raw + 2 * m, m,
                                   raw + 3 * m)
        if value > worst:
            worst = value
    out[0] = worst
    free(raw)
    return 0


def margin_growth_max(
    const floating[:, ::1] X,
    const double[::1] y,
    const double[::1] sample_weight,
    const double[:, ::1] coef,
    const double[::1] intercept,
    const double[:, ::1] ref_coef,
    const double[::1] ref_intercept,
    const double[:, ::1] step_coef,
    const double[::1] step_intercept,
    const Py_ssize_t[::1] coef_rows,
    int family,
    double[::1] block_max,
    int n_threads=1,
):
    """Largest per-sample margin growth over the positively weighted rows of X.

    For each sample with ``sample_weight > 0``: class probabilities ``p`` at the raw
    predictions ``X[i] @ coef.T + intercept`` (rows ``coef_rows`` of ``coef``, the
    intercept alone for the others; ``family`` 0: sigmoid of one logit, 1: softmax),
    ``q`` likewise at (``ref_coef``, ``ref_intercept``), the step ``t = X[i] @
    step_coef.T + step_intercept``, and the growth ``max_{k != y_i} (q_k / p_k) (t_k -
    sum_l q_l t_l)``.  ``block_max[b]`` receives the largest growth in block ``b`` of
    ``FUSED_BLOCK_ROWS`` rows (``-DBL_MAX`` if none).
    """
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], m = coef.shape[0]
    cdef Py_ssize_t n_free = coef_rows.shape[0]
    cdef Py_ssize_t n_blocks = (n + BLOCK_ROWS - 1) // BLOCK_ROWS
    cdef Py_ssize_t b, stop
    cdef int failed = 0
    if family != 0 and family != 1:
        raise ValueError(f"margin_growth_max: family {family} is not a classifier family")
    if n == 0 or d == 0:
        raise ValueError("margin_growth_max needs at least one row and one column")
    if (step_coef.shape[0] != m or step_coef.shape[1] != d or coef.shape[1] != d
            or ref_coef.shape[0] != m or ref_coef.shape[1] != d
            or intercept.shape[0] != m or step_intercept.shape[0] != m
            or ref_intercept.shape[0] != m
            or block_max.shape[0] != n_blocks or y.shape[0] != n
            or sample_weight.shape[0] != n):
        raise ValueError("margin_growth_max: inconsistent shapes")
    for b in prange(n_blocks, nogil=True, schedule="static", num_threads=n_threads):
        stop = _block_stop(b, n)
        failed += _margin_growth_block(
            &X[0, 0], d, b * BLOCK_ROWS, stop, &y[0], &sample_weight[0], &coef[0, 0],
            &intercept[0], &ref_coef[0, 0], &ref_intercept[0], &step_coef[0, 0],
            &step_intercept[0], &coef_rows[0] if n_free else NULL, n_free, m, family,
            &block_max[b])
    if failed:
        raise MemoryError("margin_growth_max: no memory for a row buffer")


include "_network_passes.pxi"
