"""Shared fitting machinery of the estimators: input checks, weights, the solver call.

The solver call (:func:`fit_model`), the log-likelihood (:func:`total_log_likelihood`)
and the covariance (:func:`output_covariance`) use only the model interface of
:mod:`sklearn_mle._model`, so they serve any model, linear or not.
"""

import contextlib
import threading
import time

import numpy as np
import scipy.sparse as sp
from sklearn.utils.validation import _check_sample_weight

from ._inference import covariance_from_information
from ._linear import fused_layout
from ._progress import as_progress
from ._solver import DENSE_PRECONDITIONER_MAX_PARAMS, minimize_lbfgs

try:  # respects OMP_NUM_THREADS and threadpoolctl limits
    from sklearn.utils._openmp_helpers import _openmp_effective_n_threads
except ImportError:  # pragma: no cover - private helper moved
    def _openmp_effective_n_threads():
        return 1


#: Below this many kernel evaluations per call, threads cost more than they save
#: (and on a loaded machine, spinning OpenMP threads cost far more).
_MIN_WORK_PER_THREADED_CALL = 50_000


def n_threads(n_work=None):
    """Number of OpenMP threads the kernels use for ``n_work`` per-sample evaluations."""
    if n_work is not None and n_work < _MIN_WORK_PER_THREADED_CALL:
        return 1
    return max(int(_openmp_effective_n_threads()), 1)


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

#: Size of X (rows x columns) from which BLAS is held to one thread during a fit (see
#: kernels_own_the_cores).  Measured: digits (1797 x 64, 640 parameters) fits in
#: 0.27 s held against 0.62 s with BLAS on 2 threads, whose wake-ups on each 640 x 640
#: matrix-vector product cost more than they save.
_BLAS_HOLD_MIN_CELLS = 50_000

#: The process-wide BLAS hold: how many fits hold it, the threadpoolctl controller
#: (made on first use) and, while held, the limiter to restore.
_BLAS_HOLD = {"count": 0, "controller": None}
_BLAS_HOLD_LOCK = threading.Lock()


@contextlib.contextmanager
def kernels_own_the_cores(X):
    """Hold BLAS to one thread during a fit on X, unless BLAS carries it (F-ordered X).

    Two thread pools that each spin while idle (the kernels' OpenMP threads and
    OpenBLAS's) take turns on the same cores: measured on 2 cores, a 100000 x 50 fit
    ran 2x slower with BLAS threads awake (after a single threaded BLAS call such as a
    long dot product) than with BLAS on one thread.  The kernels do the passes over X
    (row-major dense or sparse) and call BLAS from inside their own threads for the
    Gram matrices, so BLAS has nothing to parallelise.  The hold is for speed only:
    results do not depend on it beyond the last bits that BLAS's own rounding may
    change (its thread count and CPU kernels are not ours to fix: OpenBLAS ignores a
    limit set from a worker thread), see the user guide's "How the fit is computed".

    On small X (below ``_BLAS_HOLD_MIN_CELLS`` entries, where the kernels run on one
    thread) BLAS is left alone: no threadpoolctl scan of the loaded libraries (~10 ms
    on a first fit) nor ~50 us per fit.  The choice depends on X only, never on the
    OpenMP thread count.
    """
    if X.shape[0] * X.shape[1] < _BLAS_HOLD_MIN_CELLS or (
            not sp.issparse(X) and not fused_layout(X)):
        yield
        return
    _hold_blas()
    try:
        yield
    finally:
        _release_blas()


def _hold_blas():
    """Limit BLAS to one thread; holds nest and overlap across Python threads.

    The limit is process-wide, so fits running at the same time in several Python
    threads share one hold: the first applies it and the last restores the original
    thread counts (a plain context manager per fit would restore them while other fits
    are still running).  The hold is for speed only; no result depends on it: the fit
    makes no BLAS reduction over the samples (OpenBLAS 0.3.31 ignored a limit set from
    a thread other than the main one, so it cannot be relied on for results).
    """
    with _BLAS_HOLD_LOCK:
        if _BLAS_HOLD["count"] == 0:
            if _BLAS_HOLD["controller"] is None:
                from threadpoolctl import ThreadpoolController

                _BLAS_HOLD["controller"] = ThreadpoolController()
            _BLAS_HOLD["limiter"] = _BLAS_HOLD["controller"].limit(limits=1,
                                                                   user_api="blas")
        _BLAS_HOLD["count"] += 1


def _release_blas():
    with _BLAS_HOLD_LOCK:
        _BLAS_HOLD["count"] -= 1
        if _BLAS_HOLD["count"] == 0:
            _BLAS_HOLD.pop("limiter").restore_original_limits()


