"""The objective every solver is scored on, computed independently in NumPy.

    binary:       mean_i [log(1 + exp(z_i)) - y_i z_i]            z = X w + b
    multinomial:  mean_i [logsumexp_k Z_ik - Z_{i, y_i}]           Z = X W^T + b
    gaussian:     mean_i [0.5 (y_i - z_i)^2 + 0.5 log(2 pi)]       (sigma = 1)

plus ``alpha/2 * ||coef||^2`` (intercept unpenalised).

The family cases (issue 11, alpha = 0) are scored on the full mean NLL of the
family, constants included, at each solver's own estimates of every parameter:

    poisson:            mean_i [exp(z_i) - y_i z_i + log Gamma(y_i + 1)]
    negative_binomial:  mean_i [-log nbinom.pmf(y_i; r = 1/a, p = 1/(1 + a e^z_i))]
                        (NB2, Var = mu + a mu^2, a = the solver's alpha)
    student_t:          mean_i [-log t.pdf(y_i; df, loc = z_i, scale)]
                        (the solver's df and scale)

except the Gamma family, whose peers (scikit-learn GammaRegressor, glum) do
not estimate the shape.  At alpha = 0 the mean's coefficients that maximise
the Gamma likelihood do not depend on the shape k: the mean NLL is
``B(k) + k D + mean log y`` (``B(k) = log Gamma(k) - k log k + k``) with

    gamma:              D = mean_i [e^u_i - 1 - u_i],  u_i = log y_i - z_i,

half the mean Gamma deviance.  So the Gamma objective (and its gap) is D, the
quantity every solver minimises; the full NLL (``nll_sum``) is evaluated at
the shape that maximises the likelihood given D (``log k - digamma(k) = D``),
which is the learned shape when the coefficients are at the joint optimum.

Gaps (bench.py) are relative to the lowest objective any solver reached on
the case; on the family cases that includes a reference fit,
``MLERegressor(distribution=..., tol=1e-10)`` (``sklearn_mle[tol=1e-10]``),
which takes part in no ratio.  No sample weights are
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
from scipy import optimize, stats
from scipy.special import digamma, gammaln, logsumexp

FAMILY_PARAMETERS = {"poisson": (), "gamma": (), "negative_binomial": ("alpha",),
                     "student_t": ("scale", "df")}


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


def nll_terms(kind, X, y, coef, intercept, params=None):
    """Per-sample negative log-likelihood (float64); for "gamma" the per-sample
    half deviance ``e^u - 1 - u`` (see the module docstring).  ``params``: the
    family's other parameters (``FAMILY_PARAMETERS``)."""
    z = linear_predictor(X, coef, intercept)
    if kind in FAMILY_PARAMETERS:
        return _family_terms(kind, y, z.reshape(-1), params or {})
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


def _family_terms(kind, y, z, params):
    missing = [p for p in FAMILY_PARAMETERS[kind] if p not in params]
    if missing:
        raise ValueError(f"the {kind} objective needs the parameters {missing}")
    if kind == "poisson":
        with np.errstate(over="ignore"):
            return np.exp(z) - y * z + gammaln(y + 1.0)
    if kind == "gamma":
        u = np.log(y) - z
        with np.errstate(over="ignore"):
            return np.expm1(u) - u
    if kind == "negative_binomial":
        a = float(params["alpha"])
        r = 1.0 / a
        log1p_amu = np.logaddexp(0.0, z + np.log(a))  # log(1 + a mu), no overflow
        return -(gammaln(y + r) - gammaln(r) - gammaln(y + 1.0)
                 - r * log1p_amu + y * (z + np.log(a) - log1p_amu))
    # student_t
    return -stats.t.logpdf(y, float(params["df"]), loc=z, scale=float(params["scale"]))


def gamma_profile_shape(half_deviance):
    """The Gamma shape k maximising the likelihood at a given mean half deviance
    D > 0: the root of ``log k - digamma(k) = D``, which lies in
    ``[1 / (2D), 1 / D]`` since ``1/(2k) < log k - digamma(k) < 1/k``."""
    D = float(half_deviance)
    return optimize.brentq(lambda k: np.log(k) - digamma(k) - D,
                           0.45 / D, 1.05 / D, xtol=1e-14, rtol=1e-15)


def gamma_profile_nll_sum(y, half_deviance):
    """Total Gamma NLL at the shape that maximises it for the given mean half
    deviance: n [B(k) + k D + mean log y], ``B(k) = log Gamma(k) - k log k + k``."""
    k = gamma_profile_shape(half_deviance)
    B = gammaln(k) - k * np.log(k) + k
    return float(y.size * (B + k * half_deviance + np.mean(np.log(y))))


def objective(kind, X, y, coef, intercept, alpha, params=None):
    """(objective, total NLL) of one fitted model; see the module docstring."""
    terms = nll_terms(kind, X, y, coef, intercept, params)
    coef = np.asarray(coef, dtype=np.float64)
    value = float(np.mean(terms) + 0.5 * alpha * np.sum(coef * coef))
    if kind == "gamma":
        return value, gamma_profile_nll_sum(y, float(np.mean(terms)))
    return value, float(np.sum(terms))


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
