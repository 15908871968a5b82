"""What a fit does where the maximum-likelihood estimate does not exist: the
diagnosis of each estimator's likelihood and the finite stand-in fit returned.

* Regression families (:func:`diagnose_regression`, :func:`regression_fallback`): a
  recession or a dispersion collapse (:mod:`sklearn_mle.existence._check`); the
  stand-in is the minimiser of the objective plus a small ridge in the data's Fisher
  metric.
* Classes (:func:`diagnose_classes`, :func:`fit_separated`): separation, certified
  absent by a Newton certificate or found by a linear program
  (:mod:`sklearn_mle.existence._separation`); the stand-in is the MLE of the pairs
  left plus the separating direction, scaled to a fixed logit margin.
"""

import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from .._threads import n_threads
from ..solver._fit import fit_model
from ._check import find_unbounded
from ._moments import certify_moment_existence
from ._separation import (FALLBACK_SEPARATION_MARGIN,
                          certify_existence, class_scores,
                          find_complete_separation, find_separation,
                          fitted_margin_summary, masking_offset, suspect_samples)
from ._unbounded import FALLBACK_TOL_FACTOR

#: Rounds of "restricted fit, then certificate" before the diagnosis is final.
_MAX_SEPARATION_ROUNDS = 5
#: A sample whose margin growth exceeds this is a candidate for separation.
_CANDIDATE_GROWTH = 0.1


# ------------------------------------------------------------------ regression families
def diagnose_regression(model, modes, X, y, weights, theta, fit_intercept):
    """An ``Unbounded`` diagnosis of a regression family's fit, or None."""
    # the moment certificate rules out a direction of recession without the LP
    certified = (model.loss.recession_signs(y) is not None
                 and certify_moment_existence(model, X, y, weights, theta,
                                              n_threads(model.work_per_pass(X))))

    def raw_prediction(rows):  # ``rows``: a leading block of X (a row, or all of it)
        return model.linear_predictor(rows, *model.unpack(theta),
                                      model.training_offset(0, rows.shape[0]))

    return find_unbounded(model.loss, modes, X, y, weights, raw_prediction,
                          fit_intercept, recession_ruled_out=certified, access=model)


def regression_fallback(model, X, y, weights, alpha, theta0, start_raw, fit_options):
    """The minimiser of the objective plus a small ridge (the family's
    ``fallback_ridge``) in the data's Fisher metric: finite and reproducible where the
    MLE does not exist."""
    options = dict(fit_options, tol=fit_options["tol"] * FALLBACK_TOL_FACTOR)
    # The user has just been told that the MLE does not exist; the ridge fit is a
    # finite stand-in, and whether its tightened tolerance was met to the last digits
    # is no news (it is flat along the direction of recession).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return fit_model(model, X, y, weights, alpha, theta0, start_raw,
                         fallback_ridge=model.loss.fallback_ridge, **options)


def boundary_modes(family, modes, intercept):
    """The column modes with the family's boundary column fixed where the fit put it,
    if the fit ran onto a boundary of the family (see :meth:`Family.boundary_note`);
    else None."""
    j = family.boundary_column
    if j is None or modes[j] != "constant" or family.boundary_note(intercept) is None:
        return None
    fixed = list(modes)
    fixed[j] = float(intercept[j])
    return tuple(fixed)


def refit_at_boundary(model, modes, build_model, X, y, weights, alpha, result,
                      start_raw, fit_options):
    """The fit with the family's boundary column fixed, if the fit ``result`` of
    ``model`` ran onto a boundary of the family (see :func:`boundary_modes`); else None.

    A limit of the family, not a failure: the likelihood is flat along the boundary
    column, which the solver cannot pin down.  That column is fixed where it ran to and
    the rest refitted from there by ``build_model(fixed_modes)``, spending what is left
    of ``max_iter`` (the result's ``n_iter`` counts both fits).  Returns the fixed
    modes, the new model, its result and the refit's recorded warnings.  A model
    without coefficients (a network) is not refitted: None.
    """
    if not model.has_coefficients:
        return None
    coef, intercept = model.unpack(result.theta)
    fixed = boundary_modes(model.loss, modes, intercept)
    if fixed is None:
        return None
    model = build_model(fixed)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = fit_model(model, X, y, weights, alpha, model.pack(coef, intercept),
                           start_raw, iterations_done=result.n_iter, **fit_options)
    return fixed, model, result, caught


# ------------------------------------------------------------------------------ classes
def diagnose_classes(model, X, y_encoded, weights, result, n_classes, fit_intercept):
    """None if the MLE of the classifier's likelihood exists (certified), else the
    :class:`~sklearn_mle.existence._separation.Separation` found."""
    threads = n_threads(model.work_per_pass(X))
    certified = certify_existence(model, X, y_encoded, weights, result.theta, threads,
                                  result)
    if certified:
        return None
    smallest, suspects = fitted_margin_summary(model, X, y_encoded, weights,
                                               result.theta)
    if smallest > 0:
        # the fit classifies every sample correctly: complete separation
        return find_complete_separation(X, y_encoded, weights, n_classes, fit_intercept,
                                        *model.unpack(result.theta), access=model)
    if certified is not None:
        suspects = np.union1d(suspects, suspect_samples(
            model, X, y_encoded, weights, result.theta, threads,
            threshold=_CANDIDATE_GROWTH))
    if not suspects.size:
        return None
    return find_separation(X, y_encoded, weights, n_classes, fit_intercept, suspects,
                           access=model)


