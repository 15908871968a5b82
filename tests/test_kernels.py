"""Kernels against closed forms, a NumPy reference, and extreme raw predictions."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.special import expit, log_expit, logsumexp, softmax

from sklearn_mle.families import (
    BernoulliLoss,
    CategoricalLoss,
    GaussianFixedScaleLoss,
    GaussianLoss,
    _kernels,
)

HALF_LOG_2PI = 0.5 * np.log(2 * np.pi)
BERNOULLI, CATEGORICAL = _kernels.FAMILY_BERNOULLI, _kernels.FAMILY_CATEGORICAL
GAUSSIAN_FIXED, GAUSSIAN = _kernels.FAMILY_GAUSSIAN_FIXED, _kernels.FAMILY_GAUSSIAN
EXTREME = np.array([-1e300, -1e10, -750.0, -40.0, -1.0, 0.0, 1.0, 40.0, 750.0, 1e10, 1e300])


def kernel_loss_gradient(family, y, raw, w):
    """Per-sample loss (n,) and gradient (n, m) from the generic kernel entry point."""
    raw = np.ascontiguousarray(raw).reshape(len(y), -1)
    loss, grad = np.empty(raw.shape[0]), np.empty(raw.shape)
    _kernels.loss_gradient(family, y, raw, w, loss, grad, 1)
    return loss, grad


def kernel_hessian(family, y, raw, w, expected=False):
    """Per-sample observed (or expected) Hessian (n, m, m) from the kernels."""
    raw = np.ascontiguousarray(raw).reshape(len(y), -1)
    out = np.empty((raw.shape[0], raw.shape[1], raw.shape[1]))
    (_kernels.fisher_information if expected else _kernels.hessian)(family, y, raw, w,
                                                                     out, 1)
    return out


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
    loss, grad = kernel_loss_gradient(BERNOULLI, y, z, w)
    ref_loss, ref_grad, ref_hess = reference_bernoulli(y.astype(float), z.astype(float))
    rtol = 1e-12
    np.testing.assert_allclose(loss, w * ref_loss, rtol=rtol)
    np.testing.assert_allclose(grad[:, 0], w * ref_grad, rtol=rtol, atol=1e-15)
    for expected in (False, True):
        hess = kernel_hessian(BERNOULLI, y, z, w, expected)
        np.testing.assert_allclose(hess[:, 0, 0], w * ref_hess, rtol=rtol)


def test_bernoulli_closed_forms():
    one = np.ones(1)
    loss, grad = kernel_loss_gradient(BERNOULLI, one, np.zeros(1), one)
    assert loss[0] == pytest.approx(np.log(2), rel=1e-15)
    assert grad[0, 0] == pytest.approx(-0.5, rel=1e-15)
    # Confidently wrong: the gradient does not saturate (the log undoes the exp).
    loss, grad = kernel_loss_gradient(BERNOULLI, one, np.array([-30.0]), one)
    assert loss[0] == pytest.approx(30.0 + np.log1p(np.exp(-30.0)), rel=1e-15)
    assert grad[0, 0] == pytest.approx(-1.0, abs=1e-12)


def test_categorical_matches_numpy_reference():
    rng = np.random.default_rng(1)
    raw = rng.normal(scale=4, size=(100, 5))
    y = rng.integers(0, 5, size=100).astype(float)
    w = rng.uniform(0.5, 2, size=100)
    loss, grad = kernel_loss_gradient(CATEGORICAL, y, raw, w)
    ref_loss, ref_grad = reference_categorical(y, raw)
    np.testing.assert_allclose(loss, w * ref_loss, rtol=1e-12)
    np.testing.assert_allclose(grad, w[:, None] * ref_grad, rtol=1e-12, atol=1e-15)
    hess = kernel_hessian(CATEGORICAL, y, raw, w)
    np.testing.assert_array_equal(hess, kernel_hessian(CATEGORICAL, y, raw, w, True))
    np.testing.assert_array_equal(hess, hess.transpose(0, 2, 1))
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
    loss, grad = kernel_loss_gradient(CATEGORICAL, np.array([2.0]), np.zeros((1, 4)),
                                      np.ones(1))
    assert loss[0] == pytest.approx(np.log(4), rel=1e-15)
    np.testing.assert_allclose(grad[0], [0.25, 0.25, -0.75, 0.25], rtol=1e-15)


def test_gaussian_kernels_match_reference_and_closed_form():
    rng = np.random.default_rng(2)
    y = rng.normal(size=50)
    raw = np.column_stack([rng.normal(size=50), rng.normal(scale=0.5, size=50)])
    w = rng.uniform(0.5, 2, size=50)
    loss, grad = kernel_loss_gradient(GAUSSIAN, y, raw, w)
    ref_loss, ref_gmu, ref_gs = reference_gaussian(y, raw[:, 0], raw[:, 1])
    np.testing.assert_allclose(loss, w * ref_loss, rtol=1e-12)
    np.testing.assert_allclose(grad[:, 0], w * ref_gmu, rtol=1e-12)
    np.testing.assert_allclose(grad[:, 1], w * ref_gs, rtol=1e-12, atol=1e-14)
    # Standard normal density at 0: -log(1/sqrt(2 pi)).
    loss, _ = kernel_loss_gradient(GAUSSIAN, np.zeros(1), np.zeros((1, 2)), np.ones(1))
    assert loss[0] == pytest.approx(HALF_LOG_2PI, rel=1e-15)
    fixed_loss, fixed_grad = kernel_loss_gradient(GAUSSIAN_FIXED, y, raw[:, 0], w)
    np.testing.assert_allclose(fixed_loss, w * (0.5 * (y - raw[:, 0]) ** 2 + HALF_LOG_2PI),
                               rtol=1e-12)
    np.testing.assert_allclose(fixed_grad[:, 0], w * (raw[:, 0] - y), rtol=1e-12)
    for expected in (False, True):
        np.testing.assert_array_equal(
            kernel_hessian(GAUSSIAN_FIXED, y, raw[:, 0], w, expected)[:, 0, 0], w)
    fisher = kernel_hessian(GAUSSIAN, y, raw, w, expected=True)
    np.testing.assert_allclose(fisher[:, 0, 0], w * np.exp(-2 * raw[:, 1]), rtol=1e-15)
    np.testing.assert_array_equal(fisher[:, 0, 1], 0.0)
    np.testing.assert_array_equal(fisher[:, 1, 1], 2 * w)
    hess = kernel_hessian(GAUSSIAN, y, raw, w)
    np.testing.assert_array_equal(hess[:, 1, 0], hess[:, 0, 1])
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
                loss, grad = kernel_loss_gradient(BERNOULLI, y, z, ones)
                assert np.all(np.isfinite(loss)) and np.all(np.isfinite(grad))
                assert np.all(loss >= 0)
                loss, grad = kernel_loss_gradient(GAUSSIAN_FIXED, y, z, ones)
                assert np.all(np.isfinite(loss)) and np.all(np.isfinite(grad))
            raw = np.ascontiguousarray(np.column_stack([z, -z, np.zeros(n, dtype=dtype)]))
            loss, grad = kernel_loss_gradient(CATEGORICAL, np.zeros(n, dtype=dtype), raw,
                                              ones)
            assert np.all(np.isfinite(loss)) and np.all(np.isfinite(grad))
            log_p = np.empty((n, 3))
            _kernels.categorical_log_proba(raw, log_p, 1)
            assert np.all(np.isfinite(log_p))
            for mean, log_scale in ((z, np.zeros(n, dtype=dtype)), (np.zeros(n, dtype=dtype), z),
                                    (z, z), (z, -z)):
                raw2 = np.ascontiguousarray(np.column_stack([mean, log_scale]))
                loss, grad = kernel_loss_gradient(GAUSSIAN, ones, raw2, ones)
                assert np.all(np.isfinite(loss)) and np.all(np.isfinite(grad))
                for expected in (False, True):
                    hess = kernel_hessian(GAUSSIAN, ones, raw2, ones, expected)
                    assert np.all(np.isfinite(hess))


def test_bernoulli_loss_exact_at_large_margin():
    # log(1 + e^z) - z for y=1 and z=-1e300 is 1e300 exactly, not inf.
    loss, grad = kernel_loss_gradient(BERNOULLI, np.ones(1), np.array([-1e300]), np.ones(1))
    assert loss[0] == 1e300 and grad[0, 0] == -1.0


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
    loss, _ = kernel_loss_gradient(BERNOULLI, y, z.reshape(-1, 1), w)
    ref_loss, ref_grad, _ = reference_bernoulli(y, z)
    np.testing.assert_allclose(loss, ref_loss, rtol=1e-13)
    out = np.empty(11)
    _kernels.sigmoid(z, out, 1)
    np.testing.assert_allclose(out, expit(z), rtol=1e-15)
    _kernels.log_sigmoid(z, out, 1)
    np.testing.assert_allclose(out, log_expit(z), rtol=1e-14)


def _model_inputs(m, n=5, d=3):
    """X, y, weights, coef, intercept and coef_rows of a linear model with m columns."""
    return (np.ones((n, d)), np.zeros(n), np.ones(n), np.zeros((m, d)), np.zeros(m),
            np.arange(m, dtype=np.intp))


def _every_entry_point(family, m, n=5):
    """Call each kernel entry point that takes a family code, with m raw columns."""
    y, w, raw = np.zeros(n), np.ones(n), np.zeros((n, m))
    X, y, w, coef, intercept, rows = _model_inputs(m, n)
    yield lambda: _kernels.loss_gradient(family, y, raw, w, np.empty(n),
                                         np.empty((n, m)), 1)
    yield lambda: _kernels.hessian(family, y, raw, w, np.empty((n, m, m)), 1)
    yield lambda: _kernels.fisher_information(family, y, raw, w, np.empty((n, m, m)), 1)
    yield lambda: _kernels.fused_loss_gradient(X, y, w, coef, intercept, rows, family,
                                               np.empty(1), np.empty((1, m)),
                                               np.empty((1, m, X.shape[1])), 1)
    yield lambda: _kernels.fisher_grams(X, y, w, coef, intercept, rows, family,
                                        np.zeros((1, m * (m + 1) // 2, 4, 4)), 1)
    Xs, starts, d = sp.csr_matrix(X), np.array([0, n], dtype=np.intp), X.shape[1]
    yield lambda: _kernels.fused_loss_gradient_csr(
        Xs.data, Xs.indices, Xs.indptr, d, starts, y, w, coef, intercept, rows, family,
        np.empty(1), np.empty((1, m)), np.empty((1, m, d)), 1)
    yield lambda: _kernels.fused_fisher_product_csr(
        Xs.data, Xs.indices, Xs.indptr, d, starts, y, w, coef, intercept, coef, intercept,
        rows, family, np.empty((1, m)), np.empty((1, m, d)), 1)


@pytest.mark.parametrize("family", [-1, max(_kernels.FAMILY_N_RAW) + 1, 1000])
@pytest.mark.parametrize("m", [1, 2, 3])
def test_unknown_family_code_is_refused_by_every_entry_point(family, m):
    for call in _every_entry_point(family, m):
        with pytest.raises(ValueError, match=f"Unknown family code {family}"):
            call()


@pytest.mark.parametrize("family, m", [(BERNOULLI, 2), (GAUSSIAN_FIXED, 2), (GAUSSIAN, 1),
                                       (GAUSSIAN, 3), (CATEGORICAL, 1)])
def test_wrong_number_of_raw_columns_is_refused(family, m):
    for call in _every_entry_point(family, m):
        with pytest.raises(ValueError, match=f"Family code {family} takes"):
            call()


def test_every_family_code_has_a_kernel_case():
    """Each code in the table runs its own case: finite values on every entry point
    (an unlisted case in a switch would give NaN)."""
    rng = np.random.default_rng(4)
    for family, n_raw in _kernels.FAMILY_N_RAW.items():
        m = n_raw or 3
        n = 7
        y = rng.integers(1, 3, size=n).astype(float)  # in every family's domain
        raw = rng.normal(size=(n, m))
        loss, grad = kernel_loss_gradient(family, y, raw, np.ones(n))
        assert np.all(np.isfinite(loss)) and np.all(np.isfinite(grad))
        for expected in (False, True):
            assert np.all(np.isfinite(kernel_hessian(family, y, raw, np.ones(n), expected)))


def test_kernel_inputs_of_disagreeing_lengths_are_refused():
    raw, w = np.zeros((4, 1)), np.ones(4)
    with pytest.raises(ValueError, match="disagree"):
        _kernels.loss_gradient(BERNOULLI, np.zeros(3), raw, w, np.empty(4),
                               np.empty((4, 1)), 1)
    with pytest.raises(ValueError, match="disagree"):
        _kernels.hessian(BERNOULLI, np.zeros(4), raw, w, np.empty((4, 2, 2)), 1)
    X, y, w, coef, intercept, rows = _model_inputs(2)
    with pytest.raises(ValueError, match="not a row of coef"):
        _kernels.fused_loss_gradient(X, y, w, coef, intercept, np.array([0, 2]), GAUSSIAN,
                                     np.empty(1), np.empty((1, 2)), np.empty((1, 2, 3)), 1)
    with pytest.raises(ValueError, match="disagree with X"):
        _kernels.fused_loss_gradient(X, y[:4], w, coef, intercept, rows, GAUSSIAN,
                                     np.empty(1), np.empty((1, 2)), np.empty((1, 2, 3)), 1)


def test_poisson_log_factorial_table_is_gammaln_to_the_bit():
    """The Poisson NLL's constant lgamma(y + 1) comes from a table for integer counts
    below 1024 and from gammaln elsewhere: at eta = 0 (mu = 1 exactly) the NLL is
    1 + lgamma(y + 1), equal to SciPy's gammaln bit for bit on both sides of the
    table's edge and between the integers."""
    from scipy.special import gammaln

    from sklearn_mle.families import PoissonLoss

    y = np.concatenate([np.arange(0.0, 1100.0), np.arange(0.0, 1100.0) + 0.5,
                        [1023.0, 1024.0, 1e6, 2.5e9]])
    loss, gradient = PoissonLoss().loss_gradient(y, np.zeros((y.size, 1)),
                                                 np.ones(y.size))
    np.testing.assert_array_equal(loss, 1.0 + gammaln(y + 1.0))
    np.testing.assert_array_equal(gradient[:, 0], 1.0 - y)


