"""Gradient and Hessian of the full objective against finite differences."""

import numpy as np
import pytest
import scipy.sparse as sp
from tolerance import GRAM_RTOL, assert_blas_close

from sklearn_mle.families import (
    BernoulliLoss,
    CategoricalLoss,
    GaussianFixedScaleLoss,
    GaussianLoss,
    _kernels,
)
from sklearn_mle.models._linear import LevelPenalty, LinearModel, weighted_grams

MODELS = {
    "bernoulli": (BernoulliLoss(), [True], [True]),
    "bernoulli_no_intercept": (BernoulliLoss(), [True], [False]),
    "softmax_reference": (CategoricalLoss(3), [False, True, True], [False, True, True]),
    "softmax_full": (CategoricalLoss(3), [True, True, True], [False, True, True]),
    "gaussian_fixed": (GaussianFixedScaleLoss(), [True], [True]),
    "gaussian_constant": (GaussianLoss(), [True, False], [True, True]),
    "gaussian_heteroscedastic": (GaussianLoss(), [True, True], [False, True]),
    # with the regressor's penalty on a learned variance (see penalised_gaussian)
    "gaussian_constant_penalised": (GaussianLoss(), [True, False], [True, True]),
    "gaussian_heteroscedastic_penalised": (GaussianLoss(), [True, True], [True, True]),
}


def penalised_gaussian(model, X, y):
    """The model with MLERegressor's penalty: mean coefficients in units of s0, the
    training mean of log sigma pulled towards log s0."""
    log_s0 = np.log(np.std(y))
    ridge_weight = model.ridge_weight * np.where(model.param_column == 0,
                                                 np.exp(-2 * log_s0), 1.0)
    level = LevelPenalty(model.column_mean_direction(1, X.mean(axis=0)), log_s0)
    return LinearModel(model.loss, model.n_features, model.coef_free,
                       model.intercept_free, ridge_weight, level)


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
    if name.endswith("_penalised"):
        model = penalised_gaussian(model, X, y)
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


def fused_problem(name, dtype, seed, n):
    """Row-major X of ``dtype``, random normalised weights and a small theta."""
    rng = np.random.default_rng(seed)
    model, X, y = make_problem(name, rng, n=n)
    X = np.ascontiguousarray(X, dtype=dtype)
    w = rng.uniform(size=y.size)
    w /= w.sum()
    theta = rng.normal(size=model.n_params) * 0.05
    return model, X, y, w, theta


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fused_one_pass_matches_blas_path(name, dtype):
    model, X, y, w, theta = fused_problem(name, dtype, seed=13, n=5000)
    model.fused = False
    reference = model.objective_gradient(theta, X.astype(np.float64), y, w, 0.1)
    model.fused = True
    assert model.uses_fused_pass(X)
    assert_fused_objective(model, theta, X, y, w, reference)


def assert_fused_objective(model, theta, X, y, w, reference):
    """The fused objective and gradient at alpha = 0.1 agree with ``reference`` and
    are the same bits on one or two threads (a fixed-order block reduction)."""
    one_thread = model.objective_gradient(theta, X, y, w, 0.1, n_threads=1)
    two_threads = model.objective_gradient(theta, X, y, w, 0.1, n_threads=2)
    np.testing.assert_allclose(one_thread[0], reference[0], rtol=1e-12)
    np.testing.assert_allclose(one_thread[1], reference[1], rtol=1e-9, atol=1e-12)
    assert one_thread[0] == two_threads[0]
    np.testing.assert_array_equal(one_thread[1], two_threads[1])


