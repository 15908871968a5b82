# Included by _kernels.pyx (textually, so the loops there inline these functions);
# cimports and shared constants are at the top of _kernels.pyx.
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
