"""Kernels against closed forms, a NumPy reference, and extreme raw predictions."""

import warnings

import numpy as np
import pytest
from scipy.special import expit, log_expit, logsumexp, softmax

from sklearn_mle import _kernels
from sklearn_mle._loss import (BernoulliLoss, CategoricalLoss, GaussianFixedScaleLoss,
                               GaussianLoss)

HALF_LOG_2PI = 0.5 * np.log(2 * np.pi)
EXTREME = np.array([-1e300, -1e10, -750.0, -40.0, -1.0, 0.0, 1.0, 40.0, 750.0, 1e10, 1e300])


def reference_bernoulli(y, z):
    loss = -(y * log_expit(z) + (1 - y) * log_expit(-z))
    return loss, expit(z) - y, expit(z) * expit(-z)


def reference_categorical(y, raw):
    lse = logsumexp(raw, axis=1)
    loss = lse - raw[np.arange(len(y)), y.astype(int)]
    grad = softmax(raw, axis=1)
    own = np.arange(len(y)), y.astype(int)
    grad[own] = 0.0
    grad[own] = -grad.sum(axis=1)  # p_y - 1 written without cancellation
    return loss, grad


def reference_gaussian(y, mu, s):
    loss = HALF_LOG_2PI + s + 0.5 * (y - mu) ** 2 * np.exp(-2 * s)
    return loss, -(y - mu) * np.exp(-2 * s), 1 - (y - mu) ** 2 * np.exp(-2 * s)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_bernoulli_matches_numpy_reference(dtype):
    rng = np.random.default_rng(0)
    z = rng.normal(scale=5, size=200).astype(dtype)
    y = rng.integers(0, 2, size=200).astype(dtype)
    w = rng.uniform(0.5, 2, size=200).astype(dtype)
    loss, grad = np.empty(200), np.empty(200)
    _kernels.bernoulli_loss_gradient(y, z, w, loss, grad, 1)
    ref_loss, ref_grad, ref_hess = reference_bernoulli(y.astype(float), z.astype(float))
    rtol = 1e-12
    np.testing.assert_allclose(loss, w * ref_loss, rtol=rtol)
    np.testing.assert_allclose(grad, w * ref_grad, rtol=rtol, atol=1e-15)
    hess = np.empty(200)
    _kernels.bernoulli_hessian(z, w, hess, 1)
    np.testing.assert_allclose(hess, w * ref_hess, rtol=rtol)


def test_bernoulli_closed_forms():
    one = np.ones(1)
    loss, grad = np.empty(1), np.empty(1)
    _kernels.bernoulli_loss_gradient(one, np.zeros(1), one, loss, grad, 1)
    assert loss[0] == pytest.approx(np.log(2), rel=1e-15)
    assert grad[0] == pytest.approx(-0.5, rel=1e-15)
    # Confidently wrong: the gradient does not saturate (the log undoes the exp).
    _kernels.bernoulli_loss_gradient(one, np.array([-30.0]), one, loss, grad, 1)
    assert loss[0] == pytest.approx(30.0 + np.log1p(np.exp(-30.0)), rel=1e-15)
    assert grad[0] == pytest.approx(-1.0, abs=1e-12)


