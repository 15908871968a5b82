"""The likelihood attributes of a fit: ``loglik_``, ``loglik_null_``, AIC, BIC and the
degrees of freedom, for a regression family and for classes.

Parameters are counted as identified by the data: the rank of the design for each
column linear in x (from the Gram matrix the preconditioner formed, so free, or formed
for the count where inference was asked for), one for each other learned column.
"""

import numpy as np
from scipy.special import xlogy

from .._threads import n_threads
from ..families._base import _distinct_targets, constant_raw_rows
from ..models._linear import row_slices
from ..models._linear_layouts import classification_null_raw
from ._covariance import total_log_likelihood
from ._statistics import design_rank, set_likelihood_attributes


def _ranks(design_gram, fit_intercept, n_features, design_rcond=None):
    """Rank of the mean's design (with or without the intercept) and of ``[X, 1]``;
    every column counts when the Gram matrix was not formed (many parameters).
    ``design_rcond``: the solver's estimate for the mean's design, where it has one
    (see :func:`design_rank`)."""
    rank = design_rank(design_gram, fit_intercept, design_rcond)
    if rank is None:
        return n_features + fit_intercept, n_features + 1
    return rank, (rank if fit_intercept else design_rank(design_gram, True))


def counting_gram(estimator, model, X, fit_weights, result):
    """The Gram matrix of ``[X, 1]`` the parameter count reads the design's rank from,
    and the solver's estimate of its reciprocal condition number where it has one:
    the matrix the preconditioner formed (free), else, where ``inference`` was asked
    for (its p x p information costs as much), formed now; None otherwise (many
    parameters and no inference: every column counts)."""
    if (result.design_gram is not None or not estimator.inference
            or not model.has_coefficients):
        return result.design_gram, getattr(result, "design_rcond", None)
    return model.design_gram(X, fit_weights.normalised,
                             n_threads(model.work_per_pass(X))), None


def count_parameters(modes, design_gram, fit_intercept, n_features, design_rcond=None):
    """Identified parameters, how many of them the null model has, and how many belong
    to learned columns other than the mean (``design_rcond``: see :func:`_ranks`)."""
    rank, full_rank = _ranks(design_gram, fit_intercept, n_features, design_rcond)
    learned = [mode for mode in modes[1:] if mode in ("x", "constant")]
    n_identified = rank + sum(full_rank if mode == "x" else 1 for mode in learned)
    return n_identified, fit_intercept + len(learned), len(learned)


def set_regression_likelihood(estimator, model, modes, X, y, theta, fit_weights, result,
                              null_raw, alpha, raw=None):
    """Likelihood attributes of a regression family's fit at ``theta`` (in y's units)
    with the null model at ``null_raw``; ``raw``: the model's raw predictions at
    ``theta`` where the caller has them (see :func:`fitted_log_likelihood`)."""
    family = model.loss
    design_gram, design_rcond = counting_gram(estimator, model, X, fit_weights, result)
    n_identified, n_null, n_learned = count_parameters(
        modes, design_gram, estimator.fit_intercept, X.shape[1], design_rcond)
    if not model.has_coefficients:   # a network: every parameter it estimates counts
        n_identified = model.n_estimated
    # observations: the sum of the weights, or the rows where weights are trials
    total = (float(np.count_nonzero(fit_weights.likelihood)) if family.weights_are_trials
             else fit_weights.total)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        constant = family.total_log_likelihood_constant(
            y, fit_weights.likelihood * fit_weights.likelihood_scale)
        loglik = fitted_log_likelihood(model, X, y, theta, fit_weights, result,
                                       alpha == 0 and estimator.mle_exists_, raw)
        if model.offset is None:
            # the null model's NLL depends on y only through its distinct values
            distinct, distinct_weights = _distinct_targets(y, fit_weights.likelihood)
            null_loss = family.constant_loss(distinct, null_raw, distinct_weights,
                                             n_threads(distinct.size))
        else:
            null_loss = _null_loss_with_offset(family, y, fit_weights.likelihood,
                                               null_raw, model.offset)
        loglik_null = -fit_weights.likelihood_scale * null_loss
        set_likelihood_attributes(
            estimator, loglik=loglik + constant, loglik_null=loglik_null + constant,
            n_identified=n_identified, n_null=n_null, n_scale=n_learned, n_obs=total,
            converged=result.converged)


