"""Least-squares statistics of a Gaussian fit with a constant sigma: R², the residual
variance ``RSS / df_resid``, classical OLS inference (``inference="ols"``: sigma
estimated, Student-t tests and prediction intervals) and what ``variance="fixed"``
assumes.  They need the residuals of a linear mean, so they are asked of a model
that has coefficients (``Model.has_coefficients``)."""

import math

import numpy as np
import scipy.sparse as sp
from scipy import stats

from .._plain import plain

#: Two-sided significance level below which the training residuals are reported as
#: inconsistent with the sigma = 1 that variance="fixed" assumes (chi-square test of the
#: residual sum of squares on df_resid_ degrees of freedom).
SIGMA_ONE_TEST_LEVEL = 1e-3


def check_ols_option(family, modes, alpha, label):
    """Raise a clear error where ``inference="ols"`` does not apply."""
    if not family.least_squares or "x" in modes[1:]:
        raise ValueError(
            "inference='ols' estimates one sigma from the residuals, which needs the "
            "Gaussian distribution with a constant sigma (variance='fixed' or "
            f"'constant'), got {label}; use inference=True for Wald inference on this "
            "model.")
    if alpha > 0:
        raise ValueError(
            f"inference='ols' is least-squares inference, which needs alpha=0, got "
            f"alpha={plain(alpha)!r}; use inference=True for Wald inference on the penalised "
            "estimate.")


def set_residual_statistics(estimator, mean, y, fit_weights):
    """R² of the mean and the residual variance ``RSS / df_resid_`` (``_r_squared``,
    ``_residual_variance``), from the fitted means."""
    # Sums of squares on y / max|y|, so that no square overflows or underflows.
    highest, lowest = (float(y.max()), float(y.min())) if y.size else (0.0, 0.0)
    largest = max(highest, -lowest)
    y_scale = largest if math.isfinite(largest) and largest > 0 else 1.0
    weights, weight_scale = fit_weights.likelihood, fit_weights.likelihood_scale

    def weighted_sum_of_squares(values):  # einsum, not BLAS: the same sum on any thread
        return weight_scale * float(np.einsum("i,i,i->", weights, values, values))

    rss = weighted_sum_of_squares((y - mean) / y_scale)
    scaled = y / y_scale
    if estimator.fit_intercept:
        scaled -= (weight_scale * float(np.einsum("i,i->", weights, scaled))
                   / fit_weights.total)
        # a constant target has no variance to explain (rounding in the centre aside)
        tss = 0.0 if highest == lowest else weighted_sum_of_squares(scaled)
    else:
        tss = weighted_sum_of_squares(scaled)
    df = estimator.df_resid_
    # (Python floats: a product beyond the doubles is inf, without a warning)
    estimator._r_squared = 1.0 - rss / tss if tss > 0 else np.nan
    estimator._residual_variance = y_scale * (y_scale * rss / df) if df > 0 else np.nan


def ols_covariance(estimator, covariance, n_mean):
    """The OLS covariance: the mean's block (``sigma^2 (X^T S X)^{-1}`` at the model's
    sigma, 1 or the ML one) rescaled to the unbiased ``RSS / df_resid``; the cross terms
    with log sigma are zero at the least-squares fit.  Sets ``ols_scale_``."""
    estimator.ols_scale_ = float(np.sqrt(estimator._residual_variance))
    factor = np.ones(covariance.shape[0])
    factor[:n_mean] = estimator.ols_scale_ / estimator.scale_
    return covariance * factor[:, None] * factor[None, :]


def sigma_one_rejected(estimator):
    """Whether the training residuals reject sigma = 1 (chi-square test of the
    residual sum of squares, two-sided at ``SIGMA_ONE_TEST_LEVEL``)."""
    df = estimator.df_resid_
    if not df > 0 or not np.isfinite(estimator._residual_variance):
        return bool(df > 0)
    tail = stats.chi2.cdf(estimator._residual_variance * df, df)
    return bool(min(tail, 1.0 - tail) < SIGMA_ONE_TEST_LEVEL / 2)


