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

from ..models._model import combine_parts

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
    it does not prove it (the caller then decides by the LP).

    Every pass over X returns sums, a minimum or a maximum
    (``model.reduce_rows``): the per-sample gradients and variances are formed where
    the rows are, from theta, and never leave them."""
    family = model.loss
    if not getattr(family, "canonical_exponential_family", False) or family.n_raw != 1:
        return False
    (not_finite, smallest_variance, weighted_variance, used_weight, gradient, term_vector,
     mean_square, curvature_sum) = model.reduce_rows(
        _certificate_terms, X, (y, weights), (theta, n_threads), combine=_TERMS_COMBINE)
    if not_finite:
        return False
    # A sample whose variance has all but vanished is what a direction of recession
    # leaves behind (its mean run off to the edge); its terms are then below the
    # gradient's rounding, and only the LP can tell.
    if used_weight > 0 and not smallest_variance >= _SMALLEST_VARIANCE * (
            weighted_variance / used_weight):
        return False
    # the size of the terms the gradient sums: its rounding is a small multiple of
    # eps times this, and no residual below that can be asked for
    term_size = float(np.linalg.norm(term_vector))
    diagonal = np.append(mean_square, curvature_sum)[model.param_design]
    step = _newton_step(model, X, y, weights, theta, gradient, term_size, n_threads,
                        diagonal)
    if step is None:
        return False
    change = model.reduce_rows(_largest_change, X, (weights,), (step,), combine="max")
    return bool(change < CERTIFIED_CHANGE)


def _curvature(model, theta, n_threads, X, y, weights):
    """The rows' raw predictions, gradients of the NLL and Fisher weights (the
    variances times the weights)."""
    raw = model.raw_prediction(theta, X)
    with np.errstate(over="ignore", invalid="ignore"):
        _, raw_gradient = model.loss.loss_gradient(y, raw, weights, n_threads)
        curvature = model.loss.fisher_information(y, raw, weights, n_threads)[:, 0, 0]
    return raw_gradient, curvature


def _certificate_terms(model, theta, n_threads, X, y, weights):
    """Of the rows of X: whether a gradient or variance is not finite, the smallest
    variance and the sums of variance x weight and of weights (positively weighted
    rows), the gradient, the vector-Jacobian product of the gradients' absolute
    values, the Fisher-weighted column mean squares and the sum of Fisher weights;
    a block of rows at a time (``model.row_blocks``), so that the per-sample arrays
    are a block's (all rows at once, they were the fit's peak of memory: 21 MB beside
    a 20 MB one-hot X of 500 000 rows)."""
    return combine_parts([_block_terms(part, theta, n_threads, rows_of_x, y[rows],
                                       weights[rows])
                          for part, rows, rows_of_x in model.row_blocks(X)],
                         _TERMS_COMBINE)


def _block_terms(model, theta, n_threads, X, y, weights):
    """:func:`_certificate_terms` of one block of rows."""
    raw_gradient, curvature = _curvature(model, theta, n_threads, X, y, weights)
    not_finite = not (np.all(np.isfinite(raw_gradient)) and np.all(np.isfinite(curvature)))
    used = weights > 0
    variance = curvature[used] / weights[used]
    _, mean_square = model.column_moments(X, curvature)
    return (not_finite, float(variance.min(initial=np.inf)),
            float(np.sum(variance * weights[used])), float(np.sum(weights[used])),
            model.raw_vjp(theta, X, raw_gradient),
            model.raw_vjp(theta, X, np.abs(raw_gradient)), mean_square,
            float(curvature.sum()))


#: How the parts of :func:`_certificate_terms` combine (see ``Model.reduce_rows``).
_TERMS_COMBINE = ("any", "min", "sum", "sum", "sum", "sum", "sum", "sum")


def _largest_change(model, step, X, weights):
    """The largest change ``|z_i @ step|`` of a positively weighted row of X (a block
    of rows at a time)."""
    coef, intercept = model.unpack(step, direction=True)
    largest = 0.0
    for _, rows, rows_of_x in model.row_blocks(X):
        change = model.linear_predictor(rows_of_x, coef, intercept)[:, 0]
        largest = max(largest, float(np.max(np.abs(change[weights[rows] > 0]),
                                            initial=0.0)))
    return largest


def _curvature_product(model, theta, n_threads, vector, X, y, weights):
    """``J^T diag(curvature) J vector`` over the rows of X (the Fisher weights formed
    from theta on the rows, :meth:`LinearModel.fisher_product`)."""
    return model.fisher_product(theta, X, y, weights, vector, n_threads)


def _newton_step(model, X, y, weights, theta, gradient, term_size=0.0, n_threads=1,
                 diagonal=None):
    """``h`` with ``H h = g`` (``H = J^T diag(curvature) J``, the Fisher weights at
    theta) by conjugate gradients preconditioned by the Hessian's ``diagonal`` (None:
    formed by one pass), or None if the residual does not fall below ``_CG_RTOL`` times ``|g|`` (or
    ``_ROUNDING_RTOL`` times ``term_size``, the size of the terms that make up g,
    below which g itself is rounding).  ``H`` may be singular (aliased columns): ``g``
    lies in its range, and CG from 0 stays there.  Each product with ``H`` is one pass
    over X."""
    def hessian_apply(vector):
        return model.reduce_rows(_curvature_product, X, (y, weights),
                                 (theta, n_threads, vector))

    if diagonal is None:
        terms = model.reduce_rows(_certificate_terms, X, (y, weights), (theta, n_threads),
                                  combine=_TERMS_COMBINE)
        diagonal = np.append(terms[6], terms[7])[model.param_design]
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
