"""Preconditioned L-BFGS: the one optimiser call behind every estimator.

SciPy's L-BFGS-B is run on ``u`` with ``theta = theta0 + P u``, where ``P`` whitens the
Hessian of the objective at the starting point.  The objective minimised is exactly the
documented one (the map is linear and invertible on the identified parameters); only
the coordinates the optimiser sees change.  On raw, unscaled data this turns a problem
with condition number 1e8 into one close to the identity.

The solver sees only an objective with its gradient, optionally a Hessian, and a
preconditioner (the protocol in :mod:`sklearn_mle.models._model`); it knows nothing of the
model that produced them.  Its generic pieces:

* :class:`DensePreconditioner`: ``P`` from a positive semi-definite matrix ``H0`` (a
  model's start Hessian), Jacobi-scaled and factored by Cholesky, ``P = S L^{-T}``.
  Directions with no curvature at all (collinear or constant columns at alpha=0,
  along which the objective is exactly flat) are dropped via an eigendecomposition,
  which leaves their parameters at the start value.
* :class:`RefreshedPreconditioner`: whitening by the Hessian at the current iterate.
* :func:`minimize_lbfgs`: phases of L-BFGS-B with Hessian refreshes, the exact Newton
  step of a quadratic objective and the Newton polish near the optimum.

Model-specific preconditioners (e.g. the linear model's column scaling) live with
their model, which builds them in its ``preconditioner`` method.
"""

import math
import time
import warnings

import numpy as np
import scipy.linalg
import scipy.linalg.lapack
from scipy.optimize import OptimizeResult as ScipyOptimizeResult
from scipy.optimize import minimize
from sklearn.exceptions import ConvergenceWarning

from ._progress import as_progress

#: Largest number of parameters for which the dense (Cholesky) preconditioner is used.
DENSE_PRECONDITIONER_MAX_PARAMS = 3000
#: A line search that fails in Hessian-whitened coordinates with a gradient this small
#: has reached the precision limit of floating point.
_PRECISION_LIMIT_GRADIENT = 1e-5
#: Frames from the ConvergenceWarning up to the caller of ``fit``: minimize_lbfgs,
#: fit_model, the estimators' _fit_checked and _fit_model, the estimator's
#: _fit_validated, the shared _fit_reported and _fit, the estimator's fit,
#: scikit-learn's fit wrapper (the callers' ``extra_frames`` count any others).
_USER_STACKLEVEL = 8
#: Rise of the objective (relative) a Newton polishing step may cause: rounding only.
_POLISH_RISE_RTOL = 1e-12
#: Relative eigenvalue below which a direction of the scaled start Hessian is flat.
_FLAT_DIRECTION_RTOL = 1e-11
#: Iterative refinement of the Newton step on a quadratic objective: at most this many
#: further steps, each one pass over X ...
_MAX_REFINEMENTS = 3
#: ... taken while a step would move some coefficient by more than this relative
#: amount (just above the rounding floor of the gradient: on 200000 x 80 unscaled
#: least squares the steps after the first refinement move coefficients by 5e-14,
#: while Ridge's Cholesky solve is 4e-10 from the exact solution elementwise) ...
_REFINEMENT_RTOL = 1e-13
#: ... and while each step shrinks the whitened gradient by this factor at least;
#: when it does not, the rounding of the gradient itself dominates what is left.
_REFINEMENT_CONTRACTION = 0.25


def _largest_magnitude(vector):
    """``max_k |vector_k|`` as a float (the method, not ``np.max``: on the few
    parameters of a small fit the function's dispatch costs more than the sum)."""
    return float(np.abs(vector).max()) if vector.size else 0.0


def _length(vector):
    """Euclidean length of a 1-d vector."""
    return math.sqrt(float(vector @ vector))


def _lower_triangular_inverse(lower):
    """Inverse of a non-singular lower-triangular matrix whose upper triangle is zero
    (as ``np.linalg.cholesky`` returns it): LAPACK trtri, a few microseconds where
    ``solve_triangular`` spends tens in its checks.  trtri leaves the upper triangle
    as it was, so the inverse is lower-triangular too."""
    inverse, info = scipy.linalg.lapack.dtrtri(lower, lower=1)
    if info != 0:  # pragma: no cover - Cholesky factors passed the pivot test
        raise np.linalg.LinAlgError(f"singular triangular factor (LAPACK info {info})")
    return inverse


