r"""Does the classifier's maximum-likelihood estimate exist?  Certificate and diagnosis.

At ``alpha = 0`` the Bernoulli / categorical likelihood has no maximum exactly when
the classes are (quasi-)separated: some direction ``V`` of the coefficients raises
every sample's own-class score at least as fast as any other class's score, and
strictly for some pairs (Albert & Anderson, 1984).  This module decides it in two
steps, so that ordinary data pay one pass over X and separated data get an exact
diagnosis.

**1. A certificate of existence** (:func:`newton_margin_growth`).  By Stiemke's
theorem of the alternative, no separating direction exists if and only if there are
strictly positive multipliers ``lambda_ik`` (one per sample ``i`` and wrong class
``k != y_i``) with ``sum_ik lambda_ik (e_{y_i} - e_k) ⊗ z_i = 0``, where ``z_i`` is
the design row (with a 1 for the intercept).  At any parameter value, the gradient
of the weighted mean NLL is ``g = -sum_ik w_i p_ik (e_{y_i} - e_k) ⊗ z_i``, and the
Hessian is ``H = sum_i w_i (diag p_i - p_i p_i^T) ⊗ z_i z_i^T``.  With ``Delta =
H^{-1} g`` and per-sample steps ``t_i = Delta z_i`` (one entry per class), the
identity ``(diag p - p p^T) t = p ⊙ (t - p^T t)`` rewrites ``g = H Delta`` as
``sum_ik c_ik (e_{y_i} - e_k) ⊗ z_i`` with ``c_ik = -w_i p_ik (t_ik - p_i^T t_i)``.
So ``lambda_ik = w_i p_ik + c_ik`` satisfies the alternative, and it is positive when

.. math::  \max_{k \ne y_i} \bigl(t_{ik} - \textstyle\sum_l p_{il} t_{il}\bigr) < 1
           \quad\text{for every sample with } w_i > 0 .

(``-Delta`` is the Newton step: the left side is how much a Newton step would raise a
wrong class's score above the sample's mean score.)  At a converged fit of data whose
MLE exists the Newton step is tiny and the test passes with a wide margin; it can
never pass on separated data (it is a proof of existence).  Rounding leaves a
residual ``g - H Delta`` of relative size ~1e-15, absorbed by testing against 1/2
instead of 1.  Cost: one Hessian, one solve and one pass over X.

**2. The separation linear program** (:func:`find_separation`), only when the
certificate fails.  It finds the *largest* set of separable (sample, class) pairs:
maximise ``sum s_ik`` subject to ``0 <= s_ik <= m_ik(V)``, ``s_ik <= 1``, where
``m_ik(V) = (V z_i)_{y_i} - (V z_i)_k`` is the margin.  Since separating directions
form a convex cone, the sum of directions separating each separable pair separates
all of them at once and can be scaled to margins >= 1, so at the optimum
``s_ik = 1`` exactly on the separable pairs (a plain "maximise the total margin in a
box" LP has optima that miss some).  The constraints ``m_ik >= 0`` of every sample
are generated lazily: the LP starts from the samples the certificate flags, every
solution is checked against all samples in one pass, and violated rows are added, so
the LP stays small and sparse on tall data.
"""

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog

from .._plain import plain
from .._threads import fused_layout, fused_row_blocks
from ..families import _kernels
from ..families._base import EXCLUDED_CLASS_OFFSET
from ..families._base import add_offset
from ..models._linear import (_CHUNK_ROWS, _take_rows, weighted_column_moments,
                               weighted_grams)
from ..models._model import IN_MEMORY
from ..solver._lbfgs import DENSE_PRECONDITIONER_MAX_PARAMS, DensePreconditioner

#: The certificate passes when no sample's margin growth reaches this (exact: 1).
CERTIFIED_GROWTH = 0.5
#: Without a certificate (too many parameters for a dense Hessian), a fitted
#: own-class probability above this sends the fit to the linear program.
SEPARATION_SYMPTOM = 1.0 - 1e-4
#: Bound on the standardised LP direction; separable pairs reach margin 1 well within.
_LP_DIRECTION_BOUND = 1e6
#: Rows added to the LP per round of constraint generation, at most.
_LP_ROWS_PER_ROUND = 20_000
_LP_MAX_ROUNDS = 60
#: Separated pairs get at least this logit margin in the returned (finite) model:
#: a separated class has probability below ~2e-9 relative to the sample's own.
FALLBACK_SEPARATION_MARGIN = 20.0


# ------------------------------------------------------------------ certificate
def class_scores(raw, n_raw):
    """Scores of all classes from raw predictions: (0, z) for the Bernoulli logit."""
    if n_raw == 1:
        return np.column_stack([np.zeros(raw.shape[0]), raw[:, 0]])
    return raw


