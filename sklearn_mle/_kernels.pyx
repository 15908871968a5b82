# cython: language_level=3
"""Per-sample negative log-likelihood kernels on raw predictions.

Each family has a scalar ``cdef inline`` function, written in a numerically stable
form, and a thin parallel loop that writes one value per sample (or one row per
sample) into an output array.  No loop accumulates across samples, so the result is
identical for any number of threads; the sums over samples are taken by the caller.

Conventions
-----------
* ``raw_prediction`` is the linear predictor: the logit (Bernoulli), the vector of
  class scores (categorical), the mean (Gaussian) and, for the Gaussian with learned
  scale, a second column holding ``log sigma``.
* ``sample_weight`` multiplies each sample's loss and gradient.
* Losses are *full* negative log-likelihoods, constants included.
* For finite inputs with ``|raw_prediction| <= 1e300`` no kernel overflows, returns
  NaN or an infinite loss; squared residuals too large for a double saturate at the
  largest finite double.
"""

from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport exp, log, log1p, fabs, sqrt, copysign
from libc.float cimport DBL_MAX

import numpy as np

cdef double HALF_LOG_2PI = 0.91893853320467274178032973640562
cdef double LOG_2 = 0.69314718055994530941723212145818
# log(DBL_MAX) ~ 709.78: exp of anything above overflows.
cdef double LOG_DBL_MAX = 709.782712893384


cdef inline double _exp_capped(double x) noexcept nogil:
    """exp(x), saturating at DBL_MAX instead of overflowing to inf."""
    if x >= LOG_DBL_MAX:
        return DBL_MAX
    return exp(x)


# ----------------------------------------------------------------------------------
# Bernoulli with logit link:  NLL(y, z) = log(1 + exp(z)) - y z,  y in {0, 1}
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


def bernoulli_loss_gradient(
    const floating[::1] y,
    const floating[::1] raw_prediction,
    const floating[::1] sample_weight,
    double[::1] loss_out,
    double[::1] gradient_out,
    int n_threads=1,
):
    """Weighted Bernoulli NLL and its derivative with respect to the logit, per sample."""
    cdef Py_ssize_t i, n = y.shape[0]
    cdef double w
    # Per-sample results go straight into the outputs through pointers: a local
    # written only through a pointer would be shared between prange threads.
    for i in prange(n, nogil=True, schedule="static", num_threads=n_threads):
        w = sample_weight[i]
        loss_out[i] = w * _bernoulli_loss_grad(y[i], raw_prediction[i], &gradient_out[i])
        gradient_out[i] = w * gradient_out[i]


def bernoulli_hessian(
    const floating[::1] raw_prediction,
    const floating[::1] sample_weight,
    double[::1] hessian_out,
    int n_threads=1,
):
    """Weighted second derivative p (1 - p) of the Bernoulli NLL, per sample."""
    cdef Py_ssize_t i, n = raw_prediction.shape[0]
    for i in prange(n, nogil=True, schedule="static", num_threads=n_threads):
        hessian_out[i] = sample_weight[i] * _bernoulli_hessian(raw_prediction[i])


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


def categorical_loss_gradient(
    const floating[::1] y,
    const floating[:, ::1] raw_prediction,
    const floating[::1] sample_weight,
    double[::1] loss_out,
    double[:, ::1] gradient_out,
    int n_threads=1,
):
    """Weighted softmax cross-entropy and its gradient with respect to the scores.

    ``y`` holds the class index (0 .. K-1) stored as a float.
    """
    cdef Py_ssize_t i, k, n = raw_prediction.shape[0], K = raw_prediction.shape[1]
    cdef Py_ssize_t label
    cdef double lse, w, others
    for i in prange(n, nogil=True, schedule="static", num_threads=n_threads):
        w = sample_weight[i]
        label = <Py_ssize_t> y[i]
        lse = _log_sum_exp(raw_prediction, i, K)
        loss_out[i] = w * (lse - raw_prediction[i, label])
        others = 0.0
        for k in range(K):
            gradient_out[i, k] = w * exp(raw_prediction[i, k] - lse)
            if k != label:
                others = others + gradient_out[i, k]
        # p_y - 1 = -(sum of the other probabilities): no cancellation when p_y ~ 1
        gradient_out[i, label] = -others


def categorical_log_proba(const floating[:, ::1] raw_prediction, double[:, ::1] out,
                          int n_threads=1):
    """log softmax(z) = z - logsumexp(z), row by row."""
    cdef Py_ssize_t i, k, n = raw_prediction.shape[0], K = raw_prediction.shape[1]
    cdef double lse
    for i in prange(n, nogil=True, schedule="static", num_threads=n_threads):
        lse = _log_sum_exp(raw_prediction, i, K)
        for k in range(K):
            out[i, k] = raw_prediction[i, k] - lse