class DensePreconditioner:
    """``P = S L^{-T}`` from the Jacobi-scaled matrix ``S H0 S = L L^T``.

    ``H0`` (``hessian``, positive semi-definite, (n_params, n_params)) is typically the
    Hessian of the objective at the start.  ``design_gram``, a weighted Gram matrix of
    the design that a model built ``H0`` from, is kept for the estimators, which read
    the rank of the design from it (None if the model has none).  Where ``H0`` is
    that Gram matrix times a positive number (``hessian_is_design_gram``: one raw
    column, no penalty), ``design_rcond`` is LAPACK's estimate of the reciprocal
    condition number of the Jacobi-scaled matrix from the Cholesky factor formed
    here (so the rank needs no factorisation of its own); else None.
    """

    description = "dense (Cholesky factor of the start Hessian)"
    #: The solver may refresh it from the Hessian as the fit moves (a dense p x p
    #: matrix per refresh, which a dense preconditioner has already paid for).
    refreshable = True

    def __init__(self, hessian, design_gram=None, hessian_is_design_gram=False):
        self.design_gram = design_gram
        self.design_rcond = None
        diagonal = hessian.diagonal()
        positive = diagonal > 0
        if positive.all():
            scale = 1.0 / np.sqrt(diagonal)
        else:
            scale = np.ones_like(diagonal)
            scale[positive] = 1.0 / np.sqrt(diagonal[positive])
        scaled = hessian * scale[:, None] * scale[None, :]
        basis = None
        # LAPACK potrf (numpy's cholesky costs several times more on small matrices);
        # info > 0: not positive definite
        lower, info = scipy.linalg.lapack.dpotrf(scaled, lower=1, clean=1)
        if info == 0:
            pivots = lower.diagonal() ** 2
            if pivots.min() > _FLAT_DIRECTION_RTOL * pivots.max():
                # L^{-T}, formed once: applying P is then a matrix-vector product.
                basis = _lower_triangular_inverse(lower).T
            if hessian_is_design_gram:
                rcond, info = scipy.linalg.lapack.dpocon(
                    lower, np.abs(scaled).sum(axis=0).max(), uplo="L")
                self.design_rcond = float(rcond) if info == 0 else None
        if basis is None:
            eigenvalues, eigenvectors = np.linalg.eigh(scaled)
            keep = eigenvalues > _FLAT_DIRECTION_RTOL * max(eigenvalues.max(), 1e-300)
            basis = eigenvectors[:, keep] / np.sqrt(eigenvalues[keep])
        self.basis = scale[:, None] * basis
        self.n_flat_directions = hessian.shape[0] - self.basis.shape[1]
        self.dim = self.basis.shape[1]
        self.hessian = hessian

    def metric(self):
        """The matrix Q with ``||u||^2 = delta^T Q delta`` for ``delta = P u``: H0."""
        return self.hessian

    def metric_apply(self, delta):
        return self.hessian @ delta

    def apply(self, u):
        """theta offset P u."""
        return self.basis @ u

    def apply_transpose(self, gradient):
        """P^T g, the gradient in the optimiser's coordinates."""
        return self.basis.T @ gradient

    def matrix(self):
        """P as a dense (n_params, dim) array."""
        return self.basis


class RefreshedPreconditioner:
    """``P = P0 L^{-T}`` with ``L L^T = P0^T H P0``: whitening by the Hessian ``H`` at the
    current iterate, inside the subspace the start preconditioner ``P0`` spans (so
    directions found flat at the start stay fixed)."""

    def __init__(self, start_matrix, hessian):
        whitened = start_matrix.T @ hessian @ start_matrix
        whitened = 0.5 * (whitened + whitened.T)
        jitter = 1e-12 * max(np.max(np.diag(whitened)), 1e-300)
        identity = np.eye(whitened.shape[0])
        for _ in range(12):
            try:
                lower = np.linalg.cholesky(whitened + jitter * identity)
                break
            except np.linalg.LinAlgError:
                jitter *= 100.0
        else:  # pragma: no cover - a PSD matrix plus a large jitter always factors
            lower = identity
        self.basis = start_matrix @ _lower_triangular_inverse(lower).T
        self.dim = self.basis.shape[1]
        self.n_flat_directions = start_matrix.shape[0] - self.dim

    def apply(self, u):
        return self.basis @ u

    def apply_transpose(self, gradient):
        return self.basis.T @ gradient

    def matrix(self):
        return self.basis


class OptimizeResult:
    """What the solver reports back to an estimator.

    ``stop_reason`` says in words why the solver stopped (for progress reports).
    ``gradient`` is the objective's gradient at ``theta`` (None if not kept);
    ``hessian`` the last Hessian the solver formed and ``hessian_theta`` where (None if
    it formed none), which the classifier's existence certificate reuses.
    """

    def __init__(self, theta, objective, n_iter, converged, message, gradient_norm,
                 stop_reason="", gradient=None, hessian=None, hessian_theta=None):
        self.theta = theta
        self.objective = objective
        self.n_iter = n_iter
        self.converged = converged
        self.message = message
        self.gradient_norm = gradient_norm
        self.stop_reason = stop_reason
        self.gradient = gradient
        self.hessian = hessian
        self.hessian_theta = hessian_theta


