"""A diagonal preconditioner from the diagonal of a model's expected Hessian.

For a model whose curvature changes as it moves (a network's does, by orders of
magnitude between the start and the optimum) and whose full Hessian is too costly or
too singular to factor, :class:`DiagonalPreconditioner` scales each parameter by the
inverse square root of its own curvature, ``P = diag(d)^{-1/2}``, and the solver
rebuilds it at the iterate between its phases (:meth:`DiagonalPreconditioner.refresh`).
The gradient test in these coordinates, ``max_p |g_p| / sqrt(d_p) <= tol``, compares
each gradient component with the curvature along it: unit-free.
"""

import numpy as np

from ._lbfgs import DensePreconditioner

#: A diagonal entry below this fraction of the largest one is raised to it: a
#: parameter without curvature (a dead unit's bias) would otherwise get an unbounded
#: scale.
_FLOOR_RTOL = 1e-12


class DiagonalPreconditioner:
    """``P = diag(d)^{-1/2}``, refreshed at an iterate by :meth:`refresh`.

    Parameters
    ----------
    diagonal : ndarray of shape (n_params,)
        The curvature ``d_p`` of each parameter (non-negative; entries below
        ``1e-12`` times the largest, or not finite, are raised to that floor).
    diagonal_at : callable or None, default=None
        ``diagonal_at(theta)`` -> the diagonal at ``theta``, for :meth:`refresh`.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_mle.solver._diagonal import DiagonalPreconditioner
    >>> P = DiagonalPreconditioner(np.array([4.0, 0.01]))
    >>> P.apply_transpose(np.array([2.0, 0.1]))   # gradient over root curvature
    array([1., 1.])
    """

    description = "diagonal (curvature of each parameter, refreshed between phases)"

    def __init__(self, diagonal, diagonal_at=None):
        diagonal = np.asarray(diagonal, dtype=np.float64)
        usable = np.isfinite(diagonal) & (diagonal > 0)
        floor = _FLOOR_RTOL * (float(np.max(diagonal[usable])) if usable.any() else 1.0)
        self.diagonal = np.where(usable, np.maximum(diagonal, floor), floor)
        self.scale = 1.0 / np.sqrt(self.diagonal)
        self.dim = self.diagonal.size
        self.n_flat_directions = 0
        self._diagonal_at = diagonal_at

    def refresh(self, theta):
        """The preconditioner from the diagonal at ``theta``, or None if it cannot be
        refreshed (no ``diagonal_at``, or a diagonal that is not finite)."""
        if self._diagonal_at is None:
            return None
        with np.errstate(over="ignore", invalid="ignore"):
            diagonal = self._diagonal_at(theta)
        if not np.all(np.isfinite(diagonal)):
            return None
        return DiagonalPreconditioner(diagonal, self._diagonal_at)

    def apply(self, u):
        """theta offset P u."""
        return self.scale * u

    def apply_transpose(self, gradient):
        """P^T g, the gradient in the optimiser's coordinates."""
        return self.scale * gradient

    def matrix(self):
        """P as a dense (n_params, n_params) array."""
        return np.diag(self.scale)

    def metric_apply(self, delta):
        """``Q delta`` with ``Q = diag(d)``: ``||u||^2 = delta^T Q delta``."""
        return self.diagonal * delta

    def metric(self):
        """The matrix Q with ``||u||^2 = delta^T Q delta`` for ``delta = P u``."""
        return np.diag(self.diagonal)


class DenseCurvaturePreconditioner(DensePreconditioner):
    """:class:`DensePreconditioner` of a curvature matrix that :meth:`refresh`
    forms anew at an iterate (not compounded from the previous factor)."""

    description = "dense (Cholesky factor of the curvature, refreshed between phases)"
    #: Not refreshed by the solver's Hessian path (see :meth:`refresh`).
    refreshable = False

    def __init__(self, matrix, matrix_at=None):
        super().__init__(matrix)
        self._matrix_at = matrix_at

    def refresh(self, theta):
        """The preconditioner from the matrix at ``theta``, or None if it cannot be
        formed (no ``matrix_at``, or a matrix that is not finite)."""
        if self._matrix_at is None:
            return None
        with np.errstate(over="ignore", invalid="ignore"):
            matrix = self._matrix_at(theta)
        if not np.all(np.isfinite(matrix)):
            return None
        return DenseCurvaturePreconditioner(matrix, self._matrix_at)
