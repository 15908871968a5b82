"""MLERegressor: maximum likelihood for the conditional distribution you choose.

A thin estimator: the family (:mod:`sklearn_mle.families`) says which raw columns
there are, what the targets may be, the start and the predictive distribution; the
linear model (:mod:`sklearn_mle.models`) maps coefficients to raw predictions; the
existence check and fallback are in :mod:`sklearn_mle.existence`; the attributes,
inference and summary come from :mod:`sklearn_mle.report`.
"""

import warnings
from numbers import Real

import numpy as np
from sklearn.base import RegressorMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import Interval, StrOptions

from ..existence._check import unbounded_message
from ..existence._fallback import (diagnose_regression, refit_at_boundary,
                                   regression_fallback)
from ..existence._unbounded import warn_below_resolution
from ..families import DISTRIBUTIONS, Family
from ..families._config import (configuration_label, configure_family,
                                dispersion_penalty_weight)
from ..models._linear_layouts import (prediction_model, regression_model,
                                      regression_null_raw)
from ..models._network import regression_network
from ..report import _ols
from ..report._likelihood import set_regression_likelihood
from ..report._prediction import interval_rows, regression_score, validated_coverage
from ..report._parameters import (set_constant_attributes, set_layer_attributes,
                                  set_parameter_attributes, set_regression_inference)
