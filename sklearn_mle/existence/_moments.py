"""A certificate that the MLE of a canonical exponential family exists, from one
Newton step solved by conjugate gradients: no LP, no dense matrix of parameters.

For the Poisson with its log link and the binomial with its logit link the objective
is ``F(theta) = sum_i w_i (b(eta_i) - y_i eta_i)``, ``eta_i = z_i @ theta``, and its
gradient at any ``theta`` is ``g = sum_i w_i (mu_i - y_i) z_i``.  So the targets'
moments ``T = sum_i w_i y_i z_i`` equal ``sum_i w_i c_i z_i`` for the means
``c_i = mu_i + delta_i`` whenever ``sum_i w_i delta_i z_i = -g``.  Taking
``delta_i = mu_i'(eta_i) (z_i @ s)`` (``mu'`` the variance: the Hessian's weights) makes
that ``H s = -g``, the Newton step.  If every ``c_i`` lies strictly inside the range of
the mean (``c_i > 0`` for counts, ``0 < c_i < 1`` for proportions), which holds when
every ``|z_i @ s| < 1``, then along any direction ``d`` either some ``z_i @ d > 0`` (the
``b`` term grows without bound) or all are ``<= 0`` with one ``< 0`` (then
``-T @ d = -sum_i w_i c_i z_i @ d > 0`` grows): ``F`` rises along every direction that
moves a prediction, so its minimum exists.  Near the optimum the step is tiny and the
certificate passes at once; where the MLE does not exist the step's changes on the
runaway samples are large and the certificate declines, leaving the decision to the
LP of :mod:`sklearn_mle.existence._separation`.

The step is solved by conjugate gradients with Hessian-vector products (two passes
over X each) and a Jacobi preconditioner, so the cost is a few dozen passes whatever
the number of parameters, and the memory a few vectors of n.  In floating point the
gradient is known only to its rounding; the certificate is therefore made only where
every sample's variance is a fair fraction of the mean one (a recession drives the
runaway samples' variances to 0, below the rounding of the sums): then the rounding
moves the step's predictions by far less than the margin of ``CERTIFIED_CHANGE``.
"""

import numpy as np

from ..models._linear import weighted_column_moments

#: The certificate passes when no sample's linear predictor moves by this much in the
#: Newton step (exact bound: 1).
CERTIFIED_CHANGE = 0.5
#: Conjugate-gradient iterations at most, and the relative residual that ends them.
_CG_MAX_ITER = 500
_CG_RTOL = 1e-10
#: ... or the residual relative to the size of the gradient's terms (rounding level).
_ROUNDING_RTOL = 1e-13
#: The certificate is not attempted when some sample's variance (per unit weight) is
#: below this fraction of the mean variance: the symptom of a recession.
_SMALLEST_VARIANCE = 1e-6


def certify_moment_existence(model, X, y, weights, theta, n_threads=1):
    """True if the Newton-step certificate proves that the MLE of ``model`` (one raw
    column, a family with ``canonical_exponential_family``) exists on (X, y); False if
    it does not prove it (the caller then decides by the LP)."""
    family = model.loss
    if not getattr(family, "canonical_exponential_family", False) or family.n_raw != 1:
        return False
    raw = model.raw_prediction(theta, X)
    with np.errstate(over="ignore", invalid="ignore"):
        _, raw_gradient = family.loss_gradient(y, raw, weights, n_threads)
        curvature = family.fisher_information(y, raw, weights, n_threads)[:, 0, 0]
    if not (np.all(np.isfinite(raw_gradient)) and np.all(np.isfinite(curvature))):
        return False
    # A sample whose variance has all but vanished is what a direction of recession
    # leaves behind (its mean run off to the edge); its terms are then below the
    # gradient's rounding, and only the LP can tell.
    used = weights > 0
    variance = curvature[used] / weights[used]
    if variance.size and not variance.min() >= _SMALLEST_VARIANCE * np.average(
            variance, weights=weights[used]):
        return False
    gradient = model.raw_vjp(theta, X, raw_gradient)
    # the size of the terms the gradient sums: its rounding is a small multiple of
    # eps times this, and no residual below that can be asked for
    term_size = float(np.linalg.norm(model.raw_vjp(theta, X, np.abs(raw_gradient))))
    step = _newton_step(model, X, theta, curvature, gradient, term_size)
    if step is None:
        return False
    change = model.linear_predictor(X, *model.unpack(step, direction=True))[:, 0]
    return bool(np.max(np.abs(change[weights > 0]), initial=0.0) < CERTIFIED_CHANGE)


def _newton_step(model, X, theta, curvature, gradient, term_size=0.0):
    """``h`` with ``H h = g`` (``H = J^T diag(curvature) J``) by Jacobi-preconditioned
    conjugate gradients, or None if the residual does not fall below ``_CG_RTOL``
    times ``|g|`` (or ``_ROUNDING_RTOL`` times ``term_size``, the size of the terms
    that make up g, below which g itself is rounding).  ``H`` may be singular
    (aliased columns): ``g`` lies in its range, and CG from 0 stays there."""
    def hessian_apply(vector):
        change = model.linear_predictor(X, *model.unpack(vector, direction=True))
        return model.raw_vjp(theta, X, curvature[:, None] * change)

    _, mean_square = weighted_column_moments(X, curvature)
    design_diagonal = np.append(mean_square, curvature.sum())
    diagonal = design_diagonal[model.param_design]
    inverse_diagonal = np.where(diagonal > 0, 1.0 / np.where(diagonal > 0, diagonal, 1.0),
                                0.0)
    target = float(np.linalg.norm(gradient))
    tolerance = max(_CG_RTOL * target, _ROUNDING_RTOL * term_size)
    if target <= tolerance:
        return np.zeros_like(gradient)
    step = np.zeros_like(gradient)
    residual = gradient.copy()
    preconditioned = inverse_diagonal * residual
    direction = preconditioned.copy()
    product = float(residual @ preconditioned)
    for _ in range(_CG_MAX_ITER):
        applied = hessian_apply(direction)
        curvature_along = float(direction @ applied)
        if not curvature_along > 0:
            return None
        length = product / curvature_along
        step += length * direction
        residual -= length * applied
        if float(np.linalg.norm(residual)) <= tolerance:
            # the recurrence drifts from the true residual: confirm it
            true_residual = gradient - hessian_apply(step)
            return step if float(np.linalg.norm(true_residual)) <= 10 * tolerance \
                else None
        preconditioned = inverse_diagonal * residual
        new_product = float(residual @ preconditioned)
        direction = preconditioned + (new_product / product) * direction
        product = new_product
    return None
