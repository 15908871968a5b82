"""Deciding whether the maximum-likelihood estimate exists.

With ``alpha = 0`` the likelihood can increase forever:

* **Separation** (classification): a direction of the coefficients along which every
  sample's score for its own class rises at least as fast as for any other class, and
  strictly for some.  Along it the likelihood of those samples tends to 1 and no
  maximum exists.  Decided in :mod:`sklearn_mle.existence._separation` (a Newton certificate of
  existence, and a linear program when it fails).
* **Variance collapse** (Gaussian with learned scale): the mean fits some targets
  exactly and the scale model can shrink sigma on exactly those samples, so the density
  there, and the likelihood, grow without bound.  With ``alpha > 0`` the regressor's
  penalty reaches every direction of ``log sigma`` (the coefficients by the L2 term, its
  training mean by a divergence from the null model's scale), so it cannot happen.

When it happens the estimators warn with :class:`UnboundedLikelihoodWarning` and set
``mle_exists_ = False``.  The regressor returns the minimiser of the objective plus a
small ridge in the data's own (Fisher) metric, which is finite and reproducible; the
classifier's fallback is described in :mod:`sklearn_mle.existence._separation`.
"""

import warnings

import numpy as np
import scipy.sparse as sp

from ..models._model import IN_MEMORY

#: Fallback ridge (in whitened units) used when a learned variance collapses.
VARIANCE_COLLAPSE_FALLBACK_RIDGE = 1e-3
#: The fallback problem is flat (curvature ~ the ridge) along the direction of
#: recession, so its tolerance is tightened to pin down the parameters, not only the
#: objective value.
FALLBACK_TOL_FACTOR = 1e-3


class UnboundedLikelihoodWarning(UserWarning):
    """The likelihood has no maximum: the plain MLE does not exist for this data.

    Emitted by the classifier at ``alpha=0`` when the classes are (quasi-)separable,
    and by the regressor at ``alpha=0`` when a learned variance collapses to zero; in
    both cases ``alpha > 0`` bounds the problem.  The regressor also emits it at an
    ``alpha > 0`` so small (e.g. 1e-30 on an exact fit) that the bounded sigma still
    falls below the rounding error of the targets; ``mle_exists_`` is then True.
    """


class ExistenceUndecidedWarning(UserWarning):
    """The check of whether the maximum-likelihood estimate exists could not finish.

    Emitted at ``alpha=0`` by a fit on data that live elsewhere (Dask input) when the
    check needs more rows of X on the client than the fit brings there (see
    ``MAX_CLIENT_ROWS`` in :mod:`sklearn_mle.models._dask`): ``mle_exists_`` is then
    None (not known), or, where the MLE was found not to exist but the finite
    stand-in fit needs those rows, False with the unchecked fit's parameters.

    Examples
    --------
    A pipeline that must not go on with an unchecked fit can make it an error:

    >>> import warnings
    >>> from sklearn_mle import ExistenceUndecidedWarning
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("error", ExistenceUndecidedWarning)
    ...     try:
    ...         warnings.warn("the check needs 25 000 rows", ExistenceUndecidedWarning)
    ...     except ExistenceUndecidedWarning as stopped:
    ...         print(f"stopped: {stopped}")
    stopped: the check needs 25 000 rows
    """


def undecided_message(estimator_name, limit, after_diagnosis):
    """Warning text for a check or fallback stopped by ``limit``
    (a ``RowLimitExceeded``)."""
    if after_diagnosis:
        return (f"{estimator_name}: the maximum likelihood estimate does not exist, but "
                f"the finite stand-in fit could not be made: {limit}. The parameters "
                "returned are where the unpenalised fit stopped, on the way to "
                "infinity. Set alpha > 0 for an estimate that always exists, or fit in "
                "memory.")
    return (f"{estimator_name}: whether the maximum likelihood estimate exists is not "
            f"known (mle_exists_ is None): {limit}. If it does not exist, the "
            "parameters returned run off to infinity. Set alpha > 0 for an estimate "
            "that always exists, or fit in memory for the full check.")


