r"""The network's preconditioner: the diagonal of its Gauss-Newton matrix.

A network's parameters live on scales that differ by orders of magnitude: a first-layer
weight is multiplied by a column of raw, unscaled X, an output weight by a hidden
activation of size 1 and then by the family's curvature (a Poisson mean of 100 counts
weighs a hundred times a mean of 1), and a hidden unit's weights matter only as much as
the output weights that read it.  Plain L-BFGS on ``theta`` sees all of this as one
badly conditioned problem, and a gradient test in ``theta``'s units means something
else for every parameter.

The solver's :class:`~sklearn_mle.solver._diagonal.DiagonalPreconditioner` rescales each
parameter by the inverse square root of
the diagonal of the objective's Gauss-Newton matrix,

.. math::

    G_{pp} = \sum_i \tilde s_i \, J_{i,p}^\top \mathcal I_i \, J_{i,p}
             + \alpha \omega_p + \alpha \varphi''(t) \, a_p^2 ,

with ``J_{i,p}`` the derivative of sample ``i``'s raw predictions wrt ``theta_p``,
``I_i`` the family's Fisher information on them (the expected Hessian of its NLL given
x; its positive part where a family written in NumPy gives its observed Hessian), ``alpha omega_p`` the weight decay and the last term the level penalty's curvature
(``a = d t / d theta``).  It is the expected Hessian's diagonal, so in the optimiser's
coordinates ``u_p = sqrt(G_pp) (theta_p - theta0_p)`` every parameter has unit
curvature, and the solver's gradient test ``max_p |g_p| / sqrt(G_pp) <= tol`` compares
each gradient component with the curvature along it: a unit-free test, the same in any
units of X and y.

It is computed exactly, in one forward pass and ``n_raw`` backward passes per block of
rows: with ``I_i = sum_c v_ic v_ic^T`` (its eigenvectors scaled by the roots of its
eigenvalues), ``J_{i,p}^T I_i J_{i,p} = sum_c (v_ic^T J_{i,p})^2``, and for a weight
``W_k[a, b]`` the product ``v_ic^T J_{i,p}`` is ``A_{k-1}[i, a]`` times the error
``v_ic`` back-propagated to unit ``b``; so the diagonal of a layer is
``(A_{k-1}^2)^T (delta^2)`` summed over ``c``.

At the network's start its output weights are 0, and with them every hidden
parameter's curvature (a hidden unit nobody reads has none).  Where all free output
weights of a raw column are 0, the hidden layers' entries are taken with those
weights at one whitened unit each, ``+-1 / sqrt(G_pp)`` with a fixed sign pattern:
the curvature the hidden units have once the first steps have moved the output layer
by about one unit.  Elsewhere the entries are exact.

:func:`gauss_newton_matrix` forms the whole matrix the same way from the rows
``v_ic^T J_i`` (a block of rows at a time), for small networks.  The solver whitens
by either (:mod:`sklearn_mle.solver._diagonal`), rebuilt at every phase.
"""

import numpy as np

#: Seed of the fixed sign pattern of the nominal output weights (module docstring).
_SIGN_SEED = 0


def gauss_newton_diagonal(model, theta, X, y, weights, alpha):
    """The diagonal ``G_pp`` (module docstring) of ``model`` (a NetworkModel) at
    ``theta`` on the training data; held parameters get their entries too (the
    solver does not move them: their gradient is 0).

    Where all free output weights of a raw column are 0 (the start), the hidden
    layers' entries are taken with those weights at one whitened unit each
    (``+-1 / sqrt(G_pp)``, fixed signs).
    """
    dtype = model._dtype(X)
    layers = model.layers(theta, dtype)
    diagonal = np.zeros(model.n_params)
    _accumulate(model, theta, layers, X, y, weights, diagonal, output=True, hidden=True)
    nominal = _nominal_output_weights(model, theta, diagonal, alpha)
    if nominal is not None:
        hidden = slice(0, model._layer_starts[-1])
        diagonal[hidden] = 0.0
        layers[-1] = (nominal.astype(dtype), layers[-1][1])
        _accumulate(model, theta, layers, X, y, weights, diagonal, output=False,
                    hidden=True)
    if alpha > 0:
        diagonal += alpha * model.ridge_weight
        if model.level_penalty is not None:
            diagonal += alpha * _level_curvature(model, theta, X, weights)
    return diagonal