def _csr_case(family, m, n=9000, d=40, seed=5):
    """CSR X with empty rows, unsorted and repeated column indices, targets in every
    family's domain, weights, a linear model's parameters and a direction."""
    rng = np.random.default_rng(seed)
    per_row = rng.integers(0, 5, size=n)
    indptr = np.concatenate([[0], np.cumsum(per_row)])
    indices = rng.integers(0, d, size=indptr[-1])
    data = rng.normal(size=indptr[-1])
    X = sp.csr_matrix((data, indices, indptr), shape=(n, d))
    y = rng.integers(1, 3, size=n).astype(float)
    w = rng.uniform(size=n)
    coef, intercept = rng.normal(scale=0.3, size=(m, d)), rng.normal(scale=0.3, size=m)
    vector = rng.normal(size=(m, d)), rng.normal(size=m)
    return X, y, w, coef, intercept, vector


def _csr_call(kernel, X, starts, *args, n_threads=1, index_dtype=None, dtype=None):
    """Run a CSR kernel on X's arrays (indices cast to ``index_dtype``, entries to
    ``dtype``) with row blocks ``starts``; return the per-block outputs summed."""
    data = X.data if dtype is None else X.data.astype(dtype)
    indices, indptr = X.indices, X.indptr
    if index_dtype is not None:
        indices, indptr = indices.astype(index_dtype), indptr.astype(index_dtype)
    coef = args[2]
    m, d, blocks = coef.shape[0], X.shape[1], starts.size - 1
    outputs = ([np.empty(blocks)] if kernel is _kernels.fused_loss_gradient_csr else []) \
        + [np.empty((blocks, m)), np.empty((blocks, m, d))]
    kernel(data, indices, indptr, d, starts, *args, *outputs, n_threads)
    return [out.sum(axis=0) for out in outputs]


