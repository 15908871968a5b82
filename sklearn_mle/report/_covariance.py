"""Quantities of a fitted model that need a pass over the data: the total
log-likelihood and the covariance of the reported parameters (model interface only)."""

import numpy as np

from .._threads import n_threads
from ._robust import sandwich
from ._statistics import covariance_from_information


def total_log_likelihood(model, X, y, theta, fit_weights):
    """``sum_i s_i log p(y_i | x_i)`` for the model at ``theta`` with the sample weights
    of ``fit_weights`` (a :class:`FitWeights`): one pass over X (``model.total_nll``)."""
    y = np.ascontiguousarray(y, dtype=np.float64)
    threads = n_threads(model.work_per_pass(X))
    # a total beyond the doubles is -inf, honestly
    with np.errstate(over="ignore", invalid="ignore"):
        nll = model.total_nll(theta, X, y, fit_weights.likelihood, threads)
        return -float(fit_weights.likelihood_scale * nll)


def output_covariance(model, X, y, weights, total_weight, alpha, theta, to_output,
                      robust=None):
    """Covariance of the reported parameters, whether any of them is aliased, and
    the counts behind a robust covariance.

    The observed information of the total (weighted) log-likelihood is
    ``total_weight * Hessian(objective)`` (penalty included, so with alpha > 0 it is
    the penalised information); its inverse is the covariance, or with ``robust`` the
    bread of a sandwich (:func:`~sklearn_mle.report._robust.sandwich`).
    ``to_output(theta)`` maps the free parameters to the reported vector (a linear
    map: unpacking, fixed reference rows, centring).

    Parameters
    ----------
    robust : dict or None, default=None
        None for the inverse information; else ``kind`` (a name of
        :data:`~sklearn_mle.report._robust.ROBUST_KINDS`), ``codes`` (cluster codes
        or None) and ``n_counted`` (``k`` of the small-sample corrections).

    Returns
    -------
    covariance : ndarray of shape (n_out, n_out)
        NaN on the reported parameters that touch an aliased one.
    aliased : bool
        Whether some parameter is aliased.
    counts : dict or None
        With ``robust``: ``n_rows`` (samples with a positive weight) and ``n_groups``
        (clusters, or None).
    """
    threads = n_threads(model.work_per_pass(X))
    y = np.ascontiguousarray(y, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        hessian = model.hessian(theta, X, y, weights, alpha, threads)
    if hessian is None:
        raise ValueError(f"{type(model).__name__} has no observed Hessian, so standard "
                         "errors (the inverse observed information) cannot be computed "
                         "for it; fit without inference.")
    if not np.all(np.isfinite(hessian)):
        hessian = np.nan_to_num(hessian, nan=0.0, posinf=0.0, neginf=0.0)
    counts = None
    if robust is None:
        covariance, aliased = covariance_from_information(total_weight * hessian)
    else:
        covariance, aliased, n_rows, n_groups = sandwich(
            model, X, y, weights, alpha, theta, hessian, robust["kind"],
            robust["codes"], robust["n_counted"], threads)
        counts = dict(n_rows=n_rows, n_groups=n_groups)
    origin = to_output(np.zeros_like(theta))
    jacobian = np.column_stack([to_output(e) - origin for e in np.eye(theta.size)]) \
        if theta.size else np.zeros((origin.size, 0))
    output = np.nan_to_num(jacobian) @ np.nan_to_num(covariance) @ np.nan_to_num(jacobian).T
    touches_aliased = (np.abs(jacobian[:, aliased]) > 0).any(axis=1)
    output[touches_aliased, :] = np.nan
    output[:, touches_aliased] = np.nan
    return output, bool(aliased.any()), counts