def _accumulate(model, theta, layers, X, y, weights, diagonal, output, hidden):
    """Add ``sum_i sum_c (v_ic^T J_{i,p})^2`` to ``diagonal``: of the output layer and
    the constant columns (``output``) and of the hidden layers (``hidden``), with the
    network's ``layers`` (the output weights possibly nominal)."""
    from ._network import ACTIVATIONS

    slope = ACTIVATIONS[model.activation][1]
    dtype = layers[0][0].dtype
    n_layers = len(layers)
    for rows in model._blocks(X):
        X_block = X[rows]
        acts, out = model._forward(layers, X_block)
        raw = model._raw(theta, out, model._offset_rows(model.offset, rows))
        roots = _fisher_roots(model.loss, y[rows], raw, weights[rows])
        if output and model.constant_columns.size:
            constants = roots[:, :, model.constant_columns]
            diagonal[model._n_network:] += np.einsum("icj,icj->j", constants, constants)
        # the squared inputs of each layer entered (all, or the output layer's)
        squares = {k: a * a for k, a in enumerate(acts, start=1)
                   if hidden or k == n_layers - 1}
        if hidden or n_layers == 1:
            squares[0] = _square(X_block)
        for c in range(roots.shape[1]):
            delta = (roots[:, c, model.x_columns] * model.output_scale).astype(dtype)
            for k in range(n_layers - 1, -1, -1):
                if (output if k == n_layers - 1 else hidden):
                    _add_layer(model, k, squares[k], delta, diagonal)
                if k == 0 or not hidden:
                    break
                delta = delta @ layers[k][0].T
                delta *= slope(acts[k - 1])
    return diagonal


def gauss_newton_matrix(model, theta, X, y, weights, alpha):
    """The Gauss-Newton matrix ``G`` (module docstring, every entry) of ``model`` at
    ``theta``: ``sum_i sum_c J_i^T v_ic v_ic^T J_i``, the rows ``v_ic^T J_i``
    formed a block of rows at a time; with the start's nominal output weights as
    :func:`gauss_newton_diagonal` for the hidden layers' rows and columns."""
    dtype = model._dtype(X)
    layers = model.layers(theta, dtype)
    diagonal = np.zeros(model.n_params)
    _accumulate(model, theta, layers, X, y, weights, diagonal, output=True, hidden=False)
    nominal = _nominal_output_weights(model, theta, diagonal, alpha)
    matrix = _jacobian_gram(model, theta, layers, X, y, weights)
    if nominal is not None:
        layers[-1] = (nominal.astype(dtype), layers[-1][1])
        hidden = slice(0, model._layer_starts[-1])
        matrix[hidden, :] = 0.0
        matrix[:, hidden] = 0.0
        nominal_matrix = _jacobian_gram(model, theta, layers, X, y, weights)
        matrix[hidden, hidden] = nominal_matrix[hidden, hidden]
    if alpha > 0:
        matrix.flat[::matrix.shape[0] + 1] += alpha * model.ridge_weight
        if model.level_penalty is not None:
            direction, curvature = _level_direction(model, theta, X, weights)
            matrix += (alpha * curvature) * np.outer(direction, direction)
    return matrix


def _jacobian_gram(model, theta, layers, X, y, weights):
    """``sum_i sum_c (J_i^T v_ic)(J_i^T v_ic)^T`` with the network's ``layers``."""
    from ._network import ACTIVATIONS

    slope = ACTIVATIONS[model.activation][1]
    n_layers = len(layers)
    gram = np.zeros((model.n_params, model.n_params))
    for rows in model._blocks(X):
        X_block = X[rows]
        if hasattr(X_block, "toarray"):
            X_block = X_block.toarray()
        acts, out = model._forward(layers, X_block)
        raw = model._raw(theta, out, model._offset_rows(model.offset, rows))
        roots = _fisher_roots(model.loss, y[rows], raw, weights[rows])
        for c in range(roots.shape[1]):
            rows_of_j = np.zeros((X_block.shape[0], model.n_params))
            rows_of_j[:, model._n_network:] = roots[:, c, model.constant_columns]
            delta = roots[:, c, model.x_columns] * model.output_scale
            for k in range(n_layers - 1, -1, -1):
                inputs = acts[k - 1] if k > 0 else X_block
                fan_in, fan_out = model.layer_shapes[k]
                first = model._layer_starts[k]
                rows_of_j[:, first:first + fan_in * fan_out] = (
                    inputs[:, :, None] * delta[:, None, :]).reshape(-1, fan_in * fan_out)
                rows_of_j[:, first + fan_in * fan_out:first + (fan_in + 1) * fan_out] = \
                    delta
                if k > 0:
                    delta = (delta @ layers[k][0].T) * slope(acts[k - 1])
            gram += rows_of_j.T @ rows_of_j
    return gram