@pytest.mark.parametrize("family", sorted(_kernels.FAMILY_N_RAW))
def test_csr_fused_pass_matches_the_dense_fused_pass(family):
    """The fused pass over CSR X gives the dense fused kernel's loss and gradients on
    X.toarray(), with int32 or int64 indices and float32 or float64 entries, and the
    same bits on one or two threads."""
    m = _kernels.FAMILY_N_RAW[family] or 3
    X, y, w, coef, intercept, _ = _csr_case(family, m)
    rows = np.arange(m, dtype=np.intp)
    n, d = X.shape
    dense = X.toarray()
    blocks = -(-n // _kernels.FUSED_BLOCK_ROWS)
    expected = [np.empty(blocks), np.empty((blocks, m)), np.empty((blocks, m, d))]
    _kernels.fused_loss_gradient(dense, y, w, coef, intercept, rows, family, *expected, 1)
    expected = [out.sum(axis=0) for out in expected]
    starts = np.array([0, 1, 2500, 2500, 6001, n], dtype=np.intp)
    args = (y, w, coef, intercept, rows, family)
    first = _csr_call(_kernels.fused_loss_gradient_csr, X, starts, *args)
    for got, want in zip(first, expected):
        np.testing.assert_allclose(got, want, rtol=1e-11, atol=1e-11 * np.abs(want).max())
    np.testing.assert_array_equal(
        np.concatenate([a.ravel() for a in first]),
        np.concatenate([a.ravel() for a in _csr_call(
            _kernels.fused_loss_gradient_csr, X, starts, *args, n_threads=2,
            index_dtype=np.int64)]))
    # (repeated indices summed first: toarray() adds them before rounding to float32)
    summed = X.copy()
    summed.sum_duplicates()
    single = _csr_call(_kernels.fused_loss_gradient_csr, summed, starts, *args,
                       dtype=np.float32)
    _kernels.fused_loss_gradient(dense.astype(np.float32), y, w, coef, intercept, rows,
                                 family, *(expected := [np.empty(blocks),
                                                        np.empty((blocks, m)),
                                                        np.empty((blocks, m, d))]), 1)
    for got, want in zip(single, [out.sum(axis=0) for out in expected]):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10 * np.abs(want).max())


