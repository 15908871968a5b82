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


# ----------------------------------------------------------------------------------
# Family codes.  Adding a family takes: one scalar function per formula below (loss
# and gradient, observed Hessian, Fisher information on one row), the next code here
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
# Bernoulli with logit link:  NLL(y, z) = log(1 + exp(z)) - y z,  y in {0, 1}
# (also right for a proportion y in [0, 1]: the binomial per trial)
# ----------------------------------------------------------------------------------
cdef inline double _bernoulli_loss_grad(double y, double z, double *grad) noexcept nogil:
    cdef double e
    if z > 0:
        e = exp(-z)
        # p - y = ((1 - y) - y e) / (1 + e), no cancellation for y = 1
        grad[0] = ((1.0 - y) - y * e) / (1.0 + e)
        return (1.0 - y) * z + log1p(e)
    e = exp(z)
    grad[0] = ((1.0 - y) * e - y) / (1.0 + e)
    return log1p(e) - y * z


cdef inline double _bernoulli_hessian(double z) noexcept nogil:
    cdef double e = exp(-fabs(z))
    return e / ((1.0 + e) * (1.0 + e))


def sigmoid(const floating[::1] raw_prediction, double[::1] out, int n_threads=1):
    """Logistic function 1 / (1 + exp(-z)) without overflow."""
    cdef Py_ssize_t i, n = raw_prediction.shape[0]
    cdef double z, e
    for i in prange(n, nogil=True, schedule="static", num_threads=n_threads):
        z = raw_prediction[i]
        if z > 0:
            out[i] = 1.0 / (1.0 + exp(-z))
        else:
            e = exp(z)
            out[i] = e / (1.0 + e)


def log_sigmoid(const floating[::1] raw_prediction, double[::1] out, int n_threads=1):
    """log(1 / (1 + exp(-z))) = -log1p(exp(-z)) in a form that never takes log(0)."""
    cdef Py_ssize_t i, n = raw_prediction.shape[0]
    cdef double z
    for i in prange(n, nogil=True, schedule="static", num_threads=n_threads):
        z = raw_prediction[i]
        if z > 0:
            out[i] = -log1p(exp(-z))
        else:
            out[i] = z - log1p(exp(z))


# ----------------------------------------------------------------------------------
# Categorical with softmax link:  NLL(y, z) = logsumexp(z) - z_y
# ----------------------------------------------------------------------------------
cdef inline double _log_sum_exp(const floating[:, ::1] z, Py_ssize_t i,
                                Py_ssize_t K) noexcept nogil:
    cdef Py_ssize_t k
    cdef double m = z[i, 0], s = 0.0
    for k in range(1, K):
        if z[i, k] > m:
            m = z[i, k]
    for k in range(K):
        s = s + exp(z[i, k] - m)
    return m + log(s)


def categorical_log_proba(const floating[:, ::1] raw_prediction, double[:, ::1] out,
                          int n_threads=1):
    """log softmax(z) = z - logsumexp(z), row by row."""
    cdef Py_ssize_t i, k, n = raw_prediction.shape[0], K = raw_prediction.shape[1]
    cdef double lse
    for i in prange(n, nogil=True, schedule="static", num_threads=n_threads):
        lse = _log_sum_exp(raw_prediction, i, K)
        for k in range(K):
            out[i, k] = raw_prediction[i, k] - lse


cdef inline double _row_log_sum_exp(const double *row, Py_ssize_t m) noexcept nogil:
    """``log sum_k exp(row[k])``, shifted by the largest entry so nothing overflows."""
    cdef double mx = row[0], s = 0.0
    cdef Py_ssize_t k
    for k in range(1, m):
        if row[k] > mx:
            mx = row[k]
    for k in range(m):
        s = s + exp(row[k] - mx)
    return mx + log(s)


cdef inline double _categorical_loss_grad(double y, double *row, Py_ssize_t m,
                                          double w) noexcept nogil:
    """Overwrite the scores in ``row`` by w (p - e_y); return w * NLL."""
    cdef Py_ssize_t k, label = <Py_ssize_t> y
    cdef double lse = _row_log_sum_exp(row, m), loss, others = 0.0
    loss = lse - row[label]
    for k in range(m):
        row[k] = exp(row[k] - lse)
        if k != label:
            others = others + row[k]
    # p_y - 1 = -(sum of the other probabilities): no cancellation when p_y ~ 1
    row[label] = -others
    for k in range(m):
        row[k] = w * row[k]
    return w * loss


cdef inline void _categorical_hessian(const double *row, Py_ssize_t m, double w,
                                      double *out) noexcept nogil:
    """Upper triangle of w (diag(p) - p p^T), the Hessian and Fisher information."""
    cdef double lse = _row_log_sum_exp(row, m), pj, others
    cdef Py_ssize_t j, k, c = 0
    for j in range(m):
        pj = exp(row[j] - lse)
        others = 0.0
        for k in range(m):
            if k != j:
                others = others + exp(row[k] - lse)
        # p_j (1 - p_j) with 1 - p_j summed from the other classes
        out[c] = w * pj * others
        c = c + 1
        for k in range(j + 1, m):
            out[c] = -w * pj * exp(row[k] - lse)
            c = c + 1


# ----------------------------------------------------------------------------------
# Gaussian with unit variance:  NLL(y, mu) = (y - mu)^2 / 2 + log(2 pi) / 2
# ----------------------------------------------------------------------------------
cdef inline double _half_square_capped(double r) noexcept nogil:
    if fabs(r) > 1.3407807929942596e154:  # sqrt(DBL_MAX): r*r would overflow
        return 0.5 * DBL_MAX
    return 0.5 * r * r


# ----------------------------------------------------------------------------------
# Gaussian with learned scale, raw prediction columns (mu, s = log sigma):
#   NLL(y, mu, s) = log(2 pi) / 2 + s + (y - mu)^2 exp(-2 s) / 2
# ----------------------------------------------------------------------------------
cdef inline double _gaussian_loss_grad(double y, double mu, double s,
                                       double *grad_mu, double *grad_s) noexcept nogil:
    cdef double r = y - mu, log_abs_r, q2
    if r == 0.0:
        grad_mu[0] = 0.0
        grad_s[0] = 1.0
        return HALF_LOG_2PI + s
    log_abs_r = log(fabs(r))
    q2 = _exp_capped(2.0 * (log_abs_r - s))          # (r / sigma)^2
    grad_mu[0] = -copysign(_exp_capped(log_abs_r - 2.0 * s), r)   # -r / sigma^2
    grad_s[0] = 1.0 - q2
    return HALF_LOG_2PI + s + 0.5 * q2


