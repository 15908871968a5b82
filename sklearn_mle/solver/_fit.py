"""The one solver call of every fit: a model's objective minimised by preconditioned
L-BFGS, with Hessian refreshes where the model has a Hessian.

:func:`fit_model` uses only the model interface of :mod:`sklearn_mle.models`, so it
serves any model, linear or not.
"""

import time

import numpy as np
import scipy.sparse as sp

from .._threads import _BLAS_HOLD, _BLAS_HOLD_LOCK, n_threads
from ._lbfgs import DENSE_PRECONDITIONER_MAX_PARAMS, minimize_lbfgs
from ._progress import as_progress

#: L-BFGS iterations before the first Hessian refresh.  Where the refresh uses the
#: exact Hessian (canonical links) it is worth it early: measured on breast_cancer,
#: 100000 x 50 binary and 50000 x 60 with 5 classes, 6 cut the fit time by 10-35 %
#: against 20.  With a learned variance the refresh is only the Fisher information,
#: and the fit is left to L-BFGS longer.
_PHASE_ITER_EXACT_REFRESH = 6
_PHASE_ITER_FISHER_REFRESH = 20
#: Where the refresh costs no pass over X (one Fisher information shared by every
#: sample, times the preconditioner's Gram matrix) the preconditioner follows the
#: dispersion it was formed at: refreshed after 3 iterations, function evaluations
#: fell from 16 to 12 (Gaussian with learned sigma, 100000 x 100), 13 to 10 (Gamma,
#: 200000 x 30) and 16 to 13 (Student-t, 100000 x 20); 2, 4 and 6 did less well.
_PHASE_ITER_FREE_REFRESH = 3


def _phase_iter(model):
    """L-BFGS iterations before the first Hessian refresh of ``model``'s fit."""
    if model.hessian_refresh_is_free:
        return _PHASE_ITER_FREE_REFRESH
    return _PHASE_ITER_EXACT_REFRESH if model.fisher_is_hessian else _PHASE_ITER_FISHER_REFRESH


def fit_model(model, X, y, weights, alpha, theta0, start_raw, *, tol, max_iter, verbose,
              estimator_name, preconditioner="auto", fallback_ridge=0.0, progress=None,
              extra_frames=0, iterations_done=0, final=True):
    """Minimise the objective of ``model`` (a :class:`~sklearn_mle.models._model.Model`) from
    ``theta0``; return the OptimizeResult.

    Only the model interface is used: ``objective_gradient``, ``preconditioner``,
    ``hessian`` (when the model has one) and the facts ``n_params``,
    ``hessian_is_constant``, ``fisher_is_hessian``, ``work_per_pass`` and
    ``pass_description``.  The result also carries ``design_gram``: the preconditioner's
    Gram matrix of the design when it formed one (the linear model's dense
    preconditioner), else None; and ``design_rcond``, the preconditioner's condition
    estimate of that design where it made one (see ``DensePreconditioner``), else None.

    ``weights`` are normalised to sum to one; ``start_raw`` is the constant raw
    prediction near which the fit starts (where the linear model takes its
    preconditioner's Hessian); ``preconditioner`` is the kind asked of
    ``model.preconditioner``.

    ``fallback_ridge > 0`` adds ``fallback_ridge / 2 * ||u||^2``, the squared distance
    from ``theta0`` in the start preconditioner's whitened coordinates (the data's own
    Fisher metric, so the penalty does not depend on the units of X).  It is used only
    when the maximum likelihood does not exist, to return a finite, reproducible fit.

    ``progress`` is the :class:`~sklearn_mle.solver._progress.Progress` of the estimator's fit
    (so that its other steps, e.g. the existence check, report through the same
    object); if None, one is made from ``verbose`` and ``estimator_name``.  It gets a
    header, the solver's lines and a final line with the reason the solver stopped.

    ``iterations_done`` are iterations of ``max_iter`` an earlier stage of the same fit
    has taken (see :func:`~sklearn_mle.solver._lbfgs.minimize_lbfgs`): this call spends
    only the rest, and the result's ``n_iter`` counts both.

    ``final=False`` marks a stage whose end point only starts a further stage (a
    model's fit phases): the test for a point stationary on a kink of a piecewise
    smooth objective, a pass or two over X, is left to the last stage.
    """
    progress = as_progress(progress, verbose, estimator_name)
    start = time.perf_counter()
    threads = n_threads(model.work_per_pass(X))
    y = np.ascontiguousarray(y, dtype=np.float64)
    precond, start_evaluation = model.preconditioner_with_start(
        X, y, weights, start_raw, alpha, kind=preconditioner, n_threads=threads)
    # (the objective at the null model, from the preconditioner's pass over X: the
    # solver's first evaluation where the fit starts there; the fallback ridge's pull
    # is 0 at theta0)
    start_value = (start_evaluation[1:] if start_evaluation is not None
                   and np.array_equal(start_evaluation[0], theta0) else None)
    if fallback_ridge > 0 and precond is None:
        raise ValueError("fallback_ridge needs a preconditioner")
    if progress.enabled:
        _report_fit_start(progress, model, X, precond, tol, max_iter, fallback_ridge,
                          threads, time.perf_counter() - start, iterations_done)

    def fun(theta):
        value, gradient = model.objective_gradient(theta, X, y, weights, alpha, threads)
        if fallback_ridge > 0:
            pull = fallback_ridge * precond.metric_apply(theta - theta0)
            value += 0.5 * np.dot(theta - theta0, pull)
            gradient = gradient + pull
        return value, gradient

    def model_hessian(theta):
        return model.hessian(theta, X, y, weights, alpha, threads,
                             expected=model.refresh_with_expected_hessian)

    hessian = polish_hessian = None
    # A constant Hessian (the Gaussian with fixed sigma) is whitened exactly by the
    # start preconditioner: nothing to refresh.
    if (precond is not None and model.has_hessian and not model.hessian_is_constant):
        if getattr(precond, "refreshable", False):
            metric = precond.metric() if fallback_ridge > 0 else 0.0

            def hessian(theta):
                return model_hessian(theta) + fallback_ridge * metric
        elif fallback_ridge == 0 and model.n_params <= DENSE_PRECONDITIONER_MAX_PARAMS:
            # no refresh follows this preconditioner: a Hessian only for the
            # precision limit, should the fit reach it (a tol below what the
            # objective resolves)
            polish_hessian = model_hessian
    # Trial steps far outside the data's range overflow; the objective reports them as
    # infinite and the line search backs off, so the floating-point warnings are noise.
    with np.errstate(over="ignore", invalid="ignore"):
        result = minimize_lbfgs(fun, theta0, precond, tol=tol, max_iter=max_iter,
                                start_value=start_value,
                                progress=progress, estimator_name=estimator_name,
                                hessian=hessian, polish_hessian=polish_hessian,
                                exact_preconditioner=model.hessian_is_constant,
                                extra_frames=extra_frames,
                                phase_iter=_phase_iter(model),
                                iterations_done=iterations_done,
                                least_subgradient=(_least_subgradient(
                                    model, X, y, weights, alpha, fallback_ridge)
                                    if final else None),
                                rescale=_rescale(model, precond, X, y, weights, alpha,
                                                 fallback_ridge, threads))
    if progress.enabled:
        progress.line(f"stopped: {result.stop_reason}; {result.n_iter} iteration"
                      f"{'s' if result.n_iter != 1 else ''}, "
                      f"{time.perf_counter() - start:.3g} s")
    # The weighted Gram of [X, 1], when the dense preconditioner formed it (None
    # otherwise): the estimators read the rank of the design from it for free.
    result.design_gram = getattr(precond, "design_gram", None)
    # (with the reciprocal condition number of its scaled form, where the
    # preconditioner's factor gives it: see DensePreconditioner)
    result.design_rcond = getattr(precond, "design_rcond", None)
    return result


