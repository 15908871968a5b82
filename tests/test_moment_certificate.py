"""The Newton-step certificate of existence for canonical exponential families
(existence/_moments.py): it proves existence where the MLE exists, declines where it
does not, and spares wide sparse designs the LP (issue 19, item 6)."""

import gc
import tracemalloc

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning

from sklearn_mle import MLERegressor, UnboundedLikelihoodWarning
from sklearn_mle.existence import _check, _moments
from sklearn_mle.existence._moments import certify_moment_existence
from sklearn_mle.models._linear_layouts import regression_model, regression_null_raw


def one_hot_counts(n, levels=200, blocks=3, seed=0, binomial=False):
    """Three one-hot blocks (each sums to 1, so with the intercept two columns are
    aliased) and Poisson counts or binomial proportions over 5 trials."""
    rng = np.random.default_rng(seed)
    columns = np.column_stack([rng.integers(0, levels, size=n) + b * levels
                               for b in range(blocks)]).ravel()
    X = sp.csr_matrix((np.ones(n * blocks), (np.repeat(np.arange(n), blocks), columns)),
                      shape=(n, levels * blocks))
    eta = np.asarray(X @ rng.normal(scale=0.3, size=levels * blocks)).ravel()
    if binomial:
        return X, rng.binomial(5, 1 / (1 + np.exp(-eta))) / 5
    return X, rng.poisson(np.exp(eta + 0.5)).astype(float)


def _model_at_fit(reg, X, y, weights):
    family, modes = reg.family_, reg._modes
    null_raw = regression_null_raw(family, modes, True, y, weights)
    model = regression_model(family, modes, True, 0.0, X, weights, null_raw, y)
    return model, model.pack(reg._raw_coef, reg._raw_intercept)


@pytest.mark.parametrize("binomial", [False, True])
def test_certificate_proves_existence_on_an_aliased_one_hot_design(binomial,
                                                                   monkeypatch):
    X, y = one_hot_counts(20_000, binomial=binomial)
    weights = np.full(X.shape[0], 5.0 if binomial else 1.0)

    def no_lp(*args, **kwargs):
        raise AssertionError("the LP ran although the certificate applies")

    monkeypatch.setattr(_check, "find_separation", no_lp)
    distribution = "binomial" if binomial else "poisson"
    reg = MLERegressor(distribution=distribution).fit(X, y, sample_weight=weights)
    assert reg.mle_exists_ is True and reg.converged_
    model, theta = _model_at_fit(reg, X, y, weights / weights.sum())
    assert certify_moment_existence(model, X, y, weights / weights.sum(), theta)


def test_certificate_declines_where_the_mle_does_not_exist():
    rng = np.random.default_rng(1)
    group = (np.arange(400) % 8 == 0).astype(float)
    X = np.column_stack([rng.normal(size=400), group])
    y = rng.poisson(np.exp(0.3 + 0.4 * X[:, 0])).astype(float)
    y[group == 1] = 0.0  # the group's coefficient runs to -inf
    with pytest.warns(UnboundedLikelihoodWarning, match="zero counts"):
        reg = MLERegressor(distribution="poisson").fit(X, y)
    assert reg.mle_exists_ is False
    weights = np.full(400, 1 / 400)
    model, _ = _model_at_fit(reg, X, y, weights)
    # at the ridge-stabilised fallback (and at any finite point) the step moves the
    # group's predictions far: no certificate
    for scale in (1.0, 3.0):
        theta = model.pack(reg._raw_coef * scale, reg._raw_intercept)
        assert not certify_moment_existence(model, X, y, weights, theta)


def test_certificate_is_only_for_canonical_families():
    X, y = one_hot_counts(2_000)
    reg = MLERegressor(distribution="negative_binomial").fit(X.toarray(), y)
    weights = np.full(X.shape[0], 1 / X.shape[0])
    family, modes = reg.family_, reg._modes
    null_raw = regression_null_raw(family, modes, True, y, weights)
    model = regression_model(family, modes, True, 0.0, X, weights, null_raw, y)
    theta = model.pack(reg._raw_coef, reg._raw_intercept)
    assert not certify_moment_existence(model, X, y, weights, theta)