def ensure_layout(X):
    """Keep C- or F-contiguous dense X as is (no copy); copy only strided views."""
    if sp.issparse(X):
        return X
    if not (X.flags.c_contiguous or X.flags.f_contiguous):
        X = np.ascontiguousarray(X)
    return X


class FitWeights:
    """Sample weights of a fit, kept as lean as the data allow.

    Unit weights (``sample_weight=None``) make no array beyond ``normalised``.
    ``normalised`` are the weights of the objective: the sample weights, optionally
    multiplied by ``extra`` (e.g. class weights), divided by their sum ``fit_total``.
    ``likelihood`` and ``likelihood_scale`` give the log-likelihood's weights:
    ``sum_i s_i log p_i`` equals ``likelihood_scale * sum_i likelihood_i log p_i``.
    ``total`` is the sum of the sample weights (the number of observations for unit
    weights).
    """

    def __init__(self, sample_weight, X, extra=None):
        n = X.shape[0]
        if sample_weight is not None:
            weights = np.asarray(sample_weight)
            if weights.ndim == 1 and weights.size and np.all(weights == 0):
                raise ValueError("sample_weight contains only zeros: at least one sample "
                                 "must have a non-zero (positive) weight.")
            sample_weight = _check_sample_weight(
                sample_weight, X, dtype=np.float64, ensure_non_negative=True)
        self.total = float(n) if sample_weight is None else total_weight(sample_weight)
        if extra is None:
            self.fit_total = self.total
            self.normalised = _normalise(sample_weight, n)
        else:
            fit_weight = (np.ones(n) if sample_weight is None else sample_weight) * extra
            self.fit_total = total_weight(fit_weight)
            self.normalised = _normalise(fit_weight, n)
        if sample_weight is None and extra is None:
            # unit weights: the objective's weights are exactly 1/n
            self.likelihood, self.likelihood_scale = self.normalised, float(n)
        else:
            self.likelihood = np.ones(n) if sample_weight is None else sample_weight
            self.likelihood_scale = 1.0


def _normalise(weights, n):
    """Weights divided by their sum (1/n each for None), without overflow."""
    if weights is None:
        return np.full(n, 1.0 / n)
    # Normalise by the largest weight first so that the sum cannot overflow.
    normalised = weights / weights.max()
    normalised /= normalised.sum()
    return normalised


def fit_model(model, X, y, weights, alpha, theta0, start_raw, *, tol, max_iter, verbose,
              estimator_name, preconditioner="auto", fallback_ridge=0.0, progress=None,
              extra_frames=0):
    """Minimise the objective of ``model`` (a :class:`~sklearn_mle._model.Model`) from
    ``theta0``; return the OptimizeResult.

    Only the model interface is used: ``objective_gradient``, ``preconditioner``,
    ``hessian`` (when the model has one) and the facts ``n_params``,
    ``hessian_is_constant``, ``fisher_is_hessian``, ``work_per_pass`` and
    ``pass_description``.  The result also carries ``design_gram``: the preconditioner's
    Gram matrix of the design when it formed one (the linear model's dense
    preconditioner), else None.

    ``weights`` are normalised to sum to one; ``start_raw`` is the constant raw
    prediction near which the fit starts (where the linear model takes its
    preconditioner's Hessian); ``preconditioner`` is the kind asked of
    ``model.preconditioner``.

    ``fallback_ridge > 0`` adds ``fallback_ridge / 2 * ||u||^2``, the squared distance
    from ``theta0`` in the start preconditioner's whitened coordinates (the data's own
    Fisher metric, so the penalty does not depend on the units of X).  It is used only
    when the maximum likelihood does not exist, to return a finite, reproducible fit.

    ``progress`` is the :class:`~sklearn_mle._progress.Progress` of the estimator's fit
    (so that its other steps, e.g. the existence check, report through the same
    object); if None, one is made from ``verbose`` and ``estimator_name``.  It gets a
    header, the solver's lines and a final line with the reason the solver stopped.
    """
    progress = as_progress(progress, verbose, estimator_name)
    start = time.perf_counter()
    threads = n_threads(model.work_per_pass(X))
    y = np.ascontiguousarray(y, dtype=np.float64)
    precond = model.preconditioner(X, weights, start_raw, alpha, kind=preconditioner,
                                   n_threads=threads)
    if fallback_ridge > 0 and precond is None:
        raise ValueError("fallback_ridge needs a preconditioner")
    if progress.enabled:
        _report_fit_start(progress, model, X, precond, tol, max_iter, fallback_ridge,
                          threads, time.perf_counter() - start)

    def fun(theta):
        value, gradient = model.objective_gradient(theta, X, y, weights, alpha, threads)
        if fallback_ridge > 0:
            pull = fallback_ridge * precond.metric_apply(theta - theta0)
            value += 0.5 * np.dot(theta - theta0, pull)
            gradient = gradient + pull
        return value, gradient

    hessian = None
    # A constant Hessian (the Gaussian with fixed sigma) is whitened exactly by the
    # start preconditioner: nothing to refresh.
    if (precond is not None and model.has_hessian
            and model.n_params <= DENSE_PRECONDITIONER_MAX_PARAMS
            and not model.hessian_is_constant):
        metric = precond.metric() if fallback_ridge > 0 else 0.0

        def hessian(theta):
            return (model.hessian(theta, X, y, weights, alpha, threads,
                                  expected=model.refresh_with_expected_hessian)
                    + fallback_ridge * metric)
    # Trial steps far outside the data's range overflow; the objective reports them as
    # infinite and the line search backs off, so the floating-point warnings are noise.
    with np.errstate(over="ignore", invalid="ignore"):
        result = minimize_lbfgs(fun, theta0, precond, tol=tol, max_iter=max_iter,
                                progress=progress, estimator_name=estimator_name,
                                hessian=hessian,
                                exact_preconditioner=model.hessian_is_constant,
                                extra_frames=extra_frames,
                                phase_iter=_phase_iter(model))
    progress.line(f"stopped: {result.stop_reason}; {result.n_iter} iteration"
                  f"{'s' if result.n_iter != 1 else ''}, "
                  f"{time.perf_counter() - start:.3g} s")
    # The weighted Gram of [X, 1], when the dense preconditioner formed it (None
    # otherwise): the estimators read the rank of the design from it for free.
    result.design_gram = getattr(precond, "design_gram", None)
    return result