class SeparatedResult:
    """The parameters returned for separated data (for the rest of fit)."""

    def __init__(self, theta, objective, design_gram, n_iter, converged=True):
        self.theta = theta
        self.n_iter = n_iter
        self.objective = objective
        self.design_gram = design_gram
        self.converged = converged


def _restricted_model(model, weights, separation, n_classes):
    """The model and weights of the likelihood left by the separated pairs."""
    keep = weights * ~separation.fully_separated
    keep = keep / keep.sum() if keep.sum() > 0 else keep
    partial = ~separation.alive.all(axis=1) & ~separation.fully_separated
    if not partial.any():
        return model, keep, None
    masked = model.with_offset(masking_offset(model.offset, separation.alive))
    return masked, keep, separation.alive


def fit_separated(model, X, y_encoded, weights, separation, fit_options, first_result,
                  start, n_classes, fit_intercept):
    """Fit of separated data: the MLE of the remaining pairs plus the separating
    direction, scaled so every separated pair has logit margin at least
    ``FALLBACK_SEPARATION_MARGIN``.  The remaining likelihood is certified in turn;
    pairs it shows separable are added and the separation is recomputed.

    ``start(model, y_encoded, weights)`` gives a fit's ``(theta0, start_raw)``.
    Returns the :class:`SeparatedResult` and the final separation.
    """
    threads = n_threads(model.work_per_pass(X))
    n_iter, converged = first_result.n_iter, True
    for _ in range(_MAX_SEPARATION_ROUNDS):
        restricted, keep, alive = _restricted_model(model, weights, separation, n_classes)
        if not np.any(keep > 0):
            theta = np.zeros(model.n_params)
            break
        theta0, start_raw = start(restricted, y_encoded, keep)
        result = fit_model(restricted, X, y_encoded, keep, 0.0, theta0, start_raw,
                           iterations_done=n_iter, **fit_options)
        n_iter = result.n_iter  # the fits share max_iter: n_iter counts them all
        theta, converged = result.theta, result.converged
        flagged = suspect_samples(restricted, X, y_encoded, keep, theta, threads, alive,
                                  threshold=_CANDIDATE_GROWTH)
        if flagged is None or not flagged.size:
            break
        suspects = np.union1d(separation.separated_samples, flagged)
        wider = find_separation(X, y_encoded, weights, n_classes, fit_intercept, suspects,
                                access=model)
        if wider is None or not (~wider.alive & separation.alive).any():
            break
        separation = wider
    coef, intercept = model.unpack(theta)
    scale = _separating_scale(model, X, y_encoded, coef, intercept, separation)
    theta = theta + scale * model.pack(separation.coef, separation.intercept)
    restricted, keep, _ = _restricted_model(model, weights, separation, n_classes)
    if np.any(keep > 0):
        # The LP's direction leaves the remaining pairs' margins at zero only to its
        # tolerance; one more fit of the remaining likelihood from here takes that
        # drift out.  The separating part is a flat direction of that likelihood,
        # which the solver leaves where it is.
        _, start_raw = start(restricted, y_encoded, keep)
        result = fit_model(restricted, X, y_encoded, keep, 0.0, theta, start_raw,
                           iterations_done=n_iter, **fit_options)
        n_iter = result.n_iter
        theta, converged = result.theta, result.converged
    value, _ = model.objective_gradient(theta, X, y_encoded, weights, 0.0, threads)
    return (SeparatedResult(theta, value, first_result.design_gram, n_iter, converged),
            separation)


def _separating_scale(model, X, y_encoded, coef, intercept, separation):
    """Smallest multiple of the separating direction that gives every separated pair a
    logit margin of at least ``FALLBACK_SEPARATION_MARGIN`` on top of the model
    (coef, intercept) with its offset."""
    rows = separation.separated_samples
    if rows.size == 0:
        return 0.0
    labels = y_encoded[rows].astype(np.intp)
    separated_rows = model.take_rows(X, rows)
    offset = None if model.offset is None else model.offset[rows]
    scores = class_scores(model.linear_predictor(separated_rows, coef, intercept, offset),
                          model.loss.n_raw)
    direction = class_scores(model.linear_predictor(separated_rows, separation.coef,
                                                    separation.intercept),
                             model.loss.n_raw)
    own = np.arange(rows.size), labels
    dead = ~separation.alive[rows]
    margin = (scores[own][:, None] - scores)[dead]
    growth = (direction[own][:, None] - direction)[dead]
    needed = (FALLBACK_SEPARATION_MARGIN - margin) / np.maximum(growth, 1e-300)
    return float(max(needed.max(initial=0.0), 0.0))
