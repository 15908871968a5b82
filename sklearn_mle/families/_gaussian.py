"""The Gaussian: unit variance (least squares) and learned scale."""

import numpy as np
from scipy import stats

from . import _kernels
from ._base import (
    _KernelFamily,
    _positive_exp,
)


class _GaussianPrediction:
    """Mean, predictive distribution and fit hooks shared by the two Gaussian
    families."""

    name = "Gaussian"
    dispersion_name = "sigma"
    variance_option = True
    least_squares = True

    def describe(self, column_modes):
        if len(column_modes) == 1 or column_modes[1] == 0.0:
            return "Gaussian, σ = 1 assumed"
        mode = column_modes[1]
        if mode == "x":
            return "Gaussian, log σ(x) linear"
        if mode == "constant":
            return "Gaussian, σ learned"
        return f"Gaussian, σ = {np.exp(mode):.6g} fixed"

    def variance_label(self, column_modes):
        """The ``variance=`` option equivalent to these modes (for titles)."""
        if len(column_modes) == 1:
            return "fixed"
        return {"x": "heteroscedastic", "constant": "constant"}.get(column_modes[1],
                                                                   "fixed")

    def constant_raw_prediction(self, y, sample_weight, free=None, fixed=None):
        """The null model: the weighted mean of y (0 when the mean's intercept is not
        free) and, with a scale column, ``log sigma`` from :func:`null_log_scale` (or
        its fixed value)."""
        free = np.ones(self.n_raw, bool) if free is None else np.asarray(free, bool)
        fixed = np.zeros(self.n_raw) if fixed is None else np.asarray(fixed, float)
        raw = np.array(fixed, dtype=np.float64)
        if free[0]:
            # (np.average's sums, without its checks: a cost on small fits)
            raw[0] = (y * sample_weight).sum() / sample_weight.sum()
        if self.n_raw == 2 and free[1]:
            raw[1] = null_log_scale(y, sample_weight, bool(free[0]))
        return raw

    def unit_hessian_at_constant(self, constant_raw, y=None, sample_weight=None):
        # E[d2/dmu2] = 1/sigma^2, E[d2/ds2] = 2, E[d2/dmu ds] = 0 at the constant MLE.
        if self.n_raw == 1:
            return np.ones((1, 1))
        return np.diag([np.exp(-2.0 * constant_raw[1]), 2.0])

    def mean_penalty_weight(self, null_raw):
        return 1.0 if self.n_raw == 1 else float(np.exp(-2.0 * null_raw[1]))

    def collapse_log_scale(self, raw_prediction):
        return raw_prediction[:, 1] if raw_prediction.shape[1] == 2 else None

    def mean(self, raw_prediction):
        return np.array(raw_prediction[:, 0], dtype=np.float64)

    def scale(self, raw_prediction):
        """sigma at each row, saturating at the smallest/largest positive doubles
        instead of reaching 0 or inf, so that intervals and densities stay defined."""
        if raw_prediction.shape[1] == 1:
            return np.ones(raw_prediction.shape[0])
        return _positive_exp(raw_prediction[:, 1])

    def distribution(self, raw_prediction):
        return stats.norm(loc=self.mean(raw_prediction), scale=self.scale(raw_prediction))

    def std(self, raw_prediction):
        return self.scale(raw_prediction)


class GaussianFixedScaleLoss(_GaussianPrediction, _KernelFamily):
    """Gaussian distribution with unit variance; the raw prediction is the mean."""

    raw_columns = ("mean",)
    assumes_unit_scale = True
    fixed_attributes = {"scale_": 1.0}
    #: The Hessian does not depend on the parameters (a quadratic objective).
    hessian_is_constant = True
    family = _kernels.FAMILY_GAUSSIAN_FIXED
    fisher_columns = ()  # 1

    def specialise(self, column_modes):
        return self, ("x",)

    def equivariant_target_scale(self, y):
        """max|y|: with sigma fixed at 1 the objective is quadratic in y's units, so
        fitting y / max|y| is an exact rescaling (coefficients, intercept and penalty
        scale together) under which targets of any magnitude, 1e-12 or 1e150, meet
        the same relative tolerance and never overflow."""
        largest = float(np.abs(y).max()) if y.size else 0.0
        return largest if np.isfinite(largest) and largest > 0 else 1.0


class GaussianLoss(_GaussianPrediction, _KernelFamily):
    """Gaussian distribution with learned scale.

    Raw-prediction columns are ``(mean, log sigma)``; a shared sigma is the special
    case of a constant second column.
    """

    raw_columns = ("mean", "log_scale")
    column_modes = ("x", "constant")
    dispersion_column = 1
    fisher_is_hessian = False
    family = _kernels.FAMILY_GAUSSIAN
    fisher_columns = (1,)  # diag(1 / sigma^2, 2)

    def specialise(self, column_modes):
        if column_modes[1] == 0.0:  # sigma fixed at 1: the quadratic objective
            return GaussianFixedScaleLoss(), ("x",)
        return self, tuple(column_modes)


def null_log_scale(y, weights, fit_intercept):
    """``log sigma`` of the Gaussian null model: the log of the weighted root mean
    square of y about its weighted mean (about 0 when ``fit_intercept=False``).

    Computed on ``y / max|y|`` so that no square under- or overflows.  When that spread
    is 0 (a constant target, where the null model itself collapses) the root mean
    square about 0 is used, and for an all-zero target, which has no scale, 0.
    Multiplying y by ``c`` adds ``log|c|``.
    """
    largest = float(np.max(np.abs(y[weights > 0])))
    if not largest > 0:
        return 0.0
    unit = y / largest
    mean = np.average(unit, weights=weights) if fit_intercept else 0.0
    mean_square = np.average((unit - mean) ** 2, weights=weights)
    if not mean_square > 0:
        mean_square = np.average(unit**2, weights=weights)
    return float(np.log(largest) + 0.5 * np.log(mean_square))


