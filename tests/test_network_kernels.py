"""The network model's pass kernels against NumPy, in float32 and float64, and the
passes themselves: the same on one thread as on several, no array kept after a pass."""

import pickle
import warnings

import numpy as np
import pytest

from sklearn_mle.families import _kernels
from sklearn_mle.families import CategoricalLoss
from sklearn_mle.models import _network
from sklearn_mle.models._network import NetworkModel


def _pre_activations(dtype, n=257, h=13, seed=0):
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, h)).astype(dtype)
    z[::7, ::3] = 0.0           # exact kinks
    return z, rng


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bias_relu_is_numpy(dtype):
    z, rng = _pre_activations(dtype)
    bias = rng.normal(size=z.shape[1]).astype(dtype)
    bias[2] = 0.0
    z[5, 4] = np.nan
    expected = np.maximum(z + bias, 0)
    _kernels.bias_relu(z, bias)
    np.testing.assert_array_equal(z, expected)
    assert z.dtype == dtype
    with pytest.raises(ValueError, match="widths"):
        _kernels.bias_relu(z, bias[:-1])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_backward_is_numpy(dtype):
    activation, rng = _pre_activations(dtype)
    np.maximum(activation, 0, out=activation)
    delta = rng.normal(size=activation.shape).astype(dtype)
    expected = delta * (activation > 0)
    bias_gradient = np.full(activation.shape[1], np.nan)
    _kernels.relu_backward(delta, activation, bias_gradient)
    np.testing.assert_array_equal(delta, expected)
    # summed in double, row after row
    np.testing.assert_allclose(bias_gradient, expected.astype(np.float64).sum(axis=0),
                               rtol=1e-13, atol=1e-13)
    with pytest.raises(ValueError, match="shapes"):
        _kernels.relu_backward(delta, activation[1:], bias_gradient)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_outer_relu_backward_is_numpy(dtype):
    activation, rng = _pre_activations(dtype)
    np.maximum(activation, 0, out=activation)
    delta = rng.normal(size=(activation.shape[0], 1)).astype(dtype)
    weights = rng.normal(size=activation.shape[1]).astype(dtype)
    expected = (delta @ weights[None, :]) * (activation > 0)
    out = np.full_like(activation, np.nan)
    bias_gradient = np.full(activation.shape[1], np.nan)
    _kernels.outer_relu_backward(delta, weights, activation, out, bias_gradient)
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_allclose(bias_gradient, expected.astype(np.float64).sum(axis=0),
                               rtol=1e-13, atol=1e-13)
    with pytest.raises(ValueError, match="shapes"):
        _kernels.outer_relu_backward(delta, weights[1:], activation, out, bias_gradient)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_column_sums_is_numpy(dtype):
    a, _ = _pre_activations(dtype)
    out = np.full(a.shape[1], np.nan)
    _kernels.column_sums(a, out)
    np.testing.assert_allclose(out, a.astype(np.float64).sum(axis=0), rtol=1e-13,
                               atol=1e-13)
    empty = np.zeros(a.shape[1])
    _kernels.column_sums(a[:0], empty)
    np.testing.assert_array_equal(empty, 0.0)


def _classifier_network(activation, rng, n=1500, d=4):
    X = rng.normal(size=(n, d))
    model = NetworkModel(CategoricalLoss(3), d, (6, 5), activation)
    y = rng.integers(0, 3, n).astype(float)
    return model, X, y


@pytest.mark.parametrize("activation", ["relu", "tanh"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_threads_give_the_one_thread_pass_bit_for_bit(monkeypatch, activation, dtype):
    monkeypatch.setattr(_network, "_BLOCK_CELLS", 1)   # blocks of 256 rows
    rng = np.random.default_rng(1)
    model, X, y = _classifier_network(activation, rng)
    X = X.astype(dtype)
    weights = rng.random(X.shape[0])
    weights /= weights.sum()
    theta = rng.normal(scale=0.5, size=model.n_params)
    assert len(model._blocks(X)) == 6
    one = model.objective_gradient(theta, X, y, weights, 0.1, 1)
    for threads in (2, 3):
        several = model.objective_gradient(theta, X, y, weights, 0.1, threads)
        assert several[0] == one[0]
        np.testing.assert_array_equal(several[1], one[1])


def test_no_pass_array_outlives_the_pass():
    rng = np.random.default_rng(2)
    model, X, y = _classifier_network("relu", rng, n=300)
    weights = np.full(300, 1 / 300)
    theta = rng.normal(size=model.n_params)
    state = dict(vars(model))
    first = model.objective_gradient(theta, X, y, weights, 0.0)
    assert vars(model).keys() == state.keys()
    again = pickle.loads(pickle.dumps(model))
    second = again.objective_gradient(theta, X, y, weights, 0.0)
    assert second[0] == first[0]
    np.testing.assert_array_equal(second[1], first[1])


def test_threads_take_on_the_callers_floating_point_error_handling(monkeypatch):
    # the solver evaluates far trial steps under np.errstate(over="ignore",
    # invalid="ignore"); the helper threads must not warn (or raise) either
    monkeypatch.setattr(_network, "_BLOCK_CELLS", 1)   # blocks of 256 rows
    rng = np.random.default_rng(3)
    model, X, y = _classifier_network("softplus", rng)
    weights = np.full(X.shape[0], 1 / X.shape[0])
    theta = rng.normal(scale=300.0, size=model.n_params)
    with np.errstate(all="ignore"):
        one = model.objective_gradient(theta, X, y, weights, 0.0, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="ignore"):
            several = model.objective_gradient(theta, X, y, weights, 0.0, 2)
        with np.errstate(all="raise"), pytest.raises(FloatingPointError):
            model.objective_gradient(theta, X, y, weights, 0.0, 2)
    assert several[0] == one[0]
    np.testing.assert_array_equal(several[1], one[1])
