"""Inference at the fitted parameters: covariance, standard errors, fit statistics and
the summary table."""


import numpy as np
import scipy.linalg
from scipy import stats

#: Relative eigenvalue of the (Jacobi-scaled) information below which a direction is
#: aliased: the data carry no information about it (collinear or constant columns).
_ALIASED_RTOL = 1e-10


def information_inverse(information):
    """Inverse of the observed information on the identified subspace, and which
    parameters are aliased.

    The information is Jacobi-scaled (so that the criterion does not depend on the
    units of the parameters) and directions whose relative eigenvalue is at most
    ``_ALIASED_RTOL`` are dropped: the result is the pseudo-inverse of the scaled
    matrix, scaled back, with finite entries everywhere (the bread of a sandwich
    needs them, as the estimable functions of the parameters do not depend on the
    aliased rows).

    Returns
    -------
    inverse : ndarray of shape (p, p)
        Pseudo-inverse of the information on the identified subspace.
    aliased : ndarray of bool of shape (p,)
        Parameters that are not identified (they load on a dropped direction, or
        the data carry no information about them at all).
    """
    p = information.shape[0]
    if p == 0:
        return np.zeros((0, 0)), np.zeros(0, dtype=bool)
    diagonal = np.diag(information).copy()
    scale = np.ones_like(diagonal)
    scale[diagonal > 0] = 1.0 / np.sqrt(diagonal[diagonal > 0])
    scaled = information * scale[:, None] * scale[None, :]
    scaled = 0.5 * (scaled + scaled.T)
    eigenvalues, eigenvectors = np.linalg.eigh(scaled)
    flat = eigenvalues <= _ALIASED_RTOL * max(eigenvalues.max(), 1e-300)
    kept = eigenvectors[:, ~flat]
    inverse = (kept / eigenvalues[~flat]) @ kept.T
    inverse = inverse * scale[:, None] * scale[None, :]
    aliased = (diagonal <= 0) | (np.abs(eigenvectors[:, flat]).max(axis=1, initial=0.0)
                                 > 1e-6)
    return inverse, aliased


def covariance_from_information(information):
    """Inverse of the observed information, NaN on aliased directions.

    Returns
    -------
    covariance : ndarray of shape (p, p)
        Inverse information on the identified subspace; rows/columns of parameters
        that load on an aliased direction are NaN.
    aliased : ndarray of bool of shape (p,)
        Parameters that are not identified.
    """
    covariance, aliased = information_inverse(information)
    covariance[aliased, :] = np.nan
    covariance[:, aliased] = np.nan
    return covariance, aliased



#: LAPACK's estimate of the reciprocal condition number of the scaled Gram matrix above
#: which the design has full rank without an eigendecomposition (the estimate is within
#: a small factor of the truth, so this stays well clear of ``_ALIASED_RTOL``).
_FULL_RANK_RCOND = 1e-6


def design_rank(gram, fit_intercept, rcond=None):
    """Rank of the weighted design from its Gram matrix ``sum_i w_i z_i z_i^T``.

    ``gram`` is the Gram matrix of ``[X, 1]`` (shape (d+1, d+1)); the design is
    ``[X, 1]`` when ``fit_intercept`` and ``X`` otherwise.  Columns are Jacobi-scaled
    first, so the rank does not depend on their units, and a direction counts as
    identified on the same criterion as :func:`covariance_from_information` uses.
    ``rcond``, where the caller has it, is LAPACK's estimate of the reciprocal
    condition number of the design's scaled Gram matrix (the solver's, from its
    preconditioner): above ``_FULL_RANK_RCOND`` the design has full rank with no
    factorisation here.  Returns None when ``gram`` is None (the Gram matrix was not
    formed).
    """
    if gram is None:
        return None
    if not fit_intercept:
        gram = gram[:-1, :-1]
    if rcond is not None and rcond > _FULL_RANK_RCOND:
        return gram.shape[0]
    diagonal = gram.diagonal()
    if not diagonal.min() > 0:   # columns of zeros (or NaN) are left out
        used = diagonal > 0
        if not used.any():
            return 0
        gram, diagonal = gram[np.ix_(used, used)], diagonal[used]
    scale = 1.0 / np.sqrt(diagonal)
    scaled = gram * (scale[:, None] * scale)   # (np.outer costs more on a few columns)
    # (the upper factor; pocon reads only that triangle, so potrf need not clear the
    # other)
    factor, info = scipy.linalg.lapack.dpotrf(scaled, lower=0, clean=0)
    if info == 0:
        rcond, info = scipy.linalg.lapack.dpocon(factor, np.abs(scaled).sum(axis=0).max())
        if info == 0 and rcond > _FULL_RANK_RCOND:
            return scaled.shape[0]
    eigenvalues = np.linalg.eigvalsh(scaled)
    return int(np.sum(eigenvalues > _ALIASED_RTOL * max(eigenvalues.max(), 1e-300)))


