"""Deciding whether the maximum-likelihood estimate exists.

With ``alpha = 0`` the likelihood can increase forever:

* **Separation** (classification): a direction of the coefficients along which every
  sample's score for its own class rises at least as fast as for any other class, and
  strictly for some.  Along it the likelihood of those samples tends to 1 and no
  maximum exists.  Detected with a linear program (HiGHS via :func:`scipy.optimize.linprog`)
  on the standardised design, the exact criterion of Albert & Anderson (1984).
* **Variance collapse** (Gaussian with learned scale): the mean fits some targets
  exactly and the scale model can shrink sigma on exactly those samples, so the density
  there, and the likelihood, grow without bound.  With ``alpha > 0`` the regressor's
  penalty reaches every direction of ``log sigma`` (the coefficients by the L2 term, its
  training mean by a divergence from the null model's scale), so it cannot happen.

When it happens the estimators warn with :class:`UnboundedLikelihoodWarning`, set
``mle_exists_ = False`` and return the minimiser of the objective plus a tiny ridge in
the data's own (Fisher) metric, which is finite and reproducible.
"""

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog

#: Fallback ridges (in whitened units) used when the MLE does not exist.
SEPARATION_FALLBACK_RIDGE = 1e-4
VARIANCE_COLLAPSE_FALLBACK_RIDGE = 1e-3
#: The fallback problem is flat (curvature ~ the ridge) along the direction of
#: recession, so its tolerance is tightened to pin down the parameters, not only the
#: objective value.
FALLBACK_TOL_FACTOR = 1e-3

#: A fitted probability of the observed class above this triggers the separation test.
_SEPARATION_SYMPTOM = 1.0 - 1e-4
#: Largest LP size (constraint rows x variables) attempted.
_MAX_LP_ENTRIES = 5e8


class UnboundedLikelihoodWarning(UserWarning):
    """The likelihood has no maximum: the plain MLE does not exist for this data.

    Emitted by the classifier at ``alpha=0`` when the classes are (quasi-)separable,
    and by the regressor at ``alpha=0`` when a learned variance collapses to zero; in
    both cases ``alpha > 0`` bounds the problem.  The regressor also emits it at an
    ``alpha > 0`` so small (e.g. 1e-30 on an exact fit) that the bounded sigma still
    falls below the rounding error of the targets; ``mle_exists_`` is then True.
    """


def _standardised_design(X, weights, fit_intercept):
    """Dense design with standardised, non-constant columns, plus an intercept column."""
    keep = weights > 0
    Z = X[keep]
    Z = Z.toarray() if sp.issparse(Z) else np.asarray(Z, dtype=np.float64)
    if fit_intercept:
        Z = Z - Z.mean(axis=0)
    scale = np.sqrt((Z**2).mean(axis=0))
    Z = Z[:, scale > 0] / scale[scale > 0]
    if fit_intercept:
        Z = np.hstack([Z, np.ones((Z.shape[0], 1))])
    return Z, keep


def find_separation(X, y_encoded, weights, n_classes, fit_intercept):
    """Samples separated by a direction of recession of the likelihood, or None.

    Solves: maximise the total margin ``sum_i sum_{k != y_i} (D_{y_i} - D_k) z_i`` over
    ``D`` in a box, subject to every such margin being >= 0.  The optimum is positive
    exactly when the classes are completely or quasi-completely separated; the samples
    with positive margin are the ones whose likelihood can be driven to 1.

    Returns
    -------
    separation : Separation or None
        None when the MLE exists (or the LP is too large to attempt).
    """
    Z, keep = _standardised_design(X, weights, fit_intercept)
    labels = y_encoded[keep].astype(np.intp)
    n, q = Z.shape
    if q == 0:
        return None
    if n_classes == 2:
        sign = np.where(labels == 1, 1.0, -1.0)
        rows = Z * sign[:, None]                       # margins: rows @ w >= 0
        n_vars = q
        if rows.size > _MAX_LP_ENTRIES:
            return None
        A = sp.csr_matrix(rows)
        owner = np.arange(n)
    else:
        # Variables: D (K, q) flattened; one constraint per (i, k != y_i).
        K = n_classes
        i_idx = np.repeat(np.arange(n), K - 1)
        others = np.array([[k for k in range(K) if k != c] for c in range(K)])
        k_idx = others[labels].ravel()
        if i_idx.size * 2 * q > _MAX_LP_ENTRIES:
            return None
        cols_own = labels[i_idx][:, None] * q + np.arange(q)
        cols_other = k_idx[:, None] * q + np.arange(q)
        values = Z[i_idx]
        data = np.concatenate([values.ravel(), -values.ravel()])
        row = np.concatenate([np.repeat(np.arange(i_idx.size), q)] * 2)
        col = np.concatenate([cols_own.ravel(), cols_other.ravel()])
        A = sp.csr_matrix((data, (row, col)), shape=(i_idx.size, K * q))
        n_vars = K * q
        owner = i_idx
    c = -np.asarray(A.sum(axis=0)).ravel()
    result = linprog(c, A_ub=-A, b_ub=np.zeros(A.shape[0]),
                     bounds=[(-1.0, 1.0)] * n_vars, method="highs")
    if result.status != 0 or -result.fun <= 1e-7 * max(A.shape[0], 1) ** 0.5:
        return None
    margins = A @ result.x
    positive = margins > 1e-7
    if not positive.any():
        return None
    kept_rows = np.flatnonzero(keep)
    if n_classes == 2:
        pairs = {(int(labels[i]), 1 - int(labels[i])) for i in np.flatnonzero(positive)}
        fully = positive
    else:
        pairs = {(int(labels[i]), int(k)) for i, k in zip(owner[positive], k_idx[positive])}
        fully = positive.reshape(n, n_classes - 1).all(axis=1)
    separated = np.zeros(y_encoded.shape[0], dtype=bool)
    separated[kept_rows[fully]] = True
    return Separation(separated, sorted(pairs))


