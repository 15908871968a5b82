r"""A feed-forward network ``f(x; theta)`` behind the model interface.

:class:`NetworkModel` is a multilayer perceptron whose last layer gives every raw
column of the family that depends on x (a logit, K class scores, a mean, and the log
scale of a dispersion learned as a function of x); a column learned as a constant (a
shared dispersion) stays one free parameter, and a fixed column keeps its value.  With
hidden layers of widths ``h_1 .. h_L``, activation ``a`` and ``A_0 = X``,

.. math::

    A_k = a(A_{k-1} W_k + b_k), \quad k = 1..L, \qquad
    \eta_{ij} = c_j \, (A_L W_{L+1} + b_{L+1})_{ij} \ (+\ \mathrm{offset}_i
    \text{ for the mean}, j = 0),

where ``c_j`` is a fixed output scale (1, or the null model's spread ``s0`` for a mean
in y's units, so that ``theta`` is unit-free and the fit equivariant in y's units).
The objective is that of :mod:`sklearn_mle.models._model`, with ``omega_p = 1`` on
every weight matrix and 0 on the biases and constants (weight decay, biases free), and
with a learned dispersion column at ``alpha > 0`` also the level penalty
``alpha * phi(t)``, ``t`` the training mean of that raw column minus its null value
(:class:`~sklearn_mle.models._linear.LevelPenalty`): what bounds a learned scale below.

Parameter vector layout: for each layer ``k = 1 .. L+1`` in turn, ``W_k`` (fan-in x
fan-out, row-major) then ``b_k``; then the constant raw columns in column order.

Passes over X are a block of rows at a time (at most ``_BLOCK_CELLS`` activations in
memory per thread), with BLAS matrix products in X's dtype: float32 X keeps float32
weights and activations; the raw predictions and the per-sample kernels are float64,
as the families' kernels take them; parameter gradients are summed in float64.  The
training pass runs its blocks on ``n_threads`` threads, each writing into arrays it
reuses from block to block; each block's part of the gradient is summed in block
order, so the result is the one-thread result bit for bit.  A ReLU layer's bias and
activation, and the step back through it with its bias gradient, are small kernels
(``_kernels.bias_relu``, ``relu_backward``) instead of NumPy's temporaries.
"""

import copy
import itertools
import threading
from numbers import Integral

import numpy as np
import scipy.sparse as sp
from scipy.optimize import lsq_linear
from scipy.special import expit

from ..families import BernoulliLoss, CategoricalLoss, _kernels
from ..families._base import add_offset
from ._linear import LevelPenalty
from ._model import Model

#: Most activations (rows x total hidden width) held in one block of a pass (measured:
#: 2^17 to 2^20 give the same time per evaluation on 100 000 x 20, (64, 64)).
_BLOCK_CELLS = 1 << 20
#: A ReLU unit's pre-activation on a sample is at its kink when within this fraction
#: of the unit's root-mean-square pre-activation over the data (measured: L-BFGS
#: leaves the pre-activations it pinned at a kink 0 to 5e-6 of that size).
_KINK_RTOL = 1e-5
#: Most kinks the stationarity test takes into account (one parameter-sized vector
#: each); with more, it is not made.
_MAX_KINKS = 2000


def _relu(z):
    return np.maximum(z, 0, out=z)


def _relu_slope(a):
    return a > 0


def _tanh(z):
    return np.tanh(z, out=z)


def _tanh_slope(a):
    return 1 - a * a


def _logistic(z):
    return expit(z, out=z)


def _logistic_slope(a):
    return a * (1 - a)


def _softplus(z):
    return np.logaddexp(0, z, out=z)


def _softplus_slope(a):
    # a = log(1 + e^z): the slope expit(z) is 1 - e^{-a}
    return -np.expm1(-a)


#: Each activation, applied in place to pre-activations, and its slope from the
#: activation's own output (so a pass keeps one array per layer).
ACTIVATIONS = {
    "relu": (_relu, _relu_slope),
    "tanh": (_tanh, _tanh_slope),
    "logistic": (_logistic, _logistic_slope),
    "softplus": (_softplus, _softplus_slope),
}


def _product(a, b, out):
    """``out = a @ b`` (BLAS, into ``out``; ``a`` may be a sparse block of X)."""
    if sp.issparse(a):
        out[...] = a @ b
    else:
        np.matmul(a, b, out=out)


def _as_slice(columns):
    """``columns`` (sorted indices) as a slice where they are consecutive (a view
    instead of a copy), else None."""
    if columns.size and columns[-1] - columns[0] == columns.size - 1:
        return slice(int(columns[0]), int(columns[-1]) + 1)
    return None