def fixed_sigma_note(estimator, robust=False):
    """What variance="fixed" assumes, against what the residuals say (``robust``: the
    standard errors are a sandwich's, which do not rely on it)."""
    residual_scale = np.sqrt(estimator._residual_variance)
    verdict = ", not consistent with sigma = 1" if sigma_one_rejected(estimator) else ""
    if robust:
        return ("variance='fixed': the likelihood assumes sigma = 1 (the residuals' "
                f"standard deviation, sqrt(RSS / df_resid), is {residual_scale:.4g}"
                f"{verdict}); the robust standard errors do not rely on it, but the "
                "log-likelihoods, AIC, BIC and predictive distribution do.")
    return ("variance='fixed': sigma = 1 is assumed, not estimated; the standard "
            "errors, tests and intervals hold only if the noise standard deviation "
            f"is 1. The residuals' standard deviation, sqrt(RSS / df_resid), is "
            f"{residual_scale:.4g}{verdict}. For least-squares inference with sigma "
            "estimated, fit with inference='ols' (or use variance='constant').")


def fixed_sigma_warning(estimator_name, estimator):
    """The warning of a prediction with sigma = 1 that the residuals reject."""
    return (f"{estimator_name}(variance='fixed') predicts with sigma = 1, which is "
            "assumed, not estimated, and the training residuals' standard deviation "
            f"is {np.sqrt(estimator._residual_variance):.4g}: the predictive "
            "distribution and intervals are far too narrow or too wide. Fit with "
            "inference='ols' (sigma estimated, Student-t intervals) or "
            "variance='constant'.")


def mean_variance(estimator, X):
    """Variance of the fitted mean at each row of validated X, ``z^T C z`` with
    ``z = (x, 1)`` and C the covariance of (coef_, intercept_); aliased directions
    contribute nothing."""
    d = estimator.coef_.size
    k = d + estimator.fit_intercept
    cov = np.nan_to_num(estimator.covariance_[:k, :k])
    product = X @ cov[:d, :d]
    quadratic = (np.asarray(X.multiply(product).sum(axis=1)).ravel() if sp.issparse(X)
                 else np.einsum("ij,ij->i", X, product))
    if estimator.fit_intercept:
        quadratic = quadratic + 2.0 * (X @ cov[:d, d]) + cov[d, d]
    return np.maximum(quadratic, 0.0)


def ols_predictive(estimator, X, mean):
    """The exact least-squares predictive distribution: Student's t with ``df_resid_``
    degrees of freedom, scale ``sqrt(ols_scale_**2 + var(mean))``."""
    scale = np.sqrt(estimator.ols_scale_**2 + mean_variance(estimator, X))
    return stats.t(df=estimator.df_resid_, loc=mean, scale=scale)


def least_squares_fit_statistics(estimator, ols):
    """R² and adjusted R² (and with OLS inference the F test of all slopes) for the
    summary header."""
    tss_df = estimator._n_obs - estimator.fit_intercept
    df_resid, df_model, r2 = estimator.df_resid_, estimator.df_model_, estimator._r_squared
    adjusted = 1.0 - (1.0 - r2) * tss_df / df_resid if df_resid > 0 else np.nan
    statistics = {"R-squared": r2, "Adj. R-squared": adjusted}
    if ols and df_model > 0 and df_resid > 0:
        # the exact test of all slopes being zero, as statsmodels' OLS header
        with np.errstate(divide="ignore"):
            f_statistic = (r2 / df_model) / ((1.0 - r2) / df_resid)
        statistics["F-statistic"] = f_statistic
        statistics["Prob (F-statistic)"] = float(stats.f.sf(f_statistic, df_model,
                                                            df_resid))
    return statistics


def ols_summary_parts(estimator, sigma_one):
    """How OLS inference changes the summary: the header lines and leading notes."""
    notes = [f"sigma is estimated by sqrt(RSS / df_resid) = {estimator.ols_scale_:.5g}; "
             f"the tests and intervals use Student's t with {estimator.df_resid_:g} "
             "degrees of freedom, as OLS."]
    if sigma_one:
        notes.append("the log-likelihoods, AIC and BIC are those of the fitted model, "
                     "with sigma = 1; variance='constant' gives those of statsmodels' "
                     "OLS (sigma at its ML estimate).")
    return dict(distribution="Gaussian, σ estimated", method="Least squares",
                covariance="OLS (σ estimated)",
                extra_info=[("Scale σ", f"{estimator.ols_scale_:.5g}")],
                kind="least-squares estimates, OLS inference", notes=notes)