def test_categorical_matches_numpy_reference():
    rng = np.random.default_rng(1)
    raw = rng.normal(scale=4, size=(100, 5))
    y = rng.integers(0, 5, size=100).astype(float)
    w = rng.uniform(0.5, 2, size=100)
    loss, grad = np.empty(100), np.empty((100, 5))
    _kernels.categorical_loss_gradient(y, raw, w, loss, grad, 1)
    ref_loss, ref_grad = reference_categorical(y, raw)
    np.testing.assert_allclose(loss, w * ref_loss, rtol=1e-12)
    np.testing.assert_allclose(grad, w[:, None] * ref_grad, rtol=1e-12, atol=1e-15)
    hess = np.empty((100, 5, 5))
    _kernels.categorical_hessian(raw, w, hess, 1)
    p = softmax(raw, axis=1)
    ref_hess = -w[:, None, None] * p[:, :, None] * p[:, None, :]
    diag = np.arange(5)
    ref_hess[:, diag, diag] = w[:, None] * p * (p.sum(axis=1, keepdims=True) - p)
    np.testing.assert_allclose(hess, ref_hess, rtol=1e-12, atol=1e-15)
    log_p = np.empty((100, 5))
    _kernels.categorical_log_proba(raw, log_p, 1)
    np.testing.assert_allclose(log_p, raw - logsumexp(raw, axis=1, keepdims=True),
                               rtol=1e-12)


def test_categorical_closed_form_uniform():
    raw = np.zeros((1, 4))
    loss, grad = np.empty(1), np.empty((1, 4))
    _kernels.categorical_loss_gradient(np.array([2.0]), raw, np.ones(1), loss, grad, 1)
    assert loss[0] == pytest.approx(np.log(4), rel=1e-15)
    np.testing.assert_allclose(grad[0], [0.25, 0.25, -0.75, 0.25], rtol=1e-15)