def minimize_lbfgs(fun, theta0, preconditioner, *, tol, max_iter, progress=None,
                   estimator_name="estimator", hessian=None, phase_iter=20,
                   exact_preconditioner=False, extra_frames=0, iterations_done=0,
                   least_subgradient=None, rescale=None, polish_hessian=None,
                   start_value=None):
    """Minimise ``fun(theta) -> (value, gradient)`` with preconditioned L-BFGS-B.

    Convergence: the largest component of the preconditioned gradient ``P^T g`` falls
    below ``tol``.  In whitened coordinates that is (close to) the Newton decrement,
    so the remaining objective gap is about ``tol**2 * n_params / 2``.

    If ``hessian(theta)`` is given and L-BFGS has not converged after ``phase_iter``
    iterations, the preconditioner is rebuilt from the Hessian at the current iterate
    and L-BFGS restarts there (the budget doubling each phase); near the optimum this
    whitening is nearly exact, so the last phase takes a handful of iterations.

    ``exact_preconditioner=True`` states that the preconditioner whitens the Hessian
    everywhere (a quadratic objective): the first step is then the Newton step, which
    lands on the optimum up to rounding, and iterative refinement removes the rounding.

    ``progress`` (a :class:`~sklearn_mle.solver._progress.Progress`, silent if None) receives
    one line per iteration and each Hessian refresh and Newton step.

    ``iterations_done`` continues a fit that has already taken that many of the
    ``max_iter`` iterations (a refit of the same problem with some parameters fixed):
    only the rest of the budget is spent, and the result's ``n_iter``, the messages and
    the iteration numbers count the earlier iterations too.  With no budget left the
    start point is only tested: converged if its gradient meets ``tol``.

    ``least_subgradient(theta, gradient)``, for an objective that is smooth only
    piecewise (a ReLU network's), gives the least element of the objective's
    subdifferential at ``theta`` (or None where ``theta`` is on no kink): where the
    gradient test fails at the end, the fit has converged if that element meets it
    (the point is stationary on a kink, where the gradient stays large however long
    L-BFGS runs).

    ``rescale(theta)``, for a preconditioner that no Hessian refresh follows, gives a
    preconditioner formed from the curvature at ``theta``, or None where the start's
    still fits: asked once, after ``RESCALE_AFTER_ITER`` iterations (an extra pass
    over the data); with a new one, L-BFGS restarts in its coordinates (a new phase),
    else it goes on undisturbed.

    ``polish_hessian(theta)``, for a preconditioner that no Hessian refresh follows,
    gives the Hessian at ``theta`` for the precision limit: where L-BFGS stops because
    the objective no longer resolves the decrease its gradient promises (a ``tol``
    below what the objective's rounding lets a line search reach), Newton steps in the
    coordinates that Hessian whitens finish the fit, kept while the gradient shrinks.

    ``start_value``, ``(objective, gradient)`` at ``theta0`` where the caller has them
    (from a pass it made anyway), stands for the first evaluation of ``fun``.
    """
    progress = as_progress(progress, 0, estimator_name)
    total_iter = iterations_done
    theta = np.asarray(theta0, dtype=np.float64)
    refreshable = hessian is not None and preconditioner is not None
    whitened_at_iterate = False
    last_hessian = (None, None)
    fun = _CountedCache(fun)
    if start_value is not None:
        fun.seed(theta, *start_value)
    # A refresh whitens the Hessian in the previous refresh's coordinates: along a
    # collapsing scale (a near-singular Hessian, jittered) that compounds, which lets
    # the steps grow refresh after refresh, until the basis may overflow and map
    # every point, the phase's start included, to NaN.  Such a refresh is formed from
    # the start preconditioner's matrix instead (the same subspace, no compounding).
    start_matrix = preconditioner.matrix() if refreshable else None
    step_scale = 1.0
    phase = 1
    if exact_preconditioner and preconditioner is not None and max_iter > total_iter:
        # A quadratic objective whitened exactly: one Newton step lands on the optimum.
        newton = _exact_newton_step(fun, theta, preconditioner, tol, progress)
        if newton is not None:
            newton.n_iter += total_iter
            progress.detail(fun.report())
            return newton
        step_scale = _newton_step_scale(fun, theta, preconditioner)
    while True:
        budget = max_iter - total_iter
        if refreshable:
            budget = min(budget, phase_iter)
        if budget <= 0:
            # SciPy's L-BFGS-B takes one iteration even at maxiter=0: test the start.
            result = _gradient_test(fun, theta, preconditioner, tol)
            converged, reason = result.converged, None
            break
        rescaled = {}
        result, theta = _lbfgs_phase(fun, theta, preconditioner, tol, budget, step_scale,
                                     progress=progress, phase=phase,
                                     first_iteration=total_iter,
                                     interrupt=None if rescale is None or refreshable
                                     else _rescale_check(rescale, rescaled, progress))
        total_iter += result.nit
        if rescaled:
            # the curvature moved away from the start's: restart in the coordinates
            # formed at this iterate (asked once per fit)
            preconditioner, rescale = rescaled["preconditioner"], None
            phase += 1
            progress.line(f"phase {phase}: {preconditioner.description} formed again at "
                          f"iteration {total_iter}")
            continue
        converged = result.converged
        reason = None
        if not converged and result.status == 2 and whitened_at_iterate:
            # The objective no longer resolves the remaining decrease (it is below its
            # rounding error) but the gradient still does: finish with Newton steps
            # in the Hessian-whitened coordinates, kept while the gradient shrinks.
            theta, result.gradient_norm, result.objective = _newton_polish(
                fun, theta, preconditioner, tol, progress=progress,
                label="at the precision limit of the objective")
            converged = result.gradient_norm <= max(tol, _PRECISION_LIMIT_GRADIENT)
            reason = "precision limit of the objective, finished by Newton steps"
        elif (not converged and result.status == 2 and not refreshable
                and polish_hessian is not None and preconditioner is not None):
            theta, converged, reason = _polish_at_precision_limit(
                fun, theta, preconditioner, tol, polish_hessian, progress, result)
        if not refreshable or total_iter >= max_iter or result.status not in (0, 1, 2):
            break
        if result.nit == 0 and whitened_at_iterate:
            break
        if converged and whitened_at_iterate and result.nit <= 2:
            # Whitened by a Hessian at most two iterations back: a Newton step in
            # these coordinates is (nearly) exact; keep it only if it helps.
            theta, result.gradient_norm, result.objective = _newton_polish(
                fun, theta, preconditioner, 0.0, max_steps=1, progress=progress,
                label="with the Hessian refreshed at most two iterations back")
            break
        # Whiten by the Hessian here.  After a converged phase this also verifies the
        # convergence: the start preconditioner's gradient test is only as good as
        # the start Hessian is close to this one.
        with progress.timed(f"Hessian at iteration {total_iter}", level=2), \
                np.errstate(over="ignore", invalid="ignore"):
            hessian_here = hessian(theta)
        if not np.all(np.isfinite(hessian_here)):
            # Curvature beyond the range of doubles (a collapsing variance): keep the
            # current coordinates for the rest of the budget.
            progress.line(f"Hessian at iteration {total_iter} is not finite: L-BFGS "
                          "continues without refreshing it")
            refreshable = False
            continue
        refreshed = RefreshedPreconditioner(preconditioner.matrix(), hessian_here)
        if not np.all(np.isfinite(refreshed.basis)):
            refreshed = RefreshedPreconditioner(start_matrix, hessian_here)
        if not np.all(np.isfinite(refreshed.basis)):
            # (a Hessian whose inverse square root leaves the range of doubles)
            progress.line(f"Hessian at iteration {total_iter} cannot be whitened in "
                          "floating point: L-BFGS continues without refreshing it")
            refreshable = False
            continue
        preconditioner = refreshed
        last_hessian = (hessian_here, theta.copy())
        whitened_at_iterate = True
        _, gradient = fun(theta)
        whitened_gradient = preconditioner.apply_transpose(gradient)
        result.gradient_norm = _largest_magnitude(whitened_gradient)
        phase += 1
        progress.line(f"phase {phase}: Hessian refreshed at iteration {total_iter}, "
                      f"max |preconditioned gradient| {result.gradient_norm:.3g} in its "
                      "coordinates")
        if converged and result.gradient_norm <= tol:
            # One Newton step with the Hessian just formed: near the optimum it makes
            # the parameters exact to rounding (quadratic convergence) for one pass.
            theta, result.gradient_norm, result.objective = _newton_polish(
                fun, theta, preconditioner, 0.0, max_steps=1, progress=progress,
                label="with the refreshed Hessian")
            break
        # In Hessian-whitened coordinates the Newton step is -gradient; scale the
        # variables so that L-BFGS-B's first (unit-length) step is that step.
        step_scale = max(_length(whitened_gradient), 1e-300)
        phase_iter *= 2
    if not converged and least_subgradient is not None and np.isfinite(result.objective):
        converged, reason = _stationary_on_a_kink(fun, theta, preconditioner, tol,
                                                  least_subgradient, result, reason)
    reason = _stop_reason(result, converged, reason, total_iter, max_iter, tol)
    progress.detail(fun.report())
    if not converged:
        if result.status == 1:
            advice = f"increase max_iter (now {max_iter}) or tol (now {tol:g})"
        else:
            advice = f"check the data for extreme values or increase tol (now {tol:g})"
        # (the message of a start tested without iterating is not SciPy's)
        stopped = (result.message if getattr(result, "without_iterating", False)
                   else f"SciPy reports '{result.message}'")
        warnings.warn(
            f"{estimator_name}: L-BFGS stopped before convergence after {total_iter} "
            f"iteration{'s' if total_iter != 1 else ''}: {stopped}, with largest "
            "preconditioned "
            f"gradient component {result.gradient_norm:.3g} > tol={tol:g}. "
            f"To fix it, {advice}.",
            ConvergenceWarning,
            stacklevel=_USER_STACKLEVEL + extra_frames,
        )
    final_gradient = fun.cached_gradient(theta)  # no pass over X just for the result
    return OptimizeResult(theta, result.objective, total_iter, converged, result.message,
                          result.gradient_norm, reason, gradient=final_gradient,
                          hessian=last_hessian[0], hessian_theta=last_hessian[1])


