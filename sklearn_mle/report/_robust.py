r"""Robust (sandwich) covariances: heteroscedasticity-consistent HC0-HC3 and
cluster-robust, for any model that gives per-sample scores.

With ``H`` the Hessian of the objective (the weighted mean NLL, penalised at
``alpha > 0``) and ``u_i = s~_i J_i^T g_i`` the score of sample ``i`` (its normalised
weight ``s~_i``, the Jacobian ``J_i`` of its raw predictions and the gradient ``g_i``
of its NLL on them), the covariance is

.. math::

    V = c \, H^{+} \Big(\sum_i u_i u_i^\top\Big) H^{+}
    \qquad\text{(HC0, HC1: } c = 1,\ n / (n - k)\text{)},

and for clusters the scores are summed within each group first,
``sum_g (sum_{i in g} u_i)(sum_{i in g} u_i)^T`` with ``c = G / (G - 1) (n - 1) /
(n - k)`` (statsmodels' default ``use_correction=True``).  The total weight cancels
(``H`` and the scores both carry ``1 / sum s``), so the sandwich of the total
log-likelihood is computed from the normalised weights.  HC2 and HC3 rescale each
sample's raw gradient by ``(I - W_i A_i)^{-1/2}`` and ``(I - W_i A_i)^{-1}``, where
``W_i`` is the sample's (weighted) Fisher information on its raw predictions and
``A_i = J_i F^{+} J_i^T`` with ``F`` the expected Hessian of the objective: ``W_i A_i``
is the sample's block of the hat matrix of the model linearised at the fit, which for
one raw column is the leverage ``h_i`` of a generalised linear model.

The scores are formed a block of rows at a time (``_BLOCK_NUMBERS`` numbers, 256 kB a
block), and only their outer products are kept: nothing of size ``n_samples x
n_params`` is made.
"""

import numpy as np
import scipy.sparse as sp

from .._threads import n_threads as block_threads
from ._statistics import information_inverse

#: The robust kinds of ``inference`` (statsmodels' ``cov_type`` names, lower case).
ROBUST_KINDS = ("hc0", "hc1", "hc2", "hc3", "cluster")

#: Numbers (rows x parameters) in one block of scores (256 kB): each array a block
#: makes (design values, scores, leverage forms) holds about this many.  Smaller
#: blocks keep them under the peak of the Hessian's pass (test_memory); the time per
#: block is the kernels' and BLAS's, not Python's, down to this size.
_BLOCK_NUMBERS = 1 << 15
#: Leverages (eigenvalues of a sample's hat block) within this of 1 belong to samples
#: the fit interpolates: their scores vanish in those directions, and HC2/HC3 leave
#: them uncorrected instead of dividing rounding noise by rounding noise.
_UNIT_LEVERAGE_TOL = 1e-8


def is_robust(inference):
    """Whether ``inference`` names a robust covariance."""
    return isinstance(inference, str) and inference in ROBUST_KINDS


def validate_groups(groups, inference, n_samples):
    """The integer cluster codes of ``groups`` (0 .. G-1), None without clusters, or a
    ValueError that says what was given and what is expected."""
    if groups is None:
        if inference == "cluster":
            raise ValueError(
                "inference='cluster' needs the cluster of every sample: pass "
                "fit(X, y, groups=labels) with one label per sample (in a Pipeline, "
                "as <step>__groups).")
        return None
    if inference != "cluster":
        raise ValueError(
            f"groups is used only by inference='cluster' (cluster-robust standard "
            f"errors), but inference={inference!r}: set inference='cluster', or do not "
            "pass groups to fit.")
    labels = np.asarray(groups)
    if labels.ndim != 1 or labels.shape[0] != n_samples:
        raise ValueError(
            f"groups must hold one cluster label per sample, shape ({n_samples},), got "
            f"shape {labels.shape}.")
    if labels.dtype.kind == "f" and not np.all(np.isfinite(labels)):
        raise ValueError("groups contains NaN or infinity: every sample needs a "
                         "cluster label.")
    if labels.dtype.kind == "O" and any(label is None or label != label
                                        for label in labels):
        raise ValueError("groups contains missing labels (None or NaN): every sample "
                         "needs a cluster label.")
    try:
        values, codes = np.unique(labels, return_inverse=True)
    except TypeError as error:
        raise ValueError("groups must hold labels of one sortable type (integers or "
                         f"strings, say): {error}") from None
    if values.size < 2:
        raise ValueError(
            f"inference='cluster' needs at least 2 clusters, but groups holds only one "
            f"label, {values[0]!r}: the cluster-robust covariance is then zero.")
    return codes.reshape(-1).astype(np.intp, copy=False)


def robust_label(kind, n_groups=None):
    """The Covariance line of a summary header: "HC1", "cluster (11 groups)"."""
    return f"cluster ({n_groups} groups)" if kind == "cluster" else kind.upper()