cdef inline void _gaussian_hessian(double y, const double *row, double w,
                                   double *out) noexcept nogil:
    """Upper triangle of the weighted observed Hessian wrt (mu, log sigma)."""
    cdef double r = y - row[0], s = row[1]
    out[0] = w * _exp_capped(-2.0 * s)
    if r == 0.0:
        out[1] = 0.0
        out[2] = 0.0
    else:
        # 2 r / sigma^2 and 2 (r / sigma)^2, saturating instead of overflowing
        out[1] = w * copysign(_exp_capped(log(2.0 * fabs(r)) - 2.0 * s), r)
        out[2] = w * _exp_capped(LOG_2 + 2.0 * (log(fabs(r)) - s))


# ----------------------------------------------------------------------------------
# Poisson with log link:  NLL(y, eta) = exp(eta) - y eta + lgamma(y + 1),  y >= 0
# (the Poisson log-pmf for integer y; the same formula for non-negative reals, as
# scikit-learn's PoissonRegressor accepts them).  Hessian = Fisher = exp(eta).
# ----------------------------------------------------------------------------------
cdef inline double _poisson_loss_grad(double y, double eta, double *grad) noexcept nogil:
    cdef double mu
    if eta >= LOG_DBL_MAX:
        # exp(eta) beyond the doubles: the NLL is +inf, the gradient saturates
        grad[0] = DBL_MAX
        return INFINITY
    mu = exp(eta)
    grad[0] = mu - y
    return mu - y * eta + gammaln(y + 1.0)


# ----------------------------------------------------------------------------------
# Gamma with log link, raw prediction columns (eta = log mean, s = log dispersion),
# shape k = exp(-s) (Var = exp(s) mean^2) and u = log y - eta:
#   NLL = lgamma(k) - k log k + k eta - (k - 1) log y + k y exp(-eta)
#       = B(s) + k (e^u - 1 - u) + log y,        B(s) = lgamma(k) - k log k + k.
# Gradient: d/deta = -k expm1(u),  d/ds = C(s) - T  with T = k (e^u - 1 - u) and
# C(s) = k (log k - digamma(k)).  Observed Hessian: d2/deta2 = k e^u,
# d2/deta ds = k expm1(u), d2/ds2 = D(s) - C(s) + T with D(s) = k (k trigamma(k) - 1).
# Fisher information (E[T] = C, E[e^u] = 1): diag(k, D(s)).
# B, C and D are computed without cancellation: through lgamma(1 + k), digamma(1 + k)
# and trigamma(1 + k) for k < 1, and by their asymptotic series for k >= 15.
# ----------------------------------------------------------------------------------
cdef double LOG_2PI = 1.8378770664093454835606594728112
# k >= GAMMA_SERIES_SHAPE: asymptotic series, truncated below 1e-16 relative.
cdef double GAMMA_SERIES_SHAPE = 15.0


cdef inline double _exp_or_inf(double x) noexcept nogil:
    """exp(x), +inf without an overflow where it exceeds the doubles."""
    if x >= LOG_DBL_MAX:
        return INFINITY
    return exp(x)


cdef inline double _expm1_minus(double u) noexcept nogil:
    """e^u - 1 - u >= 0 with full relative accuracy near u = 0 (finite for u <= 700)."""
    if fabs(u) < 0.1:
        # Taylor series to u^10: remainder below 1e-16 relative
        return u * u * (1.0 / 2 + u * (1.0 / 6 + u * (1.0 / 24 + u * (1.0 / 120 + u * (
            1.0 / 720 + u * (1.0 / 5040 + u * (1.0 / 40320 + u * (1.0 / 362880 + u * (
                1.0 / 3628800)))))))))
    return expm1(u) - u


cdef inline double _times_shape(double a, double s) noexcept nogil:
    """a k = a exp(-s) for a >= 0: +inf only where the product exceeds the doubles."""
    if a == 0.0:
        return 0.0
    if fabs(s) < 600.0 and a < 1e30:
        return a * exp(-s)
    return _exp_or_inf(log(a) - s)


cdef inline double _gamma_excess(double u, double s) noexcept nogil:
    """T = k (e^u - 1 - u): the part of the Gamma NLL that vanishes where y = mean."""
    if u > 30.0:
        # log(e^u - 1 - u) = u + log1p(-(1 + u) e^-u)
        return _exp_or_inf(u + log1p(-(1.0 + u) * exp(-u)) - s)
    return _times_shape(_expm1_minus(u), s)


cdef inline double _trigamma(double x) noexcept nogil:
    """trigamma(x) for x >= 1: recurrence up to x >= 15, then the asymptotic series."""
    cdef double total = 0.0, ix, ix2
    while x < GAMMA_SERIES_SHAPE:
        total = total + 1.0 / (x * x)
        x = x + 1.0
    ix = 1.0 / x
    ix2 = ix * ix
    return total + ix + 0.5 * ix2 + ix2 * ix * (1.0 / 6 - ix2 * (1.0 / 30 - ix2 * (
        1.0 / 42 - ix2 * (1.0 / 30 - ix2 * (5.0 / 66 - ix2 * (691.0 / 2730
                                                             - ix2 * 7.0 / 6))))))


cdef inline double _gamma_log_norm(double s) noexcept nogil:
    """B(s) = lgamma(k) - k log k + k at k = exp(-s)."""
    cdef double k, ik, ik2
    if s > 0.0:
        k = exp(-s)
        return gammaln(1.0 + k) + s * (1.0 + k) + k
    k = exp(-s)
    if k >= GAMMA_SERIES_SHAPE:
        # log(2 pi / k) / 2 + Stirling's series of lgamma(k + 1)
        ik = exp(s)
        ik2 = ik * ik
        return 0.5 * (LOG_2PI + s) + ik * (1.0 / 12 - ik2 * (1.0 / 360 - ik2 * (
            1.0 / 1260 - ik2 * (1.0 / 1680 - ik2 * (1.0 / 1188 - ik2 * (
                691.0 / 360360 - ik2 / 156))))))
    return gammaln(k) + k * s + k