def _stationary_on_a_kink(fun, theta, preconditioner, tol, least_subgradient, result,
                          reason):
    """The gradient test on the least subgradient at ``theta`` (see
    :func:`minimize_lbfgs`); returns (converged, reason) and, when it passes, sets
    ``result.gradient_norm`` to that subgradient's size."""
    _, gradient = fun(theta)
    least = least_subgradient(theta, gradient)
    if least is None:
        return False, reason
    if preconditioner is not None:
        least = preconditioner.apply_transpose(least)
    norm = float(np.max(np.abs(least))) if least.size else 0.0
    if norm > tol:
        return False, reason
    result.gradient_norm = norm
    return True, ("stationary on a kink of the objective: the least gradient over the "
                  "one-sided slopes there meets the test")


def _gradient_test(fun, theta, preconditioner, tol):
    """The convergence test at ``theta`` without an iteration (no budget left): a phase
    result, with status 1 (the iteration limit reached) if the test fails."""
    value, gradient = fun(theta)
    if preconditioner is not None:
        gradient = preconditioner.apply_transpose(gradient)
    gradient_norm = _largest_magnitude(gradient)
    converged = bool(np.isfinite(value)) and gradient_norm <= tol
    return _PhaseResult(nit=0, converged=converged, status=0 if converged else 1,
                        message=("max_iter was reached before the fit's last stage, "
                                 "whose start meets the gradient test" if converged else
                                 "max_iter was reached before the fit's last stage"),
                        gradient_norm=gradient_norm, objective=float(value),
                        without_iterating=True)


