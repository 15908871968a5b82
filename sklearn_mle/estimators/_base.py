"""The estimator base shared by MLEClassifier and MLERegressor.

One place for what every maximum-likelihood estimator does the same way: the common
parameters and their validation, input checks, the fit sequence

    fit -> existence check (alpha = 0) -> warning -> fallback fit,

and the clean-up of attributes a previous fit left behind.  The estimators supply
what differs: the model and family, how existence is decided, the fallback, the
likelihood attributes and the summary.
"""

import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, _fit_context
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted, validate_data

from .._threads import ensure_layout, kernels_own_the_cores
from ..existence._unbounded import UnboundedLikelihoodWarning
from ..solver._fit import fit_model

#: Frames from a warning issued by :meth:`MLEstimator._fit_checked` up to the caller
#: of ``fit``: _fit_checked, the estimator's _fit_validated, fit, scikit-learn's fit
#: wrapper.
_FIT_STACKLEVEL = 5


class MLEstimator(BaseEstimator):
    """Base class of the maximum-likelihood estimators (not used directly).

    Subclasses define ``_fit_validated(X, y, sample_weight)`` and, for the shared fit
    sequence, ``_find_unbounded``, ``_unbounded_message`` and ``_fallback_fit``.
    """

    #: Constraints of the parameters every estimator has.
    _common_parameter_constraints: dict = {
        "alpha": [Interval(Real, 0, None, closed="left")],
        "fit_intercept": ["boolean"],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="neither")],
        "warm_start": ["boolean"],
        "verbose": ["verbose"],
    }
    #: How the progress report names a successful existence check.
    _exists_label = "MLE exists"
    #: Whether fit's y must be numeric (regression) or any labels (classification).
    _numeric_target = True

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the model by maximum (penalised) likelihood.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data; CSR/CSC matrices are used without densifying.
        y : array-like of shape (n_samples,)
            Targets: class labels of any type for the classifier; for the regressor,
            values in the distribution's domain (real numbers for the Gaussian and
            Student-t, non-negative counts for the Poisson and negative binomial,
            positive values for the Gamma, proportions in [0, 1] for the binomial).
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights; integer weights act as repeated rows.  For the
            binomial, the number of trials behind each proportion.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"],
                             dtype=[np.float64, np.float32],
                             y_numeric=self._numeric_target)
        X = ensure_layout(X)
        with kernels_own_the_cores(X):
            return self._fit_validated(X, y, sample_weight)

    def _validated_input(self, X):
        """X checked against the fit (features, dtype) for prediction."""
        check_is_fitted(self)
        X = validate_data(self, X, accept_sparse=["csr", "csc"],
                          dtype=[np.float64, np.float32], reset=False)
        return ensure_layout(X)

    def _forget(self, names):
        """Remove fitted attributes a previous fit set and this one may not."""
        for name in names:
            if hasattr(self, name):
                delattr(self, name)

    def _fit_checked(self, model, X, y, weights, theta0, start_raw, fit_options):
        """Fit, then (at ``alpha = 0``) check that the MLE exists; if it does not,
        warn with :class:`UnboundedLikelihoodWarning` and return the fallback fit.

        Sets ``mle_exists_``.  Warnings of the first fit (e.g. a ConvergenceWarning
        of an iterate running off to infinity) are passed on only when the MLE
        exists: otherwise the diagnosis says what happened.  Returns the solver's
        result and the diagnosis (None when the MLE exists).
        """
        check = self.alpha == 0
        with warnings.catch_warnings(record=check) as caught:
            result = fit_model(model, X, y, weights, self.alpha, theta0, start_raw,
                               extra_frames=1, **fit_options)
        self.mle_exists_ = True
        if not check:
            return result, None
        with fit_options["progress"].timed("existence check") as section:
            diagnosis = self._find_unbounded(model, X, y, weights, result)
            section.outcome = (self._exists_label if diagnosis is None else
                               f"likelihood unbounded: {self._diagnosis_label(diagnosis)}")
        if diagnosis is None:
            for warning in caught:
                warnings.warn_explicit(warning.message, warning.category,
                                       warning.filename, warning.lineno)
            return result, None
        self.mle_exists_ = False
        warnings.warn(self._unbounded_message(model, y, weights, diagnosis),
                      UnboundedLikelihoodWarning, stacklevel=_FIT_STACKLEVEL)
        return self._fallback_fit(model, X, y, weights, theta0, start_raw, fit_options,
                                  diagnosis, result), diagnosis

    def _diagnosis_label(self, diagnosis):
        """A few words on the diagnosis, for the progress report."""
        return type(diagnosis).__name__.lower()
