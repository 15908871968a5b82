"""MLERegressor: Gaussian maximum likelihood with fixed, constant or x-dependent variance."""

import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from ._base import (ensure_layout, fit_linear_model, information_criteria,
                    normalised_sample_weight, total_log_likelihood)
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
        Print the optimiser's progress when positive.

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
    }

    def __init__(self, *, variance="constant", alpha=0.0, fit_intercept=True, max_iter=1000,
                 tol=1e-7, warm_start=False, verbose=0):
        self.variance = variance
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.max_iter = max_iter
        self.tol = tol
        self.warm_start = warm_start
        self.verbose = verbose

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

    def _start(self, model, y, weights):
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
        y = np.ascontiguousarray(y, dtype=np.float64)
        sample_weight, weights = normalised_sample_weight(sample_weight, X)
        model = self._build_model(X.shape[1])
        theta0, start_raw = self._start(model, y, weights)
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
            collapsed = find_variance_collapse(X, y, weights, raw[:, 0], raw[:, 1],
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
                    UnboundedLikelihoodWarning, stacklevel=2)
                fit_options["tol"] = self.tol * FALLBACK_TOL_FACTOR
                result = fit_linear_model(
                    model, X, y, weights, self.alpha, theta0, start_raw,
                    fallback_ridge=VARIANCE_COLLAPSE_FALLBACK_RIDGE, **fit_options)
        coef, intercept = model.unpack(result.theta)
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
        raw = model.raw_prediction(X, coef, intercept)
        self.loglik_ = total_log_likelihood(model.loss, y, raw, sample_weight)
        self.aic_, self.bic_ = information_criteria(
            self.loglik_, model.n_params, sample_weight.sum())
        return self

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
        with np.errstate(over="ignore"):
            std = np.exp(raw[:, 1])
        return mean, std