#: sigma_i below this fraction of the data's scale, on a sample the mean fits exactly,
#: is a variance collapsing to zero.
_COLLAPSE_RATIO = 1e-6


def _spread(y, weights):
    """The data's scale: the weighted standard deviation of y (at least 1e-12 of
    max|y|, and positive)."""
    centred = y - np.average(y, weights=weights)
    return max(np.sqrt(np.average(centred**2, weights=weights)),
               1e-12 * np.max(np.abs(y)), 1e-300)


def collapse_threshold(y, weights):
    """The log spread below which a learned scale counts as collapsing (the symptom
    :func:`find_variance_collapse` starts from)."""
    return float(np.log(_COLLAPSE_RATIO * _spread(y, weights)))


def find_variance_collapse(X, y, weights, log_scale, fit_intercept, mean=None,
                           access=IN_MEMORY):
    """Samples on which a learned Gaussian scale collapses to zero, or None.

    The symptom comes from the iterates: ``sigma_i`` has fallen below ``1e-6`` of the
    data's scale.  It is confirmed from the problem itself: the mean model can fit
    the targets of those samples *exactly* (a least-squares solve on them leaves no
    residual), so shrinking sigma there raises the density, and the likelihood,
    without bound.  Given the fitted ``mean``, only the samples it already fits to
    ``1e-6`` of the data's scale are considered (for families where a collapse on
    part of the samples suffices, see :func:`~sklearn_mle.existence._check.find_unbounded`).
    Only the rows of those samples are read (``access.take_rows``).
    """
    positive = weights > 0
    reference = _spread(y, weights)
    collapsed = positive & (log_scale < np.log(_COLLAPSE_RATIO * reference))
    if mean is not None:
        collapsed &= np.abs(y - mean) <= _COLLAPSE_RATIO * reference
    if not collapsed.any():
        return None
    Z = access.take_rows(X, collapsed)
    Z = Z.toarray() if sp.issparse(Z) else np.asarray(Z, dtype=np.float64)
    if fit_intercept:
        Z = np.hstack([Z, np.ones((Z.shape[0], 1))])
    target = y[collapsed]
    column_norm = np.linalg.norm(Z, axis=0)
    column_norm[column_norm == 0] = 1.0
    solution = np.linalg.lstsq(Z / column_norm, target, rcond=None)[0]
    residual = target - (Z / column_norm) @ solution
    if np.max(np.abs(residual)) > 1e-8 * max(np.max(np.abs(target)), reference):
        return None
    return collapsed


def scale_direction_collapses(X, weights, exact, fit_intercept, cost,
                              access=IN_MEMORY):
    """Whether a log-scale linear in x can fall along a direction ``d = [X, 1] b``
    on which the likelihood grows without bound, the mean fitting the samples in
    ``exact`` exactly and the others at fixed residuals.

    Along ``log sigma_i = s_i + t d_i`` the NLL of an exact fit changes by ``d_i`` per
    unit of t, that of another sample by ``d_i`` where ``d_i > 0`` and by ``-cost d_i``
    where ``d_i < 0`` (``cost`` is the family's
    :meth:`~sklearn_mle.Family.partial_collapse_cost`).  The likelihood is unbounded
    when some ``d`` has a negative weighted total slope: a linear program in ``b``
    (in a box, the problem being homogeneous) and the parts ``d_i = u_i - v_i`` of the
    other samples.  A constant scale (``d = -1``) is the case ``k > (n - k) cost``.
    The LP reads the rows of every positively weighted sample (``access.take_rows``).
    """
    from scipy.optimize import linprog

    def design(rows):
        Z = sp.csr_matrix(access.take_rows(X, rows), dtype=np.float64)
        if fit_intercept:
            Z = sp.hstack([Z, np.ones((Z.shape[0], 1))], format="csr")
        return Z

    others = ~exact & (weights > 0)
    Z_others = design(others)
    m, q = int(others.sum()), Z_others.shape[1]
    gain = np.asarray(design(exact).T @ weights[exact]).ravel()
    w_others = weights[others]
    c = np.concatenate([gain, w_others, cost * w_others])
    identity = sp.identity(m, format="csr")
    A_eq = sp.hstack([Z_others, -identity, identity], format="csr")
    bounds = [(-1.0, 1.0)] * q + [(0, None)] * (2 * m)
    result = linprog(c, A_eq=A_eq, b_eq=np.zeros(m), bounds=bounds, method="highs")
    if result.status != 0:
        return False
    return bool(result.fun < -1e-9 * max(np.sum(np.abs(gain)), 1e-300))


