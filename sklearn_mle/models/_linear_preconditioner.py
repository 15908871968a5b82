"""Preconditioners of the linear model, built from the design's moments.

The solver (:mod:`sklearn_mle.solver._lbfgs`) works in coordinates ``theta = theta0 + P u``
and knows nothing of the linear model.  This module holds what only the linear model
can build (used by :meth:`sklearn_mle.models._linear.LinearModel.preconditioner`):

* the dense preconditioner's input, the start Hessian ``H0 = A ⊗ Gram([X, 1]) + alpha
  Omega`` (built by ``LinearModel.start_hessian`` and factored by the solver's
  :class:`~sklearn_mle.solver._lbfgs.DensePreconditioner`);
* :class:`ScalingPreconditioner` (many parameters): per-column centring and scaling,
  done implicitly so sparse X stays sparse;
* :func:`check_column_magnitudes`, the clear error for columns whose squares doubles
  cannot hold.
"""

import numpy as np


class ScalingPreconditioner:
    """Implicit centring and per-column scaling of each free coefficient block.

    In the optimiser's coordinates column ``k`` of raw output ``j`` is
    ``(x_k - mean_k) / sd_k``, with the intercept absorbing the mean when it is free.

    Parameters
    ----------
    model : LinearModel
        The layout (free coefficient rows and intercepts) and the ridge weights.
    mean, mean_square : ndarray of shape (n_features,)
        Weighted means of the columns of X and of their squares (weights summing to
        one).
    unit_hessian : ndarray of shape (n_raw, n_raw)
        Expected Hessian of one sample's NLL at the start's constant raw prediction.
    alpha : float
        Penalty strength.
    """

    description = "column scaling"

    def __init__(self, model, mean, mean_square, unit_hessian, alpha):
        d = model.n_features
        self.blocks = []
        n_coef = model.coef_rows.size * d
        offset = 0
        for j in model.coef_rows:
            a = max(unit_hessian[j, j], 1e-12)
            centred = bool(model.intercept_free[j])
            second_moment = mean_square - mean**2 if centred else mean_square
            curvature = (a * np.maximum(second_moment, 0.0)
                         + alpha * model.ridge_weight[offset:offset + d])
            coef_scale = np.where(curvature > 0, np.sqrt(curvature), 1.0)
            intercept_index = None
            if centred:
                intercept_index = n_coef + int(np.searchsorted(model.intercept_rows, j))
            self.blocks.append((slice(offset, offset + d), coef_scale, intercept_index))
            offset += d
        self.intercept_scale = np.array(
            [1.0 / np.sqrt(max(unit_hessian[j, j], 1e-12)) for j in model.intercept_rows])
        self.n_coef = n_coef
        self.mean = mean
        self.mean_square = mean_square
        self.dim = model.n_params
        self.n_flat_directions = 0

    def apply(self, u):
        """theta offset P u."""
        theta = np.empty_like(u)
        theta[self.n_coef:] = u[self.n_coef:] * self.intercept_scale
        for block, coef_scale, intercept_index in self.blocks:
            theta[block] = u[block] / coef_scale
            if intercept_index is not None:
                theta[intercept_index] -= self.mean @ theta[block]
        return theta

    def apply_transpose(self, gradient):
        """P^T g, the gradient in the optimiser's coordinates."""
        g = np.empty_like(gradient)
        g[self.n_coef:] = gradient[self.n_coef:] * self.intercept_scale
        for block, coef_scale, intercept_index in self.blocks:
            g_block = gradient[block]
            if intercept_index is not None:
                g_block = g_block - self.mean * gradient[intercept_index]
            g[block] = g_block / coef_scale
        return g

    def matrix(self):
        """P as a dense (n_params, dim) array."""
        if not self.dim:
            return np.zeros((self.dim, 0))
        return np.column_stack([self.apply(e) for e in np.eye(self.dim)])

    def _inverse(self, theta):
        u = np.empty_like(theta)
        u[self.n_coef:] = theta[self.n_coef:] / self.intercept_scale
        for block, coef_scale, intercept_index in self.blocks:
            u[block] = theta[block] * coef_scale
            if intercept_index is not None:
                u[intercept_index] = (theta[intercept_index] + self.mean @ theta[block]) \
                    / self.intercept_scale[intercept_index - self.n_coef]
        return u

    def _inverse_transpose(self, v):
        out = np.empty_like(v)
        out[self.n_coef:] = v[self.n_coef:] / self.intercept_scale
        for block, coef_scale, intercept_index in self.blocks:
            out[block] = v[block] * coef_scale
            if intercept_index is not None:
                out[block] += self.mean * out[intercept_index]
        return out

    def metric_apply(self, delta):
        """``P^{-T} P^{-1} delta``: the squared length of ``delta`` in whitened units."""
        return self._inverse_transpose(self._inverse(delta))

    def metric(self):
        """The matrix Q with ``||u||^2 = delta^T Q delta`` for ``delta = P u``."""
        return np.column_stack([self.metric_apply(e) for e in np.eye(self.dim)])


#: Weighted mean squares of a column outside [_SMALLEST_MEAN_SQUARE, inf) mean that the
#: squares of its values are not representable (or only as subnormals, without
#: precision): magnitudes above about 1e154 or below about 1e-145.
_SMALLEST_MEAN_SQUARE = 1e-290


def check_column_magnitudes(mean, mean_square):
    """Raise a ValueError naming the columns whose curvature doubles cannot hold.

    ``mean`` and ``mean_square`` are the weighted (weights summing to one) means of
    each column and of its square.  A column of zeros is fine (it is flat); a column
    with non-zero values whose mean square underflows, or whose mean square overflows,
    would otherwise be treated as flat or break the fit without a clear message.
    """
    if ((mean_square >= _SMALLEST_MEAN_SQUARE) & (mean_square < np.inf)).all():
        return   # (NaN fails both comparisons)
    with np.errstate(invalid="ignore"):
        unrepresentable = ~np.isfinite(mean_square) | (
            (mean_square < _SMALLEST_MEAN_SQUARE) & (mean != 0))
    columns = np.flatnonzero(unrepresentable)
    if columns.size:
        shown = ", ".join(str(c) for c in columns[:10]) + (", ..." if columns.size > 10
                                                             else "")
        raise ValueError(
            f"Column(s) {shown} of X hold values whose squares are not representable in "
            "double precision (magnitudes above about 1e154 or below about 1e-145), so "
            "the curvature of the likelihood along them cannot be computed. Rescale "
            "these columns, e.g. divide them by a power of ten: predictions do not "
            "depend on the units of X.")
