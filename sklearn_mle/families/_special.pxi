# Included by _kernels.pyx (textually, so the loops there inline these functions);
# cimports and shared constants are at the top of _kernels.pyx.
# Special functions shared by the negative binomial and the Student-t: softplus,
# logistic and series whose leading terms cancel.
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