def robust_note(kind, n_rows, n_counted, n_groups=None):
    """What the robust covariance is, for the summary's notes."""
    meat = ("the scores summed within each of the groups" if kind == "cluster"
            else "the per-sample scores")
    text = (f"{robust_label(kind, n_groups)}: sandwich covariance, robust to a "
            "misspecified variance (bread: the inverse observed information; meat: "
            f"the outer products of {meat})")
    if kind == "hc1":
        text += f", times n / (n - k) = {n_rows:g} / {n_rows - n_counted:g}"
    elif kind in ("hc2", "hc3"):
        power = "" if kind == "hc3" else "^1/2"
        text += (f", each score divided by (1 - h_i){power} with h_i the leverage of "
                 "sample i")
    elif kind == "cluster":
        text += (f", times G / (G - 1) (n - 1) / (n - k) with G = {n_groups}, "
                 f"n = {n_rows:g}, k = {n_counted:g}")
        if n_groups < 30:
            text += "; with few groups the normal approximation of the tests is rough"
    return text + ". The tests and intervals are Wald z tests on this covariance."


def correction_factor(kind, n_rows, n_counted, n_groups=None):
    """The small-sample factor ``c`` of the module docstring (NaN where n <= k)."""
    if kind == "hc1":
        return n_rows / (n_rows - n_counted) if n_rows > n_counted else np.nan
    if kind == "cluster":
        if n_rows <= n_counted:
            return np.nan
        return n_groups / (n_groups - 1.0) * (n_rows - 1.0) / (n_rows - n_counted)
    return 1.0


