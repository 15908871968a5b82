"""Families whose Fisher information depends only on columns that do not vary with x
(``Family.fisher_columns``): the claim itself, checked against the kernels, and the
linear model's expected Hessian formed from the Gram matrix of the design without a
pass over X, against the per-sample path."""

import gc
import weakref

import numpy as np
import pytest

from sklearn_mle.families import (
    BernoulliLoss,
    BinomialLoss,
    GammaLoss,
    GaussianFixedScaleLoss,
    GaussianLoss,
    NegativeBinomialLoss,
    PoissonLoss,
    StudentTLoss,
    _kernels,
)
from sklearn_mle.models._linear import LinearModel, weighted_grams

FAMILIES = [BernoulliLoss(), BinomialLoss(), GaussianFixedScaleLoss(), GaussianLoss(),
            PoissonLoss(), GammaLoss(), NegativeBinomialLoss(), StudentTLoss()]


def targets(family, size, rng):
    """Targets in the family's domain."""
    if family.name == "Bernoulli":
        return rng.integers(0, 2, size).astype(float)
    if family.name == "Binomial":
        return rng.integers(0, 8, size) / 7.0
    if family.name in ("Poisson", "negative binomial"):
        return rng.poisson(3.0, size).astype(float)
    if family.name == "Gamma":
        return rng.gamma(2.0, 1.5, size)
    return rng.standard_t(4, size)


@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f.name)
def test_fisher_information_depends_only_on_the_declared_columns(family):
    """Changing y and every column outside ``fisher_columns`` leaves each sample's
    Fisher information unchanged, bit for bit; changing a declared column changes it."""
    rng = np.random.default_rng(0)
    n, m = 50, family.n_raw
    raw = rng.normal(scale=0.7, size=(n, m))
    y = targets(family, n, rng)
    weight = rng.uniform(0.5, 2.0, n)
    info = family.fisher_information(y, raw, weight)
    other_raw = raw.copy()
    others = [j for j in range(m) if j not in family.fisher_columns]
    other_raw[:, others] = rng.normal(scale=0.7, size=(n, len(others)))
    np.testing.assert_array_equal(
        family.fisher_information(targets(family, n, rng), other_raw, weight), info)
    for j in family.fisher_columns:
        moved = raw.copy()
        moved[:, j] += 0.5
        assert not np.allclose(family.fisher_information(y, moved, weight), info)


def per_sample_fisher_hessian(model, theta, X, y, weights, alpha):
    """The expected Hessian assembled from per-sample Fisher information (no
    shortcut), for comparison."""
    raw = model.raw_prediction(theta, X)
    info = model.loss.fisher_information(y, raw, weights)
    m = model.loss.n_raw
    pairs = [(j, k) for j in range(m) for k in range(j, m)]
    grams = weighted_grams(X, np.stack([info[:, j, k] for j, k in pairs], axis=1))
    blocks = np.zeros((m, m, X.shape[1] + 1, X.shape[1] + 1))
    for (j, k), gram in zip(pairs, grams):
        blocks[j, k], blocks[k, j] = gram, gram.T
    return model.expand_design_blocks(blocks, alpha, theta)


@pytest.mark.parametrize("family", [GaussianLoss(), GammaLoss(), StudentTLoss(),
                                    PoissonLoss()], ids=lambda f: f.name)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_shared_fisher_hessian_equals_the_per_sample_one(family, dtype):
    rng = np.random.default_rng(1)
    n, d, m = 2 * _kernels.FUSED_BLOCK_ROWS + 31, 4, family.n_raw
    X = (rng.normal(size=(n, d)) * [1.0, 10.0, 0.01, 300.0] + [0, 5, 0, -40]).astype(dtype)
    y = targets(family, n, rng)
    weights = rng.uniform(0.5, 2.0, n)
    weights /= weights.sum()
    # only the mean depends on x: the dispersion columns are constants
    model = LinearModel(family, d, np.arange(m) == 0, np.ones(m, bool))
    theta = rng.normal(scale=0.05, size=model.n_params)
    expected = per_sample_fisher_hessian(model, theta, X, y, weights, 0.3)
    assert model.fisher_is_shared == (family.name != "Poisson")
    # without and with the Gram matrix the preconditioner formed
    fresh = model.hessian(theta, X, y, weights, 0.3, expected=True)
    model.preconditioner(X, weights, model.unpack(theta)[1], 0.3, kind="dense")
    cached = model.hessian(theta, X, y, weights, 0.3, expected=True)
    for hessian in (fresh, cached):
        np.testing.assert_allclose(hessian, expected, rtol=1e-11,
                                   atol=1e-12 * np.abs(expected).max())
    np.testing.assert_array_equal(cached, fresh)