cdef inline double _gamma_c(double s) noexcept nogil:
    """C(s) = k (log k - digamma(k)), from 1 (k -> 0) to 1/2 (k -> inf)."""
    cdef double k = exp(-s), ik, ik2
    if s > 0.0:
        return 1.0 - k * s - k * psi(1.0 + k)
    if k >= GAMMA_SERIES_SHAPE:
        ik = exp(s)
        ik2 = ik * ik
        return 0.5 + ik * (1.0 / 12 - ik2 * (1.0 / 120 - ik2 * (1.0 / 252 - ik2 * (
            1.0 / 240 - ik2 * (1.0 / 132 - ik2 * (691.0 / 32760 - ik2 / 12))))))
    return k * (-s - psi(k))


cdef inline double _gamma_d(double s) noexcept nogil:
    """D(s) = k (k trigamma(k) - 1) > 0, from 1 (k -> 0) to 1/2 (k -> inf)."""
    cdef double k = exp(-s), ik, ik2
    if s > 0.0:
        return k * k * _trigamma(1.0 + k) + 1.0 - k
    if k >= GAMMA_SERIES_SHAPE:
        ik = exp(s)
        ik2 = ik * ik
        return 0.5 + ik * (1.0 / 6 - ik2 * (1.0 / 30 - ik2 * (1.0 / 42 - ik2 * (
            1.0 / 30 - ik2 * (5.0 / 66 - ik2 * (691.0 / 2730 - ik2 * 7.0 / 6))))))
    return k * (k * _trigamma(k) - 1.0)


cdef inline double _gamma_grad_mean(double u, double s) noexcept nogil:
    """d NLL / d eta = -k expm1(u) = k - k y / mean, saturating at +-DBL_MAX."""
    cdef double e
    if u > 30.0:
        return -fmin(_exp_or_inf(u - s + log1p(-exp(-u))), DBL_MAX)
    e = expm1(u)
    return -copysign(fmin(_times_shape(fabs(e), s), DBL_MAX), e)


cdef inline void _reset_memo(double *memo) noexcept nogil:
    """Empty a memo of ``_gamma_loss_grad``: a NaN key compares unequal to every s."""
    memo[0] = NAN
    memo[1] = memo[2] = memo[3] = 0.0


cdef inline double _gamma_loss_grad(double y, double eta, double s, double *grad_eta,
                                    double *grad_s, double *memo) noexcept nogil:
    """Gamma NLL and gradient.  ``memo`` (or NULL) holds (s, B(s), C(s), k) of the
    last row: with a constant dispersion every row has the same s, so the special
    functions of the shape are evaluated once per block, not once per row (the same
    values, so the results do not change)."""
    cdef double log_y = log(y), u = log_y - eta
    cdef double log_norm, c, k, e, excess
    if memo != NULL and memo[0] == s:
        log_norm = memo[1]
        c = memo[2]
        k = memo[3]
    else:
        log_norm = _gamma_log_norm(s)
        c = _gamma_c(s)
        k = exp(-s)
        if memo != NULL:
            memo[0] = s
            memo[1] = log_norm
            memo[2] = c
            memo[3] = k
    if u <= 30.0 and u > -1e29 and fabs(s) < 600.0:
        # The common case: e^u - 1 and e^u - 1 - u are below 1e30, so the products
        # with k stay finite.  Near u = 0 both come from the Taylor series of
        # e^u - 1 - u; elsewhere e^u - 1 = exp(u) - 1 loses at most 4 bits to the
        # subtraction (|e^u - 1| >= 0.095) and costs half of expm1 (a third of the
        # fused pass over a 30-column X).
        if fabs(u) < 0.1:
            excess = _expm1_minus(u)
            e = u + excess
        else:
            e = exp(u) - 1.0
            excess = e - u
        excess = excess * k
        grad_eta[0] = -(e * k)
        grad_s[0] = c - excess
        return log_norm + excess + log_y
    excess = _gamma_excess(u, s)
    grad_eta[0] = _gamma_grad_mean(u, s)
    grad_s[0] = c - fmin(excess, DBL_MAX)
    return log_norm + excess + log_y


cdef inline void _gamma_hessian(double y, const double *row, double w,
                                double *out) noexcept nogil:
    """Upper triangle of the weighted observed Hessian wrt (eta, log dispersion)."""
    cdef double u = log(y) - row[0], s = row[1]
    out[0] = w * fmin(_exp_or_inf(u - s), DBL_MAX)
    out[1] = -w * _gamma_grad_mean(u, s)
    out[2] = w * (_gamma_d(s) - _gamma_c(s) + fmin(_gamma_excess(u, s), DBL_MAX))


def gamma_log_minus_digamma(double log_dispersion):
    """log k - digamma(k) at k = exp(-log_dispersion), without cancellation: the
    left side of the Gamma shape's likelihood equation (for the intercept-only fit)."""
    return _gamma_c(log_dispersion) * exp(log_dispersion)


# ----------------------------------------------------------------------------------
# Negative binomial (NB2) with log link, raw prediction columns (eta = log mu,
# a = log alpha), r = 1 / alpha, t = a + eta = log(alpha mu):
#   NLL = -[lgamma(y + r) - lgamma(r) - lgamma(y + 1) + r log(r / (r + mu))
#           + y log(mu / (r + mu))]
#       = -D(y, r) + lgamma(y + 1) + y c + r softplus(t),
#   D = lgamma(y + r) - lgamma(r) - y log r,  c = log(1/mu + alpha) = softplus(t) - eta.
# D -> 0 as alpha -> 0 (the Poisson limit), so it is never formed as a difference of
# two huge lgammas: for small integer y it is sum_{j<y} log1p(j alpha); for large r
# a Stirling expansion in which only small terms are added.  With
#   S1 = sum_{j<y} j alpha / (1 + j alpha) = -dD/da,
#   S2 = sum_{j<y} j alpha / (1 + j alpha)^2 = dS1/da,
# the gradient is ((mu - y) / (1 + alpha mu),  y sigma(t) - S1 - r (softplus(t) - sigma(t)))
# and the Hessian follows below.  The helpers at the top (softplus, logistic, trigamma,
# series of functions of x = exp(t) whose leading terms cancel) serve the Student-t too.
# ----------------------------------------------------------------------------------
cdef double LOG_PI = 1.1447298858494002
cdef double EULER_GAMMA = 0.57721566490153286
#: Largest y (an integer) for which the y-sums are added term by term.
cdef double NB_SUM_MAX_Y = 64.0
#: Terms of the pmf-weighted series of the NB Fisher information beyond which a
#: closed-form approximation is used instead (see _nb_fisher).
cdef Py_ssize_t NB_FISHER_MAX_TERMS = 20000


