"""Whether a family's maximum-likelihood estimate exists on the data: the check every
regression family gets from what it declares (see :class:`~sklearn_mle.Family`).

Two ways a likelihood of a linear model can increase for ever:

* **Recession of the mean** (``Family.recession_signs``): some samples' NLL decreases
  for ever as their mean's linear predictor runs off in one direction (zero counts
  under a log link towards ``-inf``, proportions of 0 or 1 under a logit link).  The
  MLE fails to exist exactly when a direction ``d`` of the mean's parameters moves
  every such sample's predictor only in its own direction, some strictly, and leaves
  every other sample's predictor unchanged (``z_i d = 0``).  This is the same linear
  program as separation in classification, with the signed samples as the candidate
  pairs, so :func:`~sklearn_mle.existence._separation.find_separation` decides it.  It is cheap
  in the common case: the LP lives in the null space of the unsigned samples' design
  vectors, which is empty as soon as they span the design.
* **Collapse of a dispersion** (``Family.collapse_log_scale``): the mean fits some
  targets exactly and the dispersion model can shrink the spread to 0 on exactly
  those samples (:func:`~sklearn_mle.existence._unbounded.find_variance_collapse`).  A
  constant scale collapses only where the mean fits every target, except in a family
  whose other parameters can make the rest of the samples pay less than the exact
  ones gain (``Family.partial_collapse``): the Student-t, whose degrees of freedom
  shrink with the scale.
"""

import numpy as np

from ..models._model import IN_MEMORY
from ._separation import find_separation
from ._unbounded import (
    collapse_threshold,
    find_variance_collapse,
    scale_direction_collapses,
)


class Unbounded:
    """Why the likelihood has no maximum: ``kind`` ("recession" or "collapse") and the
    indices of the samples involved."""

    def __init__(self, kind, samples, direction=None):
        self.kind = kind
        self.samples = np.asarray(samples, dtype=np.intp)
        self.direction = direction


def find_unbounded(family, column_modes, X, y, weights, raw_prediction, fit_intercept,
                   recession_ruled_out=False, access=IN_MEMORY):
    """An :class:`Unbounded` diagnosis of the fit of ``family`` on (X, y), or None if
    its maximum likelihood estimate exists.

    ``raw_prediction(rows)`` gives the fitted raw predictions of some rows of X (the
    symptom of a collapse); ``column_modes`` say which columns were learned.
    ``recession_ruled_out`` skips the LP for a direction of recession (a certificate
    has already proved there is none).  ``access`` is where X's rows live (the
    model: see :class:`~sklearn_mle.models._model.RowAccess`): the LPs and the
    exact-fit test bring only the rows they need to the client.
    """
    signs = None if recession_ruled_out else family.recession_signs(y)
    if signs is not None:
        signs = np.asarray(signs)
        candidates = np.flatnonzero((signs != 0) & (weights > 0))
        if candidates.size:
            labels = (signs > 0).astype(np.float64)
            separation = find_separation(X, labels, weights, 2, fit_intercept, candidates,
                                         access)
            if separation is not None:
                return Unbounded("recession", separation.separated_samples,
                                 (separation.coef, separation.intercept))
    j = family.dispersion_column
    if j is None or column_modes[j] not in ("x", "constant"):
        return None
    if not family.can_collapse:
        return None
    target = family.collapse_target(y)
    if column_modes[j] == "constant" and not _constant_scale_collapses(
            family, raw_prediction(X[:1]), target, weights):
        # the spread is the same on every sample, and not collapsing: no pass over X
        return None
    raw = raw_prediction(X)
    log_scale = family.collapse_log_scale(raw)
    collapsed = find_variance_collapse(X, target, weights, log_scale, fit_intercept,
                                       access=access)
    if collapsed is None and family.partial_collapse:
        # the samples the mean fits exactly may be only some of them
        collapsed = find_variance_collapse(X, target, weights, log_scale, fit_intercept,
                                           mean=raw[:, 0], access=access)
        if collapsed is not None and not family.partial_collapse_unbounded(
                np.sum(weights[collapsed]), np.sum(weights), raw):
            # with a scale linear in x the other samples' scale need not fall too
            cost = family.partial_collapse_cost()
            if not (column_modes[j] == "x" and cost is not None
                    and scale_direction_collapses(X, weights, collapsed, fit_intercept,
                                                  cost, access)):
                collapsed = None
    if collapsed is not None:
        return Unbounded("collapse", np.flatnonzero(collapsed))
    return None


def _constant_scale_collapses(family, first_raw, target, weights):
    """Whether a constant dispersion shows the symptom of a collapse, judged on the raw
    predictions of one sample (``collapse_log_scale`` reads the dispersion columns,
    the same on every sample when they are constants)."""
    log_scale = family.collapse_log_scale(first_raw)
    return bool(log_scale[0] < collapse_threshold(target, weights))


def unbounded_message(estimator_name, label, family, column_modes, unbounded, n_samples):
    """Warning text: what makes the likelihood unbounded, and the remedy."""
    count = unbounded.samples.size
    if unbounded.kind == "recession":
        cause = (f"{count} of {n_samples} samples sit at the edge of the {family.name} "
                 "distribution's range (e.g. zero counts, or proportions of 0 or 1) in a "
                 "region that a linear function of x separates from the other samples, "
                 "so their predicted mean runs off to that edge and the likelihood keeps "
                 "increasing")
        remedy = "set alpha > 0 (the L2 penalty bounds the coefficients)"
    else:
        name = family.dispersion_name
        if count == n_samples:
            cause = (f"the mean fits every target exactly (an exact linear fit, e.g. "
                     f"fewer samples than parameters or a noiseless target), so the "
                     f"learned {name} collapses to 0")
        elif column_modes[family.dispersion_column] == "constant":
            cause = (f"the mean fits {count} of {n_samples} targets exactly, and as the "
                     f"{family.name}'s {name} shrinks to 0 the density of those grows "
                     "faster than the others' falls (for the Student-t, with the "
                     "degrees of freedom shrinking too: Fernández and Steel, 1999)")
        else:
            cause = (f"the mean fits {count} of {n_samples} targets exactly and the "
                     f"dispersion model can shrink {name}(x) to 0 on exactly those "
                     "samples (e.g. a group of one in the dispersion model)")
        cause += "; the density there, and the likelihood, grow without bound"
        remedy = (f"set alpha > 0: the penalty then also pulls the mean of log {name} "
                  "towards its value in the null model, and the penalised estimate "
                  "always exists")
    return (f"{estimator_name}({label}): the maximum likelihood estimate does not exist: "
            f"{cause}. The returned parameters minimise the objective plus a small ridge "
            "in the data's Fisher metric: finite, but far out along that direction. To "
            f"fix it, {remedy}.")