@pytest.mark.parametrize("family", sorted(_kernels.FAMILY_N_RAW))
def test_csr_fisher_product_matches_the_per_sample_fisher_information(family):
    """``sum_i J_i^T F_i J_i v`` over CSR X against the per-sample Fisher information
    kernel and dense products; the same bits on one or two threads."""
    m = _kernels.FAMILY_N_RAW[family] or 3
    X, y, w, coef, intercept, (vector_coef, vector_intercept) = _csr_case(family, m)
    rows = np.arange(m, dtype=np.intp)
    dense = X.toarray()
    raw = dense @ coef.T + intercept
    fisher = kernel_hessian(family, y, raw, w, expected=True)
    product = np.einsum("ijk,ik->ij", fisher, dense @ vector_coef.T + vector_intercept)
    starts = np.array([0, 3000, X.shape[0]], dtype=np.intp)
    args = (y, w, coef, intercept, vector_coef, vector_intercept, rows, family)
    got_raw, got_coef = _csr_call(_kernels.fused_fisher_product_csr, X, starts, *args)
    np.testing.assert_allclose(got_raw, product.sum(axis=0), rtol=1e-11,
                               atol=1e-11 * np.abs(product).sum())
    np.testing.assert_allclose(got_coef, product.T @ dense, rtol=1e-11,
                               atol=1e-11 * np.abs(product).sum())
    again = _csr_call(_kernels.fused_fisher_product_csr, X, starts, *args, n_threads=2,
                      index_dtype=np.int64)
    np.testing.assert_array_equal(got_coef, again[1])
    np.testing.assert_array_equal(got_raw, again[0])