cdef inline double _softplus(double x) noexcept nogil:
    """log(1 + exp(x))."""
    if x > 0:
        return x + log1p(exp(-x))
    return log1p(exp(x))


cdef inline double _logistic(double x) noexcept nogil:
    """1 / (1 + exp(-x))."""
    cdef double e
    if x >= 0:
        return 1.0 / (1.0 + exp(-x))
    e = exp(x)
    return e / (1.0 + e)


cdef inline double _log1p_over(double x) noexcept nogil:
    """log1p(x) / x for x >= 0 (1 at 0)."""
    if x < 1e-8:
        return 1.0 - 0.5 * x
    return log1p(x) / x


cdef inline double _log1pmx(double u) noexcept nogil:
    """log1p(u) - u for u >= 0, without cancellation for small u."""
    cdef double term, total
    cdef int k
    if u > 0.1:
        return log1p(u) - u
    total = 0.0
    term = u
    for k in range(2, 19):   # sum_{k>=2} (-1)^(k+1) u^k / k
        term = -term * u
        total = total + term / k
    return total


cdef inline double _series_in_x(double x, int kind) noexcept nogil:
    """For x = exp(t) in [0, 1): kind 0: (softplus - sigma) / x, kind 1:
    (softplus - sigma - sigma^2) / x, kind 2: (softplus - sigma) / x - x / 2, where
    softplus = log1p(x) and sigma = x / (1 + x); the power series near 0, where the
    closed form cancels."""
    cdef double total = 0.0, power = x, sign = 1.0
    cdef int k
    if x >= 0.01:
        total = log1p(x) - x / (1.0 + x)
        if kind == 1:
            total = total - x * x / ((1.0 + x) * (1.0 + x))
        total = total / x
        if kind == 2:
            total = total - 0.5 * x
        return total
    # sum_{k>=2} of (-1)^k (k-1)/k x^(k-1) (kind 0) or (-1)^(k+1)(1/k + k - 2) x^(k-1)
    for k in range(2, 13):
        if kind == 1:
            total = total - sign * (1.0 / k + k - 2.0) * power
        elif kind == 0 or k > 2:
            total = total + sign * (k - 1.0) / k * power
        power = power * x
        sign = -sign
    return total


cdef inline double _stirling_tail(double x) noexcept nogil:
    """lgamma(x) - [(x - 1/2) log x - x + log(2 pi) / 2], x >= 1000."""
    cdef double inv = 1.0 / x, inv2 = inv * inv
    return inv * (1.0 / 12.0 - inv2 * (1.0 / 360.0 - inv2 * (1.0 / 1260.0
                                                             - inv2 / 1680.0)))


cdef inline double _digamma_tail(double x) noexcept nogil:
    """log x - 1/(2x) - psi(x), x >= 1000."""
    cdef double inv2 = 1.0 / (x * x)
    return inv2 * (1.0 / 12.0 - inv2 * (1.0 / 120.0 - inv2 / 252.0))


cdef inline double _trigamma_tail(double x) noexcept nogil:
    """psi'(x) - 1/x - 1/(2 x^2), x >= 1000."""
    cdef double inv = 1.0 / x, inv2 = inv * inv
    return inv * inv2 * (1.0 / 6.0 - inv2 * (1.0 / 30.0 - inv2 / 42.0))


cdef inline void _nb_y_sums(double y, double a, double *out) noexcept nogil:
    """out = (D, S1, S2) of the NB2 NLL at count y and a = log alpha (see above)."""
    cdef double r, u, s, sig, psi_y
    cdef Py_ssize_t j
    out[0] = 0.0
    out[1] = 0.0
    out[2] = 0.0
    if y <= 0.0:
        return
    if y <= NB_SUM_MAX_Y and y == floor(y):
        # log1p(j alpha) = softplus(a + log j), j alpha / (1 + j alpha) = sigma(a + log j)
        for j in range(1, <Py_ssize_t> y):
            s = a + log(<double> j)
            sig = _logistic(s)
            out[0] = out[0] + _softplus(s)
            out[1] = out[1] + sig
            out[2] = out[2] + sig * _logistic(-s)
        return
    if a < -36.0 and exp(a) * y * y < 1e-10:
        # first order in alpha: the next terms are below 1e-20 absolute (r may be inf)
        out[0] = 0.5 * exp(a) * y * (y - 1.0)
        out[1] = out[0]
        out[2] = out[0]
        return
    if a <= -6.907755278982137:     # r >= 1000: expansions in 1/r, 1/(y + r)
        r = exp(-a)
        u = y * exp(a)
        out[0] = (r * _log1pmx(u) + (y - 0.5) * log1p(u)
                  + _stirling_tail(y + r) - _stirling_tail(r))
        out[1] = (-r * _log1pmx(u) - 0.5 * y / (y + r)
                  + r * (_digamma_tail(y + r) - _digamma_tail(r)))
        out[2] = (y * u / (1.0 + u) - out[1] - 0.5 * u * (2.0 + u) / ((1.0 + u) * (1.0 + u))
                  + r * r * (_trigamma_tail(y + r) - _trigamma_tail(r)))
        return
    if a >= 18.420680743952367:     # r <= 1e-8: first order in r
        psi_y = psi(y) + EULER_GAMMA
        r = exp(-a)
        out[0] = gammaln(y) + (y - 1.0) * a + r * psi_y
        out[1] = y - 1.0 - r * psi_y
        out[2] = r * psi_y
        return
    r = exp(-a)
    out[0] = gammaln(y + r) - gammaln(r) + y * a
    out[1] = y - r * (psi(y + r) - psi(r))
    out[2] = (y - out[1]) + r * r * (_trigamma(y + r) - _trigamma(r))