def fitted_log_likelihood(model, X, y, theta, fit_weights, result, objective_is_nll,
                          raw=None):
    """``sum_i s_i log p(y_i | x_i)`` at the fit ``theta``: from the solver's objective
    where it is the weighted mean NLL there (``objective_is_nll``: unpenalised, the
    MLE's own fit; the objective's weights the likelihood's; and known at ``theta``,
    not NaN as after a fit on rescaled targets), with no pass over X; else from the
    raw predictions ``raw`` at ``theta`` where given (the family's per-sample NLL);
    else one pass (:func:`total_log_likelihood`)."""
    if (objective_is_nll and fit_weights.objective_is_likelihood
            and np.isfinite(result.objective)):
        return -fit_weights.fit_total * float(result.objective)
    if raw is not None:
        nll = model.loss.loss_gradient(y, raw, fit_weights.likelihood,
                                       n_threads(raw.size))[0]
        return -float(fit_weights.likelihood_scale * nll.sum())
    return total_log_likelihood(model, X, y, theta, fit_weights)


def _null_loss_with_offset(family, y, weights, null_raw, offset):
    """``sum_i w_i NLL_i`` of the intercept-only model when each sample's mean carries
    its offset (the raw predictions are no longer one constant), a block at a time."""
    total = 0.0
    for rows in row_slices(y.shape[0]):
        raw = constant_raw_rows(null_raw, y[rows].shape[0], offset[rows])
        total += float(family.loss_gradient(y[rows], raw, weights[rows],
                                            n_threads(raw.size))[0].sum())
    return total


def set_class_likelihood(estimator, model, X, y_encoded, fit_weights, result, n_classes):
    """Likelihood attributes of the classifier's fit; the null model (intercepts only)
    puts the weighted class frequencies on every sample, or 1/K each without
    intercepts; with the model's offset it is the intercept-only fit that includes
    the offset (the offset alone without intercepts)."""
    design_gram, design_rcond = counting_gram(estimator, model, X, fit_weights, result)
    rank = _ranks(design_gram, estimator.fit_intercept, X.shape[1], design_rcond)[0]
    n_identified = ((n_classes - 1) * rank if model.has_coefficients
                    else model.n_estimated)   # a network: what it estimates
    if model.offset is not None:
        # fitted with the likelihood's weights (class weights excluded), as loglik_
        null_raw = classification_null_raw(model.loss, y_encoded,
                                           fit_weights.likelihood,
                                           estimator.fit_intercept, model.offset)
        loglik_null = -fit_weights.likelihood_scale * _null_loss_with_offset(
            model.loss, y_encoded, fit_weights.likelihood, null_raw, model.offset)
    else:
        # one masked sum per class: no sample-sized integer copy of the labels
        class_weight = fit_weights.likelihood_scale * np.array(
            [np.sum(fit_weights.likelihood, where=(y_encoded == k))
             for k in range(n_classes)])
        if estimator.fit_intercept:
            loglik_null = float(np.sum(xlogy(class_weight,
                                             class_weight / class_weight.sum())))
        else:
            loglik_null = -float(class_weight.sum()) * np.log(n_classes)
    # (class weights make the objective's weights differ from the likelihood's)
    loglik = fitted_log_likelihood(model, X, y_encoded, result.theta, fit_weights,
                                   result, estimator.alpha == 0 and estimator.mle_exists_)
    set_likelihood_attributes(
        estimator, loglik=loglik,
        loglik_null=loglik_null, n_identified=n_identified,
        n_null=(n_classes - 1) * estimator.fit_intercept, n_scale=0,
        n_obs=fit_weights.total, converged=result.converged)
