"""Scoring by held-out likelihood: let the data choose p(y | x)."""


def log_likelihood_scorer(estimator, X, y, sample_weight=None):
    """Mean log-likelihood of held-out data under a fitted estimator (higher is better).

    A scorer for ``GridSearchCV``, ``cross_val_score`` and the like
    (``scoring=log_likelihood_scorer``): it calls the estimator's
    ``log_likelihood(X, y, sample_weight)``, which is the full log-density or
    log-probability (normalising constants included), so scores of different
    distributions are comparable and a grid over ``distribution`` picks the one that
    predicts new data best.  Unlike R², it scores the whole predictive distribution,
    not only its mean.

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
    """
    return estimator.log_likelihood(X, y, sample_weight=sample_weight)