cdef inline double _nb_r_softplus(double eta, double a, double t) noexcept nogil:
    """r softplus(t) = -log P(y = 0), as mu log1p(x) / x for x = alpha mu <= 1."""
    if t <= 0.0:
        return _exp_or_inf(eta) * _log1p_over(exp(t))
    return _exp_or_inf(-a) * _softplus(t)


cdef inline double _nb_c(double eta, double a, double t) noexcept nogil:
    """c = log(1/mu + alpha) = softplus(t) - eta, from whichever form does not cancel."""
    if t <= 0.0:
        return _softplus(t) - eta
    return a + _softplus(-t)


cdef inline double _nb_r_series(double eta, double a, double t, int kind) noexcept nogil:
    """r x times _series_in_x(x, kind) (x = exp(t)), i.e. r (softplus - sigma) (kind 0)
    or r (softplus - sigma - sigma^2) (kind 1), both exact where x is small; saturating
    at DBL_MAX (they enter derivatives only, where inf * 0 would make a NaN)."""
    cdef double spt
    if t <= 0.0:
        return _exp_capped(eta) * _series_in_x(exp(t), kind)
    spt = _softplus(t)
    if kind == 0:
        return _exp_capped(-a) * (spt - _logistic(t))
    return _exp_capped(-a) * (spt - _logistic(t) - _logistic(t) * _logistic(t))


cdef inline double _nb_loss_grad(double y, double eta, double a,
                                 double *grad) noexcept nogil:
    """NB2 NLL at (eta, a); grad[0:2] receives its gradient."""
    cdef double t = a + eta
    cdef double sums[3]
    cdef double c = _nb_c(eta, a, t)
    _nb_y_sums(y, a, sums)
    grad[0] = _exp_or_inf(-c) - y * _logistic(-t)
    grad[1] = y * _logistic(t) - sums[1] - _nb_r_series(eta, a, t, 0)
    if y == 0.0:
        return _nb_r_softplus(eta, a, t)
    return -sums[0] + gammaln(y + 1.0) + y * c + _nb_r_softplus(eta, a, t)


cdef inline void _nb_hessian(double y, double eta, double a, double *out) noexcept nogil:
    """Observed Hessian of the NB2 NLL: out = (H_ee, H_ea, H_aa)."""
    cdef double t = a + eta
    cdef double sums[3]
    cdef double c = _nb_c(eta, a, t), spread = _logistic(t) * _logistic(-t)
    _nb_y_sums(y, a, sums)
    # (r + y) sigma(-t) sigma(t), with r sigma(t) sigma(-t) = mu / (1 + alpha mu)^2
    out[0] = _exp_or_inf(-c - _softplus(t)) + y * spread
    # -sigma(t) dNLL/deta
    out[1] = y * spread - _exp_or_inf(-c - _softplus(-t))
    out[2] = y * spread - sums[2] + _nb_r_series(eta, a, t, 1)


#: Gauss-Laguerre rule (24 nodes) for the smooth geometric tail of that series.
cdef double[24] LAGUERRE_NODES = [0.05901985218150761, 0.3112391461984835, 0.7660969055459361, 1.4255975908036125, 2.2925620586321904, 3.3707742642089986, 4.66508370346717, 6.181535118736765, 7.927539247172152, 9.912098015077705, 12.146102711729764, 14.642732289596674, 17.417992646508978, 20.491460082616424, 23.887329848169735, 27.635937174332717, 31.776041352374722, 36.35840580165162, 41.45172048487077, 47.153106445156325, 53.60857454469507, 61.05853144721876, 69.96224003510503, 81.49827923394889]
cdef double[24] LAGUERRE_WEIGHTS = [0.14281197333475043, 0.25877410751744107, 0.2588067072728734, 0.18332268897778237, 0.09816627262992299, 0.04073247815141022, 0.013226019405120549, 0.0033693490584784146, 0.0006721625640935707, 0.00010446121465927847, 1.2544721977993773e-05, 1.151315812737323e-06, 7.960812959133895e-08, 4.072858987550192e-09, 1.507008226292658e-10, 3.917736515058548e-12, 6.894181052958382e-14, 7.819800382459628e-16, 5.350188813010104e-18, 2.0105174645555705e-20, 3.6057658645529064e-23, 2.451818845878714e-26, 4.08830159368094e-30, 5.575345788327942e-35]


cdef inline double _nb_s2_tail(double k, double length, double head, double eta,
                               double a, double t) noexcept nogil:
    """sum_{j >= k} P(Y = j) S2(j) for a tail decaying like exp(-j / length) (length
    >= 64, k >= 4 length), from Euler-Maclaurin: the integral over [k, inf) of the
    smooth extension (Gauss-Laguerre in u = (j - k) / length), plus head / 2 +
    head / (12 length), head = P(Y = k) S2(k); the next term is O(head / length^3)."""
    cdef double c = _nb_c(eta, a, t), rsp = _nb_r_softplus(eta, a, t), total = 0.0
    cdef double j, sums[3]
    cdef int i
    for i in range(24):
        j = k + length * LAGUERRE_NODES[i]
        _nb_y_sums(j, a, sums)
        total = total + LAGUERRE_WEIGHTS[i] * sums[2] * exp(
            LAGUERRE_NODES[i] + sums[0] - gammaln(j + 1.0) - j * c - rsp)
    return length * total + head * (0.5 + 1.0 / (12.0 * length))


cdef inline double _nb_shape_information(double r) noexcept nogil:
    """r^2 psi'(r) - r, the information on log r of a gamma variable with shape r."""
    cdef double inv
    if r >= 1000.0:
        inv = 1.0 / r
        return 0.5 + inv * (1.0 / 6.0 - inv * inv * (1.0 / 30.0 - inv * inv / 42.0))
    if r < 1e-8:        # r^2 psi'(r) = 1 + zeta(2) r^2 + ...
        return 1.0 - r
    return r * r * _trigamma(r) - r