def categorical_hessian(
    const floating[:, ::1] raw_prediction,
    const floating[::1] sample_weight,
    double[:, :, ::1] hessian_out,
    int n_threads=1,
):
    """Weighted Hessian diag(p) - p p^T of the softmax cross-entropy, per sample."""
    cdef Py_ssize_t i, j, k, n = raw_prediction.shape[0], K = raw_prediction.shape[1]
    cdef double lse, w, pj, pk, others
    for i in prange(n, nogil=True, schedule="static", num_threads=n_threads):
        w = sample_weight[i]
        lse = _log_sum_exp(raw_prediction, i, K)
        for j in range(K):
            pj = exp(raw_prediction[i, j] - lse)
            others = 0.0
            for k in range(K):
                if k != j:
                    pk = exp(raw_prediction[i, k] - lse)
                    others = others + pk
                    hessian_out[i, j, k] = -w * pj * pk
            # p_j (1 - p_j) with 1 - p_j summed from the other classes
            hessian_out[i, j, j] = w * pj * others


# ----------------------------------------------------------------------------------
# Gaussian with unit variance:  NLL(y, mu) = (y - mu)^2 / 2 + log(2 pi) / 2
# ----------------------------------------------------------------------------------
cdef inline double _half_square_capped(double r) noexcept nogil:
    if fabs(r) > 1.3407807929942596e154:  # sqrt(DBL_MAX): r*r would overflow
        return 0.5 * DBL_MAX
    return 0.5 * r * r


def gaussian_fixed_loss_gradient(
    const floating[::1] y,
    const floating[::1] raw_prediction,
    const floating[::1] sample_weight,
    double[::1] loss_out,
    double[::1] gradient_out,
    int n_threads=1,
):
    """Weighted unit-variance Gaussian NLL and its derivative with respect to the mean."""
    cdef Py_ssize_t i, n = y.shape[0]
    cdef double r, w
    for i in prange(n, nogil=True, schedule="static", num_threads=n_threads):
        w = sample_weight[i]
        r = <double> y[i] - <double> raw_prediction[i]
        loss_out[i] = w * (_half_square_capped(r) + HALF_LOG_2PI)
        gradient_out[i] = -w * r


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


def gaussian_loss_gradient(
    const floating[::1] y,
    const floating[:, ::1] raw_prediction,
    const floating[::1] sample_weight,
    double[::1] loss_out,
    double[:, ::1] gradient_out,
    int n_threads=1,
):
    """Weighted Gaussian NLL with a per-sample log scale, and its gradient.

    ``raw_prediction[:, 0]`` is the mean and ``raw_prediction[:, 1]`` is log sigma.
    A shared (homoscedastic) sigma is the same kernel with a constant second column.
    """
    cdef Py_ssize_t i, n = y.shape[0]
    cdef double w
    for i in prange(n, nogil=True, schedule="static", num_threads=n_threads):
        w = sample_weight[i]
        loss_out[i] = w * _gaussian_loss_grad(
            y[i], raw_prediction[i, 0], raw_prediction[i, 1],
            &gradient_out[i, 0], &gradient_out[i, 1])
        gradient_out[i, 0] = w * gradient_out[i, 0]
        gradient_out[i, 1] = w * gradient_out[i, 1]


def gaussian_hessian(
    const floating[::1] y,
    const floating[:, ::1] raw_prediction,
    const floating[::1] sample_weight,
    double[:, :, ::1] hessian_out,
    int n_threads=1,
):
    """Weighted Hessian of the learned-scale Gaussian NLL with respect to (mu, log sigma)."""
    cdef Py_ssize_t i, n = y.shape[0]
    cdef double r, s, w, inv_var, two_q2
    for i in prange(n, nogil=True, schedule="static", num_threads=n_threads):
        w = sample_weight[i]
        r = <double> y[i] - <double> raw_prediction[i, 0]
        s = raw_prediction[i, 1]
        inv_var = _exp_capped(-2.0 * s)
        if r == 0.0:
            two_q2 = 0.0
            hessian_out[i, 0, 1] = 0.0
        else:
            # 2 (r / sigma)^2 and 2 r / sigma^2, saturating instead of overflowing
            two_q2 = _exp_capped(LOG_2 + 2.0 * (log(fabs(r)) - s))
            hessian_out[i, 0, 1] = w * copysign(
                _exp_capped(log(2.0 * fabs(r)) - 2.0 * s), r)
        hessian_out[i, 0, 0] = w * inv_var
        hessian_out[i, 1, 0] = hessian_out[i, 0, 1]
        hessian_out[i, 1, 1] = w * two_q2