def _log_proba(scores, alive):
    """Log-softmax of class scores, masked classes at -inf."""
    if alive is not None:
        scores = np.where(alive, scores, -np.inf)
    shifted = scores - scores.max(axis=1, keepdims=True)
    with np.errstate(divide="ignore"):
        return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def margin_growth_per_sample(raw, step, labels, alive=None, reference=None):
    """``max_{k != y_i, k alive} (q_ik / p_ik) (t_ik - sum_l q_il t_il)`` per sample.

    ``raw``, ``step`` and ``reference`` are (n, n_raw) raw predictions: ``p`` are the
    class probabilities at ``raw``, ``q`` at ``reference`` (the point where the
    Hessian was formed; ``raw`` if None), ``t`` the step.  ``alive`` (n, K), if given,
    masks classes out of the softmax (a restricted likelihood).  Samples with no
    alive wrong class get ``-inf``.
    """
    log_p = _log_proba(class_scores(raw, raw.shape[1]), alive)
    log_q = log_p if reference is None else _log_proba(
        class_scores(reference, reference.shape[1]), alive)
    steps = class_scores(step, step.shape[1])
    q = np.exp(log_q)
    mean_step = np.einsum("ik,ik->i", q, np.where(q > 0, steps, 0.0))
    with np.errstate(invalid="ignore", over="ignore"):
        growth = np.exp(log_q - log_p) * (steps - mean_step[:, None])
    wrong = np.ones_like(growth, dtype=bool)
    wrong[np.arange(labels.size), labels] = False
    if alive is not None:
        wrong &= alive
    return np.where(wrong, np.nan_to_num(growth, nan=np.inf), -np.inf).max(axis=1)


def newton_solution(model, X, y_encoded, weights, theta, n_threads, gradient=None,
                    hessian=None):
    """``Delta = H^{-1} g`` (alpha = 0) and the Hessian's flat directions.

    ``g`` is the gradient at ``theta`` and ``H`` the Hessian (at ``theta``, or at a
    nearby reference point, e.g. the solver's last); both are computed when not given.
    ``Delta`` is solved on the numerically identified subspace through the
    Jacobi-scaled Cholesky factor (or eigendecomposition) of ``H``, with one step of
    iterative refinement.  The flat directions (columns, in parameter coordinates)
    are those ``H`` cannot resolve: collinear or constant columns, but also directions
    of separation whose pairs' probabilities are below rounding.  Returns None when
    the parameters are too many for a dense Hessian.
    """
    if model.n_params > DENSE_PRECONDITIONER_MAX_PARAMS or model.n_params == 0:
        return None
    if gradient is None:
        _, gradient = model.objective_gradient(theta, X, y_encoded, weights, 0.0,
                                               n_threads)
    if hessian is None:
        hessian = model.hessian(theta, X, y_encoded, weights, 0.0, n_threads,
                                expected=True)
    if not (np.all(np.isfinite(hessian)) and np.all(np.isfinite(gradient))):
        return None
    preconditioner = DensePreconditioner(hessian)
    basis = preconditioner.basis
    delta = basis @ (basis.T @ gradient)
    delta += basis @ (basis.T @ (gradient - hessian @ delta))
    flat = np.zeros((model.n_params, 0))
    if preconditioner.n_flat_directions:
        flat = _flat_directions(hessian, preconditioner.n_flat_directions)
    return delta, flat


def _flat_directions(hessian, n_flat):
    """The ``n_flat`` directions of least curvature of the Jacobi-scaled Hessian, in
    parameter coordinates (columns)."""
    diagonal = np.diag(hessian)
    positive = diagonal > 0
    scale = np.ones_like(diagonal)
    scale[positive] = 1.0 / np.sqrt(diagonal[positive])
    _, eigenvectors = np.linalg.eigh(hessian * scale[:, None] * scale[None, :])
    return scale[:, None] * eigenvectors[:, :n_flat]


def _point_and_step(model, X, y_encoded, weights, theta, n_threads, gradient=None,
                    hessian=None):
    """(coef, intercept) at theta, those of ``Delta``, and the flat directions; or None."""
    solution = newton_solution(model, X, y_encoded, weights, theta, n_threads, gradient,
                               hessian)
    if solution is None:
        return None
    delta, flat = solution
    return model.unpack(theta), model.unpack(delta, direction=True), flat


def certify_existence(model, X, y_encoded, weights, theta, n_threads, result=None):
    """True if the certificate proves that the MLE exists, False if it does not
    prove it, None if it is unavailable (too many parameters for a dense Hessian).

    Two conditions: every pair's margin growth below :data:`CERTIFIED_GROWTH` (the
    module docstring), and no pair with a margin along a direction the Hessian
    cannot resolve (there the gradient and Hessian are below rounding, as on
    separated pairs whose probabilities have underflowed, so the growth cannot be
    computed).  ``result``, the solver's result at ``theta``, lends its last Hessian
    (formed at ``result.hessian_theta``, the reference point of the certificate) and,
    when it kept it, the gradient at ``theta``, so that the certificate costs one pass
    over X.
    """
    gradient = hessian = None
    reference = theta
    if result is not None and result.hessian is not None:
        gradient, hessian, reference = result.gradient, result.hessian, result.hessian_theta
    parts = _point_and_step(model, X, y_encoded, weights, theta, n_threads, gradient,
                            hessian)
    if parts is None:
        return None
    (coef, intercept), (step_coef, step_intercept), flat = parts
    ref_coef, ref_intercept = model.unpack(reference)
    growth = model.reduce_rows(
        _largest_margin_growth, X, (y_encoded, weights),
        (coef, intercept, ref_coef, ref_intercept, step_coef, step_intercept, n_threads),
        combine="max")
    if not growth < CERTIFIED_GROWTH:
        return False
    return not (flat.shape[1] and model.reduce_rows(
        _any_flat_margin, X, (y_encoded, weights), (flat,), combine="any"))