class _Workspace:
    """The arrays a block of a pass writes, for blocks of at most ``rows`` rows of
    ``dtype``: activations and back-propagated errors of each hidden layer, the
    network's output and its error, the raw predictions (float64), and each layer's
    weight gradient and bias gradient (float64); the passes use views of their first
    rows.  One per pass and thread, reused from block to block and dropped with the
    pass (kept across evaluations it measured no faster: the allocator hands the same
    pages back)."""

    def __init__(self, model, rows, dtype):
        hidden = model.hidden_layer_sizes
        self.acts = [np.empty((rows, h), dtype) for h in hidden]
        self.deltas = [np.empty((rows, h), dtype) for h in hidden]
        self.out = np.empty((rows, model.x_columns.size), dtype)
        self.delta_out = np.empty_like(self.out)
        self.raw = np.empty((rows, model.loss.n_raw))
        self.weight_gradients = [np.empty(shape, dtype) for shape in model.layer_shapes]
        self.bias_gradients = [np.empty(fan_out) for _, fan_out in model.layer_shapes]


class NetworkModel(Model):
    """A multilayer perceptron giving the family's x-dependent raw columns.

    Parameters
    ----------
    loss : BaseLoss
        The distribution.
    n_features : int
        Number of columns of X.
    hidden_layer_sizes : tuple of int
        Widths of the hidden layers (at least one; ``()`` is the linear model).
    activation : {"relu", "tanh", "logistic", "softplus"}, default="relu"
        Activation of the hidden units.
    column_modes : sequence, default=None
        For each raw column: ``"x"`` (an output of the network), ``"constant"`` (one
        free parameter) or a float (fixed at that raw value).  None: every column
        ``"x"`` (a classifier's scores).
    output_scale : sequence of float, default=None
        The fixed factor ``c_j`` of each raw column's network output; None: 1.
    bias_free : sequence of bool, default=None
        Whether the output bias of each ``"x"`` column is estimated (else held at its
        start, 0 for a mean without intercept); None: all free.
    offset : ndarray of shape (n_samples,) or (n_samples, n_raw), default=None
        A known term added to raw column 0 of each training sample, or with one
        column per raw column to each of them (a classifier's class scores).
    level_penalty : tuple (column, centre) or None, default=None
        At ``alpha > 0``, add ``alpha * phi(t)`` with ``t`` the training weighted mean
        of raw column ``column`` minus ``centre`` (see :class:`LevelPenalty`).
    null_raw : ndarray of shape (n_raw,), default=None
        The null model's raw prediction, the reference of :meth:`divergence`'s
        collapse check (None: no collapse check).
    warm_up_columns : sequence of int, default=()
        Raw columns in mode ``"x"`` held at the null model (output weights 0, bias at
        the start) while the rest is learned, before all is released (see
        :meth:`warm_up_phases`): a dispersion learned as a function of x.

    Examples
    --------
    A network with one hidden layer of 3 units giving a Gaussian mean, with sigma a
    learned constant:

    >>> import numpy as np
    >>> from sklearn_mle.families import GaussianLoss
    >>> from sklearn_mle.models._network import NetworkModel
    >>> model = NetworkModel(GaussianLoss(), 2, (3,), column_modes=["x", "constant"])
    >>> model.n_params   # (2 x 3 + 3) + (3 x 1 + 1) + log sigma
    14
    >>> theta = model.initial_parameters(np.array([0.5, 0.0]), random_state=0)
    >>> model.raw_prediction(theta, np.ones((2, 2)))   # the null model
    array([[0.5, 0. ],
           [0.5, 0. ]])
    """

    #: Why the linear-only capabilities are missing, for the estimators' errors.
    missing_capabilities_reason = (
        "a network's weights are not identifiable: permuting hidden units, or flipping "
        "the signs of a tanh unit's weights, gives the same f(x), and a softmax leaves "
        "directions flat; so there is no coefficient vector, no observed information "
        "to invert for Wald standard errors, and no linear separation LP")

    def __init__(self, loss, n_features, hidden_layer_sizes, activation="relu",
                 column_modes=None, output_scale=None, bias_free=None, offset=None,
                 level_penalty=None, null_raw=None, warm_up_columns=()):
        n_raw = loss.n_raw
        self.n_features = int(n_features)
        self.hidden_layer_sizes = tuple(int(h) for h in hidden_layer_sizes)
        self.activation = activation
        self.column_modes = tuple(["x"] * n_raw if column_modes is None else column_modes)
        self.x_columns = np.array([j for j, m in enumerate(self.column_modes) if m == "x"],
                                  dtype=np.intp)
        self.constant_columns = np.array(
            [j for j, m in enumerate(self.column_modes) if m == "constant"], dtype=np.intp)
        self.fixed_raw = np.array([0.0 if isinstance(m, str) else float(m)
                                   for m in self.column_modes])
        self.output_scale = (np.ones(self.x_columns.size) if output_scale is None else
                             np.asarray(output_scale, dtype=np.float64)[self.x_columns])
        self.offset = None if offset is None else np.asarray(offset, dtype=np.float64)
        self.level_penalty = level_penalty
        self.null_raw = None if null_raw is None else np.asarray(null_raw, np.float64)
        self.warm_up_columns = np.asarray(warm_up_columns, dtype=np.intp)
        #: The dtype of the passes' products (None: X's, float32 or float64).
        self.pass_dtype = None
        widths = (self.n_features, *self.hidden_layer_sizes, self.x_columns.size)
        self.layer_shapes = list(zip(widths[:-1], widths[1:]))
        # where each layer's weights and bias start in theta
        self._layer_starts, start = [], 0
        for fan_in, fan_out in self.layer_shapes:
            self._layer_starts.append(start)
            start += (fan_in + 1) * fan_out
        self._n_network = start
        ridge_weight = np.zeros(start + self.constant_columns.size)
        for (fan_in, fan_out), first in zip(self.layer_shapes, self._layer_starts):
            ridge_weight[first:first + fan_in * fan_out] = 1.0
        super().__init__(loss, ridge_weight)
        # parameters held at their value (gradient zero): output biases not free
        self.held = np.zeros(self.n_params, dtype=bool)
        if bias_free is not None:
            bias_start = self._layer_starts[-1] + widths[-2] * widths[-1]
            self.held[bias_start:bias_start + widths[-1]] = ~np.asarray(
                bias_free, dtype=bool)[self.x_columns]

    @property
    def n_params(self):
        """int: Number of parameters (weights, biases and constant columns)."""
        return self._n_network + self.constant_columns.size

    @property
    def n_estimated(self):
        """int: Parameters the fit estimates, for AIC and BIC: those not ``held``,
        less the directions softmax scores leave flat (adding one vector to every
        class's output weights and one number to every output bias)."""
        flat = (self.layer_shapes[-1][0] + 1 if isinstance(self.loss, CategoricalLoss)
                else 0)
        return int(self.n_params - np.count_nonzero(self.held) - flat)

    def output_mask(self, columns):
        """Which entries of theta are the output weights and bias of raw ``columns``
        (each in mode ``"x"``)."""
        mask = np.zeros(self.n_params, dtype=bool)
        fan_in, fan_out = self.layer_shapes[-1]
        first = self._layer_starts[-1]
        outputs = np.searchsorted(self.x_columns, columns)
        block = np.zeros((fan_in + 1, fan_out), dtype=bool)
        block[:, outputs] = True
        mask[first:first + (fan_in + 1) * fan_out] = block.ravel()
        return mask

    # ------------------------------------------------------------------ layout
    def layers(self, theta, dtype=np.float64):
        """The ``(W_k, b_k)`` of every layer as arrays of ``dtype`` (views of theta
        for float64)."""
        out = []
        for (fan_in, fan_out), first in zip(self.layer_shapes, self._layer_starts):
            weights = theta[first:first + fan_in * fan_out].reshape(fan_in, fan_out)
            bias = theta[first + fan_in * fan_out:first + (fan_in + 1) * fan_out]
            out.append((weights.astype(dtype, copy=False), bias.astype(dtype, copy=False)))
        return out

    def pack_layers(self, layers, constants=()):
        """theta from ``[(W_k, b_k), ...]`` and the constant columns' values."""
        parts = [np.ravel(p) for layer in layers for p in layer]
        return np.concatenate([*parts, np.asarray(constants, dtype=np.float64)]).astype(
            np.float64)

    def initial_parameters(self, start_raw, random_state=None):
        """Glorot-uniform hidden weights (bound ``sqrt(f / (fan_in + fan_out))``,
        ``f = 2`` for the logistic, 6 otherwise, as scikit-learn's MLP) from
        ``random_state``, hidden biases 0, output weights 0 and the output biases and
        constant columns at ``start_raw`` (n_raw,), the null model: the fit starts
        from the intercept-only MLE."""
        rng = np.random.default_rng(random_state) if not isinstance(
            random_state, np.random.RandomState) else random_state
        factor = 2.0 if self.activation == "logistic" else 6.0
        layers = []
        for k, (fan_in, fan_out) in enumerate(self.layer_shapes):
            if k == len(self.layer_shapes) - 1:
                scale = self.output_scale
                bias = (np.asarray(start_raw, dtype=np.float64)[self.x_columns]
                        - self.fixed_raw[self.x_columns]) / scale
                layers.append((np.zeros((fan_in, fan_out)), bias))
            else:
                bound = np.sqrt(factor / (fan_in + fan_out))
                layers.append((rng.uniform(-bound, bound, (fan_in, fan_out)),
                               np.zeros(fan_out)))
        return self.pack_layers(layers,
                                np.asarray(start_raw, dtype=np.float64)[self.constant_columns])

    def warm_start_parameters(self, previous_model, previous_theta, adapt=None):
        """The previous fit's parameters where it was a network of the same layers
        and column modes (``adapt``, for coefficients, does not apply: the output
        scale carries y's units)."""
        if (isinstance(previous_model, NetworkModel)
                and previous_model.layer_shapes == self.layer_shapes
                and previous_model.column_modes == self.column_modes):
            return previous_theta.copy()
        return None

    def fit_phases(self, X, max_iter, warm_up=True):
        """With ``warm_up`` and ``warm_up_columns`` (a dispersion learned as a
        function of x), first a phase of at most ``max_iter // 2`` iterations that fits
        the mean with their output weights and biases held at the null model (a
        constant dispersion), as Nix and Weigend recommend against the variance
        absorbing the residual; then all released.  On float32 X the passes are
        float32 until the solver stops, then the fit is finished (and checked) with
        float64 passes: float32 resolves the objective only to about 1e-7 of its
        value, where the line search stops with the gradient far above ``tol``."""
        phases = []
        if warm_up and self.warm_up_columns.size:
            held = copy.copy(self)
            held.held = self.held | self.output_mask(self.warm_up_columns)
            phases.append((held, max(1, max_iter // 2), "warm-up done (dispersion held "
                           "at the null model); releasing it"))
        if self._dtype(X) == np.float64:
            return [*phases, (self, max_iter, None)]
        final = copy.copy(self)
        final.pass_dtype = np.float64
        return [*phases, (self, max_iter, "float32 passes done; finishing with float64 "
                          "passes"), (final, max_iter, None)]

    def layer_parameters(self, theta):
        """Copies of every layer's ``(W_k, b_k)``, the output layer's times the output
        scale (raw-prediction units)."""
        layers = [(weights.copy(), bias.copy()) for weights, bias in self.layers(theta)]
        layers[-1][0][...] *= self.output_scale
        layers[-1][1][...] *= self.output_scale
        return layers

    # ------------------------------------------------------------------ passes
    def _blocks(self, X):
        n = X.shape[0]
        if sp.issparse(X):
            return [slice(0, n)] if n else [slice(0, 0)]
        rows = max(256, _BLOCK_CELLS // max(1, sum(self.hidden_layer_sizes)
                                             + self.x_columns.size))
        return [slice(start, min(start + rows, n)) for start in range(0, n, rows)] or [
            slice(0, 0)]

    def _dtype(self, X):
        if self.pass_dtype is not None:
            return self.pass_dtype
        return np.float32 if X.dtype == np.float32 else np.float64

    def _forward(self, layers, X_block, workspace=None):
        """Activations ``[A_1 .. A_L]`` and the network's output ``A_L W + b`` of one
        block, written into ``workspace`` (views of its arrays; None: new arrays)."""
        if workspace is None:
            workspace = _Workspace(self, X_block.shape[0], layers[0][0].dtype)
        m = X_block.shape[0]
        act = ACTIVATIONS[self.activation][0]
        relu = self.activation == "relu"
        acts, current = [], X_block
        for (weights, bias), buffer in zip(layers[:-1], workspace.acts):
            z = buffer[:m]
            _product(current, weights, z)
            if relu:
                _kernels.bias_relu(z, bias)
            else:
                z += bias
                act(z)
            acts.append(z)
            current = z
        weights, bias = layers[-1]
        out = workspace.out[:m]
        _product(current, weights, out)
        out += bias
        return acts, out

    def _raw_row(self, theta):
        """The raw columns that do not depend on x: fixed values and the constant
        columns' parameters (0 in the network's columns)."""
        row = self.fixed_raw.copy()
        row[self.constant_columns] = theta[self._n_network:]
        return row

    def _raw(self, raw_row, out, offset, workspace):
        """Raw predictions (block, n_raw) float64 from the network's output, written
        into ``workspace.raw``."""
        raw = workspace.raw[:out.shape[0]]
        raw[:] = raw_row
        columns = _as_slice(self.x_columns)
        if columns is not None:   # the network's columns are 0 in raw_row
            np.multiply(out, self.output_scale, out=raw[:, columns])
        else:
            raw[:, self.x_columns] += out * self.output_scale
        return add_offset(raw, offset)

    def _backward(self, layers, X_block, acts, raw_gradient, gradient, workspace):
        """Add the vector-Jacobian product of one block to ``gradient`` (float64):
        one addition to each entry."""
        slope = ACTIVATIONS[self.activation][1]
        relu = self.activation == "relu"
        m = X_block.shape[0]
        columns = _as_slice(self.x_columns)
        delta = workspace.delta_out[:m]
        np.multiply(raw_gradient[:, self.x_columns if columns is None else columns],
                    self.output_scale, out=delta)
        if self.constant_columns.size:
            gradient[self._n_network:] += raw_gradient[:, self.constant_columns].sum(
                axis=0)
        bias_gradient = workspace.bias_gradients[-1]
        _kernels.column_sums(delta, bias_gradient)
        for k in range(len(layers) - 1, -1, -1):
            inputs = acts[k - 1] if k > 0 else X_block
            fan_in, fan_out = self.layer_shapes[k]
            first = self._layer_starts[k]
            weight_gradient = workspace.weight_gradients[k]
            _product(inputs.T, delta, weight_gradient)
            gradient[first:first + fan_in * fan_out] += weight_gradient.ravel()
            gradient[first + fan_in * fan_out:first + (fan_in + 1) * fan_out] += \
                bias_gradient
            if k > 0:
                below = workspace.deltas[k - 1][:m]
                bias_gradient = workspace.bias_gradients[k - 1]
                if relu and fan_out == 1:
                    _kernels.outer_relu_backward(delta, layers[k][0][:, 0], acts[k - 1],
                                                 below, bias_gradient)
                    delta = below
                    continue
                if fan_out == 1:   # an outer product: BLAS takes 4x longer
                    np.multiply(delta, layers[k][0].T, out=below)
                else:
                    np.matmul(delta, layers[k][0].T, out=below)
                if relu:
                    _kernels.relu_backward(below, acts[k - 1], bias_gradient)
                else:
                    below *= slope(acts[k - 1])
                    _kernels.column_sums(below, bias_gradient)
                delta = below

    def _over_blocks(self, pass_block, X, n_threads):
        """``pass_block(rows, workspace, gradient, kernel_threads)`` (which adds its
        block's part of a gradient to ``gradient`` and returns its part of a sum) over
        the blocks of X; the sum and the gradient.

        With ``n_threads > 1`` and several blocks, ``n_threads`` threads take the
        blocks (BLAS and the kernels release the GIL), each block's part written
        into its own vector; the parts are then added in block order, so the result
        is the one-thread result bit for bit.
        """
        blocks = self._blocks(X)
        dtype = self._dtype(X)
        rows = blocks[0].stop - blocks[0].start
        gradient = np.zeros(self.n_params)
        workers = min(int(n_threads), len(blocks))
        if workers <= 1:
            workspace = _Workspace(self, rows, dtype)
            total = 0.0
            for block in blocks:
                total += pass_block(block, workspace, gradient, n_threads)
            return total, gradient
        parts = [None] * len(blocks)
        taken = itertools.count()
        failures = []
        # the caller's floating-point error handling (the solver ignores overflow on
        # trial steps) is per thread: the helpers take it on
        errors = np.geterr()

        def work():
            workspace = _Workspace(self, rows, dtype)
            try:
                with np.errstate(**errors):
                    for b in iter(taken.__next__, None):
                        if b >= len(blocks) or failures:
                            break
                        part = np.zeros(self.n_params)
                        parts[b] = (pass_block(blocks[b], workspace, part, 1), part)
            except BaseException as error:   # re-raised on the calling thread
                failures.append(error)

        helpers = [threading.Thread(target=work, daemon=True) for _ in range(workers - 1)]
        for helper in helpers:
            helper.start()
        work()
        for helper in helpers:
            helper.join()
        if failures:
            raise failures[0]
        total = 0.0
        for value, part in parts:
            total += value
            gradient += part
        return total, gradient

    def _offset_rows(self, offset, rows):
        return None if offset is None else offset[rows]

    def _check_training(self, X):
        if self.offset is not None and self.offset.shape[0] != X.shape[0]:
            raise ValueError(f"the model's offset has {self.offset.shape[0]} rows, X has "
                             f"{X.shape[0]}: raw_prediction is for the training X")

    def predict_raw(self, theta, X, offset=None):
        """Raw predictions (n, n_raw) on any X, with ``offset`` (n,) on the mean or
        (n, n_raw) on every column."""
        dtype = self._dtype(X)
        layers = self.layers(theta, dtype)
        raw_row = self._raw_row(theta)
        raw = np.empty((X.shape[0], self.loss.n_raw))
        blocks = self._blocks(X)
        workspace = _Workspace(self, blocks[0].stop - blocks[0].start, dtype)
        for rows in blocks:
            raw[rows] = self._raw(raw_row, self._forward(layers, X[rows], workspace)[1],
                                  self._offset_rows(offset, rows), workspace)
        return raw

    def raw_prediction(self, theta, X):
        """Raw predictions on the training X (with the model's ``offset``)."""
        self._check_training(X)
        return self.predict_raw(theta, X, self.offset)

    def training_rows_raw(self, theta, X_rows, rows):
        """Raw predictions of training rows ``rows`` with their part of the offset."""
        return self.predict_raw(theta, X_rows, self._offset_rows(self.offset, rows))

    def raw_vjp(self, theta, X, raw_gradient):
        """``sum_i J_i^T g_i`` by back-propagation, a block of rows at a time."""
        layers = self.layers(theta, self._dtype(X))
        raw_gradient = np.asarray(raw_gradient, dtype=np.float64)

        def pass_block(rows, workspace, gradient, kernel_threads):
            acts, _ = self._forward(layers, X[rows], workspace)
            self._backward(layers, X[rows], acts, raw_gradient[rows], gradient, workspace)
            return 0.0

        gradient = self._over_blocks(pass_block, X, 1)[1]
        gradient[self.held] = 0.0
        return gradient

    def nll_gradient(self, theta, X, y, weights, n_threads=1, level_pull=None):
        """Weighted NLL and its gradient in one forward and backward pass per block
        (on ``n_threads`` threads, see :meth:`_over_blocks`).

        ``level_pull`` (float), if given, is added times ``weights_i`` to the raw
        gradient of the level penalty's column (the level penalty's gradient).
        """
        self._check_training(X)
        layers = self.layers(theta, self._dtype(X))
        raw_row = self._raw_row(theta)

        def pass_block(rows, workspace, gradient, kernel_threads):
            X_block = X[rows]
            acts, out = self._forward(layers, X_block, workspace)
            raw = self._raw(raw_row, out, self._offset_rows(self.offset, rows), workspace)
            loss, raw_gradient = self.loss.loss_gradient(y[rows], raw, weights[rows],
                                                         kernel_threads)
            if level_pull is not None:
                raw_gradient[:, self.level_penalty[0]] += level_pull * weights[rows]
            self._backward(layers, X_block, acts, raw_gradient, gradient, workspace)
            return float(loss.sum())

        total, gradient = self._over_blocks(pass_block, X, n_threads)
        gradient[self.held] = 0.0
        return total, gradient

    def least_subgradient(self, theta, X, y, weights, alpha, gradient):
        """The smallest gradient of the objective at ``theta`` over the slopes a
        ReLU unit may take at its kink, or None where there are no kinks (another
        activation, or no pre-activation at 0).

        A ReLU network's objective is smooth only between kinks: where a hidden
        unit's pre-activation on a training sample is 0, that sample's contribution
        to the gradient jumps as the unit switches on.  L-BFGS often ends on such a
        kink (its line search pins the pre-activation at 0, from either side of
        which the objective rises), and there the gradient, computed with one
        one-sided slope, stays large however long the solver runs.  The point is
        stationary when 0 is among the gradients of the slopes ``s`` in [0, 1] at
        the kinks (Clarke stationarity): this returns the least of them,
        ``g0 + V s`` minimised over the box by bounded least squares, with ``g0``
        the gradient at slope 0 and each column of ``V`` one kink's contribution
        (its sample's back-propagated error through that unit).  ``gradient`` is the
        objective's gradient at ``theta`` (slope 1 at the kinks on their positive
        side, as the passes take it).
        """
        if self.activation != "relu" or not self.hidden_layer_sizes or sp.issparse(X):
            return None
        layers = self.layers(theta)
        found = self._kinks(layers, X, weights)
        if found is None:
            return None
        kinks, rows, pre = found
        # the error reaching each hidden layer before its slope, on the kinks' rows
        # (their raw gradients only: no further pass over X, but for a level penalty)
        raw_gradient = self._rows_raw_gradient(theta, X, y, weights, alpha, rows)
        where = {i: r for r, i in enumerate(rows)}
        acts = [np.maximum(z, 0) for z in pre]
        errors = [None] * len(layers[:-1])
        delta = raw_gradient[:, self.x_columns] * self.output_scale
        for h in range(len(layers) - 2, -1, -1):
            errors[h] = delta @ layers[h + 1][0].T
            delta = errors[h] * (acts[h] > 0)
        columns = np.zeros((self.n_params, len(kinks)))
        on = np.zeros(len(kinks), dtype=bool)
        for c, (h, i, j) in enumerate(kinks):
            r = where[i]
            on[c] = acts[h][r, j] > 0
            down = np.zeros(self.layer_shapes[h][1])
            down[j] = errors[h][r, j]
            for k in range(h, -1, -1):
                inputs = acts[k - 1][r] if k > 0 else X[i]
                fan_in, fan_out = self.layer_shapes[k]
                first = self._layer_starts[k]
                columns[first:first + fan_in * fan_out, c] = np.outer(inputs, down).ravel()
                columns[first + fan_in * fan_out:first + (fan_in + 1) * fan_out, c] = down
                if k > 0:
                    down = (layers[k][0] @ down) * (acts[k - 1][r] > 0)
        columns[self.held] = 0.0
        at_zero = gradient - columns[:, on].sum(axis=1)
        slopes = lsq_linear(columns, -at_zero, bounds=(0.0, 1.0), method="bvls").x
        return at_zero + columns @ slopes

    def _kinks(self, layers, X, weights):
        """Where a ReLU network on the training X is at a kink: ``(h, i, j)`` for
        each unit ``j`` of hidden layer ``h`` whose pre-activation on sample ``i`` (of
        positive weight) is within ``_KINK_RTOL`` of the unit's root-mean-square
        pre-activation over X, in order of layer, sample and unit; the samples with a
        kink (sorted); and the pre-activations of every hidden layer on them.  None
        where there is none or more than ``_MAX_KINKS``.

        Two passes over X a block at a time (the mean squares, then the kinks), with
        the blocks and float64 products of the training passes: the pre-activations
        are theirs bit for bit, and no (n, width) array is made.
        """
        blocks = self._blocks(X)
        workspace = _Workspace(self, blocks[0].stop - blocks[0].start, np.float64)
        squares = [np.zeros(fan_out) for _, fan_out in self.layer_shapes[:-1]]
        for rows in blocks:
            for total, z in zip(squares, self._pre_activations(layers, X[rows],
                                                               workspace)):
                total += (z * z).sum(axis=0)
        limits = [_KINK_RTOL * (np.sqrt(total / X.shape[0]) + 1e-300) for total in squares]
        found = [[] for _ in squares]
        kink_rows, kink_pre = [], []
        count = 0
        for rows in blocks:
            pre = self._pre_activations(layers, X[rows], workspace)
            hit = []
            for h, (z, limit) in enumerate(zip(pre, limits)):
                i, j = np.nonzero(np.abs(z) <= limit)
                positive = weights[rows][i] > 0
                i, j = i[positive], j[positive]
                count += i.size
                if count > _MAX_KINKS:
                    return None
                found[h].extend(zip((i + rows.start).tolist(), j.tolist()))
                hit.append(i)
            local = np.unique(np.concatenate(hit))
            if local.size:
                kink_rows.append(local + rows.start)
                kink_pre.append([z[local] for z in pre])
        if not count:
            return None
        kinks = [(h, i, j) for h, pairs in enumerate(found) for i, j in pairs]
        pre = [np.concatenate([block[h] for block in kink_pre]) for h in range(len(found))]
        return kinks, np.concatenate(kink_rows), pre

    def _pre_activations(self, layers, X_block, workspace):
        """The pre-activations ``A_{k-1} W_k + b_k`` of every hidden layer of one
        block of a ReLU network (views of ``workspace``)."""
        m = X_block.shape[0]
        pre, current = [], X_block
        for (weights, bias), z, act in zip(layers[:-1], workspace.deltas, workspace.acts):
            z = z[:m]
            _product(current, weights, z)
            z += bias
            current = np.maximum(z, 0, out=act[:m])
            pre.append(z)
        return pre

    def _rows_raw_gradient(self, theta, X, y, weights, alpha, rows):
        """Per-sample gradient of the objective on the raw predictions of the training
        rows ``rows`` (indices) only: their loss gradients and the level penalty's
        pull, whose slope needs the column's mean over X (one pass, only with that
        penalty)."""
        raw = self.training_rows_raw(theta, X[rows], rows)
        _, raw_gradient = self.loss.loss_gradient(y[rows], raw, weights[rows], 1)
        if alpha > 0 and self.level_penalty is not None:
            column, centre = self.level_penalty
            t = self.column_mean(theta, X, weights, column)
            _, slope, _ = LevelPenalty(np.ones(1), centre).terms(np.array([t]))
            raw_gradient[:, column] += alpha * float(np.ravel(slope)[0]) * weights[rows]
        return raw_gradient

    def column_mean(self, theta, X, weights, column):
        """``sum_i weights_i raw_ij`` of one raw column on the training X."""
        if column in self.constant_columns:
            return float(theta[self._n_network + np.searchsorted(self.constant_columns,
                                                                 column)]
                         * np.sum(weights))
        layers = self.layers(theta, self._dtype(X))
        raw_row = self._raw_row(theta)

        def pass_block(rows, workspace, gradient, kernel_threads):
            raw = self._raw(raw_row, self._forward(layers, X[rows], workspace)[1],
                            self._offset_rows(self.offset, rows), workspace)
            return float(weights[rows] @ raw[:, column])

        return self._over_blocks(pass_block, X, 1)[0]

    def penalised_nll_gradient(self, theta, X, y, weights, alpha, n_threads=1):
        """The objective and gradient: NLL, weight decay and the level penalty."""
        if alpha == 0 or self.level_penalty is None:
            return super().penalised_nll_gradient(theta, X, y, weights, alpha, n_threads)
        column, centre = self.level_penalty
        t = self.column_mean(theta, X, weights, column)
        value, slope, _ = LevelPenalty(np.ones(1), centre).terms(np.array([t]))
        objective, gradient = self.nll_gradient(theta, X, y, weights, n_threads,
                                                level_pull=alpha * slope)
        objective, gradient = self.add_penalty(theta, alpha, objective, gradient)
        return objective + alpha * value, gradient

    def add_penalty(self, theta, alpha, objective, gradient):
        """Weight decay ``alpha / 2 * ||W||^2`` on every weight matrix (biases free)."""
        objective, gradient = super().add_penalty(theta, alpha, objective, gradient)
        gradient[self.held] = 0.0
        return objective, gradient

    # ------------------------------------------------------------- existence
    def divergence(self, theta, X, y, weights):
        """A sentence on what shows that the likelihood has no maximum, or None.

        Two signs are looked for at the fitted ``theta`` (``alpha = 0``):

        * *separation*: a family whose every sample's NLL decreases for ever along
          its raw column (classes: ``recession_signs`` non-zero everywhere), and the
          network classifies every training sample strictly on its side.  Scaling
          the output layer by ``lambda -> inf`` then sends every NLL to its infimum
          0, which no finite theta attains: a certificate that no maximum exists.
        * *a collapsing dispersion*: the family's spread (``collapse_log_scale``)
          fell below ``1e-4`` times the null model's on some sample while the
          fitted mean's residual there is below a tenth of that spread (so the
          likelihood still rises as it shrinks): the network interpolates those
          samples and the density there grows without bound.  A sign, not a proof.
        """
        raw = self.raw_prediction(theta, X)
        positive = weights > 0
        signs = self.loss.recession_signs(y)
        if signs is None and isinstance(self.loss, BernoulliLoss):   # labels 0 and 1
            signs = np.where(y == 1, 1, -1)
        if isinstance(self.loss, CategoricalLoss):
            truth = y.astype(np.intp)
            own = raw[np.arange(raw.shape[0]), truth]
            raw_others = raw.copy()
            raw_others[np.arange(raw.shape[0]), truth] = -np.inf
            if np.all((own > raw_others.max(axis=1))[positive]):
                return ("the network separates the classes of the training data: "
                        "scaling its output layer up lowers every sample's NLL towards "
                        "0, so the likelihood has no maximum")
        elif signs is not None and np.all(signs[positive] != 0) and np.all(
                (signs * raw[:, 0] > 0)[positive]):
            return ("the network separates the training data (every sample on its own "
                    "side of the decision boundary): scaling its output layer up lowers "
                    "every sample's NLL towards its infimum, so the likelihood has no "
                    "maximum")
        log_scale = self.loss.collapse_log_scale(raw)
        if log_scale is not None and self.null_raw is not None:
            reference = self.loss.collapse_log_scale(self.null_raw[None, :])[0]
            residual = np.abs(self.loss.collapse_target(y) - raw[:, 0])
            with np.errstate(over="ignore", invalid="ignore"):
                collapsed = ((log_scale < reference + np.log(1e-4))
                             & (residual < 0.1 * np.exp(log_scale)) & positive)
            if np.any(collapsed):
                return (f"the fitted {self.loss.dispersion_name} collapses on "
                        f"{int(np.count_nonzero(collapsed))} training sample(s) the "
                        "network fits exactly: the density there grows without bound, "
                        "so the likelihood has no maximum")
        return None

    # ------------------------------------------------------------------- facts
    def work_per_pass(self, X):
        return X.shape[0] * (sum(self.hidden_layer_sizes) + self.loss.n_raw)

    def pass_description(self, X):
        return (f"network {self.hidden_layer_sizes} ({self.activation}): BLAS products "
                f"in {np.dtype(self._dtype(X)).name}, per-sample kernels at the output")