def test_the_cached_gram_is_only_used_for_the_same_arrays_and_keeps_nothing_alive():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(500, 3))
    y = rng.gamma(2.0, 1.0, 500)
    weights = np.full(500, 1 / 500)
    model = LinearModel(GammaLoss(), 3, [True, False], [True, True])
    theta = np.zeros(model.n_params)
    model.preconditioner(X, weights, np.zeros(2), 0.0, kind="dense")
    # other weights (same values, another array): the Gram matrix is formed anew,
    # and it must be these weights' one
    other = rng.uniform(0.5, 2.0, 500)
    other /= other.sum()
    np.testing.assert_allclose(model.hessian(theta, X, y, other, 0.0, expected=True),
                               per_sample_fisher_hessian(model, theta, X, y, other, 0.0),
                               rtol=1e-12)
    alive = weakref.ref(X)
    del X
    gc.collect()
    assert alive() is None


def test_the_refresh_is_free_exactly_where_the_fisher_information_is_shared():
    def linear(family, coef_free):
        return LinearModel(family, 3, coef_free, np.ones(family.n_raw, bool))

    assert linear(GammaLoss(), [True, False]).hessian_refresh_is_free
    assert linear(StudentTLoss(), [True, False, False]).hessian_refresh_is_free
    # a dispersion linear in x: each sample its own information
    assert not linear(GammaLoss(), [True, True]).hessian_refresh_is_free
    # the information depends on the mean
    assert not linear(PoissonLoss(), [True]).hessian_refresh_is_free
    assert not linear(BernoulliLoss(), [True]).hessian_refresh_is_free
    # refreshed with the observed Hessian, which depends on y
    assert not linear(NegativeBinomialLoss(), [True, False]).hessian_refresh_is_free


@pytest.mark.parametrize("distribution", ["gaussian", "gamma", "student_t"])
def test_early_free_refreshes_reach_the_same_optimum(distribution):
    """The early refreshes change the path, not the answer: the fit equals one made
    with a tight tolerance."""
    from sklearn_mle import MLERegressor

    rng = np.random.default_rng(3)
    X = rng.normal(size=(3000, 4)) * [1.0, 50.0, 0.02, 7.0]
    eta = 1.0 + X @ [0.3, 0.004, 10.0, -0.05]
    if distribution == "gamma":
        y = rng.gamma(3.0, np.exp(eta) / 3.0)
    else:
        y = eta + rng.standard_t(5, 3000)
    fit = MLERegressor(distribution=distribution).fit(X, y)
    tight = MLERegressor(distribution=distribution, tol=1e-12).fit(X, y)
    assert fit.converged_
    np.testing.assert_allclose(fit.coef_, tight.coef_, rtol=1e-7)
    np.testing.assert_allclose(fit.dispersion_, tight.dispersion_, rtol=1e-7)


def test_a_model_with_a_cached_gram_pickles_without_it():
    import pickle

    rng = np.random.default_rng(4)
    X = rng.normal(size=(300, 2))
    weights = np.full(300, 1 / 300)
    model = LinearModel(GammaLoss(), 2, [True, False], [True, True])
    model.preconditioner(X, weights, np.zeros(2), 0.0, kind="dense")
    assert model._cached_design_gram(X, weights) is not None
    copy = pickle.loads(pickle.dumps(model))
    assert copy._cached_design_gram(X, weights) is None
    assert copy.n_params == model.n_params