@pytest.mark.parametrize("name", sorted(MODELS))
def test_fused_csr_pass_and_fisher_product_match_the_blockwise_path(name):
    """On CSR X of 20 000 rows (several row blocks) the fused sparse pass gives the
    blockwise pass's objective and gradient, and its Fisher product the per-sample
    path's; the same bits on one or two threads."""
    model, X, y, w, theta = fused_problem(name, np.float64, seed=19, n=20000)
    X[np.abs(X) < 1.0] = 0.0
    X = sp.csr_matrix(X)
    vector = np.random.default_rng(3).normal(size=model.n_params)
    model.fused = False
    assert not model.uses_fused_sparse_pass(X)
    reference = model.objective_gradient(theta, X, y, w, 0.1)
    reference_product = model.fisher_product(theta, X, y, w, vector)
    model.fused = "auto"
    assert model.uses_fused_sparse_pass(X) and not model.uses_fused_pass(X)
    assert model.pass_description(X) == "fused one-pass kernel on CSR X"
    assert_fused_objective(model, theta, X, y, w, reference)
    assert model.total_nll(theta, X, y, w) == pytest.approx(
        LinearModel.total_nll(model, theta, X.toarray(), y, w), rel=1e-12)
    product = model.fisher_product(theta, X, y, w, vector, n_threads=1)
    np.testing.assert_allclose(product, reference_product, rtol=1e-10,
                               atol=1e-12 * np.abs(reference_product).max())
    np.testing.assert_array_equal(product,
                                  model.fisher_product(theta, X, y, w, vector, n_threads=2))


def numpy_weighted_gram(X, weights):
    """Reference ``sum_i w_i z_i z_i^T`` with ``z_i = (x_i, 1)``."""
    Z = np.column_stack([np.asarray(X, dtype=np.float64), np.ones(X.shape[0])])
    return Z.T @ (Z * weights[:, None])


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fused_fisher_hessian_matches_per_sample_path(name, dtype):
    # 40000 rows: the Gram kernel splits them into 4 partitions.
    model, X, y, w, theta = fused_problem(name, dtype, seed=17, n=40000)
    model.fused = False
    reference = model.hessian(theta, np.asfortranarray(X, dtype=np.float64), y, w, 0.1,
                              expected=True)
    model.fused = True
    one_thread = model.hessian(theta, X, y, w, 0.1, n_threads=1, expected=True)
    two_threads = model.hessian(theta, X, y, w, 0.1, n_threads=2, expected=True)
    np.testing.assert_allclose(one_thread, reference, rtol=1e-10,
                               atol=1e-13 * np.abs(reference).max())
    # BLAS adds the rows of each block: equal to rounding for any thread count
    assert_blas_close(two_threads, one_thread, rtol=GRAM_RTOL)
    np.testing.assert_array_equal(one_thread, one_thread.T)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_weighted_gram_kernel_with_weights_of_both_signs(dtype):
    # Blocks of zero, non-negative (BLAS syrk) and mixed-sign (BLAS gemm) weights.
    rng = np.random.default_rng(19)
    n, d = 20000, 7
    X = np.ascontiguousarray(rng.normal(size=(n, d)) * np.logspace(-3, 3, d), dtype=dtype)
    weights = np.column_stack([
        rng.uniform(size=n),                              # all non-negative
        rng.normal(size=n),                               # mixed signs
        np.where(np.arange(n) < 5000, 0.0, rng.normal(size=n)),  # zero rows first
    ])
    one_thread = weighted_grams(X, weights, n_threads=1)
    two_threads = weighted_grams(X, weights, n_threads=2)
    for c in range(weights.shape[1]):
        reference = numpy_weighted_gram(X, weights[:, c])
        np.testing.assert_allclose(one_thread[c], reference, rtol=1e-10,
                                   atol=1e-12 * np.abs(reference).max())
        np.testing.assert_array_equal(one_thread[c], one_thread[c].T)
    assert_blas_close(two_threads, one_thread, rtol=GRAM_RTOL)


def test_weighted_gram_kernel_rejects_mismatched_shapes():
    X = np.ones((10, 3))
    with pytest.raises(ValueError, match="weights must have shape"):
        _kernels.weighted_grams_dense(X, np.ones((9, 1)), np.zeros((1, 1, 4, 4)))
    with pytest.raises(ValueError, match="partition_grams must have shape"):
        _kernels.weighted_grams_dense(X, np.ones((10, 1)), np.zeros((1, 1, 3, 3)))
    with pytest.raises(ValueError, match="q = m"):
        _kernels.fisher_grams(X, np.zeros(10), np.ones(10), np.zeros((2, 3)), np.zeros(2),
                              np.arange(2), _kernels.FAMILY_CATEGORICAL,
                              np.zeros((1, 2, 4, 4)))
