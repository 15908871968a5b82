# Included by _kernels.pyx (textually, so the loops there inline these functions);
# cimports and shared constants are at the top of _kernels.pyx.
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
    return mu - y * eta + _log_factorial(y)
