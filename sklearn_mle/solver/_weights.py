"""Sample weights of a fit: the objective's normalised weights and the log-likelihood's."""

import numpy as np
from sklearn.utils.validation import _check_sample_weight


class FitWeights:
    """Sample weights of a fit, kept as lean as the data allow.

    Unit weights (``sample_weight=None``) make no array beyond ``normalised``.
    ``normalised`` are the weights of the objective: the sample weights, optionally
    multiplied by ``extra`` (e.g. class weights), divided by their sum ``fit_total``.
    ``likelihood`` and ``likelihood_scale`` give the log-likelihood's weights:
    ``sum_i s_i log p_i`` equals ``likelihood_scale * sum_i likelihood_i log p_i``.
    ``total`` is the sum of the sample weights (the number of observations for unit
    weights).  ``objective_is_likelihood``: no ``extra`` factor, so that at
    ``alpha = 0`` the objective is the log-likelihood's negative over ``fit_total``.
    """

    def __init__(self, sample_weight, X, extra=None):
        n = X.shape[0]
        if sample_weight is not None:
            weights = np.asarray(sample_weight)
            if weights.ndim == 1 and weights.size and np.all(weights == 0):
                raise ValueError("sample_weight contains only zeros: at least one sample "
                                 "must have a non-zero (positive) weight.")
            sample_weight = _check_sample_weight(
                sample_weight, X, dtype=np.float64, ensure_non_negative=True)
        self.total = float(n) if sample_weight is None else total_weight(sample_weight)
        self.objective_is_likelihood = extra is None
        if extra is None:
            self.fit_total = self.total
            self.normalised = _normalise(sample_weight, n)
        else:
            fit_weight = (np.ones(n) if sample_weight is None else sample_weight) * extra
            self.fit_total = total_weight(fit_weight)
            self.normalised = _normalise(fit_weight, n)
        if sample_weight is None and extra is None:
            # unit weights: the objective's weights are exactly 1/n
            self.likelihood, self.likelihood_scale = self.normalised, float(n)
        else:
            self.likelihood = np.ones(n) if sample_weight is None else sample_weight
            self.likelihood_scale = 1.0


def _normalise(weights, n):
    """Weights divided by their sum (1/n each for None), without overflow."""
    if weights is None:
        return np.full(n, 1.0 / n)
    # Normalise by the largest weight first so that the sum cannot overflow.
    normalised = weights / weights.max()
    normalised /= normalised.sum()
    return normalised


def total_weight(sample_weight):
    """Sum of the sample weights (inf, without a warning, if it exceeds the doubles)."""
    with np.errstate(over="ignore"):
        return float(np.sum(sample_weight))
