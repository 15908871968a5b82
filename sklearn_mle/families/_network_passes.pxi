# ----------------------------------------------------------------------------------
# The network model's hidden layers (sklearn_mle.models._network): a ReLU layer's bias
# and activation in place after its matrix product, and the step back through it with
# its bias gradient, each one sweep over the block instead of NumPy's two or three
# (and no temporaries).  Serial and without the GIL: the model runs blocks of rows on
# its own threads, and every sum here runs over the rows in order, so the results do
# not depend on the number of threads.
# ----------------------------------------------------------------------------------
def bias_relu(floating[:, ::1] z, const floating[::1] bias):
    """``z = max(z + bias, 0)`` in place, ``bias`` added to every row of ``z``
    (n, h); NaN stays NaN, as with ``np.maximum``."""
    cdef Py_ssize_t n = z.shape[0], h = z.shape[1], i, j
    cdef floating *row
    cdef floating v
    if bias.shape[0] != h:
        raise ValueError("bias_relu: bias and z have different widths")
    if n == 0 or h == 0:
        return
    with nogil:
        for i in range(n):
            row = &z[i, 0]
            for j in range(h):
                v = row[j] + bias[j]
                row[j] = 0 if v < 0 else v


def relu_backward(floating[:, ::1] delta, const floating[:, ::1] activation,
                  double[::1] bias_gradient):
    """Back through a ReLU layer in place: ``delta[i, j] = 0`` where
    ``activation[i, j] > 0`` fails (the unit is off; its slope is taken as 0 at the
    kink, as ``delta * (activation > 0)``, but 0 for a non-finite ``delta`` too); then
    ``bias_gradient[j]`` is set to ``sum_i delta[i, j]``, summed in double over the
    rows in order.  Written for the compiler to vectorise: no branch (whether a unit
    is on is a coin flip the CPU cannot predict), no int-to-float conversion of the
    comparison (measured 10x slower)."""
    cdef Py_ssize_t n = delta.shape[0], h = delta.shape[1], i, j
    cdef floating *row
    cdef const floating *on
    cdef double *total = &bias_gradient[0] if h else NULL
    if (activation.shape[0] != n or activation.shape[1] != h
            or bias_gradient.shape[0] != h):
        raise ValueError("relu_backward: inconsistent shapes")
    if n == 0 or h == 0:
        bias_gradient[:] = 0.0
        return
    with nogil:
        for j in range(h):
            total[j] = 0.0
        for i in range(n):
            row = &delta[i, 0]
            on = &activation[i, 0]
            for j in range(h):
                row[j] = row[j] if on[j] > 0 else 0
            for j in range(h):   # (apart: one loop runs 10x slower on float32)
                total[j] += row[j]


def column_sums(const floating[:, ::1] a, double[::1] out):
    """``out[j] = sum_i a[i, j]``, summed in double over the rows in order."""
    cdef Py_ssize_t n = a.shape[0], h = a.shape[1], i, j
    if out.shape[0] != h:
        raise ValueError("column_sums: out and a have different widths")
    with nogil:
        for j in range(h):
            out[j] = 0.0
        for i in range(n):
            for j in range(h):
                out[j] += a[i, j]


def outer_relu_backward(const floating[:, ::1] delta, const floating[::1] weights,
                        const floating[:, ::1] activation, floating[:, ::1] out,
                        double[::1] bias_gradient):
    """Back from a layer of one unit through the ReLU layer below it:
    ``out[i, j] = delta[i, 0] * weights[j]`` where ``activation[i, j] > 0``, else 0
    (:func:`relu_backward` of the outer product ``delta @ weights[None, :]``, in one
    sweep); ``bias_gradient[j] = sum_i out[i, j]``, summed in double in row order."""
    cdef Py_ssize_t n = out.shape[0], h = out.shape[1], i, j
    cdef floating *row
    cdef const floating *on
    cdef floating d
    cdef double *total = &bias_gradient[0] if h else NULL
    if (delta.shape[0] != n or delta.shape[1] != 1 or weights.shape[0] != h
            or activation.shape[0] != n or activation.shape[1] != h
            or bias_gradient.shape[0] != h):
        raise ValueError("outer_relu_backward: inconsistent shapes")
    if n == 0 or h == 0:
        bias_gradient[:] = 0.0
        return
    with nogil:
        for j in range(h):
            total[j] = 0.0
        for i in range(n):
            row = &out[i, 0]
            on = &activation[i, 0]
            d = delta[i, 0]
            for j in range(h):
                row[j] = d * weights[j]
            for j in range(h):
                row[j] = row[j] if on[j] > 0 else 0
            for j in range(h):
                total[j] += row[j]