class Separation:
    """Result of the separation test.

    Attributes
    ----------
    separated : ndarray of bool
        Samples whose own-class probability tends to 1 along the recession direction.
    pairs : list of (int, int)
        Encoded class pairs (c, k) such that some sample of class c is separated from
        class k.
    """

    def __init__(self, separated, pairs):
        self.separated = separated
        self.pairs = pairs


def separation_symptom(proba, y_encoded, weights):
    """Whether some positively weighted sample gets its class with probability ~ 1."""
    own = proba[np.arange(proba.shape[0]), y_encoded.astype(np.intp)]
    return bool(np.any(own[weights > 0] > _SEPARATION_SYMPTOM))


def _label(value):
    return repr(value.item() if hasattr(value, "item") else value)


def separation_message(estimator_name, classes, y_encoded, separation):
    """Warning text naming the separated classes and the remedy."""
    unordered = sorted({tuple(sorted(pair)) for pair in separation.pairs})
    described = [f"class {_label(classes[c])} from class {_label(classes[k])}"
                 for c, k in unordered]
    n_separated = int(separation.separated.sum())
    kind = "completely" if n_separated == y_encoded.size else "quasi-completely"
    return (
        f"{estimator_name}: the maximum likelihood estimate does not exist at alpha=0: "
        f"the classes are {kind} separated; a linear function of X separates "
        + "; ".join(described)
        + f" ({n_separated} of {y_encoded.size} samples would get probability 1). "
        "The likelihood keeps increasing as the coefficients grow without bound. The "
        "returned coefficients minimise the objective plus a tiny ridge: finite and "
        "predictive, but arbitrary in scale. Set alpha > 0 for a well-defined "
        "penalised estimate."
    )


#: sigma_i below this fraction of the data's scale, on a sample the mean fits exactly,
#: is a variance collapsing to zero.
_COLLAPSE_RATIO = 1e-6


def find_variance_collapse(X, y, weights, log_scale, fit_intercept):
    """Samples on which a learned Gaussian scale collapses to zero, or None.

    The symptom comes from the iterates: ``sigma_i`` has fallen below ``1e-6`` of the
    data's scale.  It is confirmed from the problem itself: the mean model can fit
    the targets of those samples *exactly* (a least-squares solve on them leaves no
    residual), so shrinking sigma there raises the density, and the likelihood,
    without bound.
    """
    positive = weights > 0
    centred = y - np.average(y, weights=weights)
    reference = max(np.sqrt(np.average(centred**2, weights=weights)),
                    1e-12 * np.max(np.abs(y)), 1e-300)
    collapsed = positive & (log_scale < np.log(_COLLAPSE_RATIO * reference))
    if not collapsed.any():
        return None
    Z = X[collapsed]
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


def resolution_message(estimator_name, variance, alpha, smallest, y, weights):
    """Warning text for a sigma below the resolution of the targets at alpha > 0."""
    return (
        f"{estimator_name}(variance={variance!r}): alpha={alpha:g} is too small to keep "
        f"the learned sigma above the precision of the data: sigma falls to "
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