def _resolution(y, weights):
    """Spacing of the doubles at the largest positively weighted target: the rounding
    error of the targets themselves, hence of every residual."""
    return float(np.spacing(np.max(np.abs(y[weights > 0]))))


def variance_below_resolution(y, weights, log_scale):
    """Smallest fitted ``log sigma_i`` (positive weights) if ``sigma_i`` is below the
    spacing of the doubles at ``max|y|``, else None.

    With ``alpha > 0`` the penalised estimate exists and its sigma is bounded below
    (see :class:`~sklearn_mle.MLERegressor`), but on an exact fit the bound is about
    ``s0 sqrt(alpha)``: for a tiny alpha (1e-30 and below) sigma can fall below the
    rounding error of the targets, where the residuals are rounding noise and the
    data no longer determine the fit.
    """
    positive = weights > 0
    smallest = float(np.min(log_scale[positive]))
    return smallest if smallest < np.log(_resolution(y, weights)) else None


def warn_below_resolution(estimator_name, label, alpha, family, raw, y, weights,
                          stacklevel):
    """Warn if the penalised fit (``raw``: its raw predictions) puts the family's
    spread below what the doubles holding y resolve (see
    :func:`variance_below_resolution`)."""
    target = family.collapse_target(y)
    smallest = variance_below_resolution(target, weights, family.collapse_log_scale(raw))
    if smallest is not None:
        warnings.warn(resolution_message(estimator_name, label, alpha, smallest, target,
                                         weights, family.dispersion_name),
                      UnboundedLikelihoodWarning, stacklevel=stacklevel + 1)


def resolution_message(estimator_name, label, alpha, smallest, y, weights,
                       scale_name="sigma"):
    """Warning text for a spread (``scale_name``, e.g. sigma) below the resolution of
    the targets at alpha > 0; ``label`` is the estimator's configuration."""
    return (
        f"{estimator_name}({label}): alpha={alpha:g} is too small to keep "
        f"the learned {scale_name} above the precision of the data: the spread falls to "
        f"{np.exp(smallest):.3g} on some samples, below {_resolution(y, weights):.3g}, "
        "the rounding error of the targets themselves, so rounding, not the data or the "
        "penalty, decides the fit there. Increase alpha."
    )


def variance_collapse_message(estimator_name, variance, collapsed):
    """Warning text naming the collapsing variance and the remedy (at alpha = 0, the
    only place a variance can collapse)."""
    n_collapsed = int(collapsed.sum())
    if variance == "constant" or n_collapsed == collapsed.size:
        cause = ("the mean fits every target exactly (an exact linear fit, e.g. fewer "
                 "samples than parameters or a noiseless target), so the learned sigma "
                 "collapses to 0")
    else:
        cause = (f"the mean fits {n_collapsed} of {collapsed.size} targets exactly and "
                 "the variance model can shrink sigma(x) to 0 on exactly those samples "
                 "(e.g. a group of one in the variance model)")
    return (
        f"{estimator_name}(variance={variance!r}): the maximum likelihood estimate does "
        f"not exist: {cause}; the density there, and the likelihood, grow without "
        "bound. The returned parameters minimise the objective plus a small ridge in the "
        "data's Fisher metric: finite, with a very small sigma on those samples. To fix "
        "it, set alpha > 0: the penalty then also pulls the mean of log sigma towards "
        "the log of the spread of y, and the penalised estimate always exists; or use "
        "variance='fixed'."
    )
