r"""The linear-model layer: coefficient layout, raw predictions, penalty, weighting.

:class:`LinearModel` is the linear implementation of the model interface
(:class:`sklearn_mle.models._model.Model`), with its own fused passes over X, Hessian and
preconditioners.  A model has ``n_raw`` raw-prediction columns (one per output of the loss: a logit,
K class scores, a mean and a log scale).  Column ``j`` is

.. math::  \eta_{ij} = x_i^\top W_j + b_j

where each row ``W_j`` is either free or fixed at zero (a reference class, a shared
scale that does not depend on x) and each intercept ``b_j`` is either free or fixed at
a given value (zero unless the estimator says otherwise, e.g. a log dispersion fixed by
the user).  The objective minimised over the free parameters is

.. math::

    F(\theta) = \sum_i \tilde s_i \, \mathrm{NLL}(y_i, \eta_i)
              + \frac{\alpha}{2} \sum_p \omega_p \theta_p^2
              + \alpha \, \varphi(a^\top \theta - \ell_0),
    \qquad \tilde s_i = s_i / \textstyle\sum_k s_k ,

i.e. the weighted mean negative log-likelihood plus an L2 penalty with weights
``omega`` chosen by the estimator (by default 1 on the coefficients and 0 on the
intercepts, which are then never penalised) and, when the estimator asks for one, a
:class:`LevelPenalty` pulling a linear function ``a @ theta`` of the parameters (for
the Gaussian regressor: the training mean of ``log sigma``) towards ``ell_0``, with
``phi(t) = t + (exp(-2 t) - 1) / 2``.

Parameter vector layout: the free rows of ``W`` in row order, each of length
``n_features``, followed by the free intercepts in column order.
"""

import copy
import functools
import weakref

import numpy as np
import scipy.sparse as sp

from .._threads import fused_layout, fused_row_blocks
from ..families import _kernels
from ..families._base import add_offset
from ._linear_preconditioner import ScalingPreconditioner, check_column_magnitudes
from ._model import Model
from ..solver._lbfgs import DENSE_PRECONDITIONER_MAX_PARAMS, DensePreconditioner

#: Largest number of parameters for which a sparse X gets the dense preconditioner.
#: Measured (benchmarks/CROSSOVER.md): on one-hot CSR designs the column scaling
#: reaches the same optimum at every width, and the dense factor and its Hessian
#: refreshes cost 1.1-1.7x up to 500 parameters, 3.3x at 900, 77x at 3000.
SPARSE_DENSE_PRECONDITIONER_MAX_PARAMS = 500
#: Rows processed at a time when forming Gram matrices, so no copy of X is made.
_CHUNK_ROWS = 4096


class LevelPenalty:
    r"""Penalty ``phi(a @ theta - centre)`` on one linear function of the parameters.

    .. math::  \varphi(t) = t + \tfrac12 \left(e^{-2t} - 1\right)
               = \mathrm{KL}\left(\mathcal N(0, e^{2\ell_0}) \,\middle\|\,
                 \mathcal N(0, e^{2(\ell_0 + t)})\right) \ge 0,

    the Kullback-Leibler divergence of a normal distribution with log standard
    deviation ``ell_0 + t`` from one with ``ell_0 = centre``: zero at ``t = 0``,
    ``phi(t) ~ t**2`` near it, exponential as ``t -> -inf`` and linear as ``t -> inf``.
    Added to a Gaussian mean NLL whose ``log sigma_i`` average to ``a @ theta``, the
    term ``alpha * phi`` is what ``alpha`` pseudo-observations per observation with
    squared residual ``exp(2 centre)`` would add (up to a constant): it bounds the
    objective below for every ``alpha > 0`` (see :class:`~sklearn_mle.MLERegressor`).

    Parameters
    ----------
    direction : ndarray of shape (n_params,)
        The vector ``a``.
    centre : float
        The value ``ell_0`` of ``a @ theta`` at which the penalty vanishes.
    """

    def __init__(self, direction, centre):
        self.direction = np.asarray(direction, dtype=np.float64)
        self.centre = float(centre)

    def terms(self, theta):
        """``phi(t)``, ``phi'(t)`` and ``phi''(t)`` at ``t = a @ theta - centre``."""
        t = float(self.direction @ theta) - self.centre
        with np.errstate(over="ignore"):
            decay = np.exp(-2.0 * t)
            return t + 0.5 * np.expm1(-2.0 * t), 1.0 - decay, 2.0 * decay