cdef inline void _nb_fisher(double eta, double a, double *out) noexcept nogil:
    """Expected Hessian of the NB2 NLL: out = (I_ee, I_ea, I_aa).

    I_ee = mu / (1 + alpha mu), I_ea = 0 and I_aa = r (softplus(t) - sigma(t)) -
    E[S2(Y)], the expectation summed over the pmf (from P(0) by its recursion, held
    as a mantissa and a log offset so that neither underflows; no transcendental
    function per term) until the rest of the series is below rounding.  Where x =
    alpha mu < 1 the two parts agree to first order in alpha, so the series sums
    Q(y) = alpha y (y - 1) / 2 - S2(y) >= 0 instead, whose complement has the
    closed-form mean E[alpha Y (Y - 1) / 2] = alpha mu^2 (1 + alpha) / 2:
        I_aa = E[Q(Y)] + mu ((softplus - sigma) / x - x / 2) - x^2 / 2.
    The series needs about mu + 40 (1 + x) terms (its tail decays like
    (x / (1 + x))^y); once past the mean and 4 decay lengths (if these are >= 64),
    the rest is summed by _nb_s2_tail.  Beyond NB_FISHER_MAX_TERMS the large-mu limit
    (r^2 psi'(r) - r) x^2 / (1 + x)^2 is used instead: exact as mu -> inf at fixed
    alpha (the information on the shape of the gamma mixing distribution; an upper
    bound, since Y tells less than the gamma variable), the normal approximation
    x^2 / (2 (1 + x)^2) when r is large too.  It takes over only where mu or
    4 (1 + alpha mu) exceed NB_FISHER_MAX_TERMS; for small r it is approached
    slowly, like (r / mu)^r.  It serves only the preconditioner; standard errors use
    the observed Hessian.  Elsewhere, with the tail rule, the information matched the
    exact expectation of the Hessian to 3e-8 or better wherever measured (mu up to
    1000, alpha from e^-3 to e^3).
    """
    cdef double t = a + eta, x = exp(t), r = exp(-a), mu = _exp_or_inf(eta)
    cdef double alpha = exp(a), q = _logistic(t), p, offset, rho, v, info
    cdef double s2 = 0.0, q_sum = 0.0, mean_s2 = 0.0, mean_q = 0.0
    cdef bint small = t < 0.0
    cdef Py_ssize_t k = 0
    out[0] = _exp_or_inf(-_nb_c(eta, a, t))
    out[1] = 0.0
    if r > 1e300:       # the Poisson limit: I_aa -> alpha^2 mu^2 / 2
        out[2] = 0.5 * x * x
        return
    if mu > 1e300:      # the large-mu limit, below
        out[2] = _nb_shape_information(r) * q * q
        return
    offset = -_nb_r_softplus(eta, a, t)     # log P(Y = 0); P(Y = k) = p exp(offset)
    p = 1.0
    while True:
        # here p exp(offset) = P(Y = k), s2 = S2(k), q_sum = Q(k)
        if p > 0.0:
            mean_s2 = mean_s2 + p * s2
            mean_q = mean_q + p * q_sum
        if k >= 1:                          # the j = k terms of S2(k + 1), Q(k + 1)
            v = k * alpha
            s2 = s2 + 1.0 / (v + 2.0 + 1.0 / v)         # v / (1 + v)^2
            if small:                                   # v - v / (1 + v)^2
                q_sum = q_sum + v * (v * (2.0 + v) / ((1.0 + v) * (1.0 + v)))
        rho = (k + r) / (k + 1.0) * q
        p = p * rho
        if p > 1e250:
            p = p * 1e-250
            mean_s2 = mean_s2 * 1e-250
            mean_q = mean_q * 1e-250
            offset = offset + 575.6462732485114        # log(1e250)
        k = k + 1
        # decay length -1 / log(rho) >= 64 and k >= 4 of them (as k (1 - rho) >= 4)
        if not small and k > mu and 0.9845 <= rho < 1.0 and k * (1.0 - rho) >= 4.0:
            # a long geometric tail (alpha mu > 1): its sum in closed form
            mean_s2 = mean_s2 * exp(offset) + _nb_s2_tail(
                <double> k, -1.0 / log(rho), p * exp(offset) * s2, eta, a, t)
            offset = 0.0
            break
        # (k >= 3: S2 and Q are 0 below y = 2, so the test means nothing before)
        if k >= 3 and k > mu and rho < 1.0 and p * (s2 + q_sum) <= (
                1e-17 * (1.0 - rho) * (mean_s2 + mean_q)):
            break
        if k >= NB_FISHER_MAX_TERMS:
            out[2] = _nb_shape_information(r) * q * q
            return
    mean_s2 = mean_s2 * exp(offset)
    mean_q = mean_q * exp(offset)
    if small:
        info = mean_q + mu * _series_in_x(x, 2) - 0.5 * x * x
    else:
        info = _nb_r_series(eta, a, t, 0) - mean_s2
    out[2] = info if info > 0.0 else 0.0


# ----------------------------------------------------------------------------------
# Student-t (location-scale), identity link, raw prediction columns (mu, s = log sigma,
# l = log nu), z = (y - mu) / sigma, lq = log(z^2 / nu):
#   NLL = G(nu) + log(pi) / 2 + s + (nu + 1) / 2 * softplus(lq),
#   G(nu) = lgamma(nu / 2) - lgamma((nu + 1) / 2) + log(nu) / 2  (-> log(2) / 2).
# nu-dependent parts through B(nu) = 1 + nu (psi(nu/2) - psi((nu+1)/2)) = 2 nu G'(nu)
# and B2 = nu B'(nu), which vanish as nu -> inf; for nu >= 50 all three come from
# their asymptotic series in 1/nu (no lgamma/psi differences that cancel), so the NLL
# tends to the Gaussian's and the derivatives in l to 0 without loss of accuracy.
# ----------------------------------------------------------------------------------
#: Coefficients beta_k of B(nu) = sum_k beta_k nu^(1 - 2k), beta_k = -B_2k (2^(2k+1) - 2)
#: / (2k) with the Bernoulli numbers B_2k.
cdef double[8] T_SERIES = [-0.5, 0.25, -0.5, 2.125, -15.5, 172.75, -2730.5, 58098.0625]
#: nu from which the series are used (their error there is below 1e-20 relative).
cdef double T_SERIES_MIN_DF = 50.0