from ..report._robust import ROBUST_KINDS
from ..report._summary_parts import regression_summary_parts
from ..solver._weights import FitWeights
from ._base import _FIT_STACKLEVEL, MLEstimator, check_target_shape
from ._dask_input import lazy_on_dask
from ._offset import validated_offset, validated_trials


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
    dispersion_alpha : float, default=None
        A penalty strength of its own for the coefficients of a dispersion that
        depends on x (``dispersion="linear"``, ``variance="heteroscedastic"``): L2 on
        ``dispersion_coef_`` (the Gaussian's and Student-t's ``scale_coef_``, the
        negative binomial's ``alpha_coef_``) for the linear model, on the log-scale
        output's weights for a network (its hidden layers, shared with the mean, keep
        ``alpha``).  None: ``alpha``.  A larger value keeps ``sigma(x)``
        smoother than the mean, as advised for networks that learn a variance
        (Sluijterman, Cator and Heskes, 2023).  Positive when ``alpha > 0`` (an
        unpenalised ``sigma(x)`` can collapse), 0 or None when ``alpha = 0`` (the
        unpenalised likelihood); ignored, with a warning, where the dispersion does
        not depend on x.
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
    inference : bool or {"ols", "hc0", "hc1", "hc2", "hc3", "cluster"}, default=False
        Also compute the covariance of the estimates and their standard errors, for
        :meth:`summary`.  True: Wald inference from the inverse observed information
        of the model as specified, so with ``variance="fixed"`` it assumes ``sigma = 1``
        exactly.  ``"ols"`` (``alpha=0`` and ``variance`` "fixed" or "constant" only):
        classical least-squares inference, as statsmodels' ``OLS``: ``sigma^2`` is
        estimated by ``RSS / df_resid_`` (``df_resid_ = n - rank``), the covariance of
        the mean's parameters is ``sigma^2 (X^T S X)^{-1}``, tests and intervals use
        Student's t with ``df_resid_`` degrees of freedom, and :meth:`predict_dist` /
        :meth:`predict_interval` give the exact Student-t prediction intervals.

        The robust (sandwich) covariances, statsmodels' ``cov_type`` names, hold when
        the variance model is doubtful: ``H^-1 M H^-1`` with ``H`` the observed
        information (penalised at ``alpha > 0``) and ``M`` the sum of the outer
        products of the per-sample scores of the likelihood (sample weights
        multiply the scores), for every parameter reported, dispersion columns
        included.  ``"hc0"``: as it is; ``"hc1"``: times ``n / (n - k)``; ``"hc2"``,
        ``"hc3"``: each score divided by ``(1 - h_i)^(1/2)``, ``(1 - h_i)`` with
        ``h_i`` the leverage of sample ``i`` (the diagonal of the hat matrix in the
        Fisher metric; for a learned dispersion, its block); ``"cluster"``: scores
        summed within the clusters that ``fit(..., groups=)`` gives, times ``G / (G
        - 1) (n - 1) / (n - k)``.  ``n`` counts the samples with a positive weight,
        ``G`` their clusters, ``k`` the parameters ``df_resid_`` counts (the mean's
        rank; a learned constant dispersion does not count, as OLS's ``sigma``).
        Tests and intervals are Wald z tests on the robust covariance.  The user
        guide's "Robust standard errors" section says how each compares with
        statsmodels.
    hidden_layer_sizes : int or tuple of int, default=()
        Widths of the hidden layers of a network ``f(x; theta)`` in place of the
        linear predictor; ``()`` is the linear model.  The network's last layer gives
        every raw column that depends on x; see the user guide's "Neural networks".
        ``alpha`` is then weight decay on every weight matrix (biases free): the
        objective of scikit-learn's MLP with its ``alpha = alpha * n_samples``.  A
        network has no ``coef_``, no Wald inference and no summary (its weights are
        not identified); it has ``coefs_`` and ``intercepts_`` instead.
    activation : {"relu", "tanh", "logistic", "softplus"}, default="relu"
        Activation of the hidden layers (with ``hidden_layer_sizes`` only).
    random_state : int, RandomState instance or None, default=None
        Seed of the network's Glorot-uniform initial hidden weights (with
        ``hidden_layer_sizes`` only).

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
        Number of L-BFGS iterations, at most ``max_iter``: where the fit ran onto a
        boundary (``boundary_note_``) and the rest was refitted with that parameter
        fixed, the refit's iterations count in and it had only the rest of the
        budget.
    mle_exists_ : bool or None
        False when ``alpha=0`` and a learned variance collapses to zero (the mean fits
        some targets exactly), so the likelihood has no maximum; an
        :class:`UnboundedLikelihoodWarning` is emitted and the parameters returned
        minimise the objective plus a ridge of ``1e-3`` in the data's Fisher metric.
        Always True at ``alpha > 0``, where the penalised estimate exists.
        A network fit (``hidden_layer_sizes``) cannot be certified: None unless it
        shows divergence (then False, with the warning).
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
        With ``inference`` set: covariance of the reported parameters, row for row
        with ``summary().names`` (the mean's, then each learned column's), on the
        scale they are fitted on: a constant dispersion as its log (``log sigma``,
        ``log alpha``, ...; the summary shows it on the natural scale), a column
        linear in x as the coefficients of its log.  It is the inverse observed
        Fisher information at the estimate (penalised when alpha > 0), or the
        robust sandwich of a robust ``inference``.  Aliased parameters are NaN.
    n_groups_ : int
        With ``inference="cluster"``: the number of clusters (among the samples with a
        positive weight).
    coef_se_, intercept_se_ : ndarray, float
        With ``inference`` set: standard errors of ``coef_`` and ``intercept_``
        (``"ols"``: the OLS ones, with ``sigma`` estimated; a robust kind: from the
        sandwich).
    scale_se_ : float
        With ``inference=True`` and a learned constant ``sigma`` (the Gaussian's
        variance "constant", the Student-t's default): standard error of ``scale_``
        by the delta method, ``scale_ * se(log sigma)``; the ``std err`` of the
        summary's ``scale`` row.
    alpha_se_, df_se_ : float
        Likewise for the negative binomial's ``alpha_`` and the Student-t's learned
        ``df_``.
    dispersion_se_ : float
        The same standard error under the family-neutral name (``scale_se_`` of the
        Gaussian and Student-t, ``alpha_se_`` of the negative binomial), and that of
        the Gamma's ``dispersion_`` (phi).  Every other constant family parameter
        ``<p>_`` fitted as ``log_<p>`` gets ``<p>_se_`` the same way (a column
        ``<p>`` not on the log scale: its own standard error).
    scale_coef_se_, scale_intercept_se_ : ndarray, float
        With ``inference=True`` and a dispersion linear in x: standard errors of the
        ``log sigma(x)`` parameters (``dispersion_coef_se_`` and
        ``dispersion_intercept_se_`` under the family-neutral name, ``<p>_coef_se_``
        and ``<p>_intercept_se_`` for any column linear in x).
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
        "inference": ["boolean", StrOptions({"ols", *ROBUST_KINDS})],
        "dispersion_alpha": [None, Interval(Real, 0, None, closed="left")],
        **MLEstimator._network_parameter_constraints,
    }

    def __init__(self, distribution="gaussian", *, dispersion=None, variance=None,
                 alpha=0.0, dispersion_alpha=None, fit_intercept=True, max_iter=1000,
                 tol=1e-7, warm_start=False, verbose=0, inference=False,
                 hidden_layer_sizes=(), activation="relu", random_state=None):
        self.distribution = distribution
        self.dispersion = dispersion
        self.variance = variance
        self.alpha = alpha
        self.dispersion_alpha = dispersion_alpha
        self.fit_intercept = fit_intercept
        self.max_iter = max_iter
        self.tol = tol
        self.warm_start = warm_start
        self.verbose = verbose
        self.inference = inference
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.random_state = random_state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        try:
            family = self._family()[0]
        except (KeyError, TypeError, ValueError):
            return tags
        tags.target_tags.positive_only = bool(family.positive_target)
        return tags

    def _family(self):
        return configure_family(self.distribution, self.dispersion, self.variance)

    def _label(self, family, modes):
        return configuration_label(self.distribution, self.dispersion, family, modes)

    def _model_builder(self, family, y):
        """The one place the model is chosen: a builder ``(family, modes, fit_intercept,
        alpha, X, weights, null_raw, y, offset, start_raw) -> model`` of the network of
        ``hidden_layer_sizes`` (fitted on y in its units: its output scale makes it
        equivariant) or of the linear model (fitted on ``y / y_scale``, an exact
        rescaling of a linear predictor, see :meth:`Family.equivariant_target_scale`),
        and that scale."""
        hidden = self._hidden_layers()
        if not hidden:
            return regression_model, family.equivariant_target_scale(y)

        def network(family, modes, fit_intercept, alpha, X, weights, null_raw, y, offset,
                    start_raw, dispersion_penalty=1.0):
            return regression_network(family, modes, fit_intercept, alpha, X.shape[1],
                                      null_raw, hidden, self.activation, offset,
                                      dispersion_penalty)
        return network, 1.0

    def _start(self, model, start_raw, y_scale):
        """Start at the constant ``start_raw`` (the null model, see
        :meth:`Family.fit_start_raw`), or at the previous fit of the same modes with
        ``warm_start`` (the mean's parameters divided by ``y_scale``); see
        :meth:`MLEstimator._start_parameters`."""
        def in_fit_units(coef, intercept):
            coef[0] /= y_scale
            intercept[0] /= y_scale
            return coef, intercept
        warm = self.warm_start and getattr(self, "_fitted_modes", None) == self._modes
        return self._start_parameters(model, start_raw, warm, in_fit_units)

    # ---------------------------------------------------------------------- fit
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, offset=None, exposure=None, groups=None):
        """Fit the model by maximum (penalised) likelihood.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data; CSR/CSC matrices are used without densifying.
        y : array-like of shape (n_samples,)
            Targets in the distribution's domain: real numbers for the Gaussian and
            Student-t, non-negative counts for the Poisson and negative binomial,
            positive values for the Gamma, proportions in [0, 1] for the binomial.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights; integer weights act as repeated rows.  For the
            binomial, the number of trials behind each proportion.  In a robust
            covariance (``inference="hc0"`` ... ``"cluster"``) they multiply each
            sample's score, as a precision or sampling weight (statsmodels' ``WLS``
            and GLM ``var_weights``, R's ``sandwich``, Stata's ``pweight``), not as a
            count of independent repeated rows.
        offset : array-like of shape (n_samples,), default=None
            A known term added to each sample's linear predictor of the mean, on the
            link scale (``log mean`` for the Poisson, negative binomial and Gamma,
            ``logit`` for the binomial, the mean itself for the Gaussian and
            Student-t), with coefficient 1: R's ``offset()``, statsmodels'
            ``offset=``.  ``loglik_``, AIC, BIC and the null model (the
            intercept-only fit with the same offset) include it.  Predictions take
            their own ``offset`` (0 when not given).
        exposure : array-like of shape (n_samples,), default=None
            For log-link families, the positive exposure each count or amount was
            observed over (time at risk, policy-years): the offset ``log(exposure)``,
            so the mean is ``exposure * exp(x @ coef_ + intercept_)``, as statsmodels'
            ``exposure=``.  Give ``offset`` or ``exposure``, not both.
        groups : array-like of shape (n_samples,), default=None
            Cluster label of each sample (integers, strings, any sortable type), for
            ``inference="cluster"``, which requires it; any other ``inference``
            rejects it.  In a :class:`~sklearn.pipeline.Pipeline` pass it as
            ``<step>__groups``.

        Returns
        -------
        self : object
            The fitted estimator.

        Examples
        --------
        Claims counted over policy-years: the coefficients are log rate ratios.

        >>> import numpy as np
        >>> from sklearn_mle import MLERegressor
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(5000, 1))
        >>> years = rng.uniform(0.5, 4.0, size=5000)
        >>> claims = rng.poisson(years * np.exp(-1.0 + 0.5 * X[:, 0]))
        >>> reg = MLERegressor(distribution="poisson").fit(X, claims, exposure=years)
        >>> print(np.round(reg.coef_, 1), round(float(reg.intercept_), 1))
        [0.5] -1.0
        >>> reg.predict(X[:2], exposure=[1.0, 2.0]) / reg.predict(X[:2])  # per year
        array([1., 2.])
        """
        return self._fit(X, y, sample_weight, groups, offset=offset, exposure=exposure)

    def _fit_validated(self, X, y, sample_weight, codes=None, offset=None,
                       exposure=None):
        """The fit on validated data (see :meth:`fit`); ``codes`` are the clusters of
        ``inference="cluster"``."""
        family, modes = self._family()
        offset = validated_offset(family, offset, exposure, X.shape[0])
        self._modes = modes
        if self.inference == "ols":
            _ols.check_ols_option(family, modes, self.alpha, self._label(family, modes))
        y_original = y = family.validate_target(y)
        fit_weights = FitWeights(sample_weight, X)
        model, result, null_raw, modes, progress = self._fit_regression(
            family, modes, X, y, fit_weights, offset)
        self._set_fitted(family, modes, model, X, y_original, result, fit_weights,
                         null_raw, progress, codes)
        return self

    def _fit_regression(self, family, modes, X, y, fit_weights, offset):
        """The fit of the model (see :meth:`_model_builder`): on y / y_scale where
        the model rescales y, a boundary column (a limit of the family) fixed and the
        rest refitted; returns the model, the solver's result at parameters in y's
        units, the null model's raw prediction, the modes and the progress report."""
        weights = fit_weights.normalised
        builder, y_scale = self._model_builder(family, y)
        fit_offset = offset
        if y_scale != 1.0:
            # (a family rescales y only where its mean is in y's units, the offset too)
            y = y / y_scale
            fit_offset = None if offset is None else offset / y_scale
        null_raw = regression_null_raw(family, modes, self.fit_intercept, y, weights,
                                       fit_offset)
        start_raw = family.fit_start_raw(null_raw)

        dispersion_penalty, ignored = dispersion_penalty_weight(
            family, modes, self.alpha, self.dispersion_alpha, self._label(family, modes))
        if ignored:
            warnings.warn(ignored, UserWarning, stacklevel=_FIT_STACKLEVEL)

        def build_model(modes):
            return builder(family, modes, self.fit_intercept, self.alpha, X, weights,
                           null_raw, y, fit_offset, start_raw,
                           dispersion_penalty=dispersion_penalty)

        model = build_model(modes)
        if self.inference == "ols":
            self._require(model, "has_coefficients")
        fit_options = self._fit_options()
        # At alpha > 0 the objective has a finite minimiser (see the class docstring):
        # the existence check is only made at alpha = 0.
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model, result = self._fit_model(model, X, y, weights,
                                     self._start(model, start_raw, y_scale), start_raw,
                                     fit_options, extra_frames=1)
        refit = (refit_at_boundary(model, modes, build_model, X, y, weights, self.alpha,
                                   result, start_raw, fit_options)
                 if self.mle_exists_ else None)
        if refit is not None:   # (a ConvergenceWarning along the boundary is noise)
            modes, model, result, refit_caught = refit
            self._modes = modes
            caught = [w for w in caught
                      if not issubclass(w.category, ConvergenceWarning)] + refit_caught
        for warning in caught:
            warnings.warn_explicit(warning.message, warning.category, warning.filename,
                                   warning.lineno)
        if self.alpha > 0 and family.can_collapse:
            warn_below_resolution(
                "MLERegressor", self._label(family, modes), self.alpha, family,
                model.raw_prediction(result.theta, X), y, weights,
                stacklevel=_FIT_STACKLEVEL)
        if y_scale != 1.0:
            result.theta = model.in_target_units(result.theta, y_scale)
            # (the solver's objective and gradient are those of the fit on y / y_scale)
            result.objective, result.gradient = np.nan, None
            null_raw[0] *= y_scale
        model.offset = offset  # in y's units, as the parameters now are
        return model, result, null_raw, modes, fit_options["progress"]

    def _set_fitted(self, family, modes, model, X, y, result, fit_weights, null_raw,
                    progress, codes):
        """Every fitted attribute, from the parameters ``result.theta`` in y's units:
        those of the coefficients where the model has them, else of the constant
        columns only."""
        self.family_, self._fitted_modes = family, modes
        self._forget([*getattr(self, "_parameter_attribute_names", ()),
                      *getattr(self, "_se_attribute_names", ()), "covariance_", "coef_se_",
                      "intercept_se_", "ols_scale_", "n_groups_"])
        theta = result.theta
        self.boundary_note_ = None
        if model.has_coefficients:
            coef, intercept = model.unpack(theta)
            self._raw_coef, self._raw_intercept = coef, intercept
            self._parameter_attribute_names, self._se_attribute_names = \
                set_parameter_attributes(self, family, modes, coef, intercept)
            predictor = prediction_model(family, X.shape[1])
            self._predictor = (predictor, predictor.pack(coef, intercept))
            self.boundary_note_ = family.boundary_note(intercept)
            if self.boundary_note_ is not None:
                progress.line(f"boundary: {self.boundary_note_}")
        else:
            self._se_attribute_names = ()
            self._parameter_attribute_names = set_constant_attributes(
                self, family, modes, model.predict_raw(theta, X[:1]))
            self._predictor = (model, theta)
        set_layer_attributes(self, model, theta)
        self.n_iter_ = result.n_iter
        with self._attributes_timed():
            # a least-squares fit's means serve both its loglik_ and its residuals
            raw = model.raw_prediction(theta, X) if family.least_squares else None
            set_regression_likelihood(self, model, modes, X, y, theta, fit_weights,
                                      result, null_raw, self.alpha, raw)
            if raw is not None:
                _ols.set_residual_statistics(self, raw[:, 0], y, fit_weights)
            if self.inference:
                set_regression_inference(self, family, modes, model, X, y, fit_weights,
                                         theta, codes)

    # -------------------------------------------- existence (see MLEstimator)
    def _find_unbounded(self, model, X, y, weights, result):
        return diagnose_regression(model, self._modes, X, y, weights, result.theta,
                                   self.fit_intercept)

    def _unbounded_message(self, model, y, weights, diagnosis):
        return unbounded_message("MLERegressor", self._label(model.loss, self._modes),
                                 model.loss, self._modes, diagnosis,
                                 int(np.sum(weights > 0)))

    def _fallback_fit(self, model, X, y, weights, theta0, start_raw, fit_options,
                      diagnosis, result):
        return regression_fallback(model, X, y, weights, self.alpha, theta0, start_raw,
                                   fit_options)

    # ------------------------------------------------------------------ report
    def summary(self, coverage=0.95, feature_names=None):
        """Fit statistics and the table of estimates, standard errors, tests and
        confidence intervals, laid out as statsmodels' ``OLS`` summary.

        Requires a fit with ``inference`` set.  The header names the dependent
        variable (the ``name`` of y when fit was given a pandas Series, else "y"), the
        distribution and how its dispersion is treated, and gives the number of
        observations, the degrees of freedom, the convergence flag, R² and adjusted
        R² of the mean (weighted by the sample weights; uncentred without
        ``fit_intercept``, as statsmodels; Cox and Snell's pseudo-R² for the other
        families), the log-likelihood, the null log-likelihood (see ``loglik_null_``)
        with the likelihood-ratio test's p-value, AIC and BIC; with
        ``inference="ols"`` also the F test of all slopes being zero.

        With ``inference=True`` the tests are Wald z tests.  A dispersion learned as
        one constant is fitted on the log scale and shown on its natural scale, as
        statsmodels shows NegativeBinomial's ``alpha``: the rows ``scale`` (the
        Gaussian's and the Student-t's sigma), ``alpha`` (negative binomial),
        ``dispersion`` (the Gamma's phi), ``df`` (the Student-t's nu), and ``<p>``
        for a constant ``log_<p>`` column of your family.  Each gives the estimate
        (``scale_``, ``alpha_``, ...), its delta-method standard error
        (``scale_se_``, ``alpha_se_``, ...: ``exp(t) se(t)`` for ``t`` the log-scale
        estimate) and the interval ``exp(t -/+ z se(t))``: the Wald interval of the
        log scale, where the normal approximation is better, mapped to the natural
        scale.  It stays positive and is asymmetric where the log-likelihood is
        (statsmodels prints the symmetric ``estimate -/+ z se`` instead), and the row
        has no z test, since 0 is on the boundary of the parameter's range.  A
        dispersion linear in x keeps its rows ``log_<p>:<feature>`` on the log scale:
        they are coefficients of a linear predictor.  ``covariance_`` is always that
        of the log-scale parameters.

        With ``variance="fixed"`` the tests assume ``sigma = 1``, and the notes say so
        and give the residuals' standard deviation.  With ``inference="ols"`` they
        are t tests with ``df_resid_`` degrees of freedom and ``sigma`` estimated, as
        statsmodels' ``OLS``; ``sigma`` itself is then not a row of the table.

        Parameters
        ----------
        coverage : float, default=0.95
            Coverage of the confidence intervals, in (0, 1).
        feature_names : array-like of str of shape (n_features_in_,), default=None
            Names of the features, for the rows of the mean (and of a dispersion
            linear in x); they override ``feature_names_in_``.  None:
            ``feature_names_in_`` when X had string column names, else ``x0``,
            ``x1``, ...  Inside a fitted ``Pipeline``, whose last step sees only the
            previous step's output, pass ``pipeline[:-1].get_feature_names_out()``
            (or set the pipeline's output to pandas with
            ``pipeline.set_output(transform="pandas")``, which brings the names as
            ``feature_names_in_``).

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
        >>> table = reg.summary()
        >>> table.names
        ['bmi', 'bp', 'intercept', 'scale']
        >>> bool(table.estimate[-1] == reg.scale_ and table.std_err[-1] == reg.scale_se_)
        True

        The interval of ``scale`` is that of ``log sigma`` mapped by ``exp``:

        >>> import numpy as np
        >>> log_interval = np.log([table.ci_lower[-1], table.ci_upper[-1]])
        >>> bool(np.allclose(log_interval, np.log(reg.scale_)
        ...                  + np.array([-1, 1]) * 1.959964 * reg.scale_se_ / reg.scale_))
        True

        Least squares with OLS inference (``sigma`` estimated, t tests), the table of
        statsmodels' ``OLS``:

        >>> ols = MLERegressor(inference="ols").fit(X[["bmi", "bp"]], y)
        >>> print(ols.summary())  # doctest: +NORMALIZE_WHITESPACE
           MLERegressor(variance='constant'): least-squares estimates, OLS inference
        ===============================================================================
        Dep. Variable:                  target   No. Observations:                  442
        Model:                    MLERegressor   Df Residuals:                      439
        Distribution:    Gaussian, σ estimated   Df Model:                            2
        Method:                  Least squares   R-squared:                       0.396
        Converged:                        True   Adj. R-squared:                  0.393
        Covariance:          OLS (σ estimated)   F-statistic:                     143.9
        Scale σ:                        60.051   Prob (F-statistic):           8.68e-49
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
        return self._summary(coverage, feature_names)

    #: The summary's rows and notes (called as a method: ``self._summary_parts(names)``).
    _summary_parts = regression_summary_parts

    # -------------------------------------------------------------- prediction
    def _raw_prediction(self, X, offset=None, exposure=None):
        model, theta = self._predictor
        return model.predict_raw(theta, X, validated_offset(self.family_, offset,
                                                            exposure, X.shape[0]))

    def _likelihood_target(self, y, n_samples):
        return self.family_.validate_target(check_target_shape(y, n_samples))

    @lazy_on_dask
    def predict_dist(self, X, offset=None, exposure=None, trials=None):
        """Predictive distribution of y given each row of X.

        With ``inference="ols"`` it is the exact least-squares predictive distribution,
        Student's t with ``df_resid_`` degrees of freedom, centred on the predicted
        mean, with scale ``sqrt(ols_scale_**2 + var(mean))`` (noise plus the
        uncertainty of the fitted mean).  Otherwise it is the fitted family's
        distribution (``family_.distribution``), frozen at each sample's parameters:

        * ``"gaussian"``: ``scipy.stats.norm(loc=mu, scale=sigma)``; with
          ``variance="fixed"`` ``sigma = 1`` by assumption, and a ``UserWarning`` is
          emitted when the training residuals are inconsistent with it (chi-square
          test at level 1e-3);
        * ``"poisson"``: ``scipy.stats.poisson(mu)``;
        * ``"negative_binomial"``: ``scipy.stats.nbinom(n=1/alpha, p=1/(1 + alpha
          mu))``, of mean ``mu`` and variance ``mu + alpha mu^2``;
        * ``"gamma"``: ``scipy.stats.gamma(a=1/phi, scale=phi mu)``;
        * ``"student_t"``: ``scipy.stats.t(df=nu, loc=mu, scale=sigma)``;
        * ``"binomial"``: ``scipy.stats.binom(n=1, p=mu)``, one trial (the number of
          successes in ``n`` trials is ``binom(n, mu)``);
        * a :class:`Family` of your own: what its ``distribution`` returns.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.
        offset : array-like of shape (n_samples,), default=None
            The known term of each sample's linear predictor (see :meth:`fit`); 0
            when not given, also after a fit with an offset (for a fit with
            ``exposure``: predictions per unit exposure).
        exposure : array-like of shape (n_samples,), default=None
            For log-link families, the exposure of each sample (offset
            ``log(exposure)``); give ``offset`` or ``exposure``, not both.
        trials : int or array-like of shape (n_samples,), default=None
            Binomial only: the number of trials of each prediction.  The
            distribution is then that of the number of successes,
            ``binom(n=trials, p)``; without it, of one trial.

        Returns
        -------
        distribution : frozen scipy.stats distribution
            One distribution per sample, vectorised over samples (its ``mean()`` is
            the predicted mean).

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
        return self._predictive_distribution(X, offset=offset, exposure=exposure,
                                             trials=trials)

    def _predictive_distribution(self, X, stacklevel=4, offset=None, exposure=None,
                                 trials=None):
        """The distribution of :meth:`predict_dist`; the warning points ``stacklevel``
        frames up (the caller of the public method, past its ``lazy_on_dask`` wrapper)."""
        X = self._validated_input(X)
        raw = self._raw_prediction(X, offset, exposure)
        trials = validated_trials(self.family_, trials, X.shape[0])
        if trials is not None:
            return self.family_.count_distribution(raw, trials)
        if self.inference == "ols":
            return _ols.ols_predictive(self, X, self.family_.mean(raw))
        if self.family_.assumes_unit_scale and _ols.sigma_one_rejected(self):
            warnings.warn(_ols.fixed_sigma_warning("MLERegressor", self), UserWarning,
                          stacklevel=stacklevel)
        return self.family_.distribution(raw)

    @lazy_on_dask
    def predict_interval(self, X, coverage=0.9, offset=None, exposure=None, trials=None):
        """Central predictive interval for y at each row of X: an (n_samples, 2) array,
        unpacked by ``low, high = reg.predict_interval(X).T``.

        The interval of :meth:`predict_dist`: with ``inference="ols"`` the OLS
        prediction interval (Student's t, ``sigma`` estimated, the mean's uncertainty
        included); with ``variance="fixed"`` otherwise, ``sigma = 1`` is assumed (a
        ``UserWarning`` says so when the residuals contradict it).

        One row per sample, as statsmodels' ``conf_int`` arrays, so the intervals of
        the rows one selects come with them (``interval[mask]``).  Without the ``.T``,
        ``low, high = reg.predict_interval(X)`` unpacks rows, not bounds: it fails for
        any number of rows but two, and with two rows gives each row's interval.  The
        two bounds as separate arrays are also ``reg.predict_dist(X).interval(coverage)``,
        SciPy's ``(lower, upper)`` tuple.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.
        coverage : float, default=0.9
            Probability mass of the interval, in (0, 1).
        offset : array-like of shape (n_samples,), default=None
            The known term of each sample's linear predictor (see :meth:`fit`); 0
            when not given, also after a fit with an offset (for a fit with
            ``exposure``: predictions per unit exposure).
        exposure : array-like of shape (n_samples,), default=None
            For log-link families, the exposure of each sample (offset
            ``log(exposure)``); give ``offset`` or ``exposure``, not both.
        trials : int or array-like of shape (n_samples,), default=None
            Binomial only: the number of trials each proportion will be observed
            over (1 when not given, as in a fit's ``sample_weight``).

        Returns
        -------
        interval : ndarray of shape (n_samples, 2)
            Column 0 the lower bound, column 1 the upper bound of each sample's
            interval (with ``trials``: the bounds on the number of successes divided
            by ``trials``, in the units of the fitted proportions; a discrete
            interval covers at least ``coverage``).

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_mle import MLERegressor
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(2000, 1))
        >>> y = X[:, 0] + np.exp(0.5 * X[:, 0]) * rng.normal(size=2000)
        >>> reg = MLERegressor(variance="heteroscedastic").fit(X, y)
        >>> interval = reg.predict_interval(X, coverage=0.9)
        >>> interval.shape
        (2000, 2)
        >>> low, high = interval.T
        >>> round(float(np.mean((low <= y) & (y <= high))), 2)
        0.9
        """
        validated_coverage(coverage)
        return interval_rows(self._predictive_distribution(
            X, offset=offset, exposure=exposure, trials=trials), coverage, trials)

    @lazy_on_dask
    def log_likelihood(self, X, y, sample_weight=None, per_sample=False, offset=None,
                       exposure=None):
        """Log-likelihood of observed targets under the fitted distribution.

        The full log-density (or log-pmf for counts) of the fitted family, constants
        included, so that held-out scores of different families compare.

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
        offset : array-like of shape (n_samples,), default=None
            The known term of each sample's linear predictor (see :meth:`fit`); 0
            when not given, also after a fit with an offset (for a fit with
            ``exposure``: predictions per unit exposure).
        exposure : array-like of shape (n_samples,), default=None
            For log-link families, the exposure of each sample (offset
            ``log(exposure)``); give ``offset`` or ``exposure``, not both.

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
        return self._log_likelihood(X, y, sample_weight, per_sample, offset=offset,
                                    exposure=exposure)

    def score(self, X, y, sample_weight=None, offset=None, exposure=None):
        """D², the fraction of deviance explained, for the families with a deviance;
        R² of the mean for the Gaussian and the Student-t.

        As scikit-learn's ``PoissonRegressor``, ``GammaRegressor`` and
        ``TweedieRegressor``: for the Poisson, negative binomial, Gamma and binomial
        the score is ``D² = 1 - D(y, model) / D(y, null)``, where the deviance ``D``
        is the weighted sum of the samples' deviances (twice the log-likelihood ratio
        of the saturated mean, ``mu_i = y_i``, against the prediction) and the null
        model predicts the weighted mean of the scored ``y``.  The deviance is taken
        at the fitted dispersion: the negative binomial's is that of its fitted
        ``alpha``; the Gamma's is scaled by ``1 / phi``, which cancels in the ratio
        when ``phi`` is constant (then D² is ``d2_tweedie_score(y, predict(X),
        power=2)``, as the Poisson's is with ``power=1``).  For the binomial the
        sample weights are the numbers of trials.  A family of your own gets D² if it
        defines :meth:`Family.unit_deviance`.

        The Gaussian gets R², which is its D² (with ``variance="heteroscedastic"`` too:
        R² of the mean, as scikit-learn's regressors).  The Student-t has no
        deviance, being no exponential-dispersion family: its score is R² of the
        location, which outliers can dominate; :func:`log_likelihood_scorer` scores
        the fitted distribution itself, for any family.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Test samples.
        y : array-like of shape (n_samples,)
            Their targets (in the family's domain).
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights (numbers of trials for the binomial).
        offset : array-like of shape (n_samples,), default=None
            The known term of each sample's linear predictor (see :meth:`fit`).
        exposure : array-like of shape (n_samples,), default=None
            For log-link families, the exposure of each sample (offset
            ``log(exposure)``); give ``offset`` or ``exposure``, not both.

        Returns
        -------
        score : float
            D² or R²: 1 for a perfect prediction, 0 for the null model's, negative for
            worse.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn.linear_model import PoissonRegressor
        >>> from sklearn_mle import MLERegressor
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(500, 2))
        >>> y = rng.poisson(np.exp(0.5 + X @ [0.3, -0.2]))
        >>> ours = MLERegressor(distribution="poisson").fit(X, y)
        >>> theirs = PoissonRegressor(alpha=0.0, solver="newton-cholesky").fit(X, y)
        >>> round(ours.score(X, y), 4), round(theirs.score(X, y), 4)
        (0.1382, 0.1382)
        """
        raw = self._raw_prediction(self._validated_input(X), offset, exposure)
        return regression_score(self.family_, self._likelihood_target(y, raw.shape[0]),
                                raw, sample_weight)

    @lazy_on_dask
    def predict(self, X, return_std=False, offset=None, exposure=None, trials=None):
        """Predicted mean, and optionally the predicted standard deviation.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.
        return_std : bool, default=False
            Also return ``sigma`` (constant) or ``sigma(x)`` (heteroscedastic).
        offset : array-like of shape (n_samples,), default=None
            The known term of each sample's linear predictor (see :meth:`fit`); 0
            when not given, also after a fit with an offset (for a fit with
            ``exposure``: predictions per unit exposure).
        exposure : array-like of shape (n_samples,), default=None
            For log-link families, the exposure of each sample (offset
            ``log(exposure)``); give ``offset`` or ``exposure``, not both.
        trials : int or array-like of shape (n_samples,), default=None
            Binomial only: the number of trials each proportion will be observed
            over (1 when not given, as in a fit's ``sample_weight``).

        Returns
        -------
        mean : ndarray of shape (n_samples,)
            Predicted mean of ``y``.
        std : ndarray of shape (n_samples,)
            Predicted standard deviation (with ``trials``: of the proportion of
            successes, ``sqrt(p (1 - p) / trials)``); only when ``return_std=True``.
        """
        X = self._validated_input(X)
        raw = self._raw_prediction(X, offset, exposure)
        mean = self.family_.mean(raw)
        trials = validated_trials(self.family_, trials, X.shape[0])
        if not return_std:
            return mean
        if trials is not None:  # of the proportion of successes in ``trials`` trials
            return mean, self.family_.count_distribution(raw, trials).std() / trials
        return mean, self.family_.std(raw)