def test_wide_sparse_default_fit_keeps_memory_near_the_data():
    """A default Poisson fit of 40 000 x 3 000 one-hot CSR (aliased): what the issue
    found asked for a (3000, 159903) dense array (3.8 GB at 300 000 rows) in the
    existence LP.  The peak now is a few n-vectors and p-vectors past X."""
    X, y = one_hot_counts(40_000, levels=1000)
    x_bytes = X.data.nbytes + X.indices.nbytes + X.indptr.nbytes
    MLERegressor(distribution="poisson").fit(X, y)
    gc.collect()
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        reg = MLERegressor(distribution="poisson").fit(X, y)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert reg.mle_exists_ and reg.converged_
    # X is 1.6 MB; a dense p x p matrix would be 72 MB, the LP's dense rows 300 MB
    assert peak - before < 8 * x_bytes + 40 * X.shape[0] * 8, (peak - before) / x_bytes


@pytest.mark.parametrize("dense", [True, False])
def test_conjugate_gradients_solve_the_newton_system(dense, monkeypatch):
    """On the Hessian formed in one pass (61 parameters: the model forms p x p
    matrices) and by Hessian-vector passes (where it would not)."""
    X, y = one_hot_counts(3_000, levels=20)
    weights = np.full(X.shape[0], 1 / X.shape[0])
    with pytest.warns(ConvergenceWarning):  # stopped early on purpose: g is not 0
        reg = MLERegressor(distribution="poisson", max_iter=3).fit(X, y)
    model, theta = _model_at_fit(reg, X, y, weights)
    assert model.dense_matrices_fit(X)
    passes = []
    original = model.reduce_rows

    def counted(function, *args, **kwargs):
        passes.append(function.__name__)
        return original(function, *args, **kwargs)

    monkeypatch.setattr(model, "reduce_rows", counted)
    if not dense:
        monkeypatch.setattr(model, "dense_matrices_fit", lambda X: False)
    raw = model.raw_prediction(theta, X)
    _, raw_gradient = model.loss.loss_gradient(y, raw, weights)
    gradient = model.raw_vjp(theta, X, raw_gradient)
    step = _moments._newton_step(model, X, y, weights, theta, gradient)
    hessian = model.hessian(theta, X, y, weights, 0.0)
    np.testing.assert_allclose(hessian @ step, gradient, rtol=1e-7,
                               atol=1e-9 * np.abs(gradient).max())
    # dense: no pass beyond the Hessian's; else the diagonal's and one per product
    assert passes == [] if dense else (
        passes[0] == "_curvature_diagonal" and len(passes) > 2
        and set(passes[1:]) == {"_curvature_product"})


def test_aic_of_a_wide_sparse_design_counts_its_rank_when_inference_is_asked_for():
    """601 parameters on sparse X: past the dense preconditioner's limit, so the fit
    forms no Gram matrix and AIC counts every column (the two aliased dummies too);
    with inference asked for, the count is the design's rank, as on dense X, whose
    preconditioner's Gram matrix gives it for free."""
    X, y = one_hot_counts(3_000)
    assert X.shape[1] + 1 > 500
    dense = MLERegressor(distribution="poisson").fit(X.toarray(), y)
    quick = MLERegressor(distribution="poisson").fit(X, y)
    counted = MLERegressor(distribution="poisson", inference=True).fit(X, y)
    rank = np.linalg.matrix_rank(np.c_[X.toarray(), np.ones(X.shape[0])])
    assert rank <= X.shape[1] + 1 - 2   # (the blocks' sums are the intercept)
    assert dense._n_identified == rank
    assert quick._n_identified == X.shape[1] + 1
    assert counted._n_identified == dense._n_identified
    assert counted.aic_ == pytest.approx(dense.aic_, rel=1e-10)
    assert counted.bic_ == pytest.approx(dense.bic_, rel=1e-10)
    assert counted.df_model_ == dense.df_model_ == rank - 1
