# Included by _kernels.pyx (textually, so the loops there inline these functions);
# cimports and shared constants are at the top of _kernels.pyx.
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