def test_csr_kernels_refuse_bad_blocks_and_outputs():
    X, y, w, coef, intercept, _ = _csr_case(_kernels.FAMILY_POISSON, 1, n=100)
    rows = np.zeros(1, dtype=np.intp)
    args = (y, w, coef, intercept, rows, _kernels.FAMILY_POISSON)
    for starts, match in (([0, 50], "cover rows"), ([0, 60, 50, 100], "not decrease"),
                          ([0], "one block")):
        with pytest.raises(ValueError, match=match):
            _csr_call(_kernels.fused_loss_gradient_csr, X, np.array(starts, dtype=np.intp),
                      *args)
    with pytest.raises(ValueError, match="wrong shape"):
        _kernels.fused_loss_gradient_csr(
            X.data, X.indices, X.indptr, X.shape[1], np.array([0, 100], dtype=np.intp),
            *args, np.empty(1), np.empty((1, 1)), np.empty((1, 1, 3)), 1)


@pytest.mark.parametrize("family", sorted(_kernels.FAMILY_N_RAW))
def test_csr_fisher_column_moments_match_the_per_sample_fisher_information(family):
    """``sum_i F_i`` and the columns of CSR X weighted by ``F_i[j, j]`` (and their
    squares) against the per-sample Fisher information kernel and dense products;
    the same bits on one or two threads."""
    m = _kernels.FAMILY_N_RAW[family] or 3
    X, y, w, coef, intercept, _ = _csr_case(family, m)
    X.sum_duplicates()   # (the squares are of stored entries)
    rows = np.arange(m, dtype=np.intp)
    dense = X.toarray()
    fisher = kernel_hessian(family, y, dense @ coef.T + intercept, w, expected=True)
    starts = np.array([0, 4000, X.shape[0]], dtype=np.intp)
    column = m - 1
    results = []
    for n_threads, index_dtype in ((1, np.int32), (2, np.int64)):
        unit, moments = np.empty((2, m, m)), np.empty((2, 2, X.shape[1]))
        _kernels.fisher_column_moments_csr(
            X.data, X.indices.astype(index_dtype), X.indptr.astype(index_dtype),
            X.shape[1], starts, y, w, coef, intercept, rows, family, column, unit,
            moments, n_threads)
        results.append((unit.sum(axis=0), moments.sum(axis=0)))
    unit, (first, second) = results[0]
    c = fisher[:, column, column]
    np.testing.assert_allclose(unit, fisher.sum(axis=0), rtol=1e-12,
                               atol=1e-12 * np.abs(fisher).sum())
    np.testing.assert_allclose(first, c @ dense, rtol=1e-11,
                               atol=1e-12 * (np.abs(c) @ np.abs(dense)).max())
    np.testing.assert_allclose(second, c @ dense**2, rtol=1e-11,
                               atol=1e-12 * (np.abs(c) @ dense**2).max())
    np.testing.assert_array_equal(results[0][0], results[1][0])
    np.testing.assert_array_equal(results[0][1], results[1][1])