#: The former name of :func:`fit_model`, kept for the estimators that still call it.
fit_linear_model = fit_model


def _report_fit_start(progress, model, X, precond, tol, max_iter, fallback_ridge,
                      threads, build_seconds):
    """The header of a fit's progress report (and at verbose=2, how it will run)."""
    if precond is None:
        kind = "no preconditioner (plain L-BFGS)"
    else:
        flat = precond.n_flat_directions
        kind = (f"{precond.description} preconditioner, {flat} flat direction"
                f"{'s' if flat != 1 else ''} dropped")
    penalty = (f", fallback ridge {fallback_ridge:g} (the MLE does not exist)"
               if fallback_ridge > 0 else "")
    progress.line(f"fit: {model.n_params} parameters, {kind}, tol {tol:g}, "
                  f"max_iter {max_iter}{penalty}")
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


def total_log_likelihood(model, X, y, theta, fit_weights):
    """``sum_i s_i log p(y_i | x_i)`` for the model at ``theta`` with the sample weights
    of ``fit_weights`` (a :class:`FitWeights`): one pass over X (``model.total_nll``)."""
    y = np.ascontiguousarray(y, dtype=np.float64)
    threads = n_threads(model.work_per_pass(X))
    # a total beyond the doubles is -inf, honestly
    with np.errstate(over="ignore", invalid="ignore"):
        nll = model.total_nll(theta, X, y, fit_weights.likelihood, threads)
        return -float(fit_weights.likelihood_scale * nll)


def total_weight(sample_weight):
    """Sum of the sample weights (inf, without a warning, if it exceeds the doubles)."""
    with np.errstate(over="ignore"):
        return float(np.sum(sample_weight))


def output_covariance(model, X, y, weights, total_weight, alpha, theta, to_output):
    """Covariance of the reported parameters and which of them are aliased.

    The observed information of the total (weighted) log-likelihood is
    ``total_weight * Hessian(objective)`` (penalty included, so with alpha > 0 it is
    the penalised information).  ``to_output(theta)`` maps the free parameters to the
    reported vector (a linear map: unpacking, fixed reference rows, centring).
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
    covariance, aliased = covariance_from_information(total_weight * hessian)
    origin = to_output(np.zeros_like(theta))
    jacobian = np.column_stack([to_output(e) - origin for e in np.eye(theta.size)]) \
        if theta.size else np.zeros((origin.size, 0))
    output = np.nan_to_num(jacobian) @ np.nan_to_num(covariance) @ np.nan_to_num(jacobian).T
    touches_aliased = (np.abs(jacobian[:, aliased]) > 0).any(axis=1)
    output[touches_aliased, :] = np.nan
    output[:, touches_aliased] = np.nan
    return output, bool(aliased.any())


def feature_labels(estimator, n_features):
    """Feature names for tables: feature_names_in_ if known, else x0, x1, ..."""
    names = getattr(estimator, "feature_names_in_", None)
    if names is not None:
        return [str(name) for name in names]
    return [f"x{j}" for j in range(n_features)]
