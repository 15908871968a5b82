"""Scoring by held-out likelihood: let the data choose p(y | x)."""


def log_likelihood_scorer(estimator, X, y, sample_weight=None, **prediction):
    """Mean log-likelihood of held-out data under a fitted estimator (higher is better).

    A scorer for ``GridSearchCV``, ``cross_val_score`` and the like
    (``scoring=log_likelihood_scorer``): it calls the estimator's
    ``log_likelihood(X, y, sample_weight)``, which is the full log-density or
    log-probability (normalising constants included), so scores of different
    distributions are comparable and a grid over ``distribution`` picks the one that
    predicts new data best.  Unlike R² or D² (the estimators' ``score``), it scores
    the whole predictive distribution, not only its mean.

    Pass the function itself: ``scoring="log_likelihood"`` raises scikit-learn's
    "not a valid scoring value" error, because scikit-learn takes scoring strings
    only from its own table (``sklearn.metrics.get_scorer_names()``), which has no
    public way to add one (a registry was proposed and declined,
    scikit-learn/scikit-learn#17168).  To have the name in the results, give it in a
    dict: ``scoring={"log_likelihood": log_likelihood_scorer}`` with
    ``refit="log_likelihood"`` fills ``cv_results_["mean_test_log_likelihood"]``.
    For :class:`MLEClassifier` the string ``"neg_log_loss"`` is the same score (minus
    the log loss is the mean log-likelihood of the labels), but only this scorer
    compares regression families.

    Parameters
    ----------
    estimator : MLERegressor or MLEClassifier
        A fitted estimator.
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        Held-out samples.
    y : array-like of shape (n_samples,)
        Their targets.
    sample_weight : array-like of shape (n_samples,), default=None
        Weights of the weighted mean.
    **prediction : dict
        Further inputs of the estimator's ``log_likelihood``: the held-out samples'
        ``offset`` or ``exposure`` for an :class:`MLERegressor` fitted with one, their
        ``offset`` (on the logit, or one column per class) for an
        :class:`MLEClassifier`.

    Returns
    -------
    score : float
        The weighted mean of ``log p(y_i | x_i)``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.model_selection import GridSearchCV
    >>> from sklearn_mle import MLERegressor, log_likelihood_scorer
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(400, 2))
    >>> y = 1 + X[:, 0] + rng.standard_t(2, size=400)
    >>> search = GridSearchCV(MLERegressor(), {"variance": ["constant", "fixed"]},
    ...                       scoring=log_likelihood_scorer).fit(X, y)
    >>> search.best_params_
    {'variance': 'constant'}

    Under its name, beside the estimator's own score (R² here, D² for the families
    with a deviance):

    >>> from sklearn.metrics import check_scoring
    >>> named = GridSearchCV(MLERegressor(), {"variance": ["constant", "fixed"]},
    ...                      scoring={"log_likelihood": log_likelihood_scorer,
    ...                               "score": check_scoring(MLERegressor())},
    ...                      refit="log_likelihood").fit(X, y)
    >>> named.cv_results_["mean_test_log_likelihood"].round(2)
    array([-2.68, -5.95])

    Rates scored on held-out exposure (the offset ``log(exposure)`` enters each
    sample's mean):

    >>> years = rng.uniform(0.5, 2.0, size=400)
    >>> claims = rng.poisson(years * np.exp(0.3 * X[:, 0]))
    >>> rates = MLERegressor(distribution="poisson").fit(X, claims, exposure=years)
    >>> score = log_likelihood_scorer(rates, X, claims, exposure=years)
    >>> bool(score == rates.log_likelihood(X, claims, exposure=years))
    True
    """
    return estimator.log_likelihood(X, y, sample_weight=sample_weight, **prediction)