class LinearModel(Model):
    """Coefficient layout and the penalised weighted-mean NLL objective.

    The linear implementation of :class:`~sklearn_mle.models._model.Model`: raw column ``j``
    is ``x @ W_j + b_j``; passes over dense row-major X use the fused Cython kernels.

    Parameters
    ----------
    loss : BaseLoss
        The distribution.
    n_features : int
        Number of columns of X.
    coef_free : array of bool, shape (n_raw,)
        Whether row ``j`` of the coefficient matrix is estimated (else fixed at 0).
    intercept_free : array of bool, shape (n_raw,)
        Whether intercept ``j`` is estimated (else fixed at ``intercept_value[j]``).
    ridge_weight : array of float, shape (n_params,), default=None
        Weight ``omega_p`` of each parameter in the L2 term
        ``alpha / 2 * sum_p omega_p theta_p**2``; None: 1 on coefficients, 0 on
        intercepts.
    level_penalty : LevelPenalty or None, default=None
        An extra penalty, also scaled by ``alpha``, on a linear function of the free
        parameters; the estimator decides which and towards what.
    intercept_value : array of float, shape (n_raw,), default=None
        Value of each intercept that is not free (e.g. a log dispersion fixed by the
        user); None: 0.  Entries of free intercepts are ignored.
    unit_hessian : ndarray of shape (n_raw, n_raw), default=None
        The family's expected per-sample Hessian at the constant raw prediction where
        the fit starts, for the preconditioner; None: asked of the family
        (``loss.unit_hessian_at_constant``), which a family written in NumPy can
        only answer with the targets, so the estimator passes it.
    offset : ndarray of shape (n_samples,) or (n_samples, n_raw), default=None
        A known term added to raw column 0 (the mean's linear predictor, on the link
        scale) of each training sample, ``x @ W_0 + b_0 + offset_i``, or with one
        column per raw column to each of them (the softmax's class scores).  The model's
        passes over the training X (objective, gradient, Hessians, log-likelihood)
        include it; :meth:`linear_predictor` adds one only when given one.  Fits with
        an offset evaluate a block of rows at a time with BLAS products (the fused
        kernels take no offset).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_mle.models._linear import LinearModel
    >>> from sklearn_mle.families import GaussianLoss
    >>> model = LinearModel(GaussianLoss(), 2, coef_free=[True, False],
    ...                     intercept_free=[True, False],
    ...                     intercept_value=[0.0, np.log(0.5)])
    >>> model.n_params
    3
    >>> coef, intercept = model.unpack(np.array([1.0, 2.0, 3.0]))
    >>> coef
    array([[1., 2.],
           [0., 0.]])
    >>> print(np.exp(intercept[1]))
    0.5
    """

    has_coefficients = True
    supports_inference = True
    supports_existence_check = True

    def __init__(self, loss, n_features, coef_free, intercept_free, ridge_weight=None,
                 level_penalty=None, intercept_value=None, unit_hessian=None,
                 offset=None):
        self.n_features = n_features
        self.offset = None if offset is None else np.asarray(offset, dtype=np.float64)
        self.unit_hessian = unit_hessian
        (self.coef_free, self.intercept_free, self.coef_rows, self.intercept_rows,
         self.param_column, self.param_design) = _parameter_layout(
            tuple(map(bool, coef_free)), tuple(map(bool, intercept_free)), int(n_features))
        self._n_params = self.param_column.size
        super().__init__(loss, ridge_weight if ridge_weight is not None
                         else (self.param_design < n_features).astype(np.float64))
        self.level_penalty = level_penalty
        self.intercept_value = _intercept_value(intercept_value, loss.n_raw)

    @property
    def n_params(self):
        """int: Number of free parameters."""
        return self._n_params

    # ------------------------------------------------------------------ layout
    def column_mean_direction(self, column, column_means):
        """The vector ``a`` with ``a @ theta`` the training mean of raw column ``column``
        (plus ``intercept_value[column]`` when that intercept is fixed).

        ``column_means`` are the (weighted) means of the columns of X, so that the
        mean of ``x_i @ W_j + b_j`` is ``column_means @ W_j + b_j``.
        """
        design_means = np.append(np.asarray(column_means, dtype=np.float64), 1.0)
        return np.where(self.param_column == column, design_means[self.param_design], 0.0)

    def unpack(self, theta, direction=False, copy=True):
        """Full ``coef`` (n_raw, n_features) and ``intercept`` (n_raw,) from theta.

        Fixed intercepts are ``intercept_value``; with ``direction=True`` theta is a
        change of the parameters and the fixed intercepts (which do not change) are 0.
        ``copy=False``, for a pass that only reads them: where every row has
        coefficients, ``coef`` is a view of theta, and where every row has a free
        intercept, so is ``intercept``.
        """
        m, d = self.loss.n_raw, self.n_features
        n_coef = self.coef_rows.size * d
        if self.coef_rows.size == m:  # every row free: theta holds coef as it is
            coef = theta[:n_coef].reshape(m, d)
            if copy:
                coef = coef.copy()
        else:
            coef = np.zeros((m, d))
            coef[self.coef_rows] = theta[:n_coef].reshape(-1, d)
        if not (copy or direction) and self.intercept_rows.size == m:
            return coef, theta[n_coef:]
        intercept = np.zeros(m) if direction else self.intercept_value.copy()
        intercept[self.intercept_rows] = theta[n_coef:]
        return coef, intercept

    def pack(self, coef, intercept):
        """Parameter vector from full ``coef`` and ``intercept`` (fixed entries ignored)."""
        coef, intercept = np.asarray(coef), np.asarray(intercept)
        m = self.loss.n_raw
        # (every row free, the usual layout: no gathers)
        coef = coef.reshape(-1) if self.coef_rows.size == m else coef[self.coef_rows]
        if self.intercept_rows.size != m:
            intercept = intercept[self.intercept_rows]
        return np.concatenate((coef.ravel(), intercept.ravel()), dtype=np.float64)

    # ---------------------------------------------------------- fit's sequence
    def initial_parameters(self, start_raw, random_state=None):
        """Coefficients 0 and the intercepts at ``start_raw``: the null model."""
        theta = np.zeros(self.n_params)
        theta[self.coef_rows.size * self.n_features:] = np.asarray(
            start_raw, dtype=np.float64)[self.intercept_rows]
        return theta

    def warm_start_parameters(self, previous_model, previous_theta, adapt=None):
        """The previous fit's coefficients and intercepts, through ``adapt`` (see
        :meth:`Model.warm_start_parameters`), where they have this model's shape."""
        if previous_model is None or not previous_model.has_coefficients:
            return None
        coef, intercept = previous_model.unpack(previous_theta)   # (copies)
        if coef.shape != (self.loss.n_raw, self.n_features):
            return None
        if adapt is not None:
            coef, intercept = adapt(coef, intercept)
        return self.pack(coef, intercept)

    def in_target_units(self, theta, target_scale):
        """The mean's coefficients and intercept times ``target_scale``."""
        return theta * np.where(self.param_column == 0, float(target_scale), 1.0)

    # ------------------------------------------------------------- predictions
    def linear_predictor(self, X, coef, intercept, offset=None):
        """Raw predictions ``X @ coef.T + intercept`` (n, n_raw), C-contiguous float64,
        at full ``coef`` (n_raw, n_features) and ``intercept`` (n_raw,); ``offset``
        (n,) or (n, n_raw), if given, is added as
        :func:`~sklearn_mle.families._base.add_offset` adds it."""
        if self.coef_rows.size == self.loss.n_raw:   # every column has coefficients
            raw = np.ascontiguousarray(_dot(X, coef.T))
            raw += intercept
            return add_offset(raw, offset)
        raw = np.empty((X.shape[0], self.loss.n_raw))
        raw[:] = intercept
        if self.coef_rows.size:
            raw[:, self.coef_rows] += _dot(X, coef[self.coef_rows].T)
        return add_offset(raw, offset)

    def predict_raw(self, theta, X, offset=None):
        """Raw predictions (n, n_raw) at ``theta`` on any X, with ``offset`` if given
        (see :meth:`linear_predictor`)."""
        return self.linear_predictor(X, *self.unpack(theta), offset=offset)

    def training_rows_raw(self, theta, X_rows, rows):
        """Raw predictions of training rows ``rows`` (a slice or indices) from
        ``X_rows = X[rows]``, with their part of the model's ``offset``."""
        return self.linear_predictor(X_rows, *self.unpack(theta),
                                     offset=None if self.offset is None
                                     else self.offset[rows])

    def with_offset(self, offset):
        """The unpenalised model of the same loss and layout, where the data live, with
        another per-sample ``offset`` (e.g. the likelihood left when classes are
        separated: the separated classes taken out of each sample's softmax)."""
        return LinearModel(self.loss, self.n_features, self.coef_free,
                           self.intercept_free, offset=offset)

    def for_rows(self, start, stop):
        """This model on training rows ``start:stop``: its offset sliced; the model
        itself where it has none."""
        if self.offset is None:
            return self
        part = copy.copy(self)
        part.offset = self.training_offset(start, stop)
        return part

    def row_blocks(self, X):
        """``(model, rows, X[rows])`` for blocks of rows of X (a slice each, in order,
        as a blockwise pass takes them): this model on those rows (:meth:`for_rows`)
        and the block, whose CSR rows are views of X's arrays."""
        for rows in _row_blocks(X):
            yield self.for_rows(rows.start, rows.stop), rows, _take_rows(X, rows)

    def training_offset(self, start=0, stop=None):
        """The offset of training rows ``start:stop`` (None without an offset)."""
        return None if self.offset is None else self.offset[start:stop]

    def raw_prediction(self, theta, X):
        """Raw predictions (n, n_raw) at the parameters ``theta`` on the training X
        (with the model's ``offset``)."""
        if self.offset is not None and self.offset.shape[0] != X.shape[0]:
            raise ValueError(f"the model's offset has {self.offset.shape[0]} rows, X has "
                             f"{X.shape[0]}: raw_prediction is for the training X")
        return self.linear_predictor(X, *self.unpack(theta), offset=self.offset)

    def raw_vjp(self, theta, X, raw_gradient):
        """``sum_i J_i^T g_i``: ``X^T G`` on the free coefficient rows, the column sums
        of ``G`` on the free intercepts (the same at every theta)."""
        gradient = np.empty(self.n_params)
        n_coef = self.coef_rows.size * self.n_features
        if self.coef_rows.size:
            gradient[:n_coef] = _xt_dot(X, raw_gradient[:, self.coef_rows]).T.ravel()
        gradient[n_coef:] = raw_gradient.sum(axis=0)[self.intercept_rows]
        return gradient

    def parameter_design(self, X):
        """The design value each parameter multiplies, per sample: ``z_i[param_design]``
        with ``z_i = (x_i, 1)``, a dense (n_samples, n_params) float64 array (so the
        Jacobian ``J_i`` has, in row ``param_column[p]``, the entry ``Z[i, p]``).  For
        a block of rows: it has ``n_params`` columns per row."""
        n, d = X.shape
        design = np.empty((n, d + 1))
        design[:, :d] = X.toarray() if sp.issparse(X) else X
        design[:, d] = 1.0
        return design[:, self.param_design]

    def sample_scores(self, theta, X, raw_gradient):
        """``J_i^T g_i`` per sample: ``g_ij z_i`` on the parameters of column j (see
        :meth:`Model.sample_scores`)."""
        return np.asarray(raw_gradient)[:, self.param_column] * self.parameter_design(X)

    def sample_forms(self, theta, X, matrix):
        """``J_i M J_i^T`` per sample: entry (j, k) is ``sum z_ia M_ab z_ib`` over the
        parameters a of column j and b of column k (see :meth:`Model.sample_forms`)."""
        design = self.parameter_design(X)
        m = self.loss.n_raw
        forms = np.zeros((X.shape[0], m, m))
        columns = [np.flatnonzero(self.param_column == j) for j in range(m)]
        for k, of_k in enumerate(columns):
            if not of_k.size:
                continue
            # sum over column k's parameters b of M_ab z_b, for every a
            product = design[:, of_k] @ matrix[:, of_k].T
            for j, of_j in enumerate(columns):
                if of_j.size:
                    forms[:, j, k] = np.einsum("ia,ia->i", design[:, of_j],
                                               product[:, of_j])
        return forms

    # --------------------------------------------------------------- objective
    def nll_gradient(self, theta, X, y, weights, n_threads=1):
        """Weighted NLL and its gradient: one fused sweep over X where it applies, else
        BLAS products a block of rows at a time (:meth:`_blockwise_pass`)."""
        coef, intercept = self.unpack(theta, copy=False)
        objective, grad_intercept, grad_coef = self._pass_over_x(X)(
            X, y, weights, coef, intercept, n_threads)
        m = self.loss.n_raw
        if self.coef_rows.size == m and self.intercept_rows.size == m:  # all free
            return objective, np.concatenate((grad_coef.ravel(), grad_intercept))
        gradient = np.empty_like(theta)
        n_coef = self.coef_rows.size * self.n_features
        if self.coef_rows.size:
            gradient[:n_coef] = grad_coef.ravel()
        gradient[n_coef:] = grad_intercept[self.intercept_rows]
        return objective, gradient

    def add_penalty(self, theta, alpha, objective, gradient):
        """The ridge, then the level penalty ``alpha * phi(a @ theta - centre)``."""
        objective, gradient = super().add_penalty(theta, alpha, objective, gradient)
        if self.level_penalty is not None:
            value, slope, _ = self.level_penalty.terms(theta)
            objective += alpha * value
            gradient += (alpha * slope) * self.level_penalty.direction
        return objective, gradient

    #: Use the fused one-pass Cython loop for dense row-major X ("auto"), always
    #: where possible (True) or never (False, BLAS products).
    fused = "auto"

    def uses_fused_pass(self, X):
        """Whether an evaluation on X takes the fused one-pass path.

        Dense X, float32 or float64: one sweep reads X once, accumulates in double
        and runs on the kernels' own threads (BLAS is then held to one thread, see
        ``_threads.kernels_own_the_cores``).  Row-major X is read in place; F-ordered X
        (a pandas DataFrame's layout) a block of rows at a time, copied row-major
        (:func:`~sklearn_mle._threads.fused_row_blocks`), with the same result bit
        for bit.  Sparse X, and families without fused kernels, use the loss's
        per-sample kernels and BLAS / SciPy products a block of rows at a time.
        Measured fit times on 2 cores, fused against BLAS products: 100000 x 300
        binary 0.36 s against 1.59 s, 50000 x 60 with 5 classes 0.26 s against
        0.65 s, digits (10 classes) 0.41 s against 0.84 s; 100000 x 30 with 6
        classes F-ordered, fused on copied blocks against whole-array BLAS products,
        1.1 s against 2.2 s (row-major 0.6 s) and a peak of 20 % of X against 205 %.
        """
        if self.fused is False or self.loss.family is None or self.offset is not None:
            return False
        return fused_layout(X)

    def uses_fused_sparse_pass(self, X):
        """Whether an evaluation on X takes the fused one-pass path over CSR X
        (:meth:`_fused_sparse_pass`): float32 or float64 entries, a family with fused
        kernels and no offset.  Measured on the 500 000 x 3 000 one-hot Poisson
        benchmark (one thread, loaded machine): 3.9 ms an evaluation against 13 ms
        for the blockwise SciPy products and per-sample kernels, whose per-block
        arrays (raw predictions, losses, gradients) cost more than the arithmetic
        where rows hold a few entries."""
        if self.fused is False or self.loss.family is None or self.offset is not None:
            return False
        return _fused_csr(X)

    def _pass_over_x(self, X):
        """The pass that evaluates the objective and gradient on X."""
        if self.uses_fused_pass(X):
            return self._fused_pass
        if self.uses_fused_sparse_pass(X):
            return self._fused_sparse_pass
        return self._blockwise_pass

    def pass_description(self, X):
        """The kernel of a pass over X, for progress reports."""
        if self.uses_fused_pass(X):
            return "fused one-pass kernel"
        if self.uses_fused_sparse_pass(X):
            return "fused one-pass kernel on CSR X"
        return "BLAS / sparse products"

    def _fused_pass(self, X, y, sample_weight, coef, intercept, n_threads):
        """Objective (unpenalised), raw-prediction gradient summed over samples (the
        intercept gradient) and coefficient gradient, from one sweep over X."""
        n, d = X.shape
        per_block = _kernels.FUSED_BLOCK_ROWS
        n_blocks = -(-n // per_block)
        block_loss = np.empty(n_blocks)
        block_raw = np.empty((n_blocks, self.loss.n_raw))
        block_coef = np.empty((n_blocks, self.coef_rows.size, d))
        coef = np.ascontiguousarray(coef)
        if X.flags.c_contiguous:   # read in place (the blocks below copy F-ordered X)
            _kernels.fused_loss_gradient(
                X, y, sample_weight, coef, intercept, self.coef_rows, self.loss.family,
                block_loss, block_raw, block_coef, n_threads)
        else:
            for start, stop, rows in fused_row_blocks(X, per_block):
                first, last = start // per_block, -(-stop // per_block)
                _kernels.fused_loss_gradient(
                    rows, y[start:stop], sample_weight[start:stop], coef, intercept,
                    self.coef_rows, self.loss.family, block_loss[first:last],
                    block_raw[first:last], block_coef[first:last], n_threads)
        if n_blocks == 1:
            return float(block_loss[0]), block_raw[0], block_coef[0]
        return block_loss.sum(), block_raw.sum(axis=0), block_coef.sum(axis=0)

    def _fused_sparse_pass(self, X, y, sample_weight, coef, intercept, n_threads):
        """What :meth:`_fused_pass` returns, from one sweep over the stored entries of
        CSR X (:func:`~sklearn_mle.families._kernels.fused_loss_gradient_csr`): no
        per-sample array; blocks of rows fixed by X's shape (:func:`_csr_block_starts`)
        each sum into their own partial gradient, added in block order."""
        block_starts = _csr_block_starts(X, self.coef_rows.size)
        n_blocks = block_starts.size - 1
        block_loss = np.empty(n_blocks)
        block_raw = np.empty((n_blocks, self.loss.n_raw))
        block_coef = np.empty((n_blocks, self.coef_rows.size, X.shape[1]))
        _kernels.fused_loss_gradient_csr(
            X.data, X.indices, X.indptr, X.shape[1], block_starts, y, sample_weight,
            np.ascontiguousarray(coef), intercept, self.coef_rows, self.loss.family,
            block_loss, block_raw, block_coef, n_threads)
        if n_blocks == 1:
            return float(block_loss[0]), block_raw[0], block_coef[0]
        return block_loss.sum(), block_raw.sum(axis=0), block_coef.sum(axis=0)

    def _blockwise_pass(self, X, y, sample_weight, coef, intercept, n_threads):
        """What :meth:`_fused_pass` returns, from the loss's kernels and BLAS / sparse
        products on one block of rows at a time (F-ordered or sparse X, a family without
        fused kernels): the raw predictions and their gradients never exist for all
        samples at once, so the memory a pass adds is a block's, not a multiple of n.
        Blocks are summed in row order."""
        objective = 0.0
        grad_intercept = np.zeros(self.loss.n_raw)
        grad_coef = np.zeros((self.coef_rows.size, self.n_features))
        for rows in _row_blocks(X):
            block = _take_rows(X, rows)
            raw = self.linear_predictor(block, coef, intercept,
                                        self.training_offset(rows.start, rows.stop))
            loss, raw_gradient = self.loss.loss_gradient(y[rows], raw, sample_weight[rows],
                                                         n_threads)
            objective += loss.sum()
            grad_intercept += raw_gradient.sum(axis=0)
            if self.coef_rows.size:
                grad_coef += _xt_dot(block, raw_gradient[:, self.coef_rows]).T
        return objective, grad_intercept, grad_coef

    def fisher_product(self, theta, X, y, weights, vector, n_threads=1):
        """``sum_i J_i^T F_i J_i vector``: the product of the (weighted) Fisher
        information at ``theta`` with a change ``vector`` of the parameters, one pass
        over X (fused on CSR X, else the loss's per-sample Fisher information on all
        rows at once)."""
        if self.uses_fused_sparse_pass(X):
            block_starts = _csr_block_starts(X, self.coef_rows.size)
            n_blocks = block_starts.size - 1
            block_raw = np.empty((n_blocks, self.loss.n_raw))
            block_coef = np.empty((n_blocks, self.coef_rows.size, X.shape[1]))
            coef, intercept = self.unpack(theta)
            vector_coef, vector_intercept = self.unpack(vector, direction=True)
            _kernels.fused_fisher_product_csr(
                X.data, X.indices, X.indptr, X.shape[1], block_starts, y, weights,
                np.ascontiguousarray(coef), intercept, np.ascontiguousarray(vector_coef),
                vector_intercept, self.coef_rows, self.loss.family, block_raw,
                block_coef, n_threads)
            raw_sum, coef_sum = block_raw.sum(axis=0), block_coef.sum(axis=0)
            product = np.empty(self.n_params)
            n_coef = self.coef_rows.size * self.n_features
            product[:n_coef] = coef_sum.ravel()
            product[n_coef:] = raw_sum[self.intercept_rows]
            return product
        raw = self.raw_prediction(theta, X)
        with np.errstate(over="ignore", invalid="ignore"):
            fisher = self.loss.fisher_information(y, raw, weights, n_threads)
        change = self.linear_predictor(X, *self.unpack(vector, direction=True))
        return self.raw_vjp(theta, X, np.einsum("ijk,ik->ij", fisher, change))

    def total_nll(self, theta, X, y, weights, n_threads=1):
        """``sum_i weights_i * NLL_i`` at ``theta``: one pass, fused where it applies,
        else a block of rows at a time."""
        coef, intercept = self.unpack(theta, copy=False)
        if self.uses_fused_pass(X) or self.uses_fused_sparse_pass(X):
            return self._pass_over_x(X)(X, y, weights, coef, intercept, n_threads)[0]
        total = 0.0
        for rows in _row_blocks(X):
            raw = self.linear_predictor(_take_rows(X, rows), coef, intercept,
                                        self.training_offset(rows.start, rows.stop))
            total += self.loss.loss_gradient(y[rows], raw, weights[rows],
                                             n_threads)[0].sum()
        return total

    # ------------------------------------------------------------------ facts
    @property
    def hessian_is_constant(self):
        """bool: The loss's Hessian on raw predictions is constant and no level
        penalty bends the objective (a quadratic objective)."""
        return bool(self.loss.hessian_is_constant and self.level_penalty is None)

    @property
    def fisher_is_hessian(self):
        """bool: The loss's Fisher information is its Hessian (canonical links)."""
        return bool(self.loss.fisher_is_hessian)

    @property
    def refresh_with_expected_hessian(self):
        """bool: Refresh with the Fisher information unless the family prefers its
        observed Hessian (``refresh_with_observed_hessian``)."""
        return not getattr(self.loss, "refresh_with_observed_hessian", False)

    # ----------------------------------------------------------------- Hessians
    def expand_design_blocks(self, blocks, alpha, theta):
        """Assemble a parameter-space matrix from design-space blocks.

        ``blocks[j, k]`` is a (d+1, d+1) matrix over the design [X, 1] coupling raw
        columns j and k; the result is the (n_params, n_params) matrix with the
        penalty's Hessian at ``theta`` added.
        """
        col, des = self.param_column, self.param_design
        matrix = blocks[col[:, None], col[None, :], des[:, None], des[None, :]]
        return self._add_penalty_hessian(matrix, alpha, theta)

    def start_hessian(self, gram, unit_hessian, alpha, constant_raw):
        """Hessian at a constant model: ``unit_hessian ⊗ gram`` on the free parameters,
        plus the penalty's Hessian at the constant raw prediction ``constant_raw``.

        The same matrix as ``expand_design_blocks`` of the Kronecker blocks, indexed
        factor by factor so that the (n_raw, n_raw, d+1, d+1) blocks are never formed.
        """
        # (the parameters of the constant model: only a level penalty's curvature
        # depends on them)
        theta = (self.initial_parameters(constant_raw)
                 if alpha > 0 and self.level_penalty is not None else None)
        return self._kronecker_hessian(unit_hessian, gram, alpha, theta)

    def _kronecker_hessian(self, unit, gram, alpha, theta):
        """``unit ⊗ gram`` on the free parameters (unit: (n_raw, n_raw), gram: the
        (d+1, d+1) Gram matrix of [X, 1]), plus the penalty's Hessian at ``theta``."""
        col, des = self.param_column, self.param_design
        matrix = unit.take(col, 0).take(col, 1) * gram.take(des, 0).take(des, 1)
        return self._add_penalty_hessian(matrix, alpha, theta)

    def _add_penalty_hessian(self, matrix, alpha, theta):
        """Add the penalty's Hessian at ``theta`` in place: ``alpha omega`` on the
        diagonal and ``alpha phi'' a a^T`` of the level penalty."""
        if alpha > 0:
            matrix.flat[::matrix.shape[0] + 1] += alpha * self.ridge_weight
        if alpha > 0 and self.level_penalty is not None:
            direction = self.level_penalty.direction
            curvature = self.level_penalty.terms(theta)[2]
            matrix += (alpha * curvature) * np.outer(direction, direction)
        return matrix

    def hessian(self, theta, X, y, sample_weight, alpha, n_threads=1, expected=False):
        """Hessian of the objective wrt theta, shape (n_params, n_params).

        ``expected=True`` uses the Fisher information of each sample (the expected
        Hessian given x) instead of the observed one; the two agree for the Bernoulli
        and categorical families, and the expected one is always positive semi-definite.
        """
        if expected and self.fisher_is_shared:
            return self._shared_fisher_hessian(theta, X, y, sample_weight, alpha,
                                               n_threads)
        coef, intercept = self.unpack(theta)
        m = self.loss.n_raw
        pairs = [(j, k) for j in range(m) for k in range(j, m)]
        if expected and self.uses_fused_pass(X):
            # Fisher weights computed row by row inside the Gram kernel.
            coef = np.ascontiguousarray(coef)
            grams = sum(
                _partitioned_grams(_kernels.fisher_grams, rows, len(pairs), n_threads,
                                   y[start:stop], sample_weight[start:stop], coef,
                                   intercept, self.coef_rows, self.loss.family)
                for start, stop, rows in fused_row_blocks(X, _MIN_GRAM_PARTITION_ROWS))
        else:
            # a block of rows at a time: per-sample (n_raw, n_raw) Hessians of every
            # sample at once would be n_raw**2 / n_features times the size of X
            grams = 0.0
            for rows in _row_blocks(X):
                block = _take_rows(X, rows)
                raw = self.linear_predictor(block, coef, intercept,
                                            self.training_offset(rows.start, rows.stop))
                per_sample = (self.loss.fisher_information if expected else
                              self.loss.hessian)(y[rows], raw, sample_weight[rows],
                                                 n_threads)
                grams = grams + weighted_grams(
                    block, np.stack([per_sample[:, j, k] for j, k in pairs], axis=1),
                    n_threads)
        d1 = self.n_features + 1
        blocks = np.zeros((m, m, d1, d1))
        for (j, k), gram in zip(pairs, grams):
            blocks[j, k] = gram
            blocks[k, j] = gram.T
        return self.expand_design_blocks(blocks, alpha, theta)

    @property
    def fisher_is_shared(self):
        """bool: Every sample has the same Fisher information (per unit weight): the
        columns it depends on (``loss.fisher_columns``) do not vary with x."""
        columns = self.loss.fisher_columns
        return columns is not None and not set(columns) & set(self.coef_rows.tolist())

    @property
    def hessian_refresh_is_free(self):
        """bool: The refresh is the expected Hessian and every sample shares one Fisher
        information: ``F ⊗`` the preconditioner's Gram matrix, no pass over X."""
        return bool(self.refresh_with_expected_hessian and self.fisher_is_shared)

    def _shared_fisher_hessian(self, theta, X, y, sample_weight, alpha, n_threads=1):
        """The expected Hessian when every sample shares one Fisher information F:
        ``F ⊗ Gram([X, 1])`` (weighted) plus the penalty's, with no pass over X when
        the preconditioner already formed that Gram matrix."""
        raw = self.linear_predictor(X[:1], *self.unpack(theta),
                                    offset=self.training_offset(0, 1))
        unit = self.loss.fisher_information(y[:1], raw, np.ones(1))[0]
        gram = self._cached_design_gram(X, sample_weight)
        if gram is None:
            gram = self.design_gram(X, sample_weight, n_threads)
        return self._kronecker_hessian(unit, gram, alpha, theta)

    def __getstate__(self):
        # the cached Gram matrix belongs to one fit's arrays (and weak references do
        # not pickle)
        state = self.__dict__.copy()
        state.pop("_design_gram", None)
        return state

    def _cached_design_gram(self, X, weights):
        """The weighted Gram matrix of [X, 1] that :meth:`preconditioner` formed for
        these very arrays (held by weak references: the model keeps no data alive),
        else None."""
        cached = getattr(self, "_design_gram", None)
        if cached is None:
            return None
        x_ref, weights_ref, gram = cached
        return gram if x_ref() is X and weights_ref() is weights else None

    # ------------------------------------------------------- design moments
    def design_gram(self, X, weights, n_threads=1):
        """Weighted Gram matrix of the design ``[X, 1]`` (:func:`weighted_gram`)."""
        return weighted_gram(X, weights, n_threads)

    def column_moments(self, X, weights):
        """Weighted means of the columns of X and of their squares
        (:func:`weighted_column_moments`)."""
        return weighted_column_moments(X, weights)

    # ----------------------------------------------------------- preconditioner
    def dense_matrices_fit(self, X):
        """Whether this model forms dense ``n_params x n_params`` matrices on X: up to
        ``DENSE_PRECONDITIONER_MAX_PARAMS`` parameters, ``SPARSE_DENSE_PRECONDITIONER_
        MAX_PARAMS`` for sparse X (the "auto" preconditioner is then dense)."""
        limit = (SPARSE_DENSE_PRECONDITIONER_MAX_PARAMS if sp.issparse(X)
                 else DENSE_PRECONDITIONER_MAX_PARAMS)
        return self.n_params <= limit

    def preconditioner(self, X, weights, start_raw, alpha, kind="auto", n_threads=1):
        """The solver's preconditioner for this model on data X.

        ``kind`` is "auto" (dense up to ``DENSE_PRECONDITIONER_MAX_PARAMS``
        parameters, ``SPARSE_DENSE_PRECONDITIONER_MAX_PARAMS`` for sparse X, else
        scaling), "dense" (the Cholesky factor of the start Hessian
        ``unit_hessian ⊗ Gram([X, 1])`` plus the penalty's, taken at the constant raw
        prediction ``start_raw``), "scaling" (:class:`ScalingPreconditioner`) or
        "none" (plain L-BFGS on theta, returns None).  Columns whose squares doubles
        cannot hold raise a ValueError naming them.
        """
        if kind == "auto":
            kind = "dense" if self.dense_matrices_fit(X) else "scaling"
        if kind == "none":
            return None
        if kind not in ("dense", "scaling"):
            raise ValueError(f"unknown preconditioner {kind!r}: use 'auto', 'dense', "
                             "'scaling' or 'none'.")
        if kind == "dense":
            return self._dense_preconditioner(X, weights, start_raw, alpha,
                                              self.design_gram(X, weights, n_threads))
        mean, mean_square = self.column_moments(X, weights)
        check_column_magnitudes(mean, mean_square)
        return ScalingPreconditioner(self, mean, mean_square, self._unit_hessian(start_raw),
                                     alpha)

    def _unit_hessian(self, start_raw):
        """The per-sample Fisher information the preconditioner is formed from."""
        return (self.unit_hessian if self.unit_hessian is not None
                else self.loss.unit_hessian_at_constant(start_raw))

    def _dense_preconditioner(self, X, weights, start_raw, alpha, gram):
        """The dense preconditioner from the weighted Gram matrix ``gram`` of [X, 1]
        (kept, by weak references to X and the weights, for this fit's later
        passes)."""
        try:
            self._design_gram = (weakref.ref(X), weakref.ref(weights), gram)
        except TypeError:  # an input that takes no weak reference: no cache
            self._design_gram = None
        d = X.shape[1]
        check_column_magnitudes(gram[:d, d], gram.diagonal()[:d])
        unit_hessian = self._unit_hessian(start_raw)
        # one raw column with coefficients and no penalty: the start Hessian is the
        # Gram matrix of the design (with the intercept where it is free) times the
        # unit Hessian, and the preconditioner's factor gives the design's rank
        is_design_gram = (self.loss.n_raw == 1 and self.coef_rows.size == 1
                          and alpha == 0 and unit_hessian[0, 0] > 0)
        return DensePreconditioner(
            self.start_hessian(gram, unit_hessian, alpha, start_raw),
            design_gram=gram, hessian_is_design_gram=is_design_gram)

    def preconditioner_with_start(self, X, y, weights, start_raw, alpha, kind="auto",
                                  n_threads=1):
        """:meth:`Model.preconditioner_with_start`: where the preconditioner is dense
        and X is read by the fused kernels (dense, in memory, no offset), the Gram
        matrix's sweep over X also sums the NLL and its gradient at the null model
        (:func:`~sklearn_mle.families._kernels.weighted_gram_and_start`), which
        saves the solver its first pass."""
        if kind == "auto":
            kind = "dense" if self.dense_matrices_fit(X) else "scaling"
        if not (kind == "dense" and isinstance(X, np.ndarray) and X.size
                and self.uses_fused_pass(X)):
            return self.preconditioner(X, weights, start_raw, alpha, kind, n_threads), None
        theta = self.initial_parameters(start_raw)
        gram, objective, gradient = self._gram_and_start(X, y, weights, theta, n_threads)
        if alpha > 0:
            objective, gradient = self.add_penalty(theta, alpha, objective, gradient)
        start = ((theta, objective, gradient)
                 if np.isfinite(objective) and np.isfinite(gradient).all() else None)
        return self._dense_preconditioner(X, weights, start_raw, alpha, gram), start

    def _gram_and_start(self, X, y, weights, theta, n_threads):
        """The weighted Gram matrix of [X, 1] (as :func:`weighted_gram`) and the
        unpenalised objective and gradient at ``theta``, a model whose coefficients
        are all 0, from one sweep over dense X (row-major in place, else a block of
        rows at a time, copied)."""
        d = X.shape[1]
        m, n_free = self.loss.n_raw, self.coef_rows.size
        raw = self.unpack(theta, copy=False)[1]   # every sample's raw prediction
        weights = np.ascontiguousarray(weights, dtype=np.float64)
        y = np.ascontiguousarray(y, dtype=np.float64)
        size = (d + 1) ** 2
        sums = 0.0
        for start, stop, rows in fused_row_blocks(X, _MIN_GRAM_PARTITION_ROWS):
            # per partition: the Gram matrix, the NLL, its raw and coefficient gradients
            partitions = np.zeros((_gram_partitions(rows, 1), size + 1 + m + n_free * d))
            _kernels.weighted_gram_and_start(
                rows, weights[start:stop], y[start:stop], raw, self.coef_rows,
                self.loss.family, partitions, n_threads)
            # (partitions, then blocks, added in order: the same sums on any thread)
            sums = sums + _sum_partitions(partitions)
        gram = sums[:size].reshape(d + 1, d + 1)
        rows, columns = _upper_triangle(d + 1)
        gram[rows, columns] = gram[columns, rows]
        gradient = np.empty(theta.size)
        gradient[:n_free * d] = sums[size + 1 + m:]
        gradient[n_free * d:] = sums[size + 1:size + 1 + m][self.intercept_rows]
        return gram, float(sums[size]), gradient

    def rescaled_preconditioner(self, preconditioner, theta, X, y, weights, alpha,
                                n_threads=1):
        """The column scaling (:class:`ScalingPreconditioner`) formed from the Fisher
        information at ``theta``: its Fisher-weighted column moments centred by the
        Fisher-weighted means, where one raw column has coefficients; None unless
        the curvature of the columns changed by more than ``_RESCALE_SPREAD``
        relative to each other since ``preconditioner`` was formed (or for another
        preconditioner, X not in memory, curvature that is not finite)."""
        if (not isinstance(preconditioner, ScalingPreconditioner)
                or self.coef_rows.size != 1
                or not (sp.issparse(X) or isinstance(X, np.ndarray))):
            return None
        moments = self._fisher_column_moments(theta, X, y, weights, n_threads)
        if moments is None:
            return None
        unit, first, second = moments
        total = unit[self.coef_rows[0], self.coef_rows[0]]
        if not total > 0:
            return None
        rescaled = ScalingPreconditioner(self, first / total, second / total, unit,
                                         alpha)
        old_scale, new_scale = preconditioner.blocks[0][1], rescaled.blocks[0][1]
        moved = (new_scale != 1.0) & (old_scale != 1.0)
        if not moved.any():
            return None
        low, high = np.quantile((new_scale[moved] / old_scale[moved]) ** 2, [0.05, 0.95])
        return rescaled if high > _RESCALE_SPREAD * low else None

    def _fisher_column_moments(self, theta, X, y, weights, n_threads=1):
        """``sum_i F_i`` (n_raw, n_raw) and ``sum_i F_i[j, j] x_i`` and ``... x_i**2``
        for the raw column ``j`` with coefficients, the weighted Fisher information
        ``F_i`` at ``theta``: one pass over X (fused on CSR X), or None if they are
        not finite."""
        j = int(self.coef_rows[0])
        coef, intercept = self.unpack(theta)
        if self.uses_fused_sparse_pass(X):
            block_starts = _csr_block_starts(X, 2)
            n_blocks, m = block_starts.size - 1, self.loss.n_raw
            block_unit = np.empty((n_blocks, m, m))
            block_moments = np.empty((n_blocks, 2, X.shape[1]))
            _kernels.fisher_column_moments_csr(
                X.data, X.indices, X.indptr, X.shape[1], block_starts, y, weights,
                np.ascontiguousarray(coef), intercept, self.coef_rows, self.loss.family,
                j, block_unit, block_moments, n_threads)
            unit = block_unit.sum(axis=0)
            first, second = block_moments.sum(axis=0)
        else:
            unit, first, second = 0.0, 0.0, 0.0
            for rows in _row_blocks(X):
                block = _take_rows(X, rows)
                raw = self.linear_predictor(block, coef, intercept,
                                            self.training_offset(rows.start, rows.stop))
                with np.errstate(over="ignore", invalid="ignore"):
                    fisher = self.loss.fisher_information(y[rows], raw, weights[rows],
                                                          n_threads)
                unit = unit + fisher.sum(axis=0)
                block_first, block_second = weighted_column_moments(block,
                                                                    fisher[:, j, j])
                first, second = first + block_first, second + block_second
        if not all(np.all(np.isfinite(part)) for part in (unit, first, second)):
            return None
        return unit, first, second


#: The column scaling is formed again from the curvature at the iterate when the ratio
#: of new to old curvature of the columns varies by more than this factor (95th to 5th
#: percentile): measured at the third iteration of the one-hot benchmarks (500 000 x
#: 3 000), 2.5 on Poisson counts (the scaling refreshed: 13 function evaluations
#: against 22) and 1.08 on binary labels (7 iterations either way).
_RESCALE_SPREAD = 1.5


#: Rows per block of a pass over X that does not use the fused kernels (the raw
#: predictions, gradients and per-sample Hessians of one block exist at a time).
_PASS_BLOCK_ROWS = 4096


def row_slices(n):
    """Slices of ``n`` rows, ``_PASS_BLOCK_ROWS`` at a time (one slice for fewer)."""
    return [slice(start, min(start + _PASS_BLOCK_ROWS, n))
            for start in range(0, n, _PASS_BLOCK_ROWS)] or [slice(0, 0)]


#: Rows per block of a pass over sparse X.  A row slice of CSR X is a copy (of the
#: block only), so sparse blocks are larger than dense ones; but the per-sample
#: arrays of a pass (raw predictions, losses, gradients: some ten of them) would cost
#: more than X itself where rows hold a few non-zeros, as one-hot designs do
#: (500 000 x 3 000 with 3 a row: 38 MB for the passes over all rows at once against
#: X's 20 MB).
_SPARSE_PASS_BLOCK_ROWS = 65536


def _row_blocks(X):
    """Row slices of X for a blockwise pass: blocks of ``_PASS_BLOCK_ROWS`` for dense
    X, of ``_SPARSE_PASS_BLOCK_ROWS`` for sparse X."""
    if sp.issparse(X):
        n = X.shape[0]
        return [slice(start, min(start + _SPARSE_PASS_BLOCK_ROWS, n))
                for start in range(0, n, _SPARSE_PASS_BLOCK_ROWS)] or [slice(0, 0)]
    return row_slices(X.shape[0])


def _take_rows(X, rows):
    """``X[rows]`` for a slice of :func:`_row_blocks`, without copying X's entries:
    X itself where the slice is all of sparse X, a CSR matrix over a window of X's
    arrays for a block of CSR rows (SciPy's row slice copies them: per pass, all of
    X; on 100 000 x 50 000 text counts that made the fit 2.4 times slower)."""
    if not sp.issparse(X):
        return X[rows]
    if rows.start == 0 and rows.stop >= X.shape[0]:
        return X
    if X.format != "csr":
        return X[rows]
    first, last = X.indptr[rows.start], X.indptr[rows.stop]
    block = sp.csr_matrix((rows.stop - rows.start, X.shape[1]), dtype=X.dtype)
    # (set, not passed to the constructor, which copies a window of a larger array)
    block.data, block.indices = X.data[first:last], X.indices[first:last]
    block.indptr = X.indptr[rows.start:rows.stop + 1] - first
    return block


#: The fused pass over CSR X splits its rows into at most this many blocks (each a
#: partial coefficient gradient), of at least ``_CSR_BLOCK_MIN_ROWS`` rows, whose
#: partial gradients take at most ``_CSR_BLOCK_MEMORY`` of X's bytes: fixed by X's
#: shape, never by the thread count, so the sums are the same on any number of threads.
_CSR_MAX_BLOCKS = 64
_CSR_BLOCK_MIN_ROWS = 4096
_CSR_BLOCK_MEMORY = 0.25


def _fused_csr(X):
    """Whether X is CSR that the fused sparse kernel reads in place: float32/64
    entries, int32/int64 indices of one dtype."""
    return bool(sp.issparse(X) and X.format == "csr"
                and X.dtype in (np.float32, np.float64)
                and X.indices.dtype == X.indptr.dtype
                and X.indptr.dtype in (np.int32, np.int64)
                and X.data.flags.c_contiguous and X.indices.flags.c_contiguous
                and X.indptr.flags.c_contiguous and X.shape[0] > 0 and X.shape[1] > 0)


def _csr_block_starts(X, n_free):
    """First row of each block of the fused pass over CSR X, then n (see
    ``_CSR_MAX_BLOCKS``)."""
    n, d = X.shape
    x_bytes = X.data.nbytes + X.indices.nbytes + X.indptr.nbytes
    by_memory = int(_CSR_BLOCK_MEMORY * x_bytes // (8 * max(n_free, 1) * d))
    blocks = max(1, min(_CSR_MAX_BLOCKS, n // _CSR_BLOCK_MIN_ROWS, by_memory))
    return (np.arange(blocks + 1, dtype=np.intp) * n) // blocks


@functools.lru_cache(maxsize=64)
def _parameter_layout(coef_free, intercept_free, n_features):
    """The parameter layout of a linear model, shared (read-only) by the models of
    one configuration: ``coef_free`` and ``intercept_free`` as arrays, the rows with
    free coefficients and intercepts, and for each parameter its raw-prediction
    column and its index in the design ``[X, 1]`` (``n_features``: the intercept)."""
    coef_free = np.array(coef_free, dtype=bool)
    intercept_free = np.array(intercept_free, dtype=bool)
    coef_rows = np.flatnonzero(coef_free).astype(np.intp, copy=False)
    intercept_rows = np.flatnonzero(intercept_free).astype(np.intp, copy=False)
    param_column = np.concatenate(
        [np.repeat(coef_rows, n_features), intercept_rows]).astype(np.intp)
    param_design = np.concatenate(
        [np.tile(np.arange(n_features), coef_rows.size),
         np.full(intercept_rows.size, n_features)]).astype(np.intp)
    layout = (coef_free, intercept_free, coef_rows, intercept_rows, param_column,
              param_design)
    for array in layout:
        array.flags.writeable = False
    return layout


def _intercept_value(value, n_raw):
    """``intercept_value`` as a float64 array of shape (n_raw,), checked."""
    if value is None:
        return np.zeros(n_raw)
    value = np.array(value, dtype=np.float64)   # (a copy)
    if value.shape != (n_raw,):
        raise ValueError(f"intercept_value must have shape ({n_raw},), one value per "
                         f"raw-prediction column, got shape {value.shape}.")
    if not np.isfinite(value).all():
        raise ValueError(f"intercept_value must be finite, got {value}.")
    return value


def _dot(X, W):
    """X @ W for dense or sparse X, float64 accumulation, no full copy of X."""
    if sp.issparse(X) or X.dtype == np.float64:
        return np.asarray(X @ W)
    out = np.empty((X.shape[0], W.shape[1]))
    for start in range(0, X.shape[0], _CHUNK_ROWS):
        stop = start + _CHUNK_ROWS
        out[start:stop] = X[start:stop].astype(np.float64) @ W
    return out


def _xt_dot(X, G):
    """X.T @ G for dense or sparse X, returning a dense (d, k) array."""
    if sp.issparse(X):
        return np.asarray(X.T @ G)
    if X.dtype != np.float64:
        # float64 accumulation for float32 X, one block of rows at a time.
        out = np.zeros((X.shape[1], G.shape[1]))
        for start in range(0, X.shape[0], _CHUNK_ROWS):
            stop = start + _CHUNK_ROWS
            out += X[start:stop].T.astype(np.float64) @ G[start:stop]
        return out
    return X.T @ G


def weighted_gram(X, weights, n_threads=1):
    """Gram matrix of the design [X, 1] with per-row weights, shape (d+1, d+1).

    ``sum_i w_i z_i z_i^T`` with ``z_i = (x_i, 1)``.
    """
    return weighted_grams(X, np.asarray(weights, dtype=np.float64)[:, None], n_threads)[0]


#: Most row partitions a Gram matrix is split into (each summed by one thread).
_MAX_GRAM_PARTITIONS = 4
#: Rows below which a Gram matrix is not split.
_MIN_GRAM_PARTITION_ROWS = 8192
#: Memory the partial Gram matrices may take, as a fraction of X's size.
_GRAM_PARTITION_MEMORY = 0.02


def _gram_partitions(X, q):
    """Number of row partitions for the Gram kernel.

    Fixed by the data's shape, never by the thread count, so that results are the same
    for any number of threads; limited so the partial matrices stay small next to X.
    """
    n, d = X.shape
    by_rows = n // _MIN_GRAM_PARTITION_ROWS
    by_memory = int(_GRAM_PARTITION_MEMORY * X.nbytes // (8 * q * (d + 1) ** 2))
    return int(max(1, min(_MAX_GRAM_PARTITIONS, by_rows, by_memory)))


def _sum_partitions(partials):
    """Partial sums over axis 0, added in order (the one partition as it is)."""
    return partials[0] if partials.shape[0] == 1 else partials.sum(axis=0)


def _partitioned_grams(kernel, X, q, n_threads, *kernel_args):
    """q Gram matrices of [X, 1] from a Gram kernel called as
    ``kernel(X, *kernel_args, partitions, n_threads)``: its partial matrices are added
    in partition order and their lower triangles mirrored."""
    d1 = X.shape[1] + 1
    partitions = np.zeros((_gram_partitions(X, q), q, d1, d1))
    kernel(X, *kernel_args, partitions, n_threads)
    total = _sum_partitions(partitions)
    rows, columns = _upper_triangle(d1)
    total[:, rows, columns] = total[:, columns, rows]
    return total


@functools.lru_cache(maxsize=16)
def _upper_triangle(size):
    """Indices of the strict upper triangle of a (size, size) matrix (cached:
    ``np.triu_indices`` costs more than mirroring a small Gram matrix)."""
    return np.triu_indices(size, 1)


def weighted_grams(X, weights, n_threads=1):
    """Gram matrices of [X, 1], one per column of ``weights`` (n, q): shape (q, d+1, d+1).

    Dense X is read once, a block of rows at a time, so no full-size temporary is made.
    """
    n, d = X.shape
    weights = np.asarray(weights, dtype=np.float64)
    q = weights.shape[1]
    if fused_layout(X) and n and d:
        weights = np.ascontiguousarray(weights)
        if X.flags.c_contiguous:   # read in place
            return _partitioned_grams(_kernels.weighted_grams_dense, X, q, n_threads,
                                      weights)
        return sum(_partitioned_grams(_kernels.weighted_grams_dense, rows, q, n_threads,
                                      weights[start:stop])
                   for start, stop, rows in fused_row_blocks(X, _MIN_GRAM_PARTITION_ROWS))
    grams = np.zeros((q, d + 1, d + 1))
    if sp.issparse(X):
        X = sp.csr_matrix(X)
        for c in range(q):
            w = weights[:, c]
            xtx = X.T @ sp.csr_matrix(X.multiply(w[:, None]))
            grams[c, :d, :d] = xtx.toarray() if sp.issparse(xtx) else xtx
            grams[c, :d, d] = np.asarray(X.T @ w).ravel()
    else:
        for start in range(0, n, _CHUNK_ROWS):
            block = np.asarray(X[start:start + _CHUNK_ROWS], dtype=np.float64)
            for c in range(q):
                w = weights[start:start + _CHUNK_ROWS, c]
                grams[c, :d, :d] += block.T @ (block * w[:, None])
                grams[c, :d, d] += block.T @ w
    grams[:, d, :d] = grams[:, :d, d]
    grams[:, d, d] = weights.sum(axis=0)
    return grams


def weighted_column_moments(X, weights):
    """Weighted mean and weighted mean of squares of each column of X."""
    weights = np.asarray(weights, dtype=np.float64)
    if sp.issparse(X):
        return _sparse_column_moments(X, weights)
    d = X.shape[1]
    mean = np.zeros(d)
    mean_sq = np.zeros(d)
    for start in range(0, X.shape[0], _CHUNK_ROWS):
        block = np.asarray(X[start:start + _CHUNK_ROWS], dtype=np.float64)
        w = weights[start:start + _CHUNK_ROWS]
        mean += block.T @ w
        mean_sq += (block * block).T @ w
    return mean, mean_sq


def _sparse_column_moments(X, weights):
    """:func:`weighted_column_moments` of sparse X from its stored entries, a block of
    them at a time: no copy of X (``X.multiply(X)`` made one, 38 MB beside a 20 MB
    one-hot X), only arrays of a block's entries."""
    X = X.tocsr() if X.format != "csr" else X   # (the estimators pass CSR)
    d = X.shape[1]
    mean, mean_sq = np.zeros(d), np.zeros(d)
    for rows in _row_blocks(X):
        first, last = X.indptr[rows.start], X.indptr[rows.stop]
        if first == last:
            continue
        row_weight = np.repeat(weights[rows], np.diff(X.indptr[rows.start:rows.stop + 1]))
        columns = X.indices[first:last]
        values = X.data[first:last].astype(np.float64, copy=False) * row_weight
        mean += np.bincount(columns, weights=values, minlength=d)
        values *= X.data[first:last]
        mean_sq += np.bincount(columns, weights=values, minlength=d)
    return mean, mean_sq
