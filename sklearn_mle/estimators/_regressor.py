"""MLERegressor: maximum likelihood for the conditional distribution you choose.

The estimator is generic: the family object (:mod:`sklearn_mle.families`) says which raw
columns there are, what the targets may be, the starting point and the predictive
distribution; :mod:`sklearn_mle.existence._check` decides whether the MLE exists.
"""

import copy
import warnings
from numbers import Real

import numpy as np
import scipy.sparse as sp
from scipy import stats
from sklearn.base import RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import _check_sample_weight, check_is_fitted

from .._threads import ensure_layout, n_threads
from ._base import MLEstimator
from ..existence._check import find_unbounded, unbounded_message
from ..existence._unbounded import (
    FALLBACK_TOL_FACTOR,
    UnboundedLikelihoodWarning,
    resolution_message,
    variance_below_resolution,
)
from ..families import DISTRIBUTIONS, Family
from ..families._base import _distinct_targets
from ..models._linear import LevelPenalty, LinearModel, weighted_column_moments
from ..report._covariance import output_covariance, total_log_likelihood
from ..report._statistics import (
    common_notes,
    covariance_kind,
    design_rank,
    fit_statistics,
    method_name,
    require_covariance,
    set_likelihood_attributes,
    title_kind,
)
from ..report._table import InferenceSummary, feature_labels
from ..solver._fit import fit_model
from ..solver._progress import Progress
from ..solver._weights import FitWeights

#: Two-sided significance level below which the training residuals are reported as
#: inconsistent with the sigma = 1 that variance="fixed" assumes (chi-square test of the
#: residual sum of squares on df_resid_ degrees of freedom).
_SIGMA_ONE_TEST_LEVEL = 1e-3


