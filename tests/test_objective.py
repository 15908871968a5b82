"""Gradient and Hessian of the full objective against finite differences."""

import numpy as np
import pytest
import scipy.sparse as sp

from sklearn_mle._linear import LinearModel
from sklearn_mle._loss import (BernoulliLoss, CategoricalLoss, GaussianFixedScaleLoss,
                               GaussianLoss)

MODELS = {
    "bernoulli": (BernoulliLoss(), [True], [True]),
    "bernoulli_no_intercept": (BernoulliLoss(), [True], [False]),
    "softmax_reference": (CategoricalLoss(3), [False, True, True], [False, True, True]),
    "softmax_full": (CategoricalLoss(3), [True, True, True], [False, True, True]),
    "gaussian_fixed": (GaussianFixedScaleLoss(), [True], [True]),
    "gaussian_constant": (GaussianLoss(), [True, False], [True, True]),
    "gaussian_heteroscedastic": (GaussianLoss(), [True, True], [False, True]),
}


def make_problem(name, rng, n=40, d=4):
    loss, coef_free, intercept_free = MODELS[name]
    X = rng.normal(size=(n, d)) * np.array([1.0, 10.0, 0.1, 3.0])
    if isinstance(loss, CategoricalLoss):
        y = rng.integers(0, 3, size=n).astype(float)
    elif isinstance(loss, BernoulliLoss):
        y = rng.integers(0, 2, size=n).astype(float)
    else:
        y = rng.normal(size=n) * 2 + 1
    model = LinearModel(loss, d, coef_free, intercept_free)
    return model, X, y


def central_difference_gradient(f, theta, h):
    """Fourth-order central differences."""
    grad = np.empty_like(theta)
    for j in range(theta.size):
        e = np.zeros_like(theta)
        e[j] = h
        grad[j] = (-f(theta + 2 * e) + 8 * f(theta + e) - 8 * f(theta - e)
                   + f(theta - 2 * e)) / (12 * h)
    return grad


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("alpha", [0.0, 0.3])
@pytest.mark.parametrize("scale", [0.1, 30.0])
def test_gradient_matches_finite_differences(name, weighted, alpha, scale):
    rng = np.random.default_rng(abs(hash((name, weighted, alpha, scale))) % 2**32)
    model, X, y = make_problem(name, rng)
    w = rng.uniform(0.1, 3, size=y.size) if weighted else np.ones(y.size)
    w = w / w.sum()
    theta = rng.normal(scale=scale, size=model.n_params) / np.sqrt(model.n_features)
    if isinstance(model.loss, GaussianLoss):
        # keep log sigma(x) moderate so the objective is smooth at the step size
        theta[-1] = np.log(2.0)
        if model.coef_free[1]:
            d = model.n_features
            theta[d:2 * d] /= 10 * scale

    def f(t):
        return model.objective(t, X, y, w, alpha)

    value, grad = model.objective_gradient(theta, X, y, w, alpha)
    assert np.isfinite(value) and np.all(np.isfinite(grad))
    numeric = central_difference_gradient(f, theta, h=1e-4 * max(1.0, scale / 10))
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-7 * max(1, abs(value)))


@pytest.mark.parametrize("name", sorted(MODELS))
def test_gradient_with_huge_raw_predictions(name):
    # |raw| ~ 1e3: the losses are then piecewise linear in theta, still differentiable.
    rng = np.random.default_rng(7)
    model, X, y = make_problem(name, rng)
    w = np.full(y.size, 1.0 / y.size)
    theta = rng.normal(size=model.n_params) * 300
    if isinstance(model.loss, GaussianLoss):
        theta[model.n_features * model.coef_rows.size:] = [0.0, 3.0][:model.intercept_rows.size]
        if model.coef_free[1]:
            theta[model.n_features:2 * model.n_features] *= 1e-3
    value, grad = model.objective_gradient(theta, X, y, w, 0.0)
    assert np.isfinite(value) and np.all(np.isfinite(grad))
    numeric = central_difference_gradient(
        lambda t: model.objective(t, X, y, w, 0.0), theta, h=1e-6)
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-6 * abs(value))


@pytest.mark.parametrize("name", sorted(MODELS))
def test_hessian_matches_finite_differences_of_gradient(name):
    rng = np.random.default_rng(11)
    model, X, y = make_problem(name, rng)
    w = np.full(y.size, 1.0 / y.size)
    theta = rng.normal(size=model.n_params) * 0.3
    alpha = 0.2
    hessian = model.hessian(theta, X, y, w, alpha)
    h = 1e-5
    numeric = np.empty_like(hessian)
    for j in range(theta.size):
        e = np.zeros_like(theta)
        e[j] = h
        numeric[:, j] = (model.objective_gradient(theta + e, X, y, w, alpha)[1]
                         - model.objective_gradient(theta - e, X, y, w, alpha)[1]) / (2 * h)
    np.testing.assert_allclose(hessian, numeric, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["bernoulli", "softmax_full", "gaussian_heteroscedastic"])
def test_sparse_and_float32_objective_agree_with_dense(name):
    rng = np.random.default_rng(5)
    model, X, y = make_problem(name, rng, n=60)
    X[np.abs(X) < 1.0] = 0.0
    w = np.full(y.size, 1.0 / y.size)
    theta = rng.normal(size=model.n_params) * 0.1
    reference = model.objective_gradient(theta, X, y, w, 0.1)
    for variant in (sp.csr_matrix(X), sp.csc_matrix(X), np.asfortranarray(X)):
        value, grad = model.objective_gradient(theta, variant, y, w, 0.1)
        np.testing.assert_allclose(value, reference[0], rtol=1e-13)
        np.testing.assert_allclose(grad, reference[1], rtol=1e-12, atol=1e-14)
    X32 = X.astype(np.float32)
    value, grad = model.objective_gradient(theta, X32, y, w, 0.1)
    value64, grad64 = model.objective_gradient(theta, X32.astype(np.float64), y, w, 0.1)
    np.testing.assert_allclose(value, value64, rtol=1e-12)
    np.testing.assert_allclose(grad, grad64, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fused_one_pass_matches_blas_path(name, dtype):
    rng = np.random.default_rng(13)
    model, X, y = make_problem(name, rng, n=5000)
    X = np.ascontiguousarray(X, dtype=dtype)
    w = rng.uniform(size=y.size)
    w /= w.sum()
    theta = rng.normal(size=model.n_params) * 0.05
    model.fused = False
    reference = model.objective_gradient(theta, X.astype(np.float64), y, w, 0.1)
    model.fused = True
    assert model.uses_fused_pass(X)
    one_thread = model.objective_gradient(theta, X, y, w, 0.1, n_threads=1)
    two_threads = model.objective_gradient(theta, X, y, w, 0.1, n_threads=2)
    np.testing.assert_allclose(one_thread[0], reference[0], rtol=1e-12)
    np.testing.assert_allclose(one_thread[1], reference[1], rtol=1e-9, atol=1e-12)
    # fixed-order block reduction: identical for any number of threads
    assert one_thread[0] == two_threads[0]
    np.testing.assert_array_equal(one_thread[1], two_threads[1])