def _rescale(model, precond, X, y, weights, alpha, fallback_ridge, threads):
    """``model.rescaled_preconditioner`` on the fit's data, for the solver to ask once
    (see :func:`~sklearn_mle.solver._lbfgs.minimize_lbfgs`); None for a quadratic
    objective (the start's preconditioner whitens it everywhere) or a fallback ridge
    (whose metric is the start preconditioner's)."""
    if precond is None or model.hessian_is_constant or fallback_ridge > 0:
        return None
    return lambda theta: model.rescaled_preconditioner(precond, theta, X, y, weights,
                                                       alpha, threads)


def _least_subgradient(model, X, y, weights, alpha, fallback_ridge):
    """``model.least_subgradient`` on the fit's data, for a model whose objective is
    smooth only piecewise (see :func:`~sklearn_mle.solver._lbfgs.minimize_lbfgs`), or
    None (no such method, or a fallback ridge, which it does not include)."""
    least = getattr(model, "least_subgradient", None)
    if least is None or fallback_ridge > 0:
        return None
    return lambda theta, gradient: least(theta, X, y, weights, alpha, gradient)


def _report_fit_start(progress, model, X, precond, tol, max_iter, fallback_ridge,
                      threads, build_seconds, iterations_done=0):
    """The header of a fit's progress report (and at verbose=2, how it will run)."""
    if precond is None:
        kind = "no preconditioner (plain L-BFGS)"
    else:
        flat = precond.n_flat_directions
        kind = (f"{precond.description} preconditioner, {flat} flat direction"
                f"{'s' if flat != 1 else ''} dropped")
    penalty = (f", fallback ridge {fallback_ridge:g} (the MLE does not exist)"
               if fallback_ridge > 0 else "")
    used = f" ({iterations_done} used before this stage)" if iterations_done else ""
    progress.line(f"fit: {model.n_params} parameters, {kind}, tol {tol:g}, "
                  f"max_iter {max_iter}{used}{penalty}")
    if progress.detailed:
        kernel = model.pass_description(X)
        with _BLAS_HOLD_LOCK:
            held = _BLAS_HOLD["count"] > 0
        progress.detail(f"X: {X.shape[0]} x {X.shape[1]} "
                        f"{'sparse' if sp.issparse(X) else 'dense'} {X.dtype}; passes over "
                        f"X by the {kernel}; {threads} OpenMP thread"
                        f"{'s' if threads != 1 else ''}; BLAS "
                        f"{'held to one thread' if held else 'not held'}")
        progress.detail(f"preconditioner (Gram matrix / column moments) built in "
                        f"{build_seconds:.3g} s")
