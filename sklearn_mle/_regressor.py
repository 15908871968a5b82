"""MLERegressor: Gaussian maximum likelihood with fixed, constant or x-dependent variance."""

import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from scipy import stats

from ._base import (FitWeights, ensure_layout, feature_labels, fit_linear_model,
                    information_criteria, kernels_own_the_cores, n_threads,
                    output_covariance, total_log_likelihood)
from ._inference import (InferenceSummary, common_notes_and_statistics,
                         require_covariance, title_kind)
from ._linear import LinearModel
from ._loss import GaussianFixedScaleLoss, GaussianLoss
from ._unbounded import (FALLBACK_TOL_FACTOR, VARIANCE_COLLAPSE_FALLBACK_RIDGE,
                         UnboundedLikelihoodWarning, find_variance_collapse,
                         variance_collapse_message)

#: variance mode -> (coefficients free, intercepts free) for the (mean, log sigma) columns
_SCALE_COLUMN_FREE_COEF = {"fixed": None, "constant": False, "heteroscedastic": True}


class MLERegressor(RegressorMixin, BaseEstimator):
    r"""Linear regression by Gaussian maximum likelihood.

    The model is ``y | x ~ Normal(mu(x), sigma(x)^2)`` with ``mu(x) = x @ coef_ +
    intercept_`` and, by ``variance``:

    * ``"fixed"``: ``sigma = 1``, not a parameter.  The NLL is ``(y - mu)^2 / 2`` plus a
      constant, so the fit is least squares (``Ridge(alpha * n)``).
    * ``"constant"``: one learned ``sigma`` (optimised as ``log sigma``, unpenalised),
      reported as ``scale_``; at ``alpha=0`` the mean is OLS and ``sigma^2 = RSS / n``.
    * ``"heteroscedastic"``: ``log sigma(x) = x @ scale_coef_ + scale_intercept_``,
      learned jointly with the mean.

    The fit minimises exactly

    .. math::

        \frac{1}{\sum_i s_i} \sum_i s_i \, \mathrm{NLL}_i
        + \frac{\alpha}{2} \left(\lVert \mathrm{coef} \rVert^2
        + \lVert \mathrm{scale\_coef} \rVert^2\right),

    with ``NLL_i = log(2 pi)/2 + log sigma_i + (y_i - mu_i)^2 / (2 sigma_i^2)`` the
    full Gaussian negative log-likelihood of sample ``i`` and ``s_i`` the sample
    weights.  Intercepts (of the mean and of ``log sigma``) are never penalised.

    Parameters
    ----------
    variance : {"constant", "fixed", "heteroscedastic"}, default="constant"
        How the noise standard deviation is modelled.
    alpha : float, default=0.0
        L2 penalty strength on ``coef_`` (and ``scale_coef_``).
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
    inference : bool, default=False
        Also compute the covariance of the estimates (inverse observed information)
        and their standard errors, for :meth:`summary`.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,)
        Coefficients of the mean.
    intercept_ : float
        Intercept of the mean (0.0 when ``fit_intercept=False``).
    scale_ : float
        ``sigma`` for ``variance`` "fixed" (1.0) and "constant".
    scale_coef_ : ndarray of shape (n_features,)
        Coefficients of ``log sigma(x)`` (heteroscedastic only).
    scale_intercept_ : float
        Intercept of ``log sigma(x)`` (heteroscedastic only).
    n_iter_ : int
        Number of L-BFGS iterations.
    mle_exists_ : bool
        False when a learned variance collapses to zero (the mean fits some targets
        exactly, and ``alpha`` cannot prevent it), so the likelihood has no maximum; an
        :class:`UnboundedLikelihoodWarning` is emitted and the parameters returned
        minimise the objective plus a ridge of ``1e-3`` in the data's Fisher metric.
    loglik_ : float
        Total weighted log-likelihood of the training data at the fitted parameters.
    aic_, bic_ : float
        Information criteria counting every free parameter (variance ones included).
    covariance_ : ndarray
        With ``inference=True``: covariance of ``(coef_, intercept_, variance
        parameters)``, the inverse observed Fisher information at the estimate
        (penalised when alpha > 0); the variance parameters are ``log sigma`` (constant)
        or ``(scale_coef_, scale_intercept_)``.  Aliased parameters are NaN.
    coef_se_, intercept_se_ : ndarray, float
        With ``inference=True``: standard errors of ``coef_`` and ``intercept_``.
    scale_se_ : float
        With ``inference=True`` and variance "constant": standard error of ``scale_``
        (delta method from that of ``log sigma``).
    scale_coef_se_, scale_intercept_se_ : ndarray, float
        With ``inference=True`` and variance "heteroscedastic": standard errors of the
        ``log sigma(x)`` parameters.
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
    """

    _parameter_constraints: dict = {
        "variance": [StrOptions({"fixed", "constant", "heteroscedastic"})],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "fit_intercept": ["boolean"],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="neither")],
        "warm_start": ["boolean"],
        "verbose": ["verbose"],
        "inference": ["boolean"],
    }

    def __init__(self, *, variance="constant", alpha=0.0, fit_intercept=True, max_iter=1000,
                 tol=1e-7, warm_start=False, verbose=0, inference=False):
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
        tags.input_tags.sparse = True
        return tags

    # ------------------------------------------------------------------ helpers
    def _build_model(self, n_features):
        scale_coef_free = _SCALE_COLUMN_FREE_COEF[self.variance]
        if scale_coef_free is None:
            return LinearModel(GaussianFixedScaleLoss(), n_features, [True],
                               [self.fit_intercept])
        return LinearModel(GaussianLoss(), n_features, [True, scale_coef_free],
                           [self.fit_intercept, True])

    def _full_parameters(self):
        """Fitted (coef, intercept) in the layout of the linear-model layer."""
        if self.variance == "fixed":
            return self.coef_[None, :], np.array([self.intercept_])
        if self.variance == "constant":
            coef = np.vstack([self.coef_, np.zeros_like(self.coef_)])
            return coef, np.array([self.intercept_, np.log(self.scale_)])
        return (np.vstack([self.coef_, self.scale_coef_]),
                np.array([self.intercept_, self.scale_intercept_]))

    def _start(self, model, y, weights, y_scale=1.0):
        mean = np.average(y, weights=weights) if self.fit_intercept else 0.0
        mean_square = np.average((y - mean) ** 2, weights=weights)
        log_scale = 0.5 * np.log(mean_square) if mean_square > 0 else 0.0
        start_raw = np.array([mean] if model.loss.n_raw == 1 else [mean, log_scale])
        coef = np.zeros((model.loss.n_raw, model.n_features))
        intercept = start_raw.copy()
        if (self.warm_start and hasattr(self, "coef_")
                and getattr(self, "_fitted_variance", None) == self.variance
                and self.coef_.shape == (model.n_features,)):
            coef, intercept = self._full_parameters()
            coef, intercept = coef.copy(), intercept.copy()
            coef[0] /= y_scale
            intercept[0] /= y_scale
        return model.pack(coef, intercept), start_raw

    def _raw_prediction(self, X):
        coef, intercept = self._full_parameters()
        model = LinearModel(GaussianLoss() if coef.shape[0] == 2 else GaussianFixedScaleLoss(),
                            X.shape[1], np.ones(coef.shape[0], bool),
                            np.ones(coef.shape[0], bool))
        return model.raw_prediction(ensure_layout(X), coef, intercept)

    # ---------------------------------------------------------------------- API
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the Gaussian model by maximum (penalised) likelihood.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data; CSR/CSC matrices are used without densifying.
        y : array-like of shape (n_samples,)
            Real-valued targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights; integer weights act as repeated rows.

        Returns
        -------
        self : MLERegressor
            The fitted estimator.
        """
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"],
                             dtype=[np.float64, np.float32], y_numeric=True)
        X = ensure_layout(X)
        with kernels_own_the_cores(X):
            return self._fit_validated(X, y, sample_weight)

    def _fit_validated(self, X, y, sample_weight):
        """The fit on validated data (see :meth:`fit`)."""
        y = np.ascontiguousarray(y, dtype=np.float64)
        fit_weights = FitWeights(sample_weight, X)
        weights = fit_weights.normalised
        model = self._build_model(X.shape[1])
        y_original = y
        y_scale = 1.0
        if self.variance == "fixed":
            # With sigma fixed at 1 the objective is quadratic in y's units: fit on
            # y / max|y| (an exact rescaling: coefficients, intercept and the penalty
            # all scale together) so that targets of any magnitude, 1e-12 or 1e150,
            # meet the same relative tolerance and never overflow.
            largest = float(np.max(np.abs(y))) if y.size else 0.0
            if np.isfinite(largest) and largest > 0:
                y_scale = largest
                y = y / y_scale
        theta0, start_raw = self._start(model, y, weights, y_scale)
        fit_options = dict(tol=self.tol, max_iter=self.max_iter, verbose=self.verbose,
                           estimator_name="MLERegressor")
        # Not only at alpha=0: when the mean can fit every target exactly, the penalty
        # on the coefficients leaves that fit reachable and sigma still collapses.
        check_collapse = self.variance != "fixed"
        with warnings.catch_warnings(record=check_collapse) as caught:
            result = fit_linear_model(model, X, y, weights, self.alpha, theta0, start_raw,
                                      **fit_options)
        self.mle_exists_ = True
        if check_collapse:
            coef, intercept = model.unpack(result.theta)
            raw = model.raw_prediction(X, coef, intercept)
            collapsed = find_variance_collapse(X, y, weights, raw[:, 1],
                                               self.fit_intercept)
            if collapsed is None:
                for warning in caught:
                    warnings.warn_explicit(warning.message, warning.category,
                                           warning.filename, warning.lineno)
            else:
                self.mle_exists_ = False
                warnings.warn(
                    variance_collapse_message("MLERegressor", self.variance, collapsed,
                                              self.alpha),
                    UnboundedLikelihoodWarning, stacklevel=4)
                fit_options["tol"] = self.tol * FALLBACK_TOL_FACTOR
                result = fit_linear_model(
                    model, X, y, weights, self.alpha, theta0, start_raw,
                    fallback_ridge=VARIANCE_COLLAPSE_FALLBACK_RIDGE, **fit_options)
        coef, intercept = model.unpack(result.theta)
        coef[0] *= y_scale
        intercept[0] *= y_scale
        y = y_original
        self.coef_ = coef[0]
        self.intercept_ = float(intercept[0])
        for name in ("scale_", "scale_coef_", "scale_intercept_"):
            if hasattr(self, name):
                delattr(self, name)
        if self.variance == "fixed":
            self.scale_ = 1.0
        elif self.variance == "constant":
            self.scale_ = float(np.exp(intercept[1]))
        else:
            self.scale_coef_ = coef[1]
            self.scale_intercept_ = float(intercept[1])
        self._fitted_variance = self.variance
        self.n_iter_ = result.n_iter
        self.loglik_ = total_log_likelihood(model, X, y, coef, intercept, fit_weights)
        self.aic_, self.bic_ = information_criteria(
            self.loglik_, model.n_params, fit_weights.total)
        self._n_obs = fit_weights.total
        self._n_params = model.n_params
        for name in ("covariance_", "coef_se_", "intercept_se_", "scale_se_",
                     "scale_coef_se_", "scale_intercept_se_"):
            if hasattr(self, name):
                delattr(self, name)
        if self.inference:
            self._set_inference(model, X, y, weights, fit_weights.total, result.theta)
        return self

    def _set_inference(self, model, X, y, weights, total_weight, theta):
        d = X.shape[1]

        def to_output(t):
            coef, intercept = model.unpack(t)
            parts = [coef[0], intercept[:1] if self.fit_intercept else []]
            if self.variance == "constant":
                parts.append(intercept[1:])
            elif self.variance == "heteroscedastic":
                parts += [coef[1], intercept[1:]]
            return np.concatenate(parts)

        covariance, self._aliased = output_covariance(
            model, X, y, weights, total_weight, self.alpha, theta, to_output)
        self.covariance_ = covariance
        se = np.sqrt(np.diag(covariance))
        self.coef_se_ = se[:d]
        position = d
        if self.fit_intercept:
            self.intercept_se_ = float(se[position])
            position += 1
        else:
            self.intercept_se_ = np.nan
        if self.variance == "constant":
            self.scale_se_ = float(self.scale_ * se[position])
        elif self.variance == "heteroscedastic":
            self.scale_coef_se_ = se[position:position + d]
            self.scale_intercept_se_ = float(se[position + d])

    def summary(self, coverage=0.95):
        """Table of estimates, standard errors, z, p-values and confidence intervals.

        Requires a fit with ``inference=True``.  Variance parameters are reported on
        the ``log sigma`` scale, where the Wald approximation is better.

        Parameters
        ----------
        coverage : float, default=0.95
            Coverage of the Wald confidence intervals.

        Returns
        -------
        summary : InferenceSummary
            Printable table; ``.to_frame()`` gives a pandas DataFrame.

        Examples
        --------
        >>> from sklearn.datasets import load_diabetes
        >>> from sklearn_mle import MLERegressor
        >>> X, y = load_diabetes(return_X_y=True, as_frame=True)
        >>> reg = MLERegressor(inference=True).fit(X[["bmi", "bp"]], y)
        >>> reg.summary().names
        ['bmi', 'bp', 'intercept', 'log_scale']
        """
        check_is_fitted(self)
        require_covariance(self)
        features = feature_labels(self, self.coef_.size)
        names = list(features) + (["intercept"] if self.fit_intercept else [])
        estimate = [self.coef_] + ([[self.intercept_]] if self.fit_intercept else [])
        if self.variance == "constant":
            names.append("log_scale")
            estimate.append([np.log(self.scale_)])
        elif self.variance == "heteroscedastic":
            names += [f"log_scale:{name}" for name in features] + ["log_scale:intercept"]
            estimate += [self.scale_coef_, [self.scale_intercept_]]
        estimate = np.concatenate(estimate)
        std_err = np.sqrt(np.diag(self.covariance_))
        notes, statistics = common_notes_and_statistics(self, "a collapsing variance")
        title = f"MLERegressor(variance={self.variance!r}): " + title_kind(self.alpha)
        return InferenceSummary(title, names, estimate, std_err, statistics, notes,
                                coverage=coverage)

    def predict_dist(self, X):
        """Predictive distribution of y given each row of X.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        distribution : scipy.stats.norm (frozen)
            Normal distributions with ``loc`` the predicted means and ``scale`` the
            predicted standard deviations, vectorised over samples.

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
        mean, std = self.predict(X, return_std=True)
        return stats.norm(loc=mean, scale=std)

    def predict_interval(self, X, coverage=0.9):
        """Central predictive interval for y at each row of X.

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
        low, high = self.predict_dist(X).interval(coverage)
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
        check_is_fitted(self)
        X = validate_data(self, X, accept_sparse=["csr", "csc"],
                          dtype=[np.float64, np.float32], reset=False)
        raw = self._raw_prediction(X)
        y = np.ascontiguousarray(y, dtype=np.float64)
        if y.shape != (raw.shape[0],):
            raise ValueError(f"y must have shape {(raw.shape[0],)}, got {y.shape}.")
        loss = GaussianLoss() if raw.shape[1] == 2 else GaussianFixedScaleLoss()
        # The kernels work from log sigma: finite even where sigma itself under- or
        # overflows.
        values, _ = loss.loss_gradient(y, raw, np.ones_like(y), n_threads(y.size))
        values = -values
        if per_sample:
            return values
        return float(np.average(values, weights=sample_weight))

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
        check_is_fitted(self)
        X = validate_data(self, X, accept_sparse=["csr", "csc"],
                          dtype=[np.float64, np.float32], reset=False)
        raw = self._raw_prediction(X)
        mean = raw[:, 0].copy()
        if not return_std:
            return mean
        if raw.shape[1] == 1:
            return mean, np.ones_like(mean)
        # sigma(x) saturates at the smallest/largest positive doubles instead of
        # reaching 0 or inf, so that intervals and densities stay defined.
        tiny, huge = np.finfo(float).tiny, np.finfo(float).max
        log_std = np.clip(raw[:, 1], np.log(tiny), np.log(huge))
        std = np.clip(np.exp(log_std), tiny, huge)
        return mean, std