def test_gaussian_kernels_match_reference_and_closed_form():
    rng = np.random.default_rng(2)
    y = rng.normal(size=50)
    raw = np.column_stack([rng.normal(size=50), rng.normal(scale=0.5, size=50)])
    w = rng.uniform(0.5, 2, size=50)
    loss, grad = np.empty(50), np.empty((50, 2))
    _kernels.gaussian_loss_gradient(y, raw, w, loss, grad, 1)
    ref_loss, ref_gmu, ref_gs = reference_gaussian(y, raw[:, 0], raw[:, 1])
    np.testing.assert_allclose(loss, w * ref_loss, rtol=1e-12)
    np.testing.assert_allclose(grad[:, 0], w * ref_gmu, rtol=1e-12)
    np.testing.assert_allclose(grad[:, 1], w * ref_gs, rtol=1e-12, atol=1e-14)
    # Standard normal density at 0: -log(1/sqrt(2 pi)).
    _kernels.gaussian_loss_gradient(np.zeros(1), np.zeros((1, 2)), np.ones(1), loss[:1],
                                    grad[:1], 1)
    assert loss[0] == pytest.approx(HALF_LOG_2PI, rel=1e-15)
    fixed_loss, fixed_grad = np.empty(50), np.empty(50)
    _kernels.gaussian_fixed_loss_gradient(y, raw[:, 0].copy(), w, fixed_loss, fixed_grad, 1)
    np.testing.assert_allclose(fixed_loss, w * (0.5 * (y - raw[:, 0]) ** 2 + HALF_LOG_2PI),
                               rtol=1e-12)
    np.testing.assert_allclose(fixed_grad, w * (raw[:, 0] - y), rtol=1e-12)
    hess = np.empty((50, 2, 2))
    _kernels.gaussian_hessian(y, raw, w, hess, 1)
    r, inv_var = y - raw[:, 0], np.exp(-2 * raw[:, 1])
    np.testing.assert_allclose(hess[:, 0, 0], w * inv_var, rtol=1e-12)
    np.testing.assert_allclose(hess[:, 0, 1], w * 2 * r * inv_var, rtol=1e-12)
    np.testing.assert_allclose(hess[:, 1, 1], w * 2 * r**2 * inv_var, rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_kernels_stable_for_extreme_raw_predictions(dtype):
    z = EXTREME.astype(np.float64)
    if dtype == np.float32:
        z = z[np.abs(z) < 1e30]
    z = z.astype(dtype)
    n = z.size
    ones = np.ones(n, dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise"):
            for y in (np.zeros(n, dtype=dtype), ones):
                loss, grad = np.empty(n), np.empty(n)
                _kernels.bernoulli_loss_gradient(y, z, ones, loss, grad, 1)
                assert np.all(np.isfinite(loss)) and np.all(np.isfinite(grad))
                assert np.all(loss >= 0)
                _kernels.gaussian_fixed_loss_gradient(y, z, ones, loss, grad, 1)
                assert np.all(np.isfinite(loss)) and np.all(np.isfinite(grad))
            raw = np.ascontiguousarray(np.column_stack([z, -z, np.zeros(n, dtype=dtype)]))
            loss, grad = np.empty(n), np.empty((n, 3))
            _kernels.categorical_loss_gradient(np.zeros(n, dtype=dtype), raw, ones, loss,
                                               grad, 1)
            assert np.all(np.isfinite(loss)) and np.all(np.isfinite(grad))
            log_p = np.empty((n, 3))
            _kernels.categorical_log_proba(raw, log_p, 1)
            assert np.all(np.isfinite(log_p))
            for mean, log_scale in ((z, np.zeros(n, dtype=dtype)), (np.zeros(n, dtype=dtype), z),
                                    (z, z), (z, -z)):
                raw2 = np.ascontiguousarray(np.column_stack([mean, log_scale]))
                loss, grad = np.empty(n), np.empty((n, 2))
                _kernels.gaussian_loss_gradient(ones, raw2, ones, loss, grad, 1)
                assert np.all(np.isfinite(loss)) and np.all(np.isfinite(grad))
                hess = np.empty((n, 2, 2))
                _kernels.gaussian_hessian(ones, raw2, ones, hess, 1)
                assert np.all(np.isfinite(hess))


def test_bernoulli_loss_exact_at_large_margin():
    # log(1 + e^z) - z for y=1 and z=-1e300 is 1e300 exactly, not inf.
    loss, grad = np.empty(1), np.empty(1)
    _kernels.bernoulli_loss_gradient(np.ones(1), np.array([-1e300]), np.ones(1), loss, grad, 1)
    assert loss[0] == 1e300 and grad[0] == -1.0


@pytest.mark.parametrize("loss", [BernoulliLoss(), CategoricalLoss(4), GaussianFixedScaleLoss(),
                                  GaussianLoss()])
def test_kernels_identical_for_one_and_two_threads(loss):
    rng = np.random.default_rng(3)
    n = 20_001
    raw = rng.normal(scale=3, size=(n, loss.n_raw))
    if isinstance(loss, CategoricalLoss):
        y = rng.integers(0, 4, size=n).astype(float)
    elif isinstance(loss, BernoulliLoss):
        y = rng.integers(0, 2, size=n).astype(float)
    else:
        y = rng.normal(size=n)
    w = rng.uniform(size=n)
    l1, g1 = loss.loss_gradient(y, raw, w, n_threads=1)
    l2, g2 = loss.loss_gradient(y, raw, w, n_threads=2)
    np.testing.assert_array_equal(l1, l2)
    np.testing.assert_array_equal(g1, g2)
    np.testing.assert_array_equal(loss.hessian(y, raw, w, n_threads=1),
                                  loss.hessian(y, raw, w, n_threads=2))


def test_kernels_accept_read_only_inputs():
    z = np.linspace(-5, 5, 11)
    y = (z > 0).astype(float)
    w = np.ones(11)
    for array in (z, y, w):
        array.flags.writeable = False
    loss, grad = np.empty(11), np.empty(11)
    _kernels.bernoulli_loss_gradient(y, z, w, loss, grad, 1)
    ref_loss, ref_grad, _ = reference_bernoulli(y, z)
    np.testing.assert_allclose(loss, ref_loss, rtol=1e-13)
    out = np.empty(11)
    _kernels.sigmoid(z, out, 1)
    np.testing.assert_allclose(out, expit(z), rtol=1e-15)
    _kernels.log_sigmoid(z, out, 1)
    np.testing.assert_allclose(out, log_expit(z), rtol=1e-14)