def validated_hidden_layer_sizes(sizes):
    """An estimator's ``hidden_layer_sizes`` as a tuple of positive ints (``()``: the
    linear model), or a ValueError naming it."""
    if isinstance(sizes, tuple) and not sizes:
        return sizes   # the default: the linear model
    checked = (sizes,) if np.ndim(sizes) == 0 else tuple(np.ravel(sizes).tolist())
    if not all(isinstance(h, Integral) and not isinstance(h, bool) and h >= 1
               for h in checked):
        raise ValueError("hidden_layer_sizes must be a positive int or a sequence of "
                         f"positive ints (the widths of the hidden layers, () for the "
                         f"linear model), got {sizes!r}.")
    return checked


def regression_network(family, modes, fit_intercept, alpha, n_features, null_raw,
                       hidden_layer_sizes, activation, offset=None,
                       dispersion_penalty=1.0):
    """The network of a regression family (the counterpart of the linear
    ``regression_model``): the mean and every column in mode ``"x"`` are outputs, a
    ``"constant"`` column one parameter, a fixed column its value; the mean's output
    is scaled by ``1 / sqrt(mean_penalty_weight)`` (``s0`` where the mean is in y's
    units), which makes the weight decay on its output weights the linear model's
    ``|coef|^2 / s0^2``; at ``alpha > 0`` a learned dispersion column's training mean
    is pulled towards its null value as in the linear model; every other column in
    mode ``"x"`` (a dispersion learned as a function of x) is held at the null model
    in the warm-up (see :meth:`NetworkModel.warm_up_phases`); the weight decay on the
    output weights of a dispersion in mode ``"x"`` is weighted by
    ``dispersion_penalty`` (the estimator's ``dispersion_alpha / alpha``; the hidden
    layers, shared with the mean, keep weight 1)."""
    output_scale = np.ones(family.n_raw)
    output_scale[0] = 1.0 / np.sqrt(family.mean_penalty_weight(null_raw))
    j = family.dispersion_column
    level = ((j, float(null_raw[j])) if j is not None and modes[j] in ("x", "constant")
             and alpha > 0 else None)
    model = NetworkModel(family, n_features, hidden_layer_sizes, activation,
                         column_modes=modes, output_scale=output_scale,
                         bias_free=[fit_intercept] + [True] * (family.n_raw - 1),
                         offset=offset, level_penalty=level, null_raw=null_raw,
                         warm_up_columns=[k for k in range(1, family.n_raw)
                                          if modes[k] == "x"])
    if j is not None and modes[j] == "x" and dispersion_penalty != 1.0:
        # (the output biases have weight 0 and keep it)
        model.ridge_weight[model.output_mask([j])] *= dispersion_penalty
    return model


def classification_network(family, n_features, fit_intercept, hidden_layer_sizes,
                           activation, offset=None):
    """The network of a classifier: one logit (two classes) or one score per class
    (as scikit-learn's MLPClassifier), output biases free with ``fit_intercept``;
    ``offset`` (n,) is added to the logit, (n, n_classes) to the scores."""
    return NetworkModel(family, n_features, hidden_layer_sizes, activation,
                        bias_free=[fit_intercept] * family.n_raw, offset=offset)