def _stop_reason(result, converged, reason, total_iter, max_iter, tol):
    """Why the solver stopped, in words: the final line of a progress report."""
    gradient = f"max |preconditioned gradient| {result.gradient_norm:.3g}"
    if converged:
        reason = f" ({reason})" if reason else ""
        if result.gradient_norm <= tol:
            return f"converged: {gradient} <= tol {tol:g}{reason}"
        return (f"converged up to rounding: {gradient}, tol {tol:g}, at the precision "
                f"limit of the objective{reason}")
    if total_iter >= max_iter:
        return f"max_iter reached ({max_iter}): {gradient} > tol {tol:g}"
    if result.status == 2:
        return (f"precision limit: the objective no longer decreases, {gradient} > "
                f"tol {tol:g}")
    return f"not converged: SciPy reports '{result.message}', {gradient} > tol {tol:g}"


class _CountedCache:
    """``fun`` with a one-entry cache, so the evaluation at the start point that sets the
    first step (or that a progress line shows) is not repeated by L-BFGS; counts the
    evaluations made."""

    def __init__(self, fun):
        self.fun = fun
        self.evaluations = 0
        self.seeded = False
        self._key = None
        self._value = None

    def report(self):
        """The progress line of the evaluations made."""
        seeded = " and the start's, from the preconditioner's pass" if self.seeded else ""
        return f"function evaluations: {self.evaluations}{seeded}"

    def seed(self, theta, value, gradient):
        """Take ``(value, gradient)`` as ``fun(theta)``, computed elsewhere (not
        counted as an evaluation)."""
        if not (math.isfinite(value) and np.isfinite(gradient).all()):
            value, gradient = np.inf, np.zeros_like(theta)
        self._key, self._value = theta.tobytes(), (value, gradient)
        self.seeded = True

    def cached_gradient(self, theta):
        """The gradient at ``theta`` if it was the last point evaluated, else None."""
        return self._value[1] if self._key == theta.tobytes() else None

    def __call__(self, theta):
        key = theta.tobytes()
        if self._key != key:
            value, gradient = self.fun(theta)
            if not (math.isfinite(value) and np.isfinite(gradient).all()):
                # NaN (or an overflow) counts as an infinite objective, whatever the
                # model's own objective_gradient does: the line search backs off.
                value, gradient = np.inf, np.zeros_like(theta)
            self._key, self._value = key, (value, gradient)
            self.evaluations += 1
        return self._value


