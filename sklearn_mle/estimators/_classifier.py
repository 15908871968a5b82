"""MLEClassifier: Bernoulli (sigmoid) and categorical (softmax) maximum likelihood.

A thin estimator over the linear model of :mod:`sklearn_mle.models`, the separation
check and fallback of :mod:`sklearn_mle.existence` and the report of
:mod:`sklearn_mle.report`.
"""

import numpy as np
from sklearn.base import ClassifierMixin, _fit_context
from sklearn.metrics import accuracy_score
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from .._plain import plain
from ..existence._fallback import diagnose_classes, fit_separated
from ..existence._separation import separation_message
from ..models._dask import place_model
from ..models._linear_layouts import (classification_family, classification_model,
                                      classification_start, prediction_model)
from ..models._network import classification_network
from ..report._likelihood import set_class_likelihood
from ..report._parameters import set_layer_attributes
from ..report._robust import ROBUST_KINDS
from ..report._summary_parts import classification_summary_parts
from ..solver._weights import FitWeights
from ._base import MLEstimator
from ._dask_input import lazy_on_dask
from ._offset import validated_class_offset

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


class MLEClassifier(ClassifierMixin, MLEstimator):
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
    inference : bool or {"hc0", "hc1", "hc2", "hc3", "cluster"}, default=False
        Also compute the covariance of the estimates and their standard errors, for
        :meth:`summary`.  True: the inverse observed information (penalised at
        ``alpha > 0``).  The robust (sandwich) covariances, statsmodels' ``cov_type``
        names: ``H^-1 M H^-1`` on that bread ``H^-1``, with ``M`` the sum of the
        outer products of the per-sample scores (sample and class weights multiply
        them).  ``"hc0"``: as it is; ``"hc1"``: times ``n / (n - k)``; ``"hc2"``,
        ``"hc3"``: each score divided by ``(1 - h_i)^(1/2)``, ``(1 - h_i)`` with the
        leverage ``h_i`` of sample ``i`` (its block of the hat matrix in the Fisher
        metric, over the classes' scores); ``"cluster"``: scores summed within the
        clusters that ``fit(..., groups=)`` gives, times ``G / (G - 1) (n - 1) / (n -
        k)``.  ``n`` counts the samples with a positive weight, ``G`` their clusters,
        ``k`` the identified parameters.  Tests and intervals are Wald z tests on
        the robust covariance (see the user guide's "Robust standard errors").
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
    classes_ : ndarray of shape (n_classes,)
        Class labels, sorted.
    coef_ : ndarray of shape (1, n_features) or (n_classes, n_features)
        Coefficients; one row for two classes (the logit of ``classes_[1]``).
    intercept_ : ndarray of shape (1,) or (n_classes,)
        Intercepts.
    n_iter_ : int
        Number of L-BFGS iterations.
    mle_exists_ : bool or None
        False when ``alpha=0`` and the classes are (quasi-)separable, so the likelihood
        has no maximum (an :class:`UnboundedLikelihoodWarning` is emitted).  Existence
        is first certified from the fit itself (a Newton step too small to move any
        sample's margin, which by Stiemke's theorem rules separation out); only when
        the certificate fails does a linear program look for the largest separable
        set.  The returned model is then the MLE of the likelihood that remains (the
        samples and classes not separated) plus the separating direction, scaled so
        that every separated pair has a logit margin of at least 20: it classifies
        every separated training sample correctly.
        A network fit (``hidden_layer_sizes``) cannot be certified: None unless it
        shows divergence (then False, with the warning).
    separated_samples_ : ndarray of int
        Indices of the training samples separated from at least one other class
        (empty when the MLE exists or ``alpha > 0``).
    separated_class_pairs_ : list of tuple
        ``(own class, other class)`` label pairs separated by a linear function of X
        (a pair separated both ways appears both ways round); the warning of ``fit``
        names the first few.
    loglik_ : float
        Total log-likelihood ``sum_i s_i log p(y_i | x_i)`` of the training data at the
        fitted parameters, with the user's sample weights (class weights excluded).
    loglik_null_ : float
        Log-likelihood of the null model, fitted exactly: with intercepts, the weighted
        class frequencies on every sample; without, ``1 / n_classes`` for each class.
    aic_, bic_ : float
        Akaike and Bayesian information criteria from ``loglik_`` and the number of
        identified parameters, ``(n_classes - 1) * rank([X, 1])`` (``rank(X)`` without
        intercept): aliased parameters (collinear or constant columns) do not count,
        nor does the softmax's redundant class, as in statsmodels.  BIC uses the sum
        of the sample weights.  With more than 3000 parameters the rank is not
        computed and every column counts.
    df_model_ : int
        Identified parameters beyond those of the null model (statsmodels'
        ``df_model``); the degrees of freedom of the likelihood-ratio test.
    df_resid_ : float
        Sum of the sample weights minus the identified parameters.
    converged_ : bool
        Whether the solver met ``tol`` (when False a ``ConvergenceWarning`` was
        emitted and the summary says so).
    covariance_ : ndarray of shape (n_out, n_out)
        With ``inference`` set: covariance of ``(coef_.ravel(), intercept_)``, the
        inverse observed Fisher information at the estimate (penalised when alpha > 0),
        or the robust sandwich of a robust ``inference``.  Aliased parameters
        (collinear or constant columns, the reference class) are NaN.
    coef_se_ : ndarray of the shape of ``coef_``
        With ``inference`` set: standard errors of ``coef_``.
    intercept_se_ : ndarray of the shape of ``intercept_``
        With ``inference`` set: standard errors of ``intercept_``.
    n_groups_ : int
        With ``inference="cluster"``: the number of clusters (among the samples with a
        positive weight).
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
        **MLEstimator._common_parameter_constraints,
        "class_weight": [dict, StrOptions({"balanced"}), None],
        "inference": ["boolean", StrOptions(set(ROBUST_KINDS))],
        **MLEstimator._network_parameter_constraints,
    }
    _numeric_target = False
    #: How the progress report names a successful existence check.
    _exists_label = "MLE exists (certified)"

    def __init__(self, *, alpha=0.0, fit_intercept=True, class_weight=None, max_iter=1000,
                 tol=1e-7, warm_start=False, verbose=0, inference=False,
                 hidden_layer_sizes=(), activation="relu", random_state=None):
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.class_weight = class_weight
        self.max_iter = max_iter
        self.tol = tol
        self.warm_start = warm_start
        self.verbose = verbose
        self.inference = inference
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.random_state = random_state

    def _model(self, n_classes, X, offset=None):
        """The one place the model is chosen: the network of ``hidden_layer_sizes``,
        or the linear model (each with the training ``offset``)."""
        hidden = self._hidden_layers()
        if hidden:
            return classification_network(classification_family(n_classes), X.shape[1],
                                          self.fit_intercept, hidden, self.activation,
                                          offset)
        return place_model(classification_model(X.shape[1], n_classes,
                                                self.fit_intercept, self.alpha, offset), X)

    def _start(self, model, y_encoded, weights):
        """Starting parameters (see :meth:`MLEstimator._start_parameters`; class 0
        the reference where the fit fixes it) and the constant raw prediction they
        correspond to."""
        n_raw = model.loss.n_raw
        start_raw = classification_start(model, y_encoded, weights, self.fit_intercept)

        def with_reference(coef, intercept):
            coef = coef - (coef[0] if (n_raw > 1 and self.alpha == 0) else 0.0)
            if not self.fit_intercept:
                return coef, start_raw.copy()
            return coef, intercept - (intercept[0] if n_raw > 1 else 0.0)
        return (self._start_parameters(model, start_raw, self.warm_start,
                                       with_reference), start_raw)

    # ---------------------------------------------------------------------- fit
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, groups=None, offset=None):
        """Fit the model by maximum (penalised) likelihood.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data; CSR/CSC matrices are used without densifying.
        y : array-like of shape (n_samples,)
            Class labels of any type.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights; integer weights act as repeated rows.  In a robust
            covariance (``inference="hc0"`` ... ``"cluster"``) they multiply each
            sample's score, as a precision or sampling weight (statsmodels' ``WLS``
            and GLM ``var_weights``, R's ``sandwich``, Stata's ``pweight``), not as a
            count of independent repeated rows.
        groups : array-like of shape (n_samples,), default=None
            Cluster label of each sample (integers, strings, any sortable type), for
            ``inference="cluster"``, which requires it; any other ``inference``
            rejects it.  In a :class:`~sklearn.pipeline.Pipeline` pass it as
            ``<step>__groups``.
        offset : array-like of shape (n_samples,) or (n_samples, n_classes), \
default=None
            A known term with coefficient 1, as R's ``glm(..., offset=)``,
            statsmodels' ``Logit(..., offset=)`` and ``nnet::multinom``'s matrix
            offset.  Two classes: shape (n_samples,), added to the logit of
            ``classes_[1]``; an (n_samples, 2) offset, one column per class, is
            taken as the logit offset ``offset[:, 1] - offset[:, 0]`` (the same
            softmax).  More classes: shape (n_samples, n_classes), added to each
            class's score (columns in the order of ``classes_``); a 1-D offset is
            refused, since a term added to every class's score cancels in the
            softmax.  ``loglik_``, AIC, BIC, the null model (the intercept-only fit
            with the same offset, or the offset alone without intercept), the
            standard errors and the existence check include it.  Predictions take
            their own ``offset`` (0 when not given).

        Returns
        -------
        self : object
            The fitted estimator.

        Examples
        --------
        A logit with a known term: the rest of the model is fitted around it.

        >>> import numpy as np
        >>> from sklearn_mle import MLEClassifier
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(4000, 1))
        >>> known = rng.normal(size=4000)
        >>> y = rng.random(4000) < 1 / (1 + np.exp(-(0.5 + X[:, 0] + known)))
        >>> clf = MLEClassifier().fit(X, y, offset=known)
        >>> print(np.round(clf.coef_, 1), np.round(clf.intercept_, 1))
        [[1.]] [0.5]
        >>> clf.predict_proba(X[:1], offset=[0.0]).round(3)  # at offset 0
        array([[0.357, 0.643]])
        """
        return self._fit(X, y, sample_weight, groups, offset=offset)

    def _fit_validated(self, X, y, sample_weight, codes=None, offset=None):
        """The fit on validated data (see :meth:`fit`); ``codes`` are the clusters of
        ``inference="cluster"``."""
        check_classification_targets(y)
        self.classes_ = np.unique(y)
        n_classes = self.classes_.size
        if n_classes < 2:
            raise ValueError(
                "MLEClassifier needs samples of at least 2 classes in the data, but the "
                f"data contain only one class: {plain(self.classes_[0])!r}.")
        y_encoded = encode_labels(y, self.classes_)
        offset = validated_class_offset(offset, X.shape[0], n_classes)
        fit_weights = FitWeights(
            sample_weight, X, extra=None if self.class_weight is None
            else compute_sample_weight(self.class_weight, y))
        weights = fit_weights.normalised
        self.separated_samples_ = np.empty(0, dtype=np.intp)
        self.separated_class_pairs_ = []
        model = self._model(n_classes, X, offset)
        theta0, start_raw = self._start(model, y_encoded, weights)
        model, result = self._fit_model(model, X, y_encoded, weights, theta0, start_raw,
                                        self._fit_options())
        centre = n_classes > 2 and self.alpha > 0 and self.fit_intercept
        if model.has_coefficients:
            coef, intercept = model.unpack(result.theta)
            if centre:
                intercept = intercept - intercept.mean()
            self.coef_, self.intercept_ = coef, intercept
            predictor = prediction_model(model.loss, X.shape[1])
            self._predictor = (predictor, predictor.pack(coef, intercept))
        else:
            self._predictor = (model, result.theta)
        set_layer_attributes(self, model, result.theta)
        self.n_iter_ = result.n_iter
        self._forget(("covariance_", "coef_se_", "intercept_se_", "n_groups_"))
        with self._attributes_timed():
            set_class_likelihood(self, model, X, y_encoded, fit_weights, result,
                                 n_classes)
            if self.inference:
                self._set_inference(model, X, y_encoded, fit_weights, result.theta,
                                    centre, codes)
        return self

    def _set_inference(self, model, X, y_encoded, fit_weights, theta, centre, codes):
        """``covariance_`` of ``(coef_.ravel(), intercept_)``, ``coef_se_`` and
        ``intercept_se_``; the parameters the convention fixes (reference class) are
        NaN."""
        def to_output(theta):
            out_coef, out_intercept = model.unpack(theta)
            if centre:
                out_intercept = out_intercept - out_intercept.mean()
            return np.concatenate([out_coef.ravel(), out_intercept])

        covariance = self._covariance(model, X, y_encoded, fit_weights.normalised,
                                      fit_weights.fit_total, theta, to_output, codes)
        fixed = np.concatenate([np.repeat(~model.coef_free, X.shape[1]),
                                ~model.intercept_free & (not centre)])
        covariance[fixed, :] = np.nan
        covariance[:, fixed] = np.nan
        self.covariance_ = covariance
        se = np.sqrt(np.diag(covariance))
        self.coef_se_ = se[:self.coef_.size].reshape(self.coef_.shape)
        self.intercept_se_ = se[self.coef_.size:]

    # ------------------------------------------ existence (see MLEstimator)
    def _find_unbounded(self, model, X, y_encoded, weights, result):
        return diagnose_classes(model, X, y_encoded, weights, result, self.classes_.size,
                                self.fit_intercept)

    def _diagnosis_label(self, separation):
        return f"classes separated ({separation.separated_samples.size} samples)"

    def _unbounded_message(self, model, y_encoded, weights, separation):
        return separation_message("MLEClassifier", self.classes_, y_encoded, weights,
                                  separation)

    def _fallback_fit(self, model, X, y_encoded, weights, theta0, start_raw, fit_options,
                      separation, result):
        result, separation = fit_separated(model, X, y_encoded, weights, separation,
                                           fit_options, result, self._start,
                                           self.classes_.size, self.fit_intercept)
        self.separated_samples_ = separation.separated_samples
        self.separated_class_pairs_ = [
            (plain(self.classes_[c]), plain(self.classes_[k]))
            for c, k in separation.class_pairs(y_encoded.astype(np.intp))]
        return result

    # ------------------------------------------------------------------ report
    def summary(self, coverage=0.95, feature_names=None):
        """Fit statistics and the table of estimates, standard errors, Wald z tests and
        confidence intervals, laid out as statsmodels' ``Logit``/``MNLogit`` summary.

        Requires a fit with ``inference`` set.  The header names the dependent
        variable (the ``name`` of y when fit was given a pandas Series, else "y"), the
        distribution and which probability is modelled, and gives the number of
        observations, the degrees of freedom, the convergence flag, the
        log-likelihood, the null (intercept-only) log-likelihood with the
        likelihood-ratio test's p-value, McFadden's pseudo-R² ``1 - loglik_ /
        loglik_null_``, AIC and BIC.

        Parameters
        ----------
        coverage : float, default=0.95
            Coverage of the Wald confidence intervals, in (0, 1).
        feature_names : array-like of str of shape (n_features_in_,), default=None
            Names of the features, for the rows (with more than two classes, the
            per-class rows ``<class>:<feature>``); they override
            ``feature_names_in_``.  None: ``feature_names_in_`` when X had string
            column names, else ``x0``, ``x1``, ...  Inside a fitted ``Pipeline``,
            whose last step sees only the previous step's output, pass
            ``pipeline[:-1].get_feature_names_out()``.

        Returns
        -------
        summary : InferenceSummary
            Printable table; ``.to_frame()`` gives the parameter table as a pandas
            DataFrame, ``.statistics`` the header's numbers.

        Examples
        --------
        >>> from sklearn.datasets import load_breast_cancer
        >>> from sklearn_mle import MLEClassifier
        >>> X, y = load_breast_cancer(return_X_y=True, as_frame=True)
        >>> clf = MLEClassifier(inference=True).fit(X[["mean radius", "mean texture"]], y)
        >>> table = clf.summary()
        >>> table.names
        ['mean radius', 'mean texture', 'intercept']
        >>> print(table)  # doctest: +NORMALIZE_WHITESPACE
                          MLEClassifier: maximum-likelihood estimates
        ===============================================================================
        Dep. Variable:                  target   No. Observations:                  569
        Model:                   MLEClassifier   Df Residuals:                      566
        Distribution:   Bernoulli (logit link)   Df Model:                            2
        Modelled:                     P(y = 1)   Pseudo R-squ.:                  0.6126
        Method:             Maximum likelihood   Log-Likelihood:                -145.56
        Converged:                        True   LL-Null:                       -375.72
        Covariance:         inv. observed info   LLR p-value:                1.105e-100
                                                 AIC:                             297.1
                                                 BIC:                             310.2
        ===============================================================================
                            coef    std err          z      P>|z|     [0.025     0.975]
        -------------------------------------------------------------------------------
        mean radius      -1.0571      0.101    -10.417      0.000     -1.256     -0.858
        mean texture     -0.2181      0.037     -5.885      0.000     -0.291     -0.145
        intercept        19.8494      1.774     11.189      0.000     16.373     23.326
        ===============================================================================
        """
        return self._summary(coverage, feature_names)

    #: The summary's rows and notes (called as a method: ``self._summary_parts(names)``).
    _summary_parts = classification_summary_parts

    @lazy_on_dask
    def log_likelihood(self, X, y, sample_weight=None, per_sample=False, offset=None):
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
        offset : array-like of shape (n_samples,) or (n_samples, n_classes), \