def sandwich(model, X, y, weights, alpha, theta, hessian, kind, codes, n_counted,
             n_threads=1):
    """The robust covariance of the free parameters.

    Parameters
    ----------
    model : Model
        The fitted model (its per-sample scores, and for HC2/HC3 its forms).
    X : {ndarray, sparse matrix} of shape (n_samples, n_features)
        Training samples.
    y : ndarray of shape (n_samples,), float64
        Targets, encoded as the loss expects.
    weights : ndarray of shape (n_samples,)
        Sample weights of the objective, normalised to sum to one.
    alpha : float
        Penalty strength (the bread and leverages are penalised; the scores are the
        likelihood's).
    theta : ndarray of shape (n_params,)
        The estimate.
    hessian : ndarray of shape (n_params, n_params)
        Hessian of the objective at ``theta``: the bread is its pseudo-inverse on the
        identified subspace.
    kind : {"hc0", "hc1", "hc2", "hc3", "cluster"}
        Which covariance.
    codes : ndarray of int of shape (n_samples,) or None
        Cluster of each sample (``kind="cluster"``).
    n_counted : float
        ``k`` of the small-sample corrections: the identified parameters that the
        residual degrees of freedom count.
    n_threads : int, default=1
        Threads the family's kernels may use.

    Returns
    -------
    covariance : ndarray of shape (n_params, n_params)
        NaN on aliased parameters.
    aliased : ndarray of bool of shape (n_params,)
    n_rows : int
        Samples with a positive weight (``n`` of the corrections).
    n_groups : int or None
        Clusters among them.
    """
    bread, aliased = information_inverse(hessian)
    leverage_bread, power = None, None
    if kind in ("hc2", "hc3"):
        fisher = model.hessian(theta, X, y, weights, alpha, n_threads, expected=True)
        leverage_bread = information_inverse(np.nan_to_num(fisher))[0]
        power = 0.5 if kind == "hc2" else 1.0
    positive = weights > 0
    whole = kind != "cluster" and bool(positive.all())  # blocks are slices of X
    rows = np.arange(0) if whole else np.flatnonzero(positive)
    n_rows, n_groups = (X.shape[0] if whole else rows.size), None
    del positive
    if kind == "cluster":
        order = np.argsort(codes[rows], kind="stable")
        rows = rows[order]
        n_groups = int(np.unique(codes[rows]).size)
        if n_groups < 2:
            raise ValueError(
                "inference='cluster' needs at least 2 clusters among the samples with a "
                f"positive weight, got {n_groups}.")
    if sp.issparse(X):
        X = X.tocsr()  # row blocks of CSC would each scan every column
    meat = np.zeros((theta.size, theta.size))
    carry = None   # the partial score sum of a cluster that continues in the next block
    step = max(16, min(4096, _BLOCK_NUMBERS // max(theta.size, 1)))
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for start in range(0, n_rows, step):
            index = slice(start, start + step) if whole else rows[start:start + step]
            block = X[index]
            raw = model.training_rows_raw(theta, block, index)
            # threads for a block's work, not the pass's: a parallel region per small
            # block costs more than it saves
            threads = min(n_threads, block_threads(raw.size))
            _, gradient = model.loss.loss_gradient(y[index], raw, weights[index], threads)
            if leverage_bread is not None:
                information = model.loss.fisher_information(y[index], raw, weights[index],
                                                            threads)
                forms = model.sample_forms(theta, block, leverage_bread)
                gradient = leverage_corrected(gradient, information, forms, power)
            scores = model.sample_scores(theta, block, gradient)
            if kind == "cluster":
                scores, carry = _cluster_sums(scores, codes[index], carry,
                                              last=start + step >= n_rows)
            meat += scores.T @ scores
        # scores beyond the doubles (a fit far out where the MLE does not exist) give
        # NaN standard errors, honestly and without a RuntimeWarning
        covariance = correction_factor(kind, n_rows, n_counted, n_groups) * (
            bread @ meat @ bread)
    covariance = 0.5 * (covariance + covariance.T)
    covariance[aliased, :] = np.nan
    covariance[:, aliased] = np.nan
    return covariance, aliased, n_rows, n_groups


def _cluster_sums(scores, codes, carry, last):
    """Score sums of the clusters in a block of rows sorted by cluster.

    ``carry`` is ``(code, partial sum)`` of the cluster the previous block ended in;
    the cluster this block ends in is carried on unless the block is the last.
    Returns the sums of the clusters that are complete, and the new carry.
    """
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    sums = np.add.reduceat(scores, starts, axis=0)
    if carry is not None:
        code, partial = carry
        if codes[0] == code:
            sums[0] += partial
        else:
            sums = np.vstack([partial[None, :], sums])
    if last:
        return sums, None
    return sums[:-1], (codes[-1], sums[-1].copy())


def leverage_corrected(gradient, information, forms, power):
    r"""Raw gradients ``g_i`` times ``(I - W_i A_i)^{-power}`` (HC2: 1/2, HC3: 1).

    ``W_i A_i`` is similar to the symmetric hat block ``H_i = W_i^{1/2} A_i
    W_i^{1/2}``, and ``(I - W A)^{-p} = I + W^{1/2} \varphi(H) W^{1/2} A`` with
    ``phi(h) = ((1 - h)^{-p} - 1) / h``, which needs no inverse of ``W`` (singular
    for the softmax).  For one raw column this is ``g_i / (1 - h_i)^p``.
    Eigenvalues of ``W`` below 0 (a family whose Fisher information is only
    approximately positive) count as 0; leverages within ``_UNIT_LEVERAGE_TOL`` of 1
    (samples the fit interpolates, whose scores vanish) are left uncorrected.
    """
    if gradient.shape[1] == 1:
        leverage = information[:, 0, 0] * forms[:, 0, 0]
        return gradient * _leverage_factor(leverage, power)[:, None]
    information = 0.5 * (information + np.swapaxes(information, 1, 2))
    values, vectors = np.linalg.eigh(information)
    root = (vectors * np.sqrt(np.clip(values, 0.0, None))[:, None, :]) @ \
        np.swapaxes(vectors, 1, 2)
    hat = root @ forms @ root
    hat = 0.5 * (hat + np.swapaxes(hat, 1, 2))
    leverages, directions = np.linalg.eigh(hat)
    phi = _phi(leverages, power)
    correction = np.einsum("ijk,ik->ij", forms, gradient)
    correction = np.einsum("ijk,ik->ij", root, correction)
    correction = np.einsum("ikj,ik->ij", directions, correction) * phi
    correction = np.einsum("ijk,ik->ij", directions, correction)
    correction = np.einsum("ijk,ik->ij", root, correction)
    return gradient + correction


def _leverage_factor(leverage, power):
    """``(1 - h)^{-power}``, 1 where h is within ``_UNIT_LEVERAGE_TOL`` of 1 or beyond."""
    leverage = np.clip(leverage, 0.0, None)
    interpolated = leverage >= 1.0 - _UNIT_LEVERAGE_TOL
    return np.where(interpolated, 1.0,
                    np.where(interpolated, 1.0, 1.0 - leverage) ** -power)


def _phi(leverage, power):
    """``((1 - h)^{-power} - 1) / h`` without cancellation: ``1 / (1 - h)`` for HC3 and
    ``1 / (r (1 + r))`` with ``r = sqrt(1 - h)`` for HC2; 0 for interpolated samples."""
    leverage = np.clip(leverage, 0.0, None)
    interpolated = leverage >= 1.0 - _UNIT_LEVERAGE_TOL
    rest = np.where(interpolated, 1.0, 1.0 - leverage)
    if power == 1.0:
        phi = 1.0 / rest
    else:
        root = np.sqrt(rest)
        phi = 1.0 / (root * (1.0 + root))
    return np.where(interpolated, 0.0, phi)