def _exact_newton_step(fun, theta, preconditioner, tol, progress):
    """The Newton step ``theta - P P^T g``, refined; None if it fails the gradient test.

    Without SciPy's set-up this is the whole fit for the fixed-variance Gaussian.  The
    Newton step solves the normal equations with the Cholesky factor of the start
    Hessian, whose rounding grows with its condition number (on columns with large
    means, the uncentred Gram matrix is far worse conditioned than the centred one);
    iterative refinement repairs it: the gradient at the new point, one pass over X
    accumulated in double, gives the residual of the normal equations, and the same
    factor solves for the correction.  Refinement steps are taken while they move some
    coefficient by more than rounding and shrink the gradient (at most
    ``_MAX_REFINEMENTS``).  If the gradient is still above ``tol`` (a design too
    ill-conditioned for its Cholesky factor), L-BFGS takes over from the start point.
    """
    if preconditioner.dim == 0:
        return None
    theta, norm, value = _newton_polish(fun, theta, preconditioner, 0.0, max_steps=1,
                                        progress=progress,
                                        label="on the quadratic objective")
    _, gradient = fun(theta)
    whitened = preconditioner.apply_transpose(gradient)
    length = _length(whitened)
    refinements = 0
    while refinements < _MAX_REFINEMENTS:
        step = preconditioner.apply(whitened)
        if not _moves_beyond(step, theta, _REFINEMENT_RTOL):
            break
        candidate = theta - step
        candidate_value, gradient = fun(candidate)
        candidate_whitened = preconditioner.apply_transpose(gradient)
        candidate_length = _length(candidate_whitened)
        if not (math.isfinite(candidate_value) and candidate_length <= length):
            break
        refinements += 1
        change = _largest_relative_change(step, theta) if progress.enabled else None
        theta, value, whitened = candidate, float(candidate_value), candidate_whitened
        norm = _largest_magnitude(whitened)
        if progress.enabled:
            progress.line(f"refinement {refinements}: max |preconditioned gradient| "
                          f"{norm:.3g}, largest relative coefficient change "
                          f"{change:.3g}")
        if candidate_length > _REFINEMENT_CONTRACTION * length:
            break
        length = candidate_length
    if not (math.isfinite(value) and norm <= tol):
        progress.line(f"the Newton step leaves max |preconditioned gradient| {norm:.3g} > "
                      f"tol {tol:g}: L-BFGS takes over from the start point")
        return None
    refined = f" and {refinements} refinement step{'s' if refinements != 1 else ''}" \
        if refinements else ""
    reason = (f"converged: Newton step on a quadratic objective{refined}, "
              f"max |preconditioned gradient| {norm:.3g} <= tol {tol:g}")
    return OptimizeResult(theta, value, 1, True, "Newton step on a quadratic objective",
                          norm, reason)


def _moves_beyond(step, theta, rtol):
    """Whether ``step`` moves some coefficient of ``theta`` by more than ``rtol``
    relative to it (any move of a zero coefficient counts): one comparison, where
    :func:`_largest_relative_change` forms the ratios."""
    return bool((np.abs(step) > rtol * np.abs(theta)).any())


def _largest_relative_change(step, theta):
    """``max_k |step_k| / |theta_k|`` (inf where a zero coefficient would move)."""
    moving = step != 0
    if not moving.any():
        return 0.0
    magnitude = np.abs(theta[moving])
    if not magnitude.all():
        return np.inf
    return float((np.abs(step[moving]) / magnitude).max())


def _newton_step_scale(fun, theta, preconditioner):
    """Length of the preconditioned gradient at ``theta``: the length of the Newton step
    if the preconditioner whitens the Hessian there.  L-BFGS-B's first step has unit
    length, so scaling its variables by this makes that step the Newton step."""
    if preconditioner is None or preconditioner.dim == 0:
        return 1.0
    value, gradient = fun(theta)
    if not np.isfinite(value):
        return 1.0
    return max(_length(preconditioner.apply_transpose(gradient)), 1e-300)