cdef inline void _t_df_terms(double l, double *out) noexcept nogil:
    """out = (G, B, B2, I_ll) at l = log nu; I_ll is the Fisher information of l,
    nu^2 [psi'(nu/2) - psi'((nu+1)/2)] / 4 - nu (nu + 5) / (2 (nu + 1) (nu + 3))."""
    cdef double nu, e, power, half, dpsi, dpsi1
    cdef int k
    if l < -600.0:      # nu -> 0 limits (the next terms are O(nu))
        out[0] = -0.5 * l + LOG_2 - 0.5 * LOG_PI
        out[1] = -1.0
        out[2] = 0.0
        out[3] = 1.0
        return
    if l >= 3.912023005428146:      # nu >= 50
        e = exp(-l)
        out[0] = 0.5 * LOG_2
        out[1] = 0.0
        out[2] = 0.0
        out[3] = 0.0
        power = e
        for k in range(1, 9):
            out[0] = out[0] - T_SERIES[k - 1] * power / (2.0 * (2 * k - 1))
            out[1] = out[1] + T_SERIES[k - 1] * power
            out[2] = out[2] + (1.0 - 2 * k) * T_SERIES[k - 1] * power
            if k >= 2:
                out[3] = out[3] - k * T_SERIES[k - 1] * power
            power = power * e * e
        # I_ll = [B2 - B - 1/nu + (7 nu + 3) / (nu (nu + 1) (nu + 3))] / 2
        out[3] = out[3] + 0.5 * e * e * (7.0 + 3.0 * e) / ((1.0 + e) * (1.0 + 3.0 * e))
        return
    nu = exp(l)
    half = 0.5 * nu
    dpsi = psi(half) - psi(half + 0.5)
    dpsi1 = _trigamma(half) - _trigamma(half + 0.5)
    out[0] = gammaln(half) - gammaln(half + 0.5) + 0.5 * l
    out[1] = 1.0 + nu * dpsi
    out[2] = nu * dpsi + 0.5 * nu * nu * dpsi1
    out[3] = 0.25 * nu * nu * dpsi1 - nu * (nu + 5.0) / (2.0 * (nu + 1.0) * (nu + 3.0))


cdef inline double _t_residual_terms(double y, double mu, double s, double l,
                                     double *out) noexcept nogil:
    """For r = y - mu != 0: out = (lq, p = z^2 / (nu + z^2), log|r|, nu softplus(lq),
    nu (softplus(lq) - p), nu (softplus(lq) - p - p^2), nu p); returns log z^2.
    The nu-multiples are formed as z^2 times a series in x = z^2 / nu where that is
    small (nu large), so they stay exact as nu -> inf; the loss term out[3] is +inf
    beyond the doubles, the others (derivatives only) saturate at DBL_MAX."""
    cdef double log_abs_r = log(fabs(y - mu)), log_z2, lq, x
    log_z2 = 2.0 * (log_abs_r - s)
    lq = log_z2 - l
    out[0] = lq
    out[1] = _logistic(lq)
    out[2] = log_abs_r
    if lq <= 0.0:
        x = exp(lq)
        out[3] = _exp_or_inf(log_z2) * _log1p_over(x)
        out[4] = _exp_capped(log_z2) * _series_in_x(x, 0)
        out[5] = _exp_capped(log_z2) * _series_in_x(x, 1)
    else:
        out[3] = _exp_or_inf(l) * _softplus(lq)
        out[4] = _exp_capped(l) * (_softplus(lq) - out[1])
        out[5] = _exp_capped(l) * (_softplus(lq) - out[1] - out[1] * out[1])
    out[6] = _exp_capped(log_z2 - _softplus(lq))
    return log_z2


cdef inline double _t_loss_grad(double y, double mu, double s, double l,
                                double *grad) noexcept nogil:
    """Student-t NLL at (mu, s, l); grad[0:3] receives its gradient."""
    cdef double df[4]
    cdef double res[7]
    cdef double log_z2, log_a
    _t_df_terms(l, df)
    if y == mu:
        grad[0] = 0.0
        grad[1] = 1.0
        grad[2] = 0.5 * df[1]
        return df[0] + 0.5 * LOG_PI + s
    log_z2 = _t_residual_terms(y, mu, s, l, res)
    # log A, A = (nu + 1) / (nu + z^2) = exp(softplus(-l) - softplus(lq))
    log_a = _softplus(-l) - _softplus(res[0])
    grad[0] = -copysign(_exp_capped(log_a + res[2] - 2.0 * s), y - mu)
    grad[1] = 1.0 - _exp_capped(log_a + log_z2)
    grad[2] = 0.5 * (df[1] + res[4] - res[1])
    return df[0] + 0.5 * LOG_PI + s + 0.5 * (res[3] + _softplus(res[0]))


cdef inline void _t_hessian(double y, double mu, double s, double l,
                            double *out) noexcept nogil:
    """Observed Hessian of the Student-t NLL, upper triangle in row order:
    out = (mu mu, mu s, mu l, s s, s l, l l)."""
    cdef double df[4]
    cdef double res[7]
    cdef double log_a, g_mu, p, excess
    _t_df_terms(l, df)
    if y == mu:
        out[0] = _exp_capped(_softplus(-l) - 2.0 * s)
        out[1] = 0.0
        out[2] = 0.0
        out[3] = 0.0
        out[4] = 0.0
        out[5] = 0.5 * df[2]
        return
    _t_residual_terms(y, mu, s, l, res)
    p = res[1]
    log_a = _softplus(-l) - _softplus(res[0])
    g_mu = -copysign(_exp_capped(log_a + res[2] - 2.0 * s), y - mu)
    excess = res[6] - _logistic(-res[0])         # nu p - (1 - p) = (1 - p)(z^2 - 1)
    out[0] = _exp_capped(log_a - 2.0 * s) * (1.0 - 2.0 * p)
    out[1] = -2.0 * _logistic(-res[0]) * g_mu
    out[2] = g_mu * (excess * _logistic(-l))    # (bracketed: DBL_MAX * 0, not inf * 0)
    out[3] = 2.0 * ((res[6] + p) * _logistic(-res[0]))
    out[4] = -p * excess
    out[5] = 0.5 * (df[2] + res[5] + p * _logistic(-res[0]))