def _add_layer(model, k, inputs_squared, delta, diagonal):
    """Layer ``k``'s entries: ``(A_{k-1}^2)^T delta^2`` for the weights and
    ``sum_i delta^2`` for the biases."""
    fan_in, fan_out = model.layer_shapes[k]
    first = model._layer_starts[k]
    delta_squared = delta * delta
    diagonal[first:first + fan_in * fan_out] += np.asarray(
        inputs_squared.T @ delta_squared, dtype=np.float64).ravel()
    diagonal[first + fan_in * fan_out:first + (fan_in + 1) * fan_out] += \
        delta_squared.sum(axis=0, dtype=np.float64)


def _square(X_block):
    """Elementwise square of a block of X (dense or sparse)."""
    return X_block.multiply(X_block) if hasattr(X_block, "multiply") else X_block * X_block


def _fisher_roots(loss, y, raw, weights):
    """``v_ic`` as (n, n_raw, n_raw), ``[i, c]`` one root of sample ``i``'s weighted
    Fisher information: ``I_i = sum_c v_ic v_ic^T``."""
    with np.errstate(over="ignore", invalid="ignore"):
        info = loss.fisher_information(y, raw, weights)
    info = np.nan_to_num(0.5 * (info + info.transpose(0, 2, 1)), nan=0.0, posinf=0.0,
                         neginf=0.0)
    if info.shape[1] == 1:
        return np.sqrt(np.maximum(info, 0.0))
    values, vectors = np.linalg.eigh(info)
    # eigenvector c of sample i is vectors[i, :, c]; roots[i, c] = sqrt(lambda) times it
    return (vectors * np.sqrt(np.maximum(values, 0.0))[:, None, :]).transpose(0, 2, 1)


def _nominal_output_weights(model, theta, diagonal, alpha):
    """The output weights with each raw column whose free weights are all 0 given
    ``+-1 / sqrt(G_pp)`` on them, or None where no column is (nothing to replace)."""
    fan_in, fan_out = model.layer_shapes[-1]
    first = model._layer_starts[-1]
    entries = slice(first, first + fan_in * fan_out)
    weights = theta[entries].reshape(fan_in, fan_out).copy()
    held = model.held[entries].reshape(fan_in, fan_out)
    unread = np.all((weights == 0) | held, axis=0) & ~np.all(held, axis=0)
    if not unread.any():
        return None
    curvature = (diagonal[entries] + alpha * model.ridge_weight[entries]).reshape(
        fan_in, fan_out)
    signs = np.random.default_rng(_SIGN_SEED).choice([-1.0, 1.0], size=weights.shape)
    with np.errstate(divide="ignore"):
        nominal = np.where(curvature > 0, signs / np.sqrt(curvature), 0.0)
    replace = unread[None, :] & ~held
    weights[replace] = nominal[replace]
    return weights


def _level_curvature(model, theta, X, weights):
    """``phi''(t) a_p^2`` of the level penalty (``a`` the gradient of ``t``)."""
    direction, curvature = _level_direction(model, theta, X, weights)
    return curvature * direction * direction


def _level_direction(model, theta, X, weights):
    """The gradient ``a`` of the level penalty's ``t`` and ``phi''(t)``."""
    column, centre = model.level_penalty
    t = model.column_mean(theta, X, weights, column) - centre
    raw_gradient = np.zeros((X.shape[0], model.loss.n_raw))
    raw_gradient[:, column] = weights
    direction = model.raw_vjp(theta, X, raw_gradient)
    with np.errstate(over="ignore"):
        curvature = 2.0 * np.exp(-2.0 * t)
    return direction, curvature