class MLERegressor(RegressorMixin, MLEstimator):
    r"""Regression by maximum likelihood under the distribution you choose.

    ``distribution`` fixes ``p(y | x)`` and so the cost, its negative log-likelihood:
    ``"gaussian"`` (identity link; least squares when sigma is fixed),
    ``"poisson"`` (counts, log link), ``"negative_binomial"`` (overdispersed counts,
    NB2: ``Var = mu + alpha mu^2``, log link), ``"gamma"`` (positive skewed targets,
    log link, ``Var = phi mu^2``), ``"student_t"`` (outliers: location, scale and
    degrees of freedom), ``"binomial"`` (proportions in [0, 1] with the numbers of
    trials as ``sample_weight``, logit link), or a :class:`Family` of your own.  The
    mean's linear predictor is ``x @ coef_ + intercept_``; a family's dispersion
    (sigma, alpha, phi, the t's scale) is learned as one constant by default, linear
    in x on the log scale with ``dispersion="linear"``, or fixed with
    ``dispersion=<value>``.  The families' formulas are in the user guide.

    **The Gaussian.**  The model is ``y | x ~ Normal(mu(x), sigma(x)^2)`` with
    ``mu(x) = x @ coef_ + intercept_`` and, by ``variance`` (or the equivalent
    ``dispersion`` 1.0, "constant", "linear"):

    * ``"fixed"``: ``sigma = 1``, not a parameter.  The NLL is ``(y - mu)^2 / 2`` plus a
      constant, so the fit is least squares (``Ridge(alpha * n)``).
    * ``"constant"``: one learned ``sigma`` (optimised as ``log sigma``), reported as
      ``scale_``; at ``alpha=0`` the mean is OLS and ``sigma^2 = RSS / n``.
    * ``"heteroscedastic"``: ``log sigma(x) = x @ scale_coef_ + scale_intercept_``,
      learned jointly with the mean.

    The fit minimises exactly

    .. math::

        \frac{1}{\sum_i s_i} \sum_i s_i \, \mathrm{NLL}_i
        + \frac{\alpha}{2} \lVert \mathrm{coef} \rVert^2

    for ``variance="fixed"``, and with a learned variance

    .. math::

        \frac{1}{\sum_i s_i} \sum_i s_i \, \mathrm{NLL}_i
        + \frac{\alpha}{2} \left(\frac{\lVert \mathrm{coef} \rVert^2}{s_0^2}
        + \lVert \mathrm{scale\_coef} \rVert^2\right)
        + \alpha \left(t + \frac{e^{-2t} - 1}{2}\right),
        \qquad t = \overline{\log\sigma} - \log s_0 ,

    with ``NLL_i = log(2 pi)/2 + log sigma_i + (y_i - mu_i)^2 / (2 sigma_i^2)`` the
    full Gaussian negative log-likelihood of sample ``i``, ``s_i`` the sample weights,
    ``mean(log sigma) = sum_i s_i log sigma_i / sum_i s_i`` and ``s0`` the null model's
    ``sigma``: the weighted root mean square of ``y`` about its weighted mean (about 0
    when ``fit_intercept=False``; for a constant ``y`` about 0, and 1 when ``y`` is 0).
    The intercept of the mean is never penalised.

    The last term, ``alpha * KL(N(0, s0^2) || N(0, exp(mean(log sigma))^2))``, is what
    ``alpha`` pseudo-observations per observation with squared residual ``s0^2`` add:
    with a constant variance the fitted ``sigma^2`` is ``(mean squared residual + alpha
    s0^2) / (1 + alpha)``.  It pulls the level of ``log sigma`` towards ``log s0`` as
    the L2 term pulls the coefficients towards 0, so ``alpha -> inf`` gives the
    intercept-only model and ``alpha -> 0`` the maximum likelihood estimate when it
    exists.  Taking the mean's coefficients in units of ``s0`` makes the fit
    equivariant in the units of ``y`` at every ``alpha``.

    **Every** ``alpha > 0`` **bounds the problem.**  As ``NLL_i >= log(2 pi)/2 + log
    sigma_i`` and the ``log sigma_i`` average to ``mean(log sigma)``, the objective is at
    least ``log(2 pi)/2 + log s0 + (1 + alpha) t + alpha (exp(-2 t) - 1)/2 + alpha/2
    (|coef|^2/s0^2 + |scale_coef|^2)``, which is bounded below and grows without bound
    as ``t -> -inf`` (exponentially), ``t -> inf`` or any coefficient grows; with
    those bounded every ``sigma_i`` is bounded away from 0 and infinity, and the
    residuals, hence the mean's intercept, are bounded too.  So a finite minimiser
    exists, whatever the data: no variance can collapse.  Compared with the null model
    where the fit starts, the fitted values satisfy
    ``(1 + alpha) t + alpha (exp(-2t) - 1)/2 <= 1/2`` (so ``exp(mean(log sigma)) >=
    0.0098 s0`` at ``alpha=1e-3``) and ``alpha/2 (|coef|^2/s0^2 + |scale_coef|^2) <= (1 + alpha)/2 log((1 + alpha) /
    alpha)``; a single ``sigma_i`` of the heteroscedastic model is bounded through
    ``scale_coef_``, whose penalty depends on the units of X.  On an exact fit sigma is
    about ``s0 sqrt(alpha)``, so an ``alpha`` near 1e-30 or below can leave it under
    the rounding error of y; the fit then warns (:class:`UnboundedLikelihoodWarning`).

    For every family with ``alpha > 0`` the mean's coefficients get the L2 penalty
    (in units of ``s0`` where the mean is in the units of y: Gaussian, Student-t) and
    the training mean of a learned log dispersion is pulled towards its null-model
    value by the same divergence as ``log sigma`` below, so the penalised estimate
    exists.

    Parameters
    ----------
    distribution : str or Family, default="gaussian"
        The conditional distribution of y: "gaussian", "poisson",
        "negative_binomial", "gamma", "student_t" or "binomial", or a
        :class:`~sklearn_mle.Family` object.
    dispersion : {"constant", "linear"}, float or None, default=None
        How the family's dispersion parameter is treated: one learned constant
        ("constant", the default of every family that has one), linear in x on the
        log scale ("linear"), or fixed at a positive value.  None: the family's
        default.  Families without a dispersion (Poisson, binomial) accept only None.
    variance : {"constant", "fixed", "heteroscedastic"} or None, default=None
        The Gaussian's own name for the same choice (None: "constant"): "fixed"
        is ``dispersion=1.0`` (sigma = 1), "heteroscedastic" is
        ``dispersion="linear"``.  Set one of ``variance`` and ``dispersion``.
    alpha : float, default=0.0
        Penalty strength: L2 on ``coef_`` (and ``scale_coef_``) and, with a learned
        variance, the pull of the mean ``log sigma`` towards ``log s0`` (see above).
    fit_intercept : bool, default=True
        Whether to estimate an intercept of the mean.  The intercept of ``log sigma``
        (``scale_`` or ``scale_intercept_``) is always estimated for learned variances.
    max_iter : int, default=1000
        Maximum number of L-BFGS iterations.
    tol : float, default=1e-7
        Stop when the largest component of the preconditioned gradient is below tol.
    warm_start : bool, default=False
        Start from the previous fit's parameters when shapes allow.
    verbose : int, default=0
        Progress on stdout: 1 prints one line per iteration and why the fit stopped;
        2 adds timings and other detail for diagnosing a slow fit; 0 is silent.
    inference : bool or "ols", default=False
        Also compute the covariance of the estimates and their standard errors, for
        :meth:`summary`.  True: Wald inference from the inverse observed information
        of the model as specified, so with ``variance="fixed"`` it assumes ``sigma = 1``
        exactly.  ``"ols"`` (``alpha=0`` and ``variance`` "fixed" or "constant" only):
        classical least-squares inference, as statsmodels' ``OLS``: ``sigma^2`` is
        estimated by ``RSS / df_resid_`` (``df_resid_ = n - rank``), the covariance of
        the mean's parameters is ``sigma^2 (X^T S X)^{-1}``, tests and intervals use
        Student's t with ``df_resid_`` degrees of freedom, and :meth:`predict_dist` /
        :meth:`predict_interval` give the exact Student-t prediction intervals.

    Attributes
    ----------
    family_ : Family
        The fitted family (its ``mean`` and ``distribution`` map raw predictions to
        predictions).
    coef_ : ndarray of shape (n_features,)
        Coefficients of the mean's linear predictor (on the link scale).
    intercept_ : float
        Intercept of the mean (0.0 when ``fit_intercept=False``).
    scale_ : float
        ``sigma`` for ``variance`` "fixed" (1.0) and "constant".
    scale_coef_ : ndarray of shape (n_features,)
        Coefficients of ``log sigma(x)`` (heteroscedastic only).
    scale_intercept_ : float
        Intercept of ``log sigma(x)`` (heteroscedastic only).
    dispersion_ : float
        The dispersion when constant or fixed (the Gaussian's sigma, the negative
        binomial's alpha, the Gamma's phi, the Student-t's scale); with
        ``dispersion="linear"``, ``dispersion_coef_`` and ``dispersion_intercept_``
        of its log instead.  Every further raw column ``log_<p>`` of the family is
        also reported as ``<p>_`` (e.g. ``df_`` of the Student-t), or
        ``<p>_coef_`` / ``<p>_intercept_`` when linear in x.
    boundary_note_ : str or None
        A note when the fit sits on a boundary where the family becomes another
        one (Student-t degrees of freedom running to infinity: the Gaussian); no
        warning is emitted, as the likelihood is not unbounded.
    n_iter_ : int
        Number of L-BFGS iterations.
    mle_exists_ : bool
        False when ``alpha=0`` and a learned variance collapses to zero (the mean fits
        some targets exactly), so the likelihood has no maximum; an
        :class:`UnboundedLikelihoodWarning` is emitted and the parameters returned
        minimise the objective plus a ridge of ``1e-3`` in the data's Fisher metric.
        Always True at ``alpha > 0``, where the penalised estimate exists.
    loglik_ : float
        Total weighted log-likelihood of the training data at the fitted parameters
        (with ``variance="fixed"``, at ``sigma = 1``).
    loglik_null_ : float
        Log-likelihood of the null model, fitted exactly under the same variance mode:
        a constant mean (the weighted mean of y; 0 without ``fit_intercept``) and,
        for learned variances, a constant ``sigma`` (the intercept-only ``log sigma``,
        so the null of "heteroscedastic" is that of "constant").
    aic_, bic_ : float
        Information criteria counting the identified parameters: ``rank`` of the
        design (``[X, 1]``, or ``X`` without intercept) for the mean, plus ``sigma`` for
        "constant" or ``rank([X, 1])`` for ``log sigma(x)``.  Aliased parameters
        (collinear or constant columns) do not count, as in statsmodels, whose OLS AIC
        leaves ``sigma`` out (so ours is 2 more).  BIC uses the sum of the sample
        weights.  With more than 3000 parameters every column counts.
    df_model_ : int
        Identified parameters beyond those of the null model (statsmodels'
        ``df_model``); the degrees of freedom of the likelihood-ratio test.
    df_resid_ : float
        Sum of the sample weights minus the identified parameters, not counting the
        constant part of ``sigma`` (``n - rank`` for "fixed" and "constant", as OLS).
    converged_ : bool
        Whether the solver met ``tol`` (when False a ``ConvergenceWarning`` was
        emitted and the summary says so).
    ols_scale_ : float
        With ``inference="ols"``: ``sqrt(RSS / df_resid_)``, the estimate of ``sigma``
        behind the OLS standard errors and prediction intervals.
    covariance_ : ndarray
        With ``inference=True``: covariance of the parameters named by
        ``summary().names`` (the mean's, then each learned column's on its raw, log
        scale), the inverse observed Fisher information at the estimate (penalised
        when alpha > 0).  Aliased parameters are NaN.
    coef_se_, intercept_se_ : ndarray, float
        With ``inference=True``: standard errors of ``coef_`` and ``intercept_``
        (``"ols"``: the OLS ones, with ``sigma`` estimated).
    scale_se_ : float
        With ``inference=True`` and variance "constant": standard error of ``scale_``
        (delta method from that of ``log sigma``).
    scale_coef_se_, scale_intercept_se_ : ndarray, float
        With ``inference=True`` and variance "heteroscedastic": standard errors of the
        ``log sigma(x)`` parameters.  Every other family parameter ``<p>_`` likewise
        gets ``<p>_se_`` (delta method for a log column) or ``<p>_coef_se_`` and
        ``<p>_intercept_se_`` (``dispersion_se_`` etc. included).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Feature names, when X has string column names.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_mle import MLERegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(500, 2))
    >>> y = 1.0 + X @ [2.0, -1.0] + 0.5 * rng.normal(size=500)
    >>> reg = MLERegressor().fit(X, y)
    >>> np.round(reg.coef_, 1), round(reg.scale_, 1)
    (array([ 2., -1.]), 0.5)
    >>> mean, std = reg.predict(X[:2], return_std=True)
    >>> std.shape
    (2,)

    Counts, with a predictive distribution:

    >>> counts = rng.poisson(np.exp(0.5 + 0.3 * X[:, 0]))
    >>> pois = MLERegressor(distribution="poisson").fit(X, counts)
    >>> print(round(float(pois.coef_[0]), 1))
    0.3
    >>> pois.predict_dist(X[:1]).pmf(0).round(2)
    array([0.2])
    """

    _parameter_constraints: dict = {
        **MLEstimator._common_parameter_constraints,
        "distribution": [StrOptions(set(DISTRIBUTIONS)), Family],
        "dispersion": [None, StrOptions({"constant", "linear"}),
                       Interval(Real, 0, None, closed="neither")],
        "variance": [None, StrOptions({"fixed", "constant", "heteroscedastic"})],
        "inference": ["boolean", StrOptions({"ols"})],
    }

    def __init__(self, distribution="gaussian", *, dispersion=None, variance=None,
                 alpha=0.0, fit_intercept=True, max_iter=1000, tol=1e-7, warm_start=False,
                 verbose=0, inference=False):
        self.distribution = distribution
        self.dispersion = dispersion
        self.variance = variance
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.max_iter = max_iter
        self.tol = tol
        self.warm_start = warm_start
        self.verbose = verbose
        self.inference = inference

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        try:
            family = self._family()[0]
        except (KeyError, TypeError, ValueError):
            return tags
        tags.target_tags.positive_only = bool(family.positive_target)
        return tags

    # ------------------------------------------------------------------ helpers
    def _family(self):
        """The family to fit and its column modes, from ``distribution``,
        ``dispersion`` and (Gaussian only) ``variance``."""
        if isinstance(self.distribution, str):
            family = DISTRIBUTIONS[self.distribution]()
        else:
            family = copy.deepcopy(self.distribution)
        modes = list(family.column_modes)
        modes[0] = "x"
        dispersion = self.dispersion
        if self.variance is not None:
            if not family.variance_option:
                raise ValueError(
                    f"variance={self.variance!r} is an option of the Gaussian "
                    f"distribution; the {family.name} distribution takes dispersion= "
                    "('constant', 'linear' or a fixed positive value).")
            if dispersion is not None:
                raise ValueError(
                    f"Set either variance= or dispersion=, not both (got "
                    f"variance={self.variance!r}, dispersion={dispersion!r}).")
            dispersion = _VARIANCE_AS_DISPERSION[self.variance]
        if dispersion is not None:
            j = family.dispersion_column
            if j is None:
                raise ValueError(
                    f"The {family.name} distribution has no dispersion parameter, so "
                    f"dispersion must be None; got dispersion={dispersion!r}.")
            modes[j] = _DISPERSION_MODES.get(dispersion) if isinstance(dispersion, str) \
                else float(np.log(dispersion))
        return family.specialise(modes)

    def _label(self, family, modes):
        """How the estimator was configured, for titles and warnings."""
        if family.variance_option and self.dispersion is None:
            return f"variance={family.variance_label(modes)!r}"
        distribution = (self.distribution if isinstance(self.distribution, str)
                        else family.name)
        label = f"distribution={distribution!r}"
        if self.dispersion is not None:
            label += f", dispersion={self.dispersion!r}"
        return label

    def _build_model(self, family, modes, n_features, X, weights, null_raw,
                     unit_hessian):
        """The linear model of the family's raw columns, and its penalty.

        Column 0 (the mean) has coefficients and, with ``fit_intercept``, an
        intercept; a column in mode "x" is linear in x, "constant" has an intercept
        only, and a fixed column none (its intercept holds the fixed raw value).  The
        mean's coefficients are penalised with the family's weight (``1 / s0**2`` where
        the mean is in the units of y) and the training mean of a learned dispersion
        column is pulled towards its null-model value (see :class:`LevelPenalty`).
        """
        coef_free = [mode == "x" for mode in modes]
        intercept_free = [self.fit_intercept] + [mode in ("x", "constant")
                                                 for mode in modes[1:]]
        intercept_value = [0.0] + [0.0 if isinstance(mode, str) else mode
                                   for mode in modes[1:]]
        model = LinearModel(family, n_features, coef_free, intercept_free,
                            intercept_value=intercept_value, unit_hessian=unit_hessian)
        # the penalty needs the parameter layout: set on the model just made
        model.ridge_weight = model.ridge_weight * np.where(
            model.param_column == 0, family.mean_penalty_weight(null_raw), 1.0)
        j = family.dispersion_column
        if j is not None and modes[j] in ("x", "constant") and self.alpha > 0:
            column_means = weighted_column_moments(X, weights)[0]
            model.level_penalty = LevelPenalty(model.column_mean_direction(j, column_means),
                                               null_raw[j])
        return model

    def _null_raw(self, family, modes, y, weights):
        """Raw prediction of the null model: every learned column constant, the mean's
        at 0 without ``fit_intercept``, fixed columns at their value."""
        free = [self.fit_intercept] + [mode in ("x", "constant") for mode in modes[1:]]
        fixed = [0.0] + [0.0 if isinstance(mode, str) else mode for mode in modes[1:]]
        return np.asarray(family.constant_raw_prediction(y, weights, free=free,
                                                         fixed=fixed), dtype=np.float64)

    def _start(self, model, null_raw, y_scale=1.0):
        """Start at the null model, or at the previous fit with ``warm_start``."""
        coef = np.zeros((model.loss.n_raw, model.n_features))
        intercept = null_raw.copy()
        previous = getattr(self, "_raw_coef", None)
        if (self.warm_start and previous is not None
                and previous.shape == coef.shape
                and getattr(self, "_fitted_modes", None) == self._modes):
            coef, intercept = previous.copy(), self._raw_intercept.copy()
            coef[0] /= y_scale
            intercept[0] /= y_scale
        return model.pack(coef, intercept)

    def _raw_prediction(self, X):
        model = LinearModel(self.family_, X.shape[1], np.ones(self.family_.n_raw, bool),
                            np.ones(self.family_.n_raw, bool))
        return model.linear_predictor(ensure_layout(X), self._raw_coef, self._raw_intercept)

    # ---------------------------------------------------------------------- API
    def _fit_validated(self, X, y, sample_weight):
        """The fit on validated data (see :meth:`fit`)."""
        family, modes = self._family()
        self._modes = modes
        self._check_inference_option(family, modes)
        y = family.validate_target(y)
        fit_weights = FitWeights(sample_weight, X)
        weights = fit_weights.normalised
        y_original = y
        y_scale = family.equivariant_target_scale(y)
        if y_scale != 1.0:
            y = y / y_scale
        null_raw = self._null_raw(family, modes, y, weights)
        model = self._build_model(family, modes, X.shape[1], X, weights, null_raw,
                                  family.unit_hessian_at_constant(null_raw, y, weights))
        theta0 = self._start(model, null_raw, y_scale)
        progress = Progress(self.verbose, "MLERegressor")
        fit_options = dict(tol=self.tol, max_iter=self.max_iter, verbose=self.verbose,
                           estimator_name="MLERegressor", progress=progress)
        # At alpha > 0 the objective has a finite minimiser (see the class docstring):
        # the existence check is only made at alpha = 0.
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result, _ = self._fit_checked(model, X, y, weights, theta0, null_raw,
                                          fit_options)
        coef, intercept = model.unpack(result.theta)
        boundary = self._boundary(family, modes, intercept) if self.mle_exists_ else None
        if boundary is not None:
            # A limit of the family, not a failure: the likelihood is flat along the
            # boundary column, which the solver cannot pin down (a ConvergenceWarning
            # would be noise).  Fix that column where it ran to and fit the rest.
            caught = [w for w in caught if not issubclass(w.category, ConvergenceWarning)]
            modes = self._modes = boundary
            model = self._build_model(family, modes, X.shape[1], X, weights, null_raw,
                                      family.unit_hessian_at_constant(null_raw, y, weights))
            n_iter = result.n_iter
            with warnings.catch_warnings(record=True) as refit_caught:
                warnings.simplefilter("always")
                result = fit_model(model, X, y, weights, self.alpha,
                                   model.pack(coef, intercept), null_raw, **fit_options)
            result.n_iter += n_iter
            caught += refit_caught
            coef, intercept = model.unpack(result.theta)
        for warning in caught:
            warnings.warn_explicit(warning.message, warning.category, warning.filename,
                                   warning.lineno)
        if self.alpha > 0 and family.can_collapse:
            # The penalised estimate exists, but a tiny alpha can still put the spread
            # below what the doubles holding y resolve (see variance_below_resolution).
            raw = model.linear_predictor(X, coef, intercept)
            smallest = variance_below_resolution(
                family.collapse_target(y), weights, family.collapse_log_scale(raw))
            if smallest is not None:
                warnings.warn(
                    resolution_message("MLERegressor", self._label(family, modes),
                                       self.alpha, smallest, family.collapse_target(y),
                                       weights, family.dispersion_name),
                    UnboundedLikelihoodWarning, stacklevel=4)
        coef[0] *= y_scale
        intercept[0] *= y_scale
        y = y_original
        self.family_ = family
        self._raw_coef, self._raw_intercept = coef, intercept
        self._fitted_modes = modes
        self._set_parameter_attributes(family, modes, coef, intercept)
        self.boundary_note_ = family.boundary_note(intercept)
        if self.boundary_note_ is not None:
            progress.line(f"boundary: {self.boundary_note_}")
        self.n_iter_ = result.n_iter
        self._set_likelihood_attributes(model, X, y, coef, intercept, fit_weights, result,
                                        null_raw * np.where(np.arange(family.n_raw) == 0,
                                                            y_scale, 1.0))
        self._forget(["covariance_", "coef_se_", "intercept_se_", "ols_scale_",
                      *self._se_attribute_names])
        if self.inference:
            self._set_inference(model, X, y, weights, fit_weights.total, coef, intercept)
        return self

    # ------------------------------------------------- existence (see MLEstimator)
    def _find_unbounded(self, model, X, y, weights, result):
        coef, intercept = model.unpack(result.theta)
        return find_unbounded(model.loss, self._modes, X, y, weights,
                              lambda rows: model.linear_predictor(rows, coef, intercept),
                              self.fit_intercept)

    def _diagnosis_label(self, diagnosis):
        return diagnosis.kind

    def _boundary(self, family, modes, intercept):
        """The column modes with the family's boundary column fixed where the fit put
        it, if the fit ran onto a boundary of the family (see
        :meth:`Family.boundary_note`); else None."""
        j = family.boundary_column
        if j is None or modes[j] != "constant" or family.boundary_note(intercept) is None:
            return None
        fixed = list(modes)
        fixed[j] = float(intercept[j])
        return tuple(fixed)

    def _unbounded_message(self, model, y, weights, diagnosis):
        return unbounded_message("MLERegressor", self._label(model.loss, self._modes),
                                 model.loss, self._modes, diagnosis,
                                 int(np.sum(weights > 0)))

    def _fallback_fit(self, model, X, y, weights, theta0, start_raw, fit_options,
                      diagnosis, result):
        """The minimiser of the objective plus a small ridge (the family's
        ``fallback_ridge``) in the data's Fisher metric: finite and reproducible
        where the MLE does not exist."""
        options = dict(fit_options, tol=self.tol * FALLBACK_TOL_FACTOR)
        # The user has just been told that the MLE does not exist; the ridge fit is a
        # finite stand-in, and whether its tightened tolerance was met to the last
        # digits is no news (it is flat along the direction of recession).
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            return fit_model(model, X, y, weights, self.alpha, theta0, start_raw,
                             fallback_ridge=model.loss.fallback_ridge, **options)

    #: Fitted attributes of the other columns, removed before a refit.
    _se_attribute_names = ()

    def _column_attribute(self, family, j):
        """Attribute stem of raw column j: ``log_scale`` -> ``scale``, etc."""
        name = family.raw_columns[j]
        return name[4:] if name.startswith("log_") else name

    def _set_parameter_attributes(self, family, modes, coef, intercept):
        """``coef_``, ``intercept_`` of the mean; for each other column ``<p>_`` (its
        value, ``exp`` of a log column) when constant or fixed, ``<p>_coef_`` and
        ``<p>_intercept_`` (on the raw, log scale) when linear in x; the dispersion
        column also as ``dispersion_`` / ``dispersion_coef_`` /
        ``dispersion_intercept_``."""
        # a previous fit may have had other columns, modes or standard errors
        self._forget([*getattr(self, "_parameter_attribute_names", ()),
                      *self._se_attribute_names])
        names = []
        self.coef_ = coef[0]
        self.intercept_ = float(intercept[0])
        for name, value in family.fixed_attributes.items():
            setattr(self, name, value)   # e.g. sigma = 1 of the unit-variance Gaussian
            names.append(name)
        for j in range(1, family.n_raw):
            stems = [self._column_attribute(family, j)]
            if j == family.dispersion_column and stems[0] != "dispersion":
                stems.append("dispersion")
            log_column = family.raw_columns[j].startswith("log_")
            for stem in stems:
                if modes[j] == "x":
                    setattr(self, f"{stem}_coef_", coef[j])
                    setattr(self, f"{stem}_intercept_", float(intercept[j]))
                    names += [f"{stem}_coef_", f"{stem}_intercept_"]
                else:
                    with np.errstate(over="ignore"):  # a boundary at infinity is inf
                        value = float(np.exp(intercept[j]) if log_column else intercept[j])
                    setattr(self, f"{stem}_", value)
                    names.append(f"{stem}_")
        self._parameter_attribute_names = names
        self._se_attribute_names = [name[:-1] + "_se_" for name in names] + [
            "coef_se_", "intercept_se_"]

    def _check_inference_option(self, family, modes):
        if self.inference != "ols":
            return
        if not family.least_squares or "x" in modes[1:]:
            raise ValueError(
                "inference='ols' estimates one sigma from the residuals, which needs the "
                "Gaussian distribution with a constant sigma (variance='fixed' or "
                f"'constant'), got {self._label(family, modes)}; use inference=True for "
                "Wald inference on this model.")
        if self.alpha > 0:
            raise ValueError(
                f"inference='ols' is least-squares inference, which needs alpha=0, got "
                f"alpha={self.alpha!r}; use inference=True for Wald inference on the "
                "penalised estimate.")

    def _count_parameters(self, modes, result, n_features):
        """Identified parameters: the rank of the design for each column linear in x
        (the mean's with or without intercept), 1 for each other learned column; and
        how many of them the null model has."""
        rank = design_rank(result.design_gram, self.fit_intercept)
        full_rank = rank if self.fit_intercept else design_rank(result.design_gram, True)
        if rank is None:  # Gram not formed (many parameters): count every column
            rank, full_rank = n_features + self.fit_intercept, n_features + 1
        n_learned = sum(mode in ("x", "constant") for mode in modes[1:])
        n_identified = rank + sum(full_rank if mode == "x" else 1
                                  for mode in modes[1:] if mode in ("x", "constant"))
        return n_identified, self.fit_intercept + n_learned, n_learned

    def _set_likelihood_attributes(self, model, X, y, coef, intercept, fit_weights, result,
                                   null_raw):
        """Log-likelihood and its null value, AIC/BIC, degrees of freedom, convergence,
        and for least-squares families the residual statistics behind R² and the OLS
        scale."""
        family, modes = model.loss, self._modes
        n_identified, n_null, n_learned = self._count_parameters(modes, result, X.shape[1])
        # observations: the sum of the weights, or the rows where weights are trials
        total = (float(np.count_nonzero(fit_weights.likelihood)) if family.weights_are_trials
                 else fit_weights.total)
        weights = fit_weights.likelihood * fit_weights.likelihood_scale
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            constant = float(np.sum(family.log_likelihood_constant(y, weights)))
            if (self.alpha == 0 and self.mle_exists_ and np.isfinite(result.objective)
                    and family.equivariant_target_scale(y) == 1.0):
                # the objective at the fit is the weighted mean NLL: no pass over X
                loglik = -fit_weights.fit_total * float(result.objective)
            else:
                loglik = total_log_likelihood(model, X, y, model.pack(coef, intercept),
                                              fit_weights)
            # the null model's NLL depends on y only through its distinct values
            distinct, distinct_weights = _distinct_targets(y, fit_weights.likelihood)
            null_loss = family.constant_loss(distinct, null_raw, distinct_weights,
                                             n_threads(distinct.size))
            loglik_null = -fit_weights.likelihood_scale * null_loss
            set_likelihood_attributes(
                self, loglik=loglik + constant, loglik_null=loglik_null + constant,
                n_identified=n_identified, n_null=n_null, n_scale=n_learned,
                n_obs=total, converged=result.converged)
        if family.least_squares:
            self._set_residual_statistics(model, X, y, coef, intercept, fit_weights)

    def _set_residual_statistics(self, model, X, y, coef, intercept, fit_weights):
        """R² of the mean and the residual variance ``RSS / df_resid_``."""
        # Sums of squares on y / max|y|, so that no square overflows or underflows.
        largest = float(np.max(np.abs(y))) if y.size else 0.0
        y_scale = np.float64(largest if np.isfinite(largest) and largest > 0 else 1.0)
        mean = model.linear_predictor(X, coef, intercept)[:, 0]

        def weighted_sum(values):  # einsum, not BLAS: the same sum on any thread
            return fit_weights.likelihood_scale * float(
                np.einsum("i,i->", fit_weights.likelihood, values))

        centre = (weighted_sum(y / y_scale) / fit_weights.total if self.fit_intercept
                  else 0.0)
        rss = weighted_sum(((y - mean) / y_scale) ** 2)
        # a constant target has no variance to explain (rounding in ``centre`` aside)
        constant_target = self.fit_intercept and bool(np.all(y == y[0]))
        tss = 0.0 if constant_target else weighted_sum((y / y_scale - centre) ** 2)
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            self._r_squared = 1.0 - rss / tss if tss > 0 else np.nan
            self._residual_variance = (y_scale**2 * rss / self.df_resid_
                                       if self.df_resid_ > 0 else np.nan)

    def _parameter_table(self, feature_names=None):
        """Names of the reported parameters and, per raw column, which of its
        coefficient/intercept entries are reported: the mean's coefficients and (with
        ``fit_intercept``) intercept, then for each learned column its coefficients
        (linear in x) and intercept, or its constant, on the raw (log) scale."""
        family, modes = self.family_, self._modes
        features = feature_names or feature_labels(self, self.coef_.size)
        names = list(features) + (["intercept"] if self.fit_intercept else [])
        for j in range(1, family.n_raw):
            column = family.raw_columns[j]
            if modes[j] == "x":
                names += [f"{column}:{name}" for name in features] + [
                    f"{column}:intercept"]
            elif modes[j] == "constant":
                names.append(column)
        return names

    def _reported(self, coef, intercept):
        """The reported parameter vector (see :meth:`_parameter_table`) from the full
        coefficients (n_raw, d) and intercepts (n_raw,)."""
        parts = [coef[0], intercept[:1] if self.fit_intercept else []]
        for j in range(1, coef.shape[0]):
            if self._modes[j] == "x":
                parts += [coef[j], intercept[j:j + 1]]
            elif self._modes[j] == "constant":
                parts.append(intercept[j:j + 1])
        return np.concatenate(parts)

    def _set_inference(self, model, X, y, weights, total_weight, coef, intercept):
        d = X.shape[1]
        # (with sigma fixed at 1 the fit ran on y / max|y|, but the information does
        # not depend on y: the parameters in y's units give the same Hessian)
        covariance, self._aliased = output_covariance(
            model, X, y, weights, total_weight, self.alpha, model.pack(coef, intercept),
            lambda t: self._reported(*model.unpack(t)))
        if self.inference == "ols":
            # The mean's block is sigma^2 (X^T S X)^{-1} at the model's sigma (1, or the
            # ML one); OLS puts the unbiased estimate in its place.  The cross terms
            # with log sigma are zero at the least-squares fit.
            self.ols_scale_ = float(np.sqrt(self._residual_variance))
            factor = np.ones(covariance.shape[0])
            factor[:d + self.fit_intercept] = self.ols_scale_ / self.scale_
            covariance = covariance * factor[:, None] * factor[None, :]
        self.covariance_ = covariance
        se = np.sqrt(np.diag(covariance))
        self.coef_se_ = se[:d]
        position = d
        if self.fit_intercept:
            self.intercept_se_ = float(se[position])
            position += 1
        else:
            self.intercept_se_ = np.nan
        family = model.loss
        for j in range(1, family.n_raw):
            stems = [self._column_attribute(family, j)]
            if j == family.dispersion_column and stems[0] != "dispersion":
                stems.append("dispersion")
            if self._modes[j] == "x":
                for stem in stems:
                    setattr(self, f"{stem}_coef_se_", se[position:position + d])
                    setattr(self, f"{stem}_intercept_se_", float(se[position + d]))
                position += d + 1
            elif self._modes[j] == "constant":
                for stem in stems:
                    value = getattr(self, f"{stem}_")
                    log_column = family.raw_columns[j].startswith("log_")
                    # delta method from the standard error on the raw (log) scale
                    setattr(self, f"{stem}_se_", float((value if log_column else 1.0)
                                                       * se[position]))
                position += 1

    def summary(self, coverage=0.95):
        """Fit statistics and the table of estimates, standard errors, tests and
        confidence intervals, laid out as statsmodels' ``OLS`` summary.

        Requires a fit with ``inference`` set.  The header names the distribution and
        how ``sigma`` is treated, and gives the number of observations, the degrees of
        freedom, the convergence flag, R² and adjusted R² of the mean (weighted by the
        sample weights; uncentred without ``fit_intercept``, as statsmodels), the
        log-likelihood, the null log-likelihood (see ``loglik_null_``) with the
        likelihood-ratio test's p-value, AIC and BIC; with ``inference="ols"`` also the
        F test of all slopes being zero.

        With ``inference=True`` the tests are Wald z tests; variance parameters are
        reported on the ``log sigma`` scale, where the Wald approximation is better.
        With ``variance="fixed"`` they assume ``sigma = 1``, and the notes say so and
        give the residuals' standard deviation.  With ``inference="ols"`` they are t
        tests with ``df_resid_`` degrees of freedom and ``sigma`` estimated, as
        statsmodels' ``OLS``; ``sigma`` itself is then not a row of the table.

        Parameters
        ----------
        coverage : float, default=0.95
            Coverage of the confidence intervals.

        Returns
        -------
        summary : InferenceSummary
            Printable table; ``.to_frame()`` gives the parameter table as a pandas
            DataFrame, ``.statistics`` the header's numbers.

        Examples
        --------
        >>> from sklearn.datasets import load_diabetes
        >>> from sklearn_mle import MLERegressor
        >>> X, y = load_diabetes(return_X_y=True, as_frame=True)
        >>> reg = MLERegressor(inference=True).fit(X[["bmi", "bp"]], y)
        >>> reg.summary().names
        ['bmi', 'bp', 'intercept', 'log_scale']

        Least squares with OLS inference (``sigma`` estimated, t tests), the table of
        statsmodels' ``OLS``:

        >>> ols = MLERegressor(inference="ols").fit(X[["bmi", "bp"]], y)
        >>> print(ols.summary())  # doctest: +NORMALIZE_WHITESPACE
           MLERegressor(variance='constant'): least-squares estimates, OLS inference
        ===============================================================================
        Model:                    MLERegressor   No. Observations:                  442
        Distribution:    Gaussian, σ estimated   Df Residuals:                      439
        Method:                  Least squares   Df Model:                            2
        Converged:                        True   R-squared:                       0.396
        Covariance:          OLS (σ estimated)   Adj. R-squared:                  0.393
        Scale σ:                        60.051   F-statistic:                     143.9
                                                 Prob (F-statistic):           8.68e-49
                                                 Log-Likelihood:                -2435.7
                                                 LL-Null:                       -2547.2
                                                 LLR p-value:                 4.075e-49
                                                 AIC:                             4879.
                                                 BIC:                             4896.
        ===============================================================================
                            coef    std err          t      P>|t|     [0.025     0.975]
        -------------------------------------------------------------------------------
        bmi             790.3986     65.379     12.089      0.000    661.903    918.894
        bp              402.2060     65.379      6.152      0.000    273.710    530.702
        intercept       152.1335      2.856     53.261      0.000    146.520    157.747
        ===============================================================================
        Notes:
        [1] sigma is estimated by sqrt(RSS / df_resid) = 60.051; the tests and
            intervals use Student's t with 439 degrees of freedom, as OLS.
        """
        check_is_fitted(self)
        require_covariance(self)
        ols = self.inference == "ols"
        family, modes = self.family_, self._modes
        names = self._parameter_table()
        estimate = self._reported(self._raw_coef, self._raw_intercept)
        std_err = np.sqrt(np.diag(self.covariance_))
        notes = common_notes(self, "an unbounded likelihood")
        sigma_one = family.assumes_unit_scale
        distribution = family.describe(modes)
        covariance = ("inv. info at σ = 1" if sigma_one else covariance_kind(self.alpha))
        method = method_name(self.alpha)
        extra_info = []
        kind = title_kind(self.alpha)
        if ols:
            keep = slice(0, self.coef_.size + self.fit_intercept)
            names, estimate, std_err = names[keep], estimate[keep], std_err[keep]
            distribution, method = "Gaussian, σ estimated", "Least squares"
            covariance = "OLS (σ estimated)"
            extra_info = [("Scale σ", f"{self.ols_scale_:.5g}")]
            kind = "least-squares estimates, OLS inference"
            notes.insert(0, f"sigma is estimated by sqrt(RSS / df_resid) = "
                         f"{self.ols_scale_:.5g}; the tests and intervals use Student's "
                         f"t with {self.df_resid_:g} degrees of freedom, as OLS.")
            if sigma_one:
                notes.insert(1, "the log-likelihoods, AIC and BIC are those of the "
                             "fitted model, with sigma = 1; variance='constant' gives "
                             "those of statsmodels' OLS (sigma at its ML estimate).")
        elif sigma_one:
            notes.insert(0, self._fixed_sigma_note())
        if self.boundary_note_ is not None:
            notes.append(self.boundary_note_)
        model_info = [("Model", "MLERegressor"), ("Distribution", distribution),
                      ("Method", method), ("Converged", str(self.converged_)),
                      ("Covariance", covariance), *extra_info]
        if family.least_squares:
            tss_df = self._n_obs - self.fit_intercept
            adjusted = (1.0 - (1.0 - self._r_squared) * tss_df / self.df_resid_
                        if self.df_resid_ > 0 else np.nan)
            goodness_of_fit = {"R-squared": self._r_squared, "Adj. R-squared": adjusted}
        else:
            # Cox and Snell's, as statsmodels' GLM summary: defined for densities
            # too (McFadden's ratio of log-likelihoods is not, where they are > 0)
            with np.errstate(over="ignore", invalid="ignore"):
                goodness_of_fit = {"Pseudo R-squ. (CS)": -np.expm1(
                    2.0 * (self.loglik_null_ - self.loglik_) / self._n_obs)}
        if ols and self.df_model_ > 0 and self.df_resid_ > 0:
            # the exact test of all slopes being zero, as statsmodels' OLS header
            with np.errstate(divide="ignore"):
                f_statistic = (self._r_squared / self.df_model_) / (
                    (1.0 - self._r_squared) / self.df_resid_)
            goodness_of_fit["F-statistic"] = f_statistic
            goodness_of_fit["Prob (F-statistic)"] = float(
                stats.f.sf(f_statistic, self.df_model_, self.df_resid_))
        statistics = fit_statistics(self, goodness_of_fit)
        return InferenceSummary(
            f"MLERegressor({self._label(family, modes)}): {kind}", names, estimate,
            std_err, model_info=model_info, statistics=statistics, notes=notes,
            coverage=coverage, df_resid=self.df_resid_ if ols else None)

    def _fixed_sigma_note(self):
        """What variance="fixed" assumes, against what the residuals say."""
        residual_scale = np.sqrt(self._residual_variance)
        verdict = (", not consistent with sigma = 1" if self._sigma_one_rejected()
                   else "")
        return ("variance='fixed': sigma = 1 is assumed, not estimated; the standard "
                "errors, tests and intervals hold only if the noise standard deviation "
                f"is 1. The residuals' standard deviation, sqrt(RSS / df_resid), is "
                f"{residual_scale:.4g}{verdict}. For least-squares inference with sigma "
                "estimated, fit with inference='ols' (or use variance='constant').")

    def _sigma_one_rejected(self):
        """Whether the training residuals reject sigma = 1 (chi-square test of the
        residual sum of squares, two-sided at ``_SIGMA_ONE_TEST_LEVEL``)."""
        df = self.df_resid_
        if not df > 0 or not np.isfinite(self._residual_variance):
            return bool(df > 0)
        tail = stats.chi2.cdf(self._residual_variance * df, df)
        return bool(min(tail, 1.0 - tail) < _SIGMA_ONE_TEST_LEVEL / 2)

    def _mean_variance(self, X):
        """Variance of the fitted mean at each row of validated X, ``z^T C z`` with
        ``z = (x, 1)`` and C the covariance of (coef_, intercept_); aliased
        directions contribute nothing."""
        d = self.coef_.size
        cov = np.nan_to_num(self.covariance_[:d + self.fit_intercept,
                                             :d + self.fit_intercept])
        product = X @ cov[:d, :d]
        quadratic = (np.asarray(X.multiply(product).sum(axis=1)).ravel() if sp.issparse(X)
                     else np.einsum("ij,ij->i", X, product))
        if self.fit_intercept:
            quadratic = quadratic + 2.0 * (X @ cov[:d, d]) + cov[d, d]
        return np.maximum(quadratic, 0.0)

    def predict_dist(self, X):
        """Predictive distribution of y given each row of X.

        With ``inference="ols"`` it is the exact least-squares predictive distribution,
        Student's t with ``df_resid_`` degrees of freedom, centred on the predicted
        mean, with scale ``sqrt(ols_scale_**2 + var(mean))`` (noise plus the
        uncertainty of the fitted mean).  Otherwise it is the fitted Gaussian: with
        ``variance="fixed"`` that has ``sigma = 1`` by assumption, and a
        ``UserWarning`` is emitted when the training residuals are inconsistent with
        it (chi-square test at level 1e-3).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        distribution : scipy.stats.norm or scipy.stats.t (frozen)
            Distributions with ``loc`` the predicted means, vectorised over samples.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_mle import MLERegressor
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(200, 1))
        >>> y = 2 * X[:, 0] + rng.normal(size=200)
        >>> dist = MLERegressor().fit(X, y).predict_dist(X[:3])
        >>> dist.cdf(dist.mean()).tolist()
        [0.5, 0.5, 0.5]
        """
        return self._predictive_distribution(X)

    def _predictive_distribution(self, X, stacklevel=3):
        """The distribution of :meth:`predict_dist`; the warning points ``stacklevel``
        frames up (the caller of the public method)."""
        X = self._validated_input(X)
        raw = self._raw_prediction(X)
        if self.inference == "ols":
            scale = np.sqrt(self.ols_scale_**2 + self._mean_variance(X))
            return stats.t(df=self.df_resid_, loc=self.family_.mean(raw), scale=scale)
        if (self.family_.assumes_unit_scale
                and self._sigma_one_rejected()):
            warnings.warn(
                "MLERegressor(variance='fixed') predicts with sigma = 1, which is "
                "assumed, not estimated, and the training residuals' standard deviation "
                f"is {np.sqrt(self._residual_variance):.4g}: the predictive "
                "distribution and intervals are far too narrow or too wide. Fit with "
                "inference='ols' (sigma estimated, Student-t intervals) or "
                "variance='constant'.", UserWarning, stacklevel=stacklevel)
        return self.family_.distribution(raw)

    def predict_interval(self, X, coverage=0.9):
        """Central predictive interval for y at each row of X.

        The interval of :meth:`predict_dist`: with ``inference="ols"`` the OLS
        prediction interval (Student's t, ``sigma`` estimated, the mean's uncertainty
        included); with ``variance="fixed"`` otherwise, ``sigma = 1`` is assumed (a
        ``UserWarning`` says so when the residuals contradict it).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.
        coverage : float, default=0.9
            Probability mass of the interval, in (0, 1).

        Returns
        -------
        interval : ndarray of shape (n_samples, 2)
            Lower and upper bounds.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_mle import MLERegressor
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(2000, 1))
        >>> y = X[:, 0] + np.exp(0.5 * X[:, 0]) * rng.normal(size=2000)
        >>> reg = MLERegressor(variance="heteroscedastic").fit(X, y)
        >>> low, high = reg.predict_interval(X, coverage=0.9).T
        >>> round(float(np.mean((low <= y) & (y <= high))), 2)
        0.9
        """
        if not (isinstance(coverage, (int, float, np.floating)) and 0 < coverage < 1):
            raise ValueError(f"coverage must be a probability in (0, 1), got {coverage!r}.")
        low, high = self._predictive_distribution(X).interval(coverage)
        return np.column_stack([low, high])

    def log_likelihood(self, X, y, sample_weight=None, per_sample=False):
        """Gaussian log-density of observed targets under the fitted model.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.
        y : array-like of shape (n_samples,)
            Observed targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the weighted mean.
        per_sample : bool, default=False
            Return ``log p(y_i | x_i)`` for every sample instead of the weighted mean.

        Returns
        -------
        log_likelihood : float or ndarray of shape (n_samples,)
            Mean log-likelihood per sample (a held-out score: higher is better), or the
            per-sample values.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_mle import MLERegressor
        >>> X = np.arange(10.0)[:, None]
        >>> y = X[:, 0] + np.tile([-1.0, 1.0], 5)
        >>> reg = MLERegressor().fit(X, y)
        >>> bool(np.isclose(reg.log_likelihood(X, y) * 10, reg.loglik_))
        True
        """
        X = self._validated_input(X)
        raw = self._raw_prediction(X)
        y = np.asarray(y)
        if y.shape != (raw.shape[0],):
            raise ValueError(f"y must have shape {(raw.shape[0],)}, got {y.shape}.")
        family = self.family_
        y = family.validate_target(y)
        weights = (np.ones_like(y) if sample_weight is None
                   else _check_sample_weight(sample_weight, y, dtype=np.float64,
                                             ensure_non_negative=True))
        # The kernels work from log scales: finite even where a scale itself under- or
        # overflows.
        with np.errstate(over="ignore", invalid="ignore"):
            loss, _ = family.loss_gradient(y, raw, weights, n_threads(y.size))
        contribution = family.log_likelihood_constant(y, weights) - loss
        if per_sample:
            if family.weights_are_trials:
                return contribution
            with np.errstate(over="ignore", invalid="ignore"):
                return -family.loss_gradient(y, raw, np.ones_like(y), n_threads(y.size))[0]
        return float(np.sum(contribution) / np.sum(weights))

    def predict(self, X, return_std=False):
        """Predicted mean, and optionally the predicted standard deviation.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.
        return_std : bool, default=False
            Also return ``sigma`` (constant) or ``sigma(x)`` (heteroscedastic).

        Returns
        -------
        mean : ndarray of shape (n_samples,)
            Predicted mean of ``y``.
        std : ndarray of shape (n_samples,)
            Predicted standard deviation; only when ``return_std=True``.
        """
        X = self._validated_input(X)
        raw = self._raw_prediction(X)
        mean = self.family_.mean(raw)
        if not return_std:
            return mean
        return mean, self.family_.std(raw)


#: variance= of the Gaussian, as dispersion=
_VARIANCE_AS_DISPERSION = {"fixed": 1.0, "constant": "constant",
                           "heteroscedastic": "linear"}
#: dispersion= -> column mode
_DISPERSION_MODES = {"constant": "constant", "linear": "x"}