def _largest_margin_growth(model, coef, intercept, ref_coef, ref_intercept, step_coef,
                           step_intercept, n_threads, X, y_encoded, weights):
    """The largest margin growth of the rows of X (the certificate's pass, see
    :func:`certify_existence`): the fused kernel where it reads X."""
    if fused_layout(X) and model.loss.family is not None and model.offset is None:
        per_block = _kernels.FUSED_BLOCK_ROWS
        block_max = np.empty(-(-X.shape[0] // per_block))
        coef, ref_coef, step_coef = (np.ascontiguousarray(c)
                                     for c in (coef, ref_coef, step_coef))
        with np.errstate(over="ignore"):
            for start, stop, rows in fused_row_blocks(X, per_block):
                _kernels.margin_growth_max(
                    rows, y_encoded[start:stop], weights[start:stop], coef, intercept,
                    ref_coef, ref_intercept, step_coef, step_intercept,
                    model.coef_rows, model.loss.family,
                    block_max[start // per_block:-(-stop // per_block)], n_threads)
        return float(block_max.max(initial=-np.inf))
    return float(_growth_in_chunks(
        model, X, y_encoded, weights, coef, intercept, step_coef, step_intercept,
        reference=(ref_coef, ref_intercept)).max(initial=-np.inf))


def _any_flat_margin(model, flat, X, y_encoded, weights):
    """Whether some sample of X has a margin along a flat direction."""
    return bool(_flat_margins(model, X, y_encoded, weights, flat).any())


def suspect_samples(model, X, y_encoded, weights, theta, n_threads, alive=None,
                    threshold=0.1):
    """Samples that may be separated: margin growth above ``threshold`` or a margin
    along an unresolved direction (indices, increasing), classes masked by ``alive``;
    or None when the certificate is unavailable.  With ``threshold`` at most
    :data:`CERTIFIED_GROWTH`, none proves that the MLE of the (restricted)
    likelihood exists."""
    parts = _point_and_step(model, X, y_encoded, weights, theta, n_threads)
    if parts is None:
        return None
    (coef, intercept), (step_coef, step_intercept), flat = parts
    return model.reduce_rows(
        _suspects_in_rows, X, (y_encoded, weights, alive),
        (coef, intercept, step_coef, step_intercept, flat, threshold), combine="indices")


def _suspects_in_rows(model, coef, intercept, step_coef, step_intercept, flat,
                      threshold, X, y_encoded, weights, alive):
    """Indices of the rows of X that :func:`suspect_samples` flags."""
    suspects = _growth_in_chunks(model, X, y_encoded, weights, coef, intercept,
                                 step_coef, step_intercept, alive) > threshold
    if flat.shape[1]:
        suspects |= _flat_margins(model, X, y_encoded, weights, flat, alive)
    return np.flatnonzero(suspects)


#: A pair's margin along a flat direction counts as non-zero above this fraction of
#: the sum of the absolute terms that make it (rounding of collinear columns is
#: ~1e-15 of it; a separating direction gives margins of the order of it).
_FLAT_MARGIN_RTOL = 1e-6


def _flat_margins(model, X, y_encoded, weights, flat, alive=None):
    """Positively weighted samples with an (alive) pair whose margin along some flat
    direction is non-zero (boolean, a block of rows at a time)."""
    n = X.shape[0]
    labels = y_encoded.astype(np.intp)
    found = np.zeros(n, dtype=bool)
    for column in flat.T:
        coef, intercept = model.unpack(column, direction=True)
        for start in range(0, n, _CHUNK_ROWS):
            rows = slice(start, start + _CHUNK_ROWS)
            block = X[rows]
            scores = class_scores(model.linear_predictor(block, coef, intercept),
                                   model.loss.n_raw)
            magnitude = np.asarray(abs(block) @ np.abs(coef).T) + np.abs(intercept)
            magnitude = class_scores(magnitude, model.loss.n_raw)
            own = np.arange(scores.shape[0]), labels[rows]
            margin = np.abs(scores[own][:, None] - scores)
            reference = magnitude[own][:, None] + magnitude
            nonzero = margin > _FLAT_MARGIN_RTOL * np.maximum(reference, 1e-300)
            if alive is not None:
                nonzero &= alive[rows]
            found[rows] |= nonzero.any(axis=1)
    return found & (weights > 0)


def _growth_in_chunks(model, X, y_encoded, weights, coef, intercept, step_coef,
                      step_intercept, alive=None, reference=None):
    """Per-sample margin growth (``-inf`` for zero weights), a block of rows at a time;
    ``reference`` is the (coef, intercept) of the Hessian's point (None: the same).
    The probabilities at the point and the reference include the model's offset (they
    are those of the gradient and Hessian); the step is a direction, without it."""
    n = X.shape[0]
    growth = np.full(n, -np.inf)
    labels = y_encoded.astype(np.intp)
    for start in range(0, n, _CHUNK_ROWS):
        rows = slice(start, start + _CHUNK_ROWS)
        block = X[rows]
        offset = model.training_offset(rows.start, rows.stop)
        raw = model.linear_predictor(block, coef, intercept, offset)
        step = model.linear_predictor(block, step_coef, step_intercept)
        ref = (None if reference is None
               else model.linear_predictor(block, *reference, offset))
        growth[rows] = margin_growth_per_sample(
            raw, step, labels[rows], None if alive is None else alive[rows], ref)
    growth[weights <= 0] = -np.inf
    return growth


def fitted_margin_summary(model, X, y_encoded, weights, theta):
    """Over the positively weighted samples at theta: the smallest own-class score
    minus best other class's score (``inf`` for none), and the indices of those whose
    own-class probability is above :data:`SEPARATION_SYMPTOM` (one pass over X)."""
    return model.reduce_rows(_margin_summary, X, (y_encoded, weights), (theta,),
                             combine=("min", "indices"))


def _margin_summary(model, theta, X, y_encoded, weights):
    """:func:`fitted_margin_summary` of the rows of X."""
    own, smallest = fitted_margins(model, X, y_encoded, theta)
    positive = weights > 0
    return (float(smallest[positive].min(initial=np.inf)),
            np.flatnonzero((own > SEPARATION_SYMPTOM) & positive))


def fitted_margins(model, X, y_encoded, theta):
    """Each sample's own-class probability at theta (with the model's offset), and
    its own-class score minus its best other class's score along the fitted
    coefficients alone (without the offset: whether they are a separating direction),
    a block of rows at a time."""
    coef, intercept = model.unpack(theta)
    labels = y_encoded.astype(np.intp)
    own = np.empty(X.shape[0])
    smallest = np.empty(X.shape[0])
    for start in range(0, X.shape[0], _CHUNK_ROWS):
        rows = slice(start, min(start + _CHUNK_ROWS, X.shape[0]))
        # (CSR rows as a view of X's arrays, not SciPy's row copy)
        raw = model.linear_predictor(_take_rows(X, rows), coef, intercept)
        proba = model.loss.proba(add_offset(raw.copy(), model.training_offset(
            rows.start, rows.stop)))
        own[rows] = proba[np.arange(proba.shape[0]), labels[rows]]
        scores = class_scores(raw, model.loss.n_raw)
        smallest[rows] = _pair_margins(scores, labels[rows]).min(axis=1)
    return own, smallest


# --------------------------------------------------------------- linear program
class Separation:
    """The largest set of separable (sample, class) pairs and a direction separating them.

    Attributes
    ----------
    alive : ndarray of bool, shape (n_samples, n_classes)
        False for the pairs (i, k), k != y_i, whose probability ratio p_ik / p_iy
        tends to 0 along the direction (the separated pairs); True elsewhere.
    coef, intercept : ndarray
        The separating direction in the model's full layout, shapes (n_raw, d) and
        (n_raw,); its margin is >= 0 on every pair, > 0 exactly on separated ones.
    """

    def __init__(self, alive, coef, intercept):
        self.alive = alive
        self.coef = coef
        self.intercept = intercept

    @property
    def separated_samples(self):
        """Samples with at least one separated class (indices)."""
        return np.flatnonzero((~self.alive).any(axis=1))

    @property
    def fully_separated(self):
        """Samples whose own class gets probability 1 in the limit (boolean)."""
        return (~self.alive).sum(axis=1) == self.alive.shape[1] - 1

    def class_pairs(self, labels):
        """Encoded (own class, separated class) pairs that occur, sorted."""
        rows, cols = np.nonzero(~self.alive)
        return sorted({(int(labels[i]), int(k)) for i, k in zip(rows, cols)})


class _StandardisedDesign:
    """``z~_i = ((x_i - mean) / scale, 1)`` on non-constant columns (implicit: X is never
    copied in full), and the map of a direction back to X's units.  ``access`` (a
    :class:`~sklearn_mle.models._model.RowAccess`, e.g. the model) runs the pass over
    X and brings the rows the LP needs to the client."""

    def __init__(self, X, weights, fit_intercept, access=IN_MEMORY):
        positive = weights > 0
        w = np.where(positive, weights, 0.0)
        w = w / w.sum()
        self.access = access
        mean, mean_square = access.reduce_rows(_column_moments, X, (w,))
        if fit_intercept:
            spread = np.sqrt(np.maximum(mean_square - mean**2, 0.0))
        else:
            spread = np.sqrt(mean_square)
            mean = np.zeros_like(mean)
        self.keep = np.flatnonzero(spread > 1e-12 * max(np.sqrt(mean_square).max(), 1e-300))
        self.mean = mean[self.keep]
        self.scale = spread[self.keep]
        self.fit_intercept = fit_intercept
        self.n_columns = self.keep.size + int(fit_intercept)

    def rows(self, X, indices):
        """Dense standardised rows for the given sample indices."""
        block = self.access.take_rows(X, indices)
        block = block.toarray() if sp.issparse(block) else np.asarray(block, np.float64)
        Z = (block[:, self.keep] - self.mean) / self.scale
        if self.fit_intercept:
            Z = np.hstack([Z, np.ones((Z.shape[0], 1))])
        return Z

    def to_original(self, direction, n_features):
        """Coefficients (K, d) and intercepts (K,) of standardised directions (K, q)."""
        K = direction.shape[0]
        coef = np.zeros((K, n_features))
        coef[:, self.keep] = direction[:, :self.keep.size] / self.scale
        intercept = np.zeros(K)
        if self.fit_intercept:
            intercept = direction[:, -1] - coef[:, self.keep] @ self.mean
        return coef, intercept


def _column_moments(model, X, weights):
    """Weighted column means and mean squares of the rows of X."""
    return weighted_column_moments(X, weights)


def _weighted_grams(model, X, weights):
    """Gram matrices of [X, 1] of the rows of X, one per column of ``weights``."""
    return weighted_grams(X, weights)


def _scores_in_chunks(X, coef, intercept):
    """``X @ coef.T + intercept`` (n, K), a block of rows at a time."""
    n = X.shape[0]
    out = np.empty((n, coef.shape[0]))
    for start in range(0, n, _CHUNK_ROWS):
        block = X[start:start + _CHUNK_ROWS]
        out[start:start + _CHUNK_ROWS] = np.asarray(block @ coef.T) + intercept
    return out


def find_separation(X, y_encoded, weights, n_classes, fit_intercept, candidates,
                    access=IN_MEMORY):
    """The largest separable set of (sample, class) pairs, or None if there is none.

    Parameters
    ----------
    X : {ndarray, sparse matrix} of shape (n_samples, n_features)
    y_encoded : ndarray of shape (n_samples,)
        Class indices (as floats).
    weights : ndarray of shape (n_samples,)
        Samples with zero weight are ignored.
    n_classes : int
    fit_intercept : bool
    candidates : ndarray of int
        Samples whose pairs get a variable ``s_ik`` (the ones that may be separated).
        The margin constraints of all other samples are generated as needed.
    access : RowAccess, default=IN_MEMORY
        Where X's rows live (the model): it runs the passes over X and brings the
        constrained rows to the client (raising ``RowLimitExceeded`` beyond its
        bound).

    Returns
    -------
    separation : Separation or None
        None when no pair of the candidates is separable or the LP failed.
    """
    design = _StandardisedDesign(X, weights, fit_intercept, access)
    labels = y_encoded.astype(np.intp)
    positive = weights > 0
    q = design.n_columns
    if q == 0:
        return None
    K = n_classes
    n_blocks = 1 if K == 2 else K - 1          # direction rows (class 0 is fixed)
    candidates = np.unique(np.asarray(candidates, dtype=np.intp))
    candidates = candidates[positive[candidates]]
    if candidates.size == 0:
        return None
    basis = _candidate_subspace(X, labels, positive, candidates, design, K, n_blocks)
    if basis.shape[1] == 0:
        return None
    constrained = candidates.copy()            # samples whose margins are constrained
    for _ in range(_LP_MAX_ROUNDS):
        # Identical (row, label) pairs give identical constraints: solve on the unique
        # ones, in sorted order, so repeated rows and integer weights give the same LP.
        is_candidate = np.isin(constrained, candidates)
        keys = np.column_stack([design.rows(X, constrained), labels[constrained]])
        unique_keys, inverse = np.unique(keys, axis=0, return_inverse=True)
        inverse = inverse.reshape(-1)
        unique_slack = np.zeros(unique_keys.shape[0], dtype=bool)
        np.logical_or.at(unique_slack, inverse, is_candidate)
        direction, slack = _solve_lp(unique_keys[:, :-1],
                                     unique_keys[:, -1].astype(np.intp), unique_slack, K,
                                     q, n_blocks, basis)
        if direction is None:
            return None
        (full_coef, full_intercept), worst = _violated_margins(
            design, direction, X, labels, K, positive, constrained)
        if not worst.size:
            break
        constrained = np.union1d(constrained, worst)
    else:  # pragma: no cover - constraint generation adds rows every round
        return None
    alive = np.ones((X.shape[0], K), dtype=bool)
    separated = (slack[inverse] > 0.5) & is_candidate[:, None]
    rows, cols = np.nonzero(separated)
    alive[constrained[rows], _wrong_classes(labels[constrained], K)[rows, cols]] = False
    if alive.all():
        return None
    widest = _widest_direction(unique_keys[:, :-1], unique_keys[:, -1].astype(np.intp),
                               slack > 0.5, K, q, n_blocks, basis)
    if widest is not None:
        wide, violated = _violated_margins(design, widest, X, labels, K, positive,
                                           constrained)
        if not violated.size:
            full_coef, full_intercept = wide
    return Separation(alive, *_model_direction(full_coef, full_intercept, K))


def _violated_margins(design, direction, X, labels, K, positive, constrained):
    """The standardised ``direction`` in X's units (full coef and intercept), and the
    samples outside ``constrained`` whose margin it makes negative beyond rounding
    (relative to the constrained margins): the ``_LP_ROWS_PER_ROUND`` most negative
    at most (indices, one pass over X)."""
    coef, intercept = design.to_original(direction, X.shape[1])
    full = _full_direction(coef, intercept, K)
    is_constrained = np.zeros(X.shape[0], dtype=bool)
    is_constrained[constrained] = True
    scale, (negative, smallest) = design.access.reduce_rows(
        _negative_margins, X, (labels, positive, is_constrained), full,
        combine=("max", "indices"))
    violated = smallest < -1e-9 * max(scale, 1.0)
    negative, smallest = negative[violated], smallest[violated]
    if negative.size > _LP_ROWS_PER_ROUND:
        negative = negative[np.argsort(smallest, kind="stable")[:_LP_ROWS_PER_ROUND]]
    return full, negative


def _negative_margins(model, coef, intercept, X, labels, positive, constrained):
    """Along the direction (coef, intercept): the largest absolute pair margin of the
    ``constrained`` rows of X (0 for none), and the other positively weighted rows
    with a negative margin with their smallest margins, the ``_LP_ROWS_PER_ROUND``
    most negative at most (in row order)."""
    margins = _pair_margins(_scores_in_chunks(X, coef, intercept), labels)
    scale = float(np.max(np.abs(margins[constrained]), initial=0.0))
    smallest = margins.min(axis=1)
    negative = np.flatnonzero(positive & ~constrained & (smallest < 0))
    if negative.size > _LP_ROWS_PER_ROUND:
        keep = np.argsort(smallest[negative], kind="stable")[:_LP_ROWS_PER_ROUND]
        negative = negative[np.sort(keep)]
    return scale, (negative, smallest[negative])


#: Relative eigenvalue (Jacobi-scaled) below which a direction carries no margin of
#: the samples that are not candidates.
_SUBSPACE_RTOL = 1e-10


#: Largest number of (unique row, wrong class) pairs for which complete separation
#: gets the LP's direction; above it, the fitted model's own direction is used.
_COMPLETE_LP_MAX_PAIRS = 5000


def find_complete_separation(X, y_encoded, weights, n_classes, fit_intercept,
                             fitted_coef, fitted_intercept, access=IN_MEMORY):
    """A direction giving every pair of every positively weighted sample a positive
    margin (complete separation), given a fitted model (``fitted_coef``,
    ``fitted_intercept``, in the model's layout) that classifies every sample
    correctly.

    The fitted model is itself such a direction, but it depends on where the
    diverging fit stopped.  Up to ``_COMPLETE_LP_MAX_PAIRS`` pairs a feasibility LP
    (margins >= 1, the direction's coordinates as the only variables) on the unique
    (row, label) pairs gives one that depends on the data alone, so repeated rows
    and integer weights give the same model.  ``access`` is where X's rows live (see
    :func:`find_separation`).
    """
    labels = y_encoded.astype(np.intp)
    rows = np.flatnonzero(weights > 0)
    K = n_classes
    alive = np.ones((X.shape[0], K), dtype=bool)
    alive[rows] = False
    alive[rows, labels[rows]] = True
    fitted = Separation(alive, fitted_coef, fitted_intercept)
    design = _StandardisedDesign(X, weights, fit_intercept, access)
    q = design.n_columns
    n_blocks = 1 if K == 2 else K - 1
    if q == 0 or rows.size * (K - 1) > 4 * _COMPLETE_LP_MAX_PAIRS:
        return fitted                # no copy of the rows beyond the LP's size
    keys = np.unique(np.column_stack([design.rows(X, rows), labels[rows]]), axis=0)
    if keys.shape[0] * (K - 1) > _COMPLETE_LP_MAX_PAIRS:
        return fitted
    direction, _ = _solve_lp(keys[:, :-1], keys[:, -1].astype(np.intp),
                             np.zeros(keys.shape[0], dtype=bool), K, q, n_blocks,
                             np.eye(n_blocks * q), floor=1.0)
    if direction is None:
        return fitted
    coef, intercept = design.to_original(direction, X.shape[1])
    full_coef, full_intercept = _full_direction(coef, intercept, K)
    if access.reduce_rows(_smallest_margin, X, (labels, weights > 0),
                          (full_coef, full_intercept), combine="min") <= 0:
        return fitted
    return Separation(alive, *_model_direction(full_coef, full_intercept, K))


def _smallest_margin(model, coef, intercept, X, labels, positive):
    """The smallest pair margin of the ``positive`` rows of X along (coef, intercept)
    (``inf`` for none)."""
    margins = _pair_margins(_scores_in_chunks(X, coef, intercept), labels)
    return float(margins[positive].min(initial=np.inf))


def _candidate_subspace(X, labels, positive, candidates, design, K, n_blocks):
    """Orthonormal basis (n_blocks * q, r) of the directions that leave every margin
    of the non-candidate samples at zero.

    A separating direction has margins >= 0 everywhere and > 0 only on separable
    pairs; if the non-candidates are not separable their margins must be exactly 0.
    So the LP searches only this subspace, and needs rows for the candidates alone
    (a non-candidate that is separable after all shows up when the remaining
    likelihood is certified, and the LP is run again with it as a candidate).  The
    subspace is the null space of ``sum (e_y - e_k)(e_y - e_k)^T ⊗ z z^T`` over the
    non-candidates' pairs, formed from one Gram matrix per class.
    """
    others = positive.copy()
    others[candidates] = False
    q = design.n_columns
    if not others.any():
        return np.eye(n_blocks * q)
    d = X.shape[1]
    transform = np.zeros((q, d + 1))          # z~ = transform @ (x, 1)
    transform[np.arange(design.keep.size), design.keep] = 1.0 / design.scale
    transform[:design.keep.size, d] = -design.mean / design.scale
    if design.fit_intercept:
        transform[-1, d] = 1.0
    if K == 2:
        per_class = others[:, None].astype(np.float64)
    else:
        per_class = (others[:, None] & (labels[:, None] == np.arange(K))).astype(np.float64)
    grams = transform @ design.access.reduce_rows(_weighted_grams, X,
                                                  (per_class,)) @ transform.T
    if K == 2:
        matrix = grams[0]
    else:
        # blocks of classes 1..K-1 (class 0 is the reference, fixed at 0)
        matrix = np.zeros((n_blocks * q, n_blocks * q))
        for c in range(K):
            pair_weight = np.zeros((K, K))
            for k in range(K):
                if k != c:
                    difference = np.zeros(K)
                    difference[c], difference[k] = 1.0, -1.0
                    pair_weight += np.outer(difference, difference)
            matrix += np.kron(pair_weight[1:, 1:], grams[c])
    diagonal = np.diag(matrix).copy()
    scale = np.ones_like(diagonal)
    scale[diagonal > 0] = 1.0 / np.sqrt(diagonal[diagonal > 0])
    eigenvalues, eigenvectors = np.linalg.eigh(matrix * scale[:, None] * scale[None, :])
    null = eigenvalues <= _SUBSPACE_RTOL * max(eigenvalues.max(), 1e-300)
    if not null.any():
        return np.zeros((n_blocks * q, 0))
    basis, _ = np.linalg.qr(scale[:, None] * eigenvectors[:, null])
    return basis


def _wrong_classes(labels, K):
    """For each label, the K - 1 other classes in increasing order, shape (n, K-1)."""
    others = np.array([[k for k in range(K) if k != c] for c in range(K)], dtype=np.intp)
    return others[labels]


def _pair_margins(scores, labels):
    """``score_y - score_k`` for the K - 1 wrong classes k of each sample, (n, K-1)."""
    K = scores.shape[1]
    own = scores[np.arange(labels.size), labels]
    wrong = np.take_along_axis(scores, _wrong_classes(labels, K), axis=1)
    return own[:, None] - wrong


def _full_direction(coef, intercept, K):
    """Class scores' direction (K, d) from the LP's blocks (class 0 fixed at 0)."""
    if K == 2:
        return (np.vstack([np.zeros_like(coef[0]), coef[0]]),
                np.array([0.0, intercept[0]]))
    return (np.vstack([np.zeros_like(coef[0]), coef]),
            np.concatenate([[0.0], intercept]))


def _model_direction(full_coef, full_intercept, K):
    """The direction in the model's layout: one logit row for two classes."""
    if K == 2:
        return full_coef[1:], full_intercept[1:]
    return full_coef, full_intercept


def _margin_matrix(Z, labels, K, q, n_blocks, basis):
    """Margins of every (row, wrong class) pair as a sparse map of the direction's
    coordinates in ``basis``, shape (n (K-1), basis.shape[1]), and each pair's row."""
    wrong = _wrong_classes(labels, K)                      # (n, K-1)
    pair_sample = np.repeat(np.arange(Z.shape[0]), K - 1)
    pair_own = np.repeat(labels, K - 1)
    pair_wrong = wrong.ravel()
    n_dir = n_blocks * q
    # margin_ik = (own block - wrong block) . z_i, with class 0 (reference) fixed at 0;
    # for two classes one block holds class 1's logit.
    entries_rows, entries_cols, entries_vals = [], [], []
    values = Z[pair_sample]                                # (n (K-1), q)
    pair_index = np.arange(pair_sample.size)
    for block_class, sign in ((pair_own, 1.0), (pair_wrong, -1.0)):
        free = block_class > 0
        block = block_class[free] - 1 if K > 2 else np.zeros(free.sum(), dtype=np.intp)
        entries_rows.append(np.repeat(pair_index[free], q))
        entries_cols.append((block[:, None] * q + np.arange(q)).ravel())
        entries_vals.append(sign * values[free].ravel())
    margin = sp.csr_matrix(
        (np.concatenate(entries_vals), (np.concatenate(entries_rows),
                                        np.concatenate(entries_cols))),
        shape=(pair_sample.size, n_dir))
    if basis.shape[1] != n_dir:
        margin = sp.csr_matrix(margin @ basis)
    return margin, pair_sample


def _widest_direction(Z, labels, separated, K, q, n_blocks, basis):
    """The direction of largest smallest margin on the ``separated`` pairs (n, K-1)
    with margins >= 0 on the others and coordinates in [-1, 1], rescaled to smallest
    separated margin 1; None if the LP fails.

    The LP of :func:`_solve_lp` puts no cost on the direction, so its solution is a
    vertex with coordinates at ``_LP_DIRECTION_BOUND`` whose margins are only >= 1:
    scaled to the fallback's margin it gives coefficients of ~1e8, at which the
    remaining pairs' scores lose ~1e-7 to rounding and the re-fit cannot recover
    them (iris, setosa separated: conditional probabilities off by 1.5e-7).  This
    direction has the smallest size that reaches margin 1.
    """
    margin, _ = _margin_matrix(Z, labels, K, q, n_blocks, basis)
    n_coords = basis.shape[1]
    target = separated.ravel().astype(np.float64)
    # t - margin_p <= 0 on separated pairs, -margin_p <= 0 on the others; maximise t
    A = sp.hstack([-margin, sp.csr_matrix(target[:, None])], format="csr")
    c = np.zeros(n_coords + 1)
    c[-1] = -1.0
    result = linprog(c, A_ub=A, b_ub=np.zeros(A.shape[0]),
                     bounds=[(-1.0, 1.0)] * n_coords + [(0.0, None)], method="highs")
    if result.status != 0 or not result.x[-1] > 0:
        return None
    coordinates = result.x[:n_coords] / result.x[-1]
    direction = coordinates if n_coords == n_blocks * q else basis @ coordinates
    return direction.reshape(n_blocks, q)


def _solve_lp(Z, labels, has_slack, K, q, n_blocks, basis, floor=0.0):
    """Solve the LP on rows ``Z`` (standardised design of the constrained samples).

    Variables: the direction's coordinates ``u`` in ``basis`` (direction = basis @ u,
    reshaped to (n_blocks, q)), then one ``s`` per (sample with slack, wrong class).
    Pairs without slack must have margin >= ``floor``.  Returns (direction, slack
    (n_rows, K-1), zero for the rows without slack) or (None, None).
    """
    n = Z.shape[0]
    margin, pair_sample = _margin_matrix(Z, labels, K, q, n_blocks, basis)
    slack_pairs = np.flatnonzero(has_slack[pair_sample])
    n_slack = slack_pairs.size
    # s_p - margin_p <= 0 for pairs with slack; -margin_p <= 0 for the others.
    slack_part = sp.csr_matrix((np.ones(n_slack), (slack_pairs, np.arange(n_slack))),
                               shape=(pair_sample.size, n_slack))
    full_space = basis.shape[1] == n_blocks * q
    n_coords = basis.shape[1]
    A = sp.hstack([-margin, slack_part], format="csr")
    c = np.concatenate([np.zeros(n_coords), -np.ones(n_slack)])
    bounds = ([(-_LP_DIRECTION_BOUND, _LP_DIRECTION_BOUND)] * n_coords
              + [(0.0, 1.0)] * n_slack)
    b_ub = np.full(A.shape[0], -float(floor))
    b_ub[slack_pairs] = 0.0
    result = linprog(c, A_ub=A, b_ub=b_ub, bounds=bounds, method="highs")
    if result.status != 0:
        return None, None
    coordinates = result.x[:n_coords]
    direction = (coordinates if full_space else basis @ coordinates).reshape(n_blocks, q)
    slack = np.zeros(pair_sample.size)
    slack[slack_pairs] = result.x[n_coords:]
    return direction, slack.reshape(n, K - 1)


# ------------------------------------------------------------------- the loss
def masking_offset(offset, alive):
    """The per-sample score offset (n, K) of the likelihood left when the separated
    classes' probabilities have gone to 0: ``offset`` (None or (n, K)) plus
    ``EXCLUDED_CLASS_OFFSET`` on each sample's dead classes (``alive`` False).  As an
    offset it goes with each sample through every pass a block of rows at a time."""
    dead = np.where(alive, 0.0, EXCLUDED_CLASS_OFFSET)
    return dead if offset is None else dead + np.asarray(offset, dtype=np.float64)


# ------------------------------------------------------------------ messaging
def _label(value):
    return repr(plain(value))


def separation_kind(separation, weights):
    """"completely" when every positively weighted sample is separated from every
    other class, else "quasi-completely"."""
    positive = weights > 0
    return "completely" if separation.fully_separated[positive].all() else \
        "quasi-completely"


#: Separated class pairs the warning names; it counts the others and says where
#: they all are (``separated_class_pairs_``).
_PAIRS_SHOWN = 5


def separation_message(estimator_name, classes, y_encoded, weights, separation):
    """Warning text: the kind of separation, the class pairs (the first
    ``_PAIRS_SHOWN`` and how many more), what is returned."""
    labels = y_encoded.astype(np.intp)
    unordered = sorted({tuple(sorted(pair)) for pair in separation.class_pairs(labels)})
    described = [f"class {_label(classes[c])} from class {_label(classes[k])}"
                 for c, k in unordered[:_PAIRS_SHOWN]]
    separated = "; ".join(described)
    if len(unordered) > _PAIRS_SHOWN:
        every = len(unordered) == len(classes) * (len(classes) - 1) // 2
        pairs = (f"every one of the {len(unordered)} pairs of the {len(classes)} "
                 "classes" if every else f"{len(unordered)} pairs of classes")
        separated = (f"{pairs}: {separated}; and {len(unordered) - _PAIRS_SHOWN} more, "
                     "all in separated_class_pairs_")
    kind = separation_kind(separation, weights)
    positive = weights > 0
    n_full = int(np.sum(separation.fully_separated & positive))
    n_partial = separation.separated_samples.size - n_full
    counts = f"{n_full} of {int(positive.sum())} samples would get probability 1"
    if n_partial:
        counts += f", {n_partial} more probability 0 for some class"
    return (
        f"{estimator_name}: the maximum likelihood estimate does not exist at alpha=0: "
        f"the classes are {kind} separated; a linear function of X separates "
        f"{separated} ({counts}; indices in separated_samples_). "
        "The likelihood keeps increasing as the coefficients grow without bound. The "
        "returned model is the MLE of the remaining samples plus a separating "
        f"direction scaled to a logit margin of at least {FALLBACK_SEPARATION_MARGIN:g} "
        "on the separated ones: it classifies every separated training sample "
        "correctly, but its coefficients are arbitrary in scale. Set alpha > 0 for a "
        "well-defined penalised estimate."
    )
