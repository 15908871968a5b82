"""How closely results that pass through BLAS must agree across threads and machines.

Our own kernels (per-sample losses, the fused objective/gradient pass, the margin
certificate) add in a fixed order, and are compared bit for bit for 1 and 2 threads.
The Gram matrices of the Hessians, and the small dense products of the solver, are
added by BLAS, whose rounding can depend on its thread count and on the CPU kernels it
picks; no test can control that (OpenBLAS ignores a thread limit set from a worker
thread).  Through the Hessian it reaches the solver's path, so fitted parameters and
covariances are compared to a stated relative tolerance instead.
"""

import numpy as np

#: Fitted parameters, covariances and predictions: the solver ends with a Newton step
#: that makes the parameters exact to rounding, so runs differ by a few ulps; 1e-9
#: leaves a wide margin for ill-conditioned problems.
FIT_RTOL = 1e-9
#: Gram matrices and Hessians: one BLAS reduction of rows, relative rounding ~1e-16.
GRAM_RTOL = 1e-12
#: Iteration counts may differ when a rounding difference flips a stopping test.
ITERATION_SLACK = 2


def assert_blas_close(actual, desired, rtol=FIT_RTOL, err_msg=""):
    """``actual`` equals ``desired`` to ``rtol`` relative to the largest entry of
    ``desired`` (NaN where NaN)."""
    actual = np.asarray(actual, dtype=np.float64)
    desired = np.asarray(desired, dtype=np.float64)
    finite = np.abs(desired[np.isfinite(desired)])
    scale = finite.max() if finite.size else 0.0
    np.testing.assert_allclose(actual, desired, rtol=rtol, atol=rtol * scale,
                               err_msg=err_msg)