def _newton_polish(fun, theta, preconditioner, tol, max_steps=8, progress=None,
                   label=""):
    """Newton steps ``u -= g_u`` in whitened coordinates while ``max |g_u|`` decreases.

    Returns the final point, its ``max |g_u|`` and its objective value; reports the
    steps taken to ``progress`` (a Newton step ``label``).
    """
    value, gradient = fun(theta)
    whitened = preconditioner.apply_transpose(gradient)
    norm = start_norm = _largest_magnitude(whitened)
    steps = 0
    for _ in range(max_steps):
        if norm <= tol:
            break
        candidate = theta - preconditioner.apply(whitened)
        candidate_value, gradient = fun(candidate)
        candidate_whitened = preconditioner.apply_transpose(gradient)
        candidate_norm = _largest_magnitude(candidate_whitened)
        # A step must shrink the gradient without raising the objective beyond its
        # rounding: on a non-convex likelihood (the Student-t's) a step that only
        # shrinks the gradient can land far away on a worse stationary point.
        if not (math.isfinite(candidate_value) and candidate_norm < norm
                and candidate_value <= value + _POLISH_RISE_RTOL * max(abs(value), 1.0)):
            break
        theta, whitened, norm, value = candidate, candidate_whitened, candidate_norm, \
            candidate_value
        steps += 1
    if progress is not None and progress.enabled:
        kept = f"{steps} step{'s' if steps != 1 else ''} kept" if max_steps > 1 else \
            ("kept" if steps else "not kept: it does not reduce the gradient")
        progress.line(f"Newton step {label}: {kept}, max |preconditioned gradient| "
                      f"{start_norm:.3g} -> {norm:.3g}")
    return theta, norm, float(value)


def _polish_at_precision_limit(fun, theta, preconditioner, tol, polish_hessian,
                               progress, result):
    """Newton steps with the Hessian at ``theta``, whitened inside the preconditioner's
    subspace, after L-BFGS stopped at the objective's precision limit; updates
    ``result``'s gradient norm and objective and returns ``(theta, converged,
    reason)`` (``theta`` as it was, not converged, where the Hessian cannot whiten)."""
    with progress.timed("Hessian at the precision limit", level=2), \
            np.errstate(over="ignore", invalid="ignore"):
        hessian_here = polish_hessian(theta)
    if hessian_here is None or not np.all(np.isfinite(hessian_here)):
        return theta, False, None
    whitening = RefreshedPreconditioner(preconditioner.matrix(), hessian_here)
    if not np.all(np.isfinite(whitening.basis)):
        return theta, False, None
    theta, norm, objective = _newton_polish(
        fun, theta, whitening, tol, progress=progress,
        label="at the precision limit of the objective")
    # (the test is now in the coordinates the Hessian at the iterate whitens, as after
    # a refresh)
    result.gradient_norm, result.objective = norm, objective
    converged = norm <= max(tol, _PRECISION_LIMIT_GRADIENT)
    return theta, converged, "precision limit of the objective, finished by Newton steps"


#: Iterations after which ``minimize_lbfgs`` asks ``rescale`` for new coordinates:
#: on the 500 000 x 3 000 one-hot Poisson benchmark, 2, 3, 4, 6 and 10 took 17, 13,
#: 14, 15 and 19 function evaluations (the rescaling pass included) against 22.
RESCALE_AFTER_ITER = 3


def _rescale_check(rescale, rescaled, progress):
    """The ``interrupt`` of :func:`_lbfgs_phase` that asks ``rescale`` once, after
    ``RESCALE_AFTER_ITER`` iterations, and stops the phase when it gives new
    coordinates (kept in ``rescaled["preconditioner"]``)."""
    def interrupt(theta, iteration):
        if iteration != RESCALE_AFTER_ITER:
            return False
        with progress.timed(f"curvature at iteration {iteration}", level=2) as section, \
                np.errstate(over="ignore", invalid="ignore"):
            new = rescale(theta)
            section.outcome = ("preconditioner kept" if new is None
                               else "preconditioner formed again")
        if new is None:
            return False
        rescaled["preconditioner"] = new
        return True

    return interrupt


class _Interrupted(Exception):
    """Raised by a phase's callback to stop L-BFGS-B at the iterate ``x``."""

    def __init__(self, x, iterations):
        super().__init__()
        self.x, self.iterations = x, iterations


class _PhaseResult:
    def __init__(self, **kwargs):
        self.__dict__.update(kwargs)