def set_likelihood_attributes(estimator, *, loglik, loglik_null, n_identified, n_null,
                              n_scale, n_obs, converged):
    """Store the fit's likelihood statistics on ``estimator``.

    ``n_identified`` counts the parameters the data identify (the rank of the design
    per linear predictor), ``n_null`` those of the null model (intercepts only) and
    ``n_scale`` those of a noise scale that, as in OLS, the residual degrees of freedom
    do not count.  Sets ``loglik_``, ``loglik_null_``, ``aic_``, ``bic_``,
    ``df_model_``, ``df_resid_``, ``converged_`` and the private ``_n_obs``,
    ``_n_identified`` and ``_n_counted`` (the parameters ``df_resid_`` counts).
    """
    estimator.converged_ = bool(converged)
    estimator.loglik_ = float(loglik)
    estimator.loglik_null_ = float(loglik_null)
    estimator.aic_ = float(-2.0 * loglik + 2.0 * n_identified)
    estimator.bic_ = float(-2.0 * loglik + np.log(n_obs) * n_identified)
    estimator.df_model_ = n_identified - n_null
    estimator.df_resid_ = n_obs - (n_identified - n_scale)
    estimator._n_obs = n_obs
    estimator._n_identified = n_identified
    # k of the robust covariances' small-sample corrections: what df_resid_ counts
    estimator._n_counted = n_identified - n_scale


def likelihood_ratio_p_value(estimator):
    """p-value of the likelihood-ratio test of the fit against the null model:
    ``2 (loglik_ - loglik_null_)`` is chi-square with ``df_model_`` degrees of freedom."""
    if estimator.df_model_ <= 0:
        return np.nan
    statistic = 2.0 * (estimator.loglik_ - estimator.loglik_null_)
    return float(stats.chi2.sf(max(statistic, 0.0), estimator.df_model_))


def fit_statistics(estimator, goodness_of_fit):
    """The header statistics of a summary, in display order (``goodness_of_fit``: the
    pseudo-R² or the R² pair, placed after the degrees of freedom)."""
    return {"No. Observations": estimator._n_obs, "Df Residuals": estimator.df_resid_,
            "Df Model": estimator.df_model_, **goodness_of_fit,
            "Log-Likelihood": estimator.loglik_, "LL-Null": estimator.loglik_null_,
            "LLR p-value": likelihood_ratio_p_value(estimator),
            "AIC": estimator.aic_, "BIC": estimator.bic_}


def penalised_note(alpha, robust=False):
    bread = ("a sandwich whose bread is the inverse penalised information" if robust
             else "inverse penalised information")
    return (f"alpha={alpha:g} > 0: inference is for the penalised estimate ({bread}); "
            "estimates are shrunk towards 0.")


ALIASED_NOTE = ("some parameters are aliased (collinear or constant columns): the data do "
                "not identify them, their standard errors are NaN, and the degrees of "
                "freedom, AIC and BIC count only the identified ones.")

#: Aliased parameters the note names before it counts the rest.
_ALIASED_SHOWN = 5


def aliased_note(names):
    """The note on aliased parameters, naming them (the first ``_ALIASED_SHOWN`` and
    how many more) and saying how to remove the aliasing; the generic
    :data:`ALIASED_NOTE` where ``names`` is empty (none of them is in the table)."""
    names = list(names)
    if not names:
        return ALIASED_NOTE
    shown = names[:_ALIASED_SHOWN]
    listed = (", ".join(shown[:-1]) + " and " + shown[-1] if len(names) == len(shown)
              and len(shown) > 1 else ", ".join(shown))
    if len(names) > len(shown):
        listed += f" and {len(names) - len(shown)} more"
    subject = f"{len(names)} parameters are" if len(names) > 1 else "1 parameter is"
    text = (f"{subject} aliased (collinear or constant columns): {listed}. The data do "
            "not identify them: their standard errors are NaN, and the degrees of "
            "freedom, AIC and BIC count only the identified parameters. ")
    if any(name == "intercept" or name.endswith(":intercept") for name in names):
        return text + (
            "Columns that sum to a constant, as a full set of one-hot encoded categories "
            "does, are collinear with the intercept: encode with "
            "OneHotEncoder(drop='first'), fit with fit_intercept=False, or drop one "
            "column of each such set from X.")
    return text + "To fix it, drop one column of each collinear set from X."


def require_covariance(estimator):
    """Raise a clear error when ``summary()`` is called without ``inference=True``."""
    if not hasattr(estimator, "covariance_"):
        raise AttributeError(
            "summary() needs the covariance of the estimates: fit with inference=True.")


def common_notes(estimator, unbounded_cause, aliased_names=(), robust=False):
    """Notes every summary may carry: penalty (``robust``: the bread of a sandwich),
    aliasing (naming ``aliased_names``, the table's parameters without a standard
    error), non-existent MLE, no convergence."""
    notes = []
    if estimator.alpha > 0:
        notes.append(penalised_note(estimator.alpha, robust))
    if estimator._aliased:
        notes.append(aliased_note(aliased_names))
    if estimator.mle_exists_ is None:
        notes.append("whether the MLE exists was not checked (the model or the data's "
                     "location has no existence check): if the likelihood is unbounded, "
                     "the estimates and standard errors are not meaningful.")
    elif not estimator.mle_exists_:
        notes.append(f"the MLE does not exist ({unbounded_cause}): the estimates and "
                     "standard errors are not meaningful.")
    if not estimator.converged_:
        notes.append("the solver did not converge (see the ConvergenceWarning of fit): "
                     "the estimates and standard errors may be inaccurate.")
    return notes


def method_name(alpha):
    """The Method line of a summary header."""
    return f"Penalised ML (alpha={alpha:g})" if alpha > 0 else "Maximum likelihood"


def covariance_kind(alpha):
    """The Covariance line of a summary header (model-based covariances)."""
    return "inv. penalised info" if alpha > 0 else "inv. observed info"


def title_kind(alpha):
    """What a summary reports: penalised estimates when alpha > 0."""
    return "penalised maximum-likelihood estimates" if alpha > 0 else \
        "maximum-likelihood estimates"
