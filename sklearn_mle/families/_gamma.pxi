# Included by _kernels.pyx (textually, so the loops there inline these functions);
# cimports and shared constants are at the top of _kernels.pyx.
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
