# Included by _kernels.pyx (textually, so the loops there inline these functions);
# cimports and shared constants are at the top of _kernels.pyx.
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
