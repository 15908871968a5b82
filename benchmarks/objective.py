"""The objective every solver is scored on, computed independently in NumPy.

    binary:       mean_i [log(1 + exp(z_i)) - y_i z_i]            z = X w + b
    multinomial:  mean_i [logsumexp_k Z_ik - Z_{i, y_i}]           Z = X W^T + b
    gaussian:     mean_i [0.5 (y_i - z_i)^2 + 0.5 log(2 pi)]       (sigma = 1)

plus ``alpha/2 * ||coef||^2`` (intercept unpenalised).  No sample weights are
used in the benchmark, so the weighted mean is the plain mean.  Everything is
evaluated in float64, including for the float32 case (X promoted to float64).
``alpha = 0`` (the default-parameter cases) is the unpenalised mean NLL.

On separable data the unpenalised objective has no minimum (its infimum is 0),
so a relative gap to "the best objective" says nothing; ``fit_summary`` gives
what does: the training accuracy and the share of samples whose fitted
probability of the most likely class exceeds 1 - 1e-4.
"""

import numpy as np
import scipy.sparse as sp
from scipy.special import logsumexp


def _as_f64(X):
    if sp.issparse(X):
        return X.astype(np.float64) if X.dtype != np.float64 else X
    return np.asarray(X, dtype=np.float64)


def linear_predictor(X, coef, intercept):
    X = _as_f64(X)
    coef = np.asarray(coef, dtype=np.float64)
    intercept = np.asarray(intercept, dtype=np.float64)
    if coef.ndim == 1:
        return X @ coef + intercept.reshape(-1)[0]
    return X @ coef.T + intercept.reshape(1, -1)


def nll_terms(kind, X, y, coef, intercept):
    """Per-sample negative log-likelihood (float64)."""
    z = linear_predictor(X, coef, intercept)
    if kind == "binary":
        z = z.reshape(-1) if z.ndim == 2 and z.shape[1] == 1 else z
        if z.ndim != 1:
            raise ValueError(f"binary case but {z.shape[1]} score columns")
        return np.logaddexp(0.0, z) - y * z
    if kind == "multinomial":
        yi = y.astype(np.intp)
        return logsumexp(z, axis=1) - z[np.arange(z.shape[0]), yi]
    if kind == "gaussian":
        z = z.reshape(-1)
        return 0.5 * (y - z) ** 2 + 0.5 * np.log(2 * np.pi)
    raise ValueError(kind)


def objective(kind, X, y, coef, intercept, alpha):
    terms = nll_terms(kind, X, y, coef, intercept)
    coef = np.asarray(coef, dtype=np.float64)
    return float(np.mean(terms) + 0.5 * alpha * np.sum(coef * coef)), float(np.sum(terms))


EXTREME_PROBABILITY = 1 - 1e-4


def fit_summary(kind, X, y, coef, intercept):
    """Training accuracy and share of fitted max-probabilities > 1 - 1e-4.

    Classification only (``kind`` "binary" or "multinomial").
    """
    z = linear_predictor(X, coef, intercept)
    if kind == "binary":
        z = z.reshape(-1)
        predicted = (z > 0).astype(np.float64)
        # max(p, 1 - p) = expit(|z|), and expit(|z|) > t  <=>  |z| > logit(t)
        extreme = np.abs(z) > np.log(EXTREME_PROBABILITY / (1 - EXTREME_PROBABILITY))
    elif kind == "multinomial":
        predicted = np.argmax(z, axis=1).astype(np.float64)
        log_pmax = np.max(z, axis=1) - logsumexp(z, axis=1)
        extreme = log_pmax > np.log(EXTREME_PROBABILITY)
    else:
        raise ValueError(f"fit_summary is for classification, got kind={kind!r}")
    return dict(train_accuracy=float(np.mean(predicted == y)),
                extreme_share=float(np.mean(extreme)))
