"""A certificate that the MLE of a canonical exponential family exists, from one
Newton step solved by conjugate gradients: no LP, and a dense matrix of parameters
only where the model forms one anyway (its dense preconditioner).

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

The step is solved by conjugate gradients with a Jacobi preconditioner.  At a fit
converged to the gradient's rounding (the solver's Newton polish) it is 0: the
certificate is then one pass over X.  Otherwise, where the model forms dense matrices
of its parameters on X (``dense_matrices_fit``), the Hessian is formed in one pass
and CG runs on it, on the client: three passes in all, whatever the iterations (on
Dask, each pass is one round trip to the workers); else each Hessian-vector product
is a pass (two reads of X), so the cost is a few dozen passes whatever the number of
parameters, and the memory a few vectors of n.  In floating point the
gradient is known only to its rounding; the certificate is therefore made only where
every sample's variance is a fair fraction of the mean one (a recession drives the
runaway samples' variances to 0, below the rounding of the sums): then the rounding
moves the step's predictions by far less than the margin of ``CERTIFIED_CHANGE``.
"""

import numpy as np

from .._threads import n_threads as threads_for

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
    the rows are, from theta, and never leave them.  At a fit converged to the
    gradient's rounding (the solver's Newton polish) the step is 0 and the check is
    one pass; otherwise the step costs one more (the Hessian, where the model forms
    a dense one) or a few dozen (conjugate gradients), and its check one."""
    family = model.loss
    if not getattr(family, "canonical_exponential_family", False) or family.n_raw != 1:
        return False
    (not_finite, smallest_variance, weighted_variance, used_weight, gradient,
     term_vector) = model.reduce_rows(_certificate_terms, X, (y, weights),
                                      (theta, n_threads), combine=_TERMS_COMBINE)
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
    step = _newton_step(model, X, y, weights, theta, gradient, term_size, n_threads)
    if step is None:
        return False
    if not np.any(step):
        # the gradient is rounding: the step moves no prediction (no pass needed)
        return True
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
    rows), the gradient and the vector-Jacobian product of the gradients' absolute
    values; a block of rows at a time (``model.row_blocks``: each block's products
    read it from cache, where a whole-chunk product per term read X five times from
    memory, and the per-sample arrays are a block's, where all rows' were the fit's
    peak of memory: 21 MB beside a 20 MB one-hot X of 500 000 rows)."""
    not_finite, smallest, weighted_variance, used_weight = False, np.inf, 0.0, 0.0
    gradient = term_vector = 0.0
    for part, rows, block in model.row_blocks(X):
        w = weights[rows]
        raw = part.raw_prediction(theta, block)
        # (threads only for blocks with the work to pay for them)
        threads = min(n_threads, threads_for(raw.size))
        with np.errstate(over="ignore", invalid="ignore"):
            _, raw_gradient = model.loss.loss_gradient(y[rows], raw, w, threads)
            curvature = model.loss.fisher_information(y[rows], raw, w, threads)[:, 0, 0]
        not_finite = not_finite or not (np.all(np.isfinite(raw_gradient))
                                        and np.all(np.isfinite(curvature)))
        used = w > 0
        variance = curvature[used] / w[used]
        smallest = min(smallest, float(variance.min(initial=np.inf)))
        weighted_variance += float(np.sum(variance * w[used]))
        used_weight += float(np.sum(w[used]))
        gradient = gradient + part.raw_vjp(theta, block, raw_gradient)
        term_vector = term_vector + part.raw_vjp(theta, block, np.abs(raw_gradient))
    return not_finite, smallest, weighted_variance, used_weight, gradient, term_vector


#: How the parts of :func:`_certificate_terms` combine (see ``Model.reduce_rows``).
_TERMS_COMBINE = ("any", "min", "sum", "sum", "sum", "sum")


def _largest_change(model, step, X, weights):
    """The largest change ``|z_i @ step|`` of a positively weighted row of X (a block
    of rows at a time)."""
    coef, intercept = model.unpack(step, direction=True)
    largest = 0.0
    for _, rows, block in model.row_blocks(X):
        change = model.linear_predictor(block, coef, intercept)[:, 0]
        largest = max(largest, float(np.max(np.abs(change[weights[rows] > 0]),
                                            initial=0.0)))
    return largest


def _curvature_product(model, theta, n_threads, vector, X, y, weights):
    """``J^T diag(curvature) J vector`` over the rows of X (the Fisher weights formed
    from theta on the rows, :meth:`LinearModel.fisher_product`)."""
    return model.fisher_product(theta, X, y, weights, vector, n_threads)


def _curvature_diagonal(model, theta, n_threads, X, y, weights):
    """The Fisher-weighted column mean squares of X and the sum of the Fisher weights
    (the diagonal of ``H``, by columns), a block of rows at a time."""
    mean_square, curvature_sum = 0.0, 0.0
    for part, rows, block in model.row_blocks(X):
        _, curvature = _curvature(part, theta, n_threads, block, y[rows], weights[rows])
        mean_square = mean_square + part.column_moments(block, curvature)[1]
        curvature_sum += float(curvature.sum())
    return mean_square, curvature_sum


def _dense_hessian(model, X, y, weights, theta, n_threads):
    """``H`` at theta as a dense matrix (the Fisher information, one pass over X:
    a single round trip where the rows live elsewhere), or None where the model
    forms no dense matrix of its parameters on X (then ``H`` is applied by passes)."""
    if not getattr(model, "dense_matrices_fit", lambda X: False)(X):
        return None
    hessian = model.hessian(theta, X, y, weights, 0.0, n_threads, expected=True)
    return hessian if np.all(np.isfinite(hessian)) else None


def _newton_step(model, X, y, weights, theta, gradient, term_size=0.0, n_threads=1):
    """``h`` with ``H h = g`` (``H = J^T diag(curvature) J``, the Fisher weights at
    theta) by conjugate gradients preconditioned by the Hessian's diagonal, or None if
    the residual does not fall below ``_CG_RTOL`` times ``|g|`` (or
    ``_ROUNDING_RTOL`` times ``term_size``, the size of the terms that make up g,
    below which g itself is rounding: then ``h = 0``, with no pass over X).  ``H``
    may be singular (aliased columns): ``g`` lies in its range, and CG from 0 stays
    there.  Where the model forms dense matrices of its parameters ``H`` is formed
    once (one pass) and CG runs on it; else each product with ``H`` is one pass over
    X, and its diagonal one more."""
    target = float(np.linalg.norm(gradient))
    tolerance = max(_CG_RTOL * target, _ROUNDING_RTOL * term_size)
    if target <= tolerance:
        return np.zeros_like(gradient)
    hessian = _dense_hessian(model, X, y, weights, theta, n_threads)
    if hessian is not None:
        diagonal = np.diag(hessian).copy()

        def hessian_apply(vector):
            return hessian @ vector
    else:
        mean_square, curvature_sum = model.reduce_rows(
            _curvature_diagonal, X, (y, weights), (theta, n_threads))
        diagonal = np.append(mean_square, curvature_sum)[model.param_design]

        def hessian_apply(vector):
            return model.reduce_rows(_curvature_product, X, (y, weights),
                                     (theta, n_threads, vector))
    inverse_diagonal = np.where(diagonal > 0, 1.0 / np.where(diagonal > 0, diagonal, 1.0),
                                0.0)
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
