"""The linear models the estimators fit: which coefficients and intercepts are free,
their penalty weights, the null model where a fit starts, and the model that turns
fitted coefficients into raw predictions.

Each raw column ``j`` of a family is ``x @ coef[j] + intercept[j]``.  For a regression
family, column 0 (the mean) has coefficients and, with ``fit_intercept``, an
intercept; a column in mode ``"x"`` is linear in x, ``"constant"`` has an intercept
only, and a fixed column none (its intercept holds the fixed raw value).  For the
classifier's softmax, class 0 is the reference for whatever the penalty does not
identify.
"""

import numpy as np

from ..families import BernoulliLoss, CategoricalLoss
from ..families._base import constant_raw_rows, constant_raw_with_offset
from ._dask import place_model
from ._linear import LevelPenalty, LinearModel, row_slices


def _learned(mode):
    return mode in ("x", "constant")


def regression_null_raw(family, modes, fit_intercept, y, weights, offset=None):
    """Raw prediction of the null model: every learned column constant, the mean's at
    0 without ``fit_intercept``, fixed columns at their value; with an ``offset`` on
    the mean's column, the intercept-only fit that includes it."""
    free = [fit_intercept] + [_learned(mode) for mode in modes[1:]]
    fixed = [0.0] + [0.0 if isinstance(mode, str) else mode for mode in modes[1:]]
    if offset is not None:
        return constant_raw_with_offset(family, y, weights, offset, free, fixed)
    return np.asarray(family.constant_raw_prediction(y, weights, free=free, fixed=fixed),
                      dtype=np.float64)


def regression_model(family, modes, fit_intercept, alpha, X, weights, null_raw, y,
                     offset=None, start_raw=None, dispersion_penalty=1.0):
    """The linear model of a regression family's raw columns, with its penalty: the
    mean's coefficients weighted by the family's ``mean_penalty_weight`` (``1 / s0**2``
    where the mean is in the units of y), the coefficients of a dispersion linear in x
    by ``dispersion_penalty`` (the estimator's ``dispersion_alpha / alpha``), and the
    training mean of a learned dispersion column pulled towards its null-model value
    (see :class:`LevelPenalty`); ``offset``
    (n,) is added to the mean's linear predictor of each training sample; the
    preconditioner starts from the Fisher information at ``start_raw`` (the constant
    raw prediction the fit starts from; default ``null_raw``)."""
    coef_free = [mode == "x" for mode in modes]
    intercept_free = [fit_intercept] + [_learned(mode) for mode in modes[1:]]
    intercept_value = [0.0] + [0.0 if isinstance(mode, str) else mode for mode in modes[1:]]
    model = place_model(LinearModel(family, X.shape[1], coef_free, intercept_free,
                                    intercept_value=intercept_value,
                                    unit_hessian=_unit_hessian(
                                        family, null_raw if start_raw is None
                                        else start_raw, y, weights, offset),
                                    offset=offset), X)
    # the penalty needs the parameter layout: set on the model just made
    j = family.dispersion_column
    column_weight = np.where(model.param_column == 0,
                             family.mean_penalty_weight(null_raw), 1.0)
    if j is not None:
        column_weight[model.param_column == j] = dispersion_penalty
    model.ridge_weight = model.ridge_weight * column_weight
    if j is not None and _learned(modes[j]) and alpha > 0:
        column_means = model.column_moments(X, weights)[0]
        model.level_penalty = LevelPenalty(model.column_mean_direction(j, column_means),
                                           null_raw[j])
    return model


def _unit_hessian(family, null_raw, y, weights, offset):
    """The per-sample Fisher information the preconditioner starts from: the family's
    at the null model's constant raw prediction, or with an offset (raw predictions
    no longer constant) its weighted mean over the samples at the null model, a
    block of rows at a time."""
    if offset is None:
        return family.unit_hessian_at_constant(null_raw, y, weights)
    total = 0.0
    for rows in row_slices(y.shape[0]):
        raw = constant_raw_rows(null_raw, y[rows].shape[0], offset[rows])
        with np.errstate(over="ignore", invalid="ignore"):
            total = total + family.fisher_information(y[rows], raw, weights[rows]).sum(
                axis=0)
    return total / np.sum(weights)


def classification_family(n_classes):
    """Bernoulli on one logit for two classes, softmax over the class scores else."""
    return BernoulliLoss() if n_classes == 2 else CategoricalLoss(n_classes)


def classification_model(n_features, n_classes, fit_intercept, alpha, offset=None):
    """Bernoulli on one logit for two classes; softmax over ``n_classes`` scores with
    class 0's intercept (and at ``alpha = 0`` its coefficients) fixed at 0; ``offset``
    (n,) is added to the logit, (n, n_classes) to the class scores."""
    family = classification_family(n_classes)
    if n_classes == 2:
        return LinearModel(family, n_features, [True], [fit_intercept], offset=offset)
    coef_free = np.ones(n_classes, dtype=bool)
    intercept_free = np.full(n_classes, fit_intercept)
    intercept_free[0] = False
    if alpha == 0:
        coef_free[0] = False
    return LinearModel(family, n_features, coef_free, intercept_free, offset=offset)


def classification_null_raw(family, y_encoded, weights, fit_intercept, offset=None):
    """The classifier's null model: class frequencies in the intercepts (relative to
    class 0 for the softmax), or all scores 0 without intercepts; with an ``offset``,
    the intercept-only fit that includes it (no closed form then)."""
    n_raw = family.n_raw
    if not fit_intercept:
        return np.zeros(n_raw)
    null_raw = family.constant_raw_prediction(y_encoded, weights)
    null_raw = null_raw - null_raw[0] if n_raw > 1 else null_raw
    if offset is None:
        return null_raw
    free = np.arange(n_raw) > 0 if n_raw > 1 else np.ones(1, dtype=bool)
    return constant_raw_with_offset(family, y_encoded, weights, offset, free, None,
                                    no_offset=null_raw)


def classification_start(model, y_encoded, weights, fit_intercept):
    """The constant raw prediction a classifier's fit starts from: the null model
    (:func:`classification_null_raw`, with the model's offset).  With an offset, a
    linear model's preconditioner is set to start from the Fisher information
    averaged over the samples there, as a regression model's is (their raw
    predictions are no longer one constant)."""
    start_raw = classification_null_raw(model.loss, y_encoded, weights, fit_intercept,
                                        model.offset)
    if model.offset is not None and isinstance(model, LinearModel):
        model.unit_hessian = _unit_hessian(model.loss, start_raw, y_encoded, weights,
                                           model.offset)
    return start_raw


def prediction_model(family, n_features):
    """A model with every coefficient free, for raw predictions from fitted
    ``(coef, intercept)`` (its ``linear_predictor``)."""
    free = (True,) * family.n_raw
    return LinearModel(family, n_features, free, free)