default=None
            The known term of each sample's logit or class scores (see :meth:`fit`);
            0 when not given, also after a fit with an offset.

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
        return self._log_likelihood(X, y, sample_weight, per_sample, offset=offset)

    def _likelihood_target(self, y, n_samples):
        y = np.asarray(y)
        index = np.clip(np.searchsorted(self.classes_, y), 0, self.classes_.size - 1)
        if y.shape != (n_samples,) or not np.all(self.classes_[index] == y):
            raise ValueError("y must have one label per sample, all among classes_ "
                             f"{self.classes_.tolist()}.")
        return index.astype(np.float64)

    # -------------------------------------------------------------- prediction
    def _fitted_family(self):
        return classification_family(self.classes_.size)

    def _raw_prediction(self, X, offset=None):
        model, theta = self._predictor
        return model.predict_raw(theta, X, validated_class_offset(offset, X.shape[0],
                                                                  self.classes_.size))

    @lazy_on_dask
    def decision_function(self, X, offset=None):
        """Raw predictions: the logit of ``classes_[1]``, or one score per class.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.
        offset : array-like of shape (n_samples,) or (n_samples, n_classes), \
default=None
            The known term of each sample's logit or class scores (see :meth:`fit`);
            0 when not given, also after a fit with an offset.

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
            Linear predictor values, offset included.
        """
        raw = self._raw_prediction(self._validated_input(X), offset)
        return raw[:, 0] if raw.shape[1] == 1 else raw

    @lazy_on_dask
    def predict_log_proba(self, X, offset=None):
        """Log-probability of each class, computed by log-sum-exp (never log of a probability).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.
        offset : array-like of shape (n_samples,) or (n_samples, n_classes), \
default=None
            The known term of each sample's logit or class scores (see :meth:`fit`);
            0 when not given, also after a fit with an offset.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
            Columns follow ``classes_``.
        """
        check_is_fitted(self)
        return self._fitted_family().log_proba(self.decision_function(X, offset))

    @lazy_on_dask
    def predict_proba(self, X, offset=None):
        """Probability of each class; rows sum to one.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.
        offset : array-like of shape (n_samples,) or (n_samples, n_classes), \
default=None
            The known term of each sample's logit or class scores (see :meth:`fit`);
            0 when not given, also after a fit with an offset.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Columns follow ``classes_``.
        """
        check_is_fitted(self)
        return self._fitted_family().proba(self.decision_function(X, offset))

    @lazy_on_dask
    def predict(self, X, offset=None):
        """Most probable class label.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.
        offset : array-like of shape (n_samples,) or (n_samples, n_classes), \
default=None
            The known term of each sample's logit or class scores (see :meth:`fit`);
            0 when not given, also after a fit with an offset.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            Predicted class labels.
        """
        scores = self.decision_function(X, offset)
        if scores.ndim == 1:
            return self.classes_[(scores > 0).astype(np.intp)]
        return self.classes_[np.argmax(scores, axis=1)]

    def score(self, X, y, sample_weight=None, offset=None):
        """Mean accuracy of :meth:`predict` on the given data and labels, as
        scikit-learn's classifiers score.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Test samples.
        y : array-like of shape (n_samples,)
            Their labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.
        offset : array-like of shape (n_samples,) or (n_samples, n_classes), \
default=None
            The known term of each sample's logit or class scores (see :meth:`fit`);
            0 when not given, also after a fit with an offset.

        Returns
        -------
        score : float
            The (weighted) fraction of samples whose label :meth:`predict` gives.
        """
        return float(accuracy_score(y, self.predict(X, offset=offset),
                                    sample_weight=sample_weight))