cdef inline void _t_fisher(double s, double l, double *out) noexcept nogil:
    """Fisher information of the Student-t in (mu, log sigma, log nu), upper triangle
    in row order (Lange, Little and Taylor 1989, JASA 84, eq. in section 3, with
    sigma and nu moved to their logs):
      I_mu mu = (nu + 1) / ((nu + 3) sigma^2),  I_s s = 2 nu / (nu + 3),
      I_s l = -2 nu / ((nu + 1) (nu + 3)),     I_mu s = I_mu l = 0,
      I_l l = nu^2 [psi'(nu/2) - psi'((nu+1)/2)] / 4 - nu (nu + 5) / (2 (nu+1)(nu+3)).
    """
    cdef double df[4]
    cdef double e, nu
    _t_df_terms(l, df)
    if l > 0.0:     # in e = 1 / nu < 1
        e = exp(-l)
        out[0] = _exp_capped(-2.0 * s) * (1.0 + e) / (1.0 + 3.0 * e)
        out[3] = 2.0 / (1.0 + 3.0 * e)
        out[4] = -2.0 * e / ((1.0 + e) * (1.0 + 3.0 * e))
    else:
        nu = exp(l)
        out[0] = _exp_capped(-2.0 * s) * (nu + 1.0) / (nu + 3.0)
        out[3] = 2.0 * nu / (nu + 3.0)
        out[4] = -2.0 * nu / ((nu + 1.0) * (nu + 3.0))
    out[1] = 0.0
    out[2] = 0.0
    out[5] = df[3]




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
    return float(np.sum(block_loss))


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
    cdef double total = 0.0, g
    cdef double memo[4]
    cdef Py_ssize_t i, j, r
    if raw == NULL:
        return 1
    _reset_memo(memo)
    memset(raw_gradient, 0, m * sizeof(double))
    memset(coef_gradient, 0, n_free * d * sizeof(double))
    for i in range(start, stop):
        x = X + i * d
        _raw_row(x, d, coef, intercept, coef_rows, n_free, m, raw)
        total = total + _row_loss_gradient(family, y[i], raw, m, sample_weight[i], memo)
        for j in range(m):
            raw_gradient[j] = raw_gradient[j] + raw[j]
        for r in range(n_free):
            g = raw[coef_rows[r]]
            if g != 0.0:
                _axpy_row(g, x, coef_gradient + r * d, d)
    loss[0] = total
    free(raw)
    return 0


def _check_linear_model(family, Py_ssize_t n, Py_ssize_t d, const double[::1] y,
                        const double[::1] sample_weight, const double[:, ::1] coef,
                        const double[::1] intercept, const Py_ssize_t[::1] coef_rows):
    """The family code against the number of raw columns m = coef.shape[0], and the
    shapes of a linear model's inputs against X's (n, d)."""
    cdef Py_ssize_t m = coef.shape[0], r
    check_family(family, m)
    if (y.shape[0] != n or sample_weight.shape[0] != n or coef.shape[1] != d
            or intercept.shape[0] != m):
        raise ValueError(f"Linear-model inputs disagree with X ({n} x {d}): "
                         f"{y.shape[0]} targets, {sample_weight.shape[0]} weights, "
                         f"coef {coef.shape[0]} x {coef.shape[1]}, "
                         f"{intercept.shape[0]} intercepts.")
    for r in range(coef_rows.shape[0]):
        if coef_rows[r] < 0 or coef_rows[r] >= m:
            raise ValueError(f"coef_rows[{r}] = {coef_rows[r]} is not a row of coef "
                             f"({m} rows).")


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
                          int family, double *grams) noexcept nogil:
    """Add rows ``start:stop`` to ``grams`` (q, d+1, d+1).  Per-sample weights are
    ``given_weights`` (n, q) if not NULL, else the Fisher information of ``family``
    at the raw predictions of the model (coef, intercept).  Returns 1 if its scratch
    memory could not be allocated, else 0."""
    cdef int d1 = <int> (d + 1), rows
    cdef Py_ssize_t block, i, k, c
    cdef double *design = <double *> malloc(GRAM_ROWS * d1 * sizeof(double))
    cdef double *scaled = <double *> malloc(GRAM_ROWS * d1 * sizeof(double))
    cdef double *weights = <double *> malloc(GRAM_ROWS * q * sizeof(double))
    cdef double *raw = <double *> malloc((m if m > 0 else 1) * sizeof(double))
    cdef const floating *x
    cdef int failed = (design == NULL or scaled == NULL or weights == NULL
                       or raw == NULL)
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
                else:
                    _raw_row(x, d, coef, intercept, coef_rows, n_free, m, raw)
                    _row_fisher(family, y[block + i], raw, m, sample_weight[block + i],
                                weights + i * q)
            for c in range(q):
                _gram_update(design, scaled, weights, q, c, rows, d1,
                             grams + c * d1 * d1)
            block = block + rows
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
           partition_grams, n_threads)


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
           &coef_rows[0] if n_free else NULL, n_free, m, family, partition_grams,
           n_threads)


def _check_gram_shapes(Py_ssize_t n, Py_ssize_t d, double[:, :, :, ::1] partition_grams):
    if n == 0 or d == 0 or partition_grams.shape[0] == 0:
        raise ValueError("weighted Gram matrices need rows, columns and a partition")
    if partition_grams.shape[2] != d + 1 or partition_grams.shape[3] != d + 1:
        raise ValueError("partition_grams must have shape (P, q, d+1, d+1)")


cdef int _grams(const floating[:, ::1] X, const double *given, const double *y,
                 const double *sample_weight, const double *coef,
                 const double *intercept, const Py_ssize_t *coef_rows,
                 Py_ssize_t n_free, Py_ssize_t m, int family,
                 double[:, :, :, ::1] partition_grams, int n_threads) except -1:
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1]
    cdef Py_ssize_t n_parts = partition_grams.shape[0], q = partition_grams.shape[1]
    cdef Py_ssize_t p, start, stop
    cdef int failed = 0
    for p in prange(n_parts, nogil=True, schedule="static", num_threads=n_threads):
        start = (n * p) // n_parts
        stop = (n * (p + 1)) // n_parts
        failed += _gram_partition(&X[0, 0], d, start, stop, given, q, y, sample_weight, coef,
                        intercept, coef_rows, n_free, m, family,
                        &partition_grams[p, 0, 0, 0])
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
