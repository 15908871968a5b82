"""MLEClassifier: Bernoulli (sigmoid) and categorical (softmax) maximum likelihood."""

import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from ._base import (FitWeights, ensure_layout, feature_labels, fit_linear_model,
                    information_criteria, kernels_own_the_cores, output_covariance,
                    total_log_likelihood)
from ._inference import (InferenceSummary, common_notes_and_statistics,
                         require_covariance, title_kind)
from ._linear import LinearModel
from ._loss import BernoulliLoss, CategoricalLoss
from ._unbounded import (FALLBACK_TOL_FACTOR, SEPARATION_FALLBACK_RIDGE, UnboundedLikelihoodWarning,
                         find_separation, separation_message, separation_symptom)


#: Labels encoded at a time (bounds the integer temporaries of the search).
_ENCODE_CHUNK = 65536


def encode_labels(y, classes):
    """Index of each label in the sorted ``classes``, as float64 (the kernels' label
    type), without a full-size integer temporary."""
    encoded = np.empty(y.shape[0])
    for start in range(0, y.shape[0], _ENCODE_CHUNK):
        stop = start + _ENCODE_CHUNK
        encoded[start:stop] = np.searchsorted(classes, y[start:stop])
    return encoded


class MLEClassifier(ClassifierMixin, BaseEstimator):
    r"""Logistic (Bernoulli) and multinomial (softmax) regression by maximum likelihood.

    The model is ``p(y = 1 | x) = sigmoid(x @ coef_[0] + intercept_[0])`` for two
    classes and ``p(y = k | x) = softmax(X @ coef_.T + intercept_)_k`` for more.  The
    fit minimises exactly

    .. math::

        \frac{1}{\sum_i s_i} \sum_i s_i \, \mathrm{NLL}_i
        + \frac{\alpha}{2} \lVert \mathrm{coef} \rVert^2 ,

    where ``s_i`` are the sample weights (times the class weights), ``NLL_i =
    -log p(y_i | x_i)`` is the cross-entropy of sample ``i`` and intercepts are never
    penalised.  This is scikit-learn's ``LogisticRegression(C=1 / (alpha * n))`` for
    unit weights.  The optimiser is SciPy's L-BFGS run in coordinates whitened by the
    Hessian at the start, so unscaled data need no preprocessing.

    Parameters
    ----------
    alpha : float, default=0.0
        L2 penalty strength on the coefficients.  ``alpha=0`` is the plain maximum
        likelihood estimate, which does not exist when the classes are separable.
    fit_intercept : bool, default=True
        Whether to estimate an intercept per class (unpenalised).
    class_weight : dict, "balanced" or None, default=None
        Weights multiplying the sample weights of each class.
    max_iter : int, default=1000
        Maximum number of L-BFGS iterations.
    tol : float, default=1e-7
        Stop when the largest component of the preconditioned gradient is below tol.
    warm_start : bool, default=False
        Start from the previous fit's coefficients when shapes allow.
    verbose : int, default=0
        Progress on stdout: 1 prints one line per iteration and why the fit stopped;
        2 adds timings and other detail for diagnosing a slow fit; 0 is silent.
    inference : bool, default=False
        Also compute the covariance of the estimates (inverse observed information)
        and their standard errors, for :meth:`summary`.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels, sorted.
    coef_ : ndarray of shape (1, n_features) or (n_classes, n_features)
        Coefficients; one row for two classes (the logit of ``classes_[1]``).
    intercept_ : ndarray of shape (1,) or (n_classes,)
        Intercepts.
    n_iter_ : int
        Number of L-BFGS iterations.
    mle_exists_ : bool
        False when ``alpha=0`` and the classes are separable, so the likelihood has no
        maximum (an :class:`UnboundedLikelihoodWarning` is emitted).  The returned
        coefficients then minimise the objective plus a ridge of ``1e-4`` in the data's
        Fisher metric at the start: finite, reproducible, arbitrary in scale.
    loglik_ : float
        Total log-likelihood ``sum_i s_i log p(y_i | x_i)`` of the training data at the
        fitted parameters, with the user's sample weights (class weights excluded).
    aic_, bic_ : float
        Akaike and Bayesian information criteria from ``loglik_`` and the number of
        free parameters (coefficients and intercepts; BIC uses the sum of weights).
    covariance_ : ndarray of shape (n_out, n_out)
        With ``inference=True``: covariance of ``(coef_.ravel(), intercept_)``, the
        inverse observed Fisher information at the estimate (penalised when alpha > 0).
        Aliased parameters (collinear or constant columns, the reference class) are NaN.
    coef_se_ : ndarray of the shape of ``coef_``
        With ``inference=True``: standard errors of ``coef_``.
    intercept_se_ : ndarray of the shape of ``intercept_``
        With ``inference=True``: standard errors of ``intercept_``.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Feature names, when X has string column names.

    Notes
    -----
    With more than two classes the softmax is unchanged when the same vector is added
    to every class's scores, so a convention fixes the coefficients:

    * ``alpha = 0``: the first class in ``classes_`` is the reference; its row of
      ``coef_`` and its intercept are zero and every other row is the log-odds against
      it (the parametrisation of statsmodels' ``MNLogit``).
    * ``alpha > 0``: the penalty identifies the coefficients, whose rows then sum to
      zero; the intercepts are shifted to sum to zero.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn_mle import MLEClassifier
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> clf = MLEClassifier(alpha=1e-3).fit(X, y)
    >>> clf.coef_.shape
    (1, 30)
    >>> round(clf.score(X, y), 3)
    0.96
    >>> clf.predict_proba(X[:2]).sum(axis=1)
    array([1., 1.])
    """

    _parameter_constraints: dict = {
        "alpha": [Interval(Real, 0, None, closed="left")],
        "fit_intercept": ["boolean"],
        "class_weight": [dict, StrOptions({"balanced"}), None],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="neither")],
        "warm_start": ["boolean"],
        "verbose": ["verbose"],
        "inference": ["boolean"],
    }

    def __init__(self, *, alpha=0.0, fit_intercept=True, class_weight=None, max_iter=1000,
                 tol=1e-7, warm_start=False, verbose=0, inference=False):
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.class_weight = class_weight
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
    def _build_model(self, n_features, n_classes):
        if n_classes == 2:
            loss = BernoulliLoss()
            return LinearModel(loss, n_features, [True], [self.fit_intercept])
        loss = CategoricalLoss(n_classes)
        coef_free = np.ones(n_classes, dtype=bool)
        intercept_free = np.full(n_classes, self.fit_intercept)
        # Fix the shift of the softmax: class 0 is the reference for whatever the
        # penalty does not identify (all parameters at alpha=0, intercepts otherwise).
        intercept_free[0] = False
        if self.alpha == 0:
            coef_free[0] = False
        return LinearModel(loss, n_features, coef_free, intercept_free)

    def _start(self, model, y_encoded, weights):
        """Starting parameters and the constant raw prediction they correspond to."""
        n_raw = model.loss.n_raw
        if self.fit_intercept:
            start_raw = model.loss.constant_raw_prediction(y_encoded, weights)
            if n_raw > 1:
                start_raw = start_raw - start_raw[0]
        else:
            start_raw = np.zeros(n_raw)
        coef = np.zeros((n_raw, model.n_features))
        intercept = start_raw.copy()
        if (self.warm_start and hasattr(self, "coef_")
                and self.coef_.shape == (n_raw, model.n_features)):
            coef = self.coef_ - (self.coef_[0] if (n_raw > 1 and self.alpha == 0) else 0.0)
            if self.fit_intercept:
                intercept = self.intercept_ - (self.intercept_[0] if n_raw > 1 else 0.0)
        return model.pack(coef, intercept), start_raw

    # ---------------------------------------------------------------------- API
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the model by maximum (penalised) likelihood.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data; CSR/CSC matrices are used without densifying.
        y : array-like of shape (n_samples,)
            Class labels of any type (at least two distinct classes).
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights; integer weights act as repeated rows.

        Returns
        -------
        self : MLEClassifier
            The fitted estimator.
        """
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"],
                             dtype=[np.float64, np.float32])
        X = ensure_layout(X)
        with kernels_own_the_cores(X):
            return self._fit_validated(X, y, sample_weight)

    def _fit_validated(self, X, y, sample_weight):
        """The fit on validated data (see :meth:`fit`)."""
        check_classification_targets(y)
        self.classes_ = np.unique(y)
        n_classes = self.classes_.size
        if n_classes < 2:
            raise ValueError(
                "MLEClassifier needs samples of at least 2 classes in the data, but the "
                f"data contain only one class: {self.classes_[0]!r}."
            )
        y_encoded = encode_labels(y, self.classes_)
        fit_weights = FitWeights(
            sample_weight, X, extra=None if self.class_weight is None
            else compute_sample_weight(self.class_weight, y))
        weights = fit_weights.normalised

        model = self._build_model(X.shape[1], n_classes)
        theta0, start_raw = self._start(model, y_encoded, weights)
        fit_options = dict(tol=self.tol, max_iter=self.max_iter, verbose=self.verbose,
                           estimator_name="MLEClassifier")
        result = fit_linear_model(model, X, y_encoded, weights, self.alpha, theta0,
                                  start_raw, **fit_options)
        self.mle_exists_ = True
        if self.alpha == 0:
            coef, intercept = model.unpack(result.theta)
            proba = model.loss.proba(model.raw_prediction(X, coef, intercept))
            if separation_symptom(proba, y_encoded, weights):
                separated = find_separation(X, y_encoded, weights, n_classes,
                                            self.fit_intercept)
                if separated is not None:
                    self.mle_exists_ = False
                    warnings.warn(
                        separation_message("MLEClassifier", self.classes_, y_encoded,
                                           separated),
                        UnboundedLikelihoodWarning, stacklevel=4)
                    theta0, start_raw = self._start(model, y_encoded, weights)
                    fit_options["tol"] = self.tol * FALLBACK_TOL_FACTOR
                    result = fit_linear_model(
                        model, X, y_encoded, weights, self.alpha, theta0, start_raw,
                        fallback_ridge=SEPARATION_FALLBACK_RIDGE, **fit_options)
        coef, intercept = model.unpack(result.theta)
        if n_classes > 2 and self.alpha > 0 and self.fit_intercept:
            intercept = intercept - intercept.mean()
        self.coef_ = coef
        self.intercept_ = intercept
        self.n_iter_ = result.n_iter
        self._set_likelihood_attributes(model, X, y_encoded, fit_weights)
        self._n_obs = fit_weights.total
        self._n_params = model.n_params
        for name in ("covariance_", "coef_se_", "intercept_se_"):
            if hasattr(self, name):
                delattr(self, name)
        if self.inference:
            centre = n_classes > 2 and self.alpha > 0 and self.fit_intercept

            def to_output(theta):
                out_coef, out_intercept = model.unpack(theta)
                if centre:
                    out_intercept = out_intercept - out_intercept.mean()
                return np.concatenate([out_coef.ravel(), out_intercept])

            covariance, aliased = output_covariance(
                model, X, y_encoded, weights, fit_weights.fit_total, self.alpha,
                result.theta, to_output)
            # Parameters fixed by the convention (reference class) have no variance.
            fixed = np.concatenate([np.repeat(~model.coef_free, X.shape[1]),
                                    ~model.intercept_free & (not centre)])
            covariance[fixed, :] = np.nan
            covariance[:, fixed] = np.nan
            self._aliased = aliased
            self.covariance_ = covariance
            se = np.sqrt(np.diag(covariance))
            self.coef_se_ = se[:coef.size].reshape(coef.shape)
            self.intercept_se_ = se[coef.size:]
        return self

    def summary(self, coverage=0.95):
        """Table of estimates, standard errors, z, p-values and confidence intervals.

        Requires a fit with ``inference=True``.

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
        >>> from sklearn.datasets import load_breast_cancer
        >>> from sklearn_mle import MLEClassifier
        >>> X, y = load_breast_cancer(return_X_y=True, as_frame=True)
        >>> clf = MLEClassifier(inference=True).fit(X[["mean radius", "mean texture"]], y)
        >>> table = clf.summary()
        >>> table.names
        ['mean radius', 'mean texture', 'intercept']
        >>> bool(table.p_value[0] < 1e-10)
        True
        """
        check_is_fitted(self)
        require_covariance(self)
        features = feature_labels(self, self.coef_.shape[1])
        if self.coef_.shape[0] == 1:
            names = features + ["intercept"]
        else:
            names = [f"{_plain(label)}:{feature}" for label in self.classes_
                     for feature in features]
            names += [f"{_plain(label)}:intercept" for label in self.classes_]
        estimate = np.concatenate([self.coef_.ravel(), self.intercept_])
        std_err = np.concatenate([self.coef_se_.ravel(), self.intercept_se_])
        notes, statistics = common_notes_and_statistics(self, "separated classes")
        if self.coef_.shape[0] > 1 and self.alpha == 0:
            notes.insert(0, f"class {_plain(self.classes_[0])!r} is the reference: its "
                         "parameters are 0 by convention (no standard error).")
        keep = ~(np.isnan(std_err) & (estimate == 0)) if self.alpha == 0 else slice(None)
        names = list(np.asarray(names, dtype=object)[keep])
        return InferenceSummary("MLEClassifier: " + title_kind(self.alpha), names,
                                estimate[keep], std_err[keep], statistics, notes,
                                coverage=coverage)

    def log_likelihood(self, X, y, sample_weight=None, per_sample=False):
        """Log-likelihood of labelled data under the fitted model.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.
        y : array-like of shape (n_samples,)
            Their labels (classes seen in fit).
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
        >>> from sklearn.datasets import load_iris
        >>> from sklearn_mle import MLEClassifier
        >>> X, y = load_iris(return_X_y=True)
        >>> clf = MLEClassifier(alpha=0.01).fit(X, y)
        >>> bool(clf.log_likelihood(X, y) < 0)
        True
        """
        log_proba = self.predict_log_proba(X)
        y = np.asarray(y)
        index = np.searchsorted(self.classes_, y)
        index = np.clip(index, 0, self.classes_.size - 1)
        if y.shape[0] != log_proba.shape[0] or not np.all(self.classes_[index] == y):
            raise ValueError("y must have one label per sample, all among classes_ "
                             f"{list(self.classes_)}.")
        values = log_proba[np.arange(y.shape[0]), index]
        if per_sample:
            return values
        return float(np.average(values, weights=sample_weight))

    def _set_likelihood_attributes(self, model, X, y_encoded, fit_weights):
        self.loglik_ = total_log_likelihood(model, X, y_encoded, self.coef_,
                                            self.intercept_, fit_weights)
        self.aic_, self.bic_ = information_criteria(
            self.loglik_, model.n_params, fit_weights.total)

    def _loss(self):
        return BernoulliLoss() if self.classes_.size == 2 else CategoricalLoss(
            self.classes_.size)

    def decision_function(self, X):
        """Raw predictions: the logit of ``classes_[1]``, or one score per class.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
            Linear predictor values.
        """
        check_is_fitted(self)
        X = validate_data(self, X, accept_sparse=["csr", "csc"],
                          dtype=[np.float64, np.float32], reset=False)
        model = LinearModel(self._loss(), X.shape[1],
                            np.ones(self.coef_.shape[0], bool),
                            np.ones(self.coef_.shape[0], bool))
        raw = model.raw_prediction(ensure_layout(X), self.coef_, self.intercept_)
        return raw[:, 0] if raw.shape[1] == 1 else raw

    def predict_log_proba(self, X):
        """Log-probability of each class, computed by log-sum-exp (never log of a probability).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
            Columns follow ``classes_``.
        """
        check_is_fitted(self)
        return self._loss().log_proba(self.decision_function(X))

    def predict_proba(self, X):
        """Probability of each class; rows sum to one.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Columns follow ``classes_``.
        """
        check_is_fitted(self)
        return self._loss().proba(self.decision_function(X))

    def predict(self, X):
        """Most probable class label.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            Predicted class labels.
        """
        scores = self.decision_function(X)
        if scores.ndim == 1:
            return self.classes_[(scores > 0).astype(np.intp)]
        return self.classes_[np.argmax(scores, axis=1)]


def _plain(label):
    """A class label as a plain Python value (for names and messages)."""
    return label.item() if hasattr(label, "item") else label