# ----------------------------------------------------------------------------------
# One pass over dense row-major X: raw predictions, per-sample loss and gradient, and
# the gradient with respect to the coefficients, in a single sweep.
# ----------------------------------------------------------------------------------
FAMILY_BERNOULLI = 0
FAMILY_CATEGORICAL = 1
FAMILY_GAUSSIAN_FIXED = 2
FAMILY_GAUSSIAN = 3

#: Rows per accumulation block.  The partial coefficient gradients of each block are
#: summed in block order afterwards, so the result does not depend on the number of
#: threads.
cdef Py_ssize_t BLOCK_ROWS = 2048
FUSED_BLOCK_ROWS = BLOCK_ROWS


cdef inline double _row_loss_gradient(int family, double y, double *row, Py_ssize_t m,
                                      double w) noexcept nogil:
    """Overwrite the raw predictions in ``row`` by w * dNLL/draw; return w * NLL."""
    cdef double loss, lse, mx, s, others, g0, g1
    cdef Py_ssize_t k, label
    if family == 0:
        loss = _bernoulli_loss_grad(y, row[0], &row[0])
        row[0] = w * row[0]
        return w * loss
    if family == 1:
        label = <Py_ssize_t> y
        mx = row[0]
        for k in range(1, m):
            if row[k] > mx:
                mx = row[k]
        s = 0.0
        for k in range(m):
            s = s + exp(row[k] - mx)
        lse = mx + log(s)
        loss = lse - row[label]
        others = 0.0
        for k in range(m):
            row[k] = exp(row[k] - lse)
            if k != label:
                others = others + row[k]
        row[label] = -others
        for k in range(m):
            row[k] = w * row[k]
        return w * loss
    if family == 2:
        g0 = y - row[0]
        row[0] = -w * g0
        return w * (_half_square_capped(g0) + HALF_LOG_2PI)
    loss = _gaussian_loss_grad(y, row[0], row[1], &g0, &g1)
    row[0] = w * g0
    row[1] = w * g1
    return w * loss


def fused_loss_gradient(
    const floating[:, ::1] X,
    const double[::1] y,
    const double[::1] sample_weight,
    const double[:, ::1] coef,
    const double[::1] intercept,
    const Py_ssize_t[::1] coef_rows,
    int family,
    double[::1] loss_out,
    double[:, ::1] gradient_out,
    double[:, :, ::1] block_coef_gradient,
    int n_threads=1,
):
    """One sweep over row-major X for a linear model with ``m = coef.shape[0]`` outputs.

    For each sample: ``raw = X[i] @ coef[j] + intercept[j]`` for the rows ``j`` in
    ``coef_rows`` (``intercept[j]`` alone for the others), accumulated in double even
    for float32 X; then the weighted NLL into ``loss_out[i]`` and its gradient with
    respect to the raw predictions into ``gradient_out[i]``; and the contribution
    ``gradient_out[i, j] * X[i]`` to ``block_coef_gradient[block, r]`` for the r-th
    entry of ``coef_rows``, one block per ``FUSED_BLOCK_ROWS`` rows.  Sum the blocks
    (axis 0) for the gradient with respect to the free coefficient rows.
    """
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], m = coef.shape[0]
    cdef Py_ssize_t n_free = coef_rows.shape[0]
    cdef Py_ssize_t n_blocks = (n + BLOCK_ROWS - 1) // BLOCK_ROWS
    cdef Py_ssize_t b, i, j, r, k, start, stop
    cdef double acc, g
    for b in prange(n_blocks, nogil=True, schedule="static", num_threads=n_threads):
        start = b * BLOCK_ROWS
        stop = start + BLOCK_ROWS
        if stop > n:
            stop = n
        for r in range(n_free):
            for k in range(d):
                block_coef_gradient[b, r, k] = 0.0
        for i in range(start, stop):
            for j in range(m):
                gradient_out[i, j] = intercept[j]
            for r in range(n_free):
                j = coef_rows[r]
                acc = 0.0
                for k in range(d):
                    acc = acc + <double> X[i, k] * coef[j, k]
                gradient_out[i, j] = gradient_out[i, j] + acc
            loss_out[i] = _row_loss_gradient(family, y[i], &gradient_out[i, 0], m,
                                             sample_weight[i])
            for r in range(n_free):
                g = gradient_out[i, coef_rows[r]]
                if g != 0.0:
                    for k in range(d):
                        block_coef_gradient[b, r, k] = (
                            block_coef_gradient[b, r, k] + g * <double> X[i, k])