def _iteration_callback(fun_v, to_theta, step_scale, progress, phase, first_iteration,
                        tol, interrupt=None):
    """L-BFGS callback printing the objective and gradient size at each iteration (if
    ``progress`` is enabled) and stopping the phase (raising :class:`_Interrupted`)
    where ``interrupt(theta, iterations in the phase)`` says so at an iterate that
    has not converged; None if it has nothing to do."""
    if not progress.enabled and interrupt is None:
        return None
    state = {"iteration": first_iteration}

    def callback(intermediate_result):
        state["iteration"] += 1
        # SciPy >= 1.11 passes an OptimizeResult to a parameter of this name; older
        # versions pass the iterate itself
        v = np.array(getattr(intermediate_result, "x", intermediate_result), copy=True)
        value, gradient = fun_v(v)
        norm = np.max(np.abs(gradient), initial=0.0) / step_scale
        progress.line(f"iteration {state['iteration']:4d}  objective {value:.12g}  "
                      f"max |preconditioned gradient| {norm:.3g}  phase {phase}")
        iterations = state["iteration"] - first_iteration
        if (interrupt is not None and np.isfinite(value) and norm > tol
                and interrupt(to_theta(v), iterations)):
            raise _Interrupted(v, iterations)

    return callback


def _lbfgs_phase(fun, theta0, preconditioner, tol, max_iter, step_scale=1.0, *,
                 progress=None, phase=1, first_iteration=0, interrupt=None):
    """One L-BFGS-B run on ``theta = theta0 + P (step_scale * v)`` from ``v = 0``.

    L-BFGS-B's first step has unit length in ``v``, i.e. ``step_scale`` in the
    whitened coordinates ``u``; the gradient test is applied to the ``u`` gradient.
    ``progress`` gets a line per iteration (numbered from ``first_iteration + 1``) and
    at verbose=2 a summary of the phase.  ``interrupt`` (see
    :func:`_iteration_callback`) may end the phase early at an iterate: its result
    then has status 1 (the budget spent), like a phase that ran out of iterations.
    """
    progress = as_progress(progress, 0, "estimator")
    start = time.perf_counter()
    if preconditioner is None:
        dim = theta0.size

        def to_theta(v):
            return theta0 + step_scale * v

        def fun_v(v):
            value, gradient = fun(to_theta(v))
            return value, step_scale * gradient
    else:
        dim = preconditioner.dim

        def to_theta(v):
            return theta0 + preconditioner.apply(step_scale * v)

        def fun_v(v):
            value, gradient = fun(to_theta(v))
            return value, step_scale * preconditioner.apply_transpose(gradient)

    if dim == 0:
        value, _ = fun(theta0)
        return _PhaseResult(nit=0, converged=True, status=0, message="no free parameters",
                            gradient_norm=0.0, objective=value), theta0

    evaluations_before = getattr(fun, "evaluations", 0)
    try:
        result = minimize(
            fun_v,
            np.zeros(dim),
            method="L-BFGS-B",
            jac=True,
            options={
                "maxiter": max_iter,
                "maxfun": max(2 * max_iter, 50),
                "gtol": tol * step_scale,
                # Stop on the gradient test only: SciPy's relative-reduction test
                # divides by max(|f|, 1) and so stops early whenever the objective is
                # small.
                "ftol": 0.0,
                "maxcor": 30,
            },
            callback=_iteration_callback(fun_v, to_theta, step_scale, progress, phase,
                                         first_iteration, tol, interrupt),
        )
    except _Interrupted as stop:
        value, gradient = fun_v(stop.x)   # (the callback's evaluation, cached)
        result = ScipyOptimizeResult(
            x=stop.x, fun=value, jac=gradient, status=1, nit=stop.iterations,
            nfev=getattr(fun, "evaluations", 0) - evaluations_before,
            message="stopped to form the preconditioner again")
    progress.detail(f"phase {phase}: {result.nit} iterations, {result.nfev} function "
                    f"evaluations, step scale {step_scale:.3g}, "
                    f"{time.perf_counter() - start:.3g} s")
    theta = to_theta(result.x)
    if not (np.isfinite(result.fun) and np.all(np.isfinite(theta))):
        # SciPy ends on a point with no finite objective (the line search found none
        # from the start, or the map to theta overflowed): the phase keeps its start,
        # the last finite iterate, and reports that it stopped abnormally.
        theta = theta0
        value, gradient = fun(theta0)
        result.fun = value
        result.jac = (step_scale * (gradient if preconditioner is None
                                    else preconditioner.apply_transpose(gradient)))
        if int(result.status) == 0:
            result.status = 3
    gradient_norm = float(np.max(np.abs(result.jac))) / step_scale if result.jac.size else 0.0
    finite = bool(np.isfinite(result.fun))
    converged = finite and gradient_norm <= tol * (1 + 1e-9)
    status = int(result.status)
    if not converged and finite and status in (0, 2):
        # SciPy stopped because no further decrease of the objective is representable
        # (a failed line search, or no change at all): reported as status 2.
        status = 2
        if gradient_norm <= 10 * tol:
            converged = True  # the gradient test is met up to rounding
    return _PhaseResult(nit=int(result.nit), converged=converged, status=status,
                        message=str(result.message), gradient_norm=gradient_norm,
                        objective=float(result.fun)), theta
