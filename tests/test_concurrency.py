"""Concurrency and resources: fits in several Python threads, OpenMP thread counts,
the GIL released by the kernels, and no memory growth over many fits."""

import gc
import threading
import time
import tracemalloc
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import scipy.sparse as sp
from threadpoolctl import threadpool_limits
from tolerance import ITERATION_SLACK, assert_blas_close

from sklearn_mle import Family, MLEClassifier, MLERegressor
from sklearn_mle import _threads as _base
from sklearn_mle.families import _kernels


def make_data(n, d=4, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * np.array([1.0, 100.0, 0.01, 3.0][:d])
    binary = (X[:, 0] - X[:, 1] / 100 + rng.normal(size=n) > 0).astype(int)
    multi = np.digitize(X[:, 0] + X[:, 2] * 50 + rng.normal(size=n), [-0.7, 0.7])
    target = X @ np.array([1.0, 0.02, 50.0, -1.0][:d]) + rng.normal(
        scale=np.exp(0.3 * X[:, 0]))
    return X, binary, multi, target


def sparsify(X):
    """About 40% zeros in every column (none of them all zero)."""
    return np.where(np.abs(X) < 0.5 * X.std(axis=0), 0.0, X)


def jobs(X, binary, multi, target):
    """(estimator, X, y) for every family, unpenalised and penalised, dense and sparse."""
    return [
        (MLEClassifier(), X, binary),
        (MLEClassifier(alpha=1e-3), X, multi),
        (MLEClassifier(inference=True), X, multi),
        (MLERegressor(variance="fixed", alpha=0.1), X, target),
        (MLERegressor(), X, target),
        (MLERegressor(variance="heteroscedastic", inference=True), X, target),
        (MLEClassifier(alpha=1e-2), sp.csr_matrix(sparsify(X)), binary),
        (MLERegressor(alpha=1e-2), sp.csc_matrix(sparsify(X)), target),
    ]


def fitted_state(estimator):
    """Every fitted array/number of an estimator, for exact comparison."""
    state = {}
    for name, value in vars(estimator).items():
        if name.endswith("_") and not name.startswith("_") and name != "feature_names_in_":
            if isinstance(value, Family) or value is None:
                continue  # the fitted family object, an absent boundary note
            state[name] = np.asarray(value)
    return state


def assert_same_fit(a, b):
    """Same fit up to the rounding BLAS may add (see tolerance.py)."""
    sa, sb = fitted_state(a), fitted_state(b)
    assert sa.keys() == sb.keys()
    for name in sa:
        if name == "n_iter_":
            assert abs(int(sa[name]) - int(sb[name])) <= ITERATION_SLACK
        elif sa[name].dtype == bool or sa[name].dtype.kind in "iu":
            np.testing.assert_array_equal(sa[name], sb[name], err_msg=name)
        else:
            assert_blas_close(sa[name], sb[name], err_msg=name)


def fit(job):
    estimator, X, y = job
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return estimator.fit(X, y)


# ------------------------------------------------------------ Python threads
def test_fits_in_four_threads_equal_sequential_fits():
    data = make_data(3000)
    sequential = [fit(job) for job in jobs(*data)]
    concurrent_jobs = jobs(*data) * 2            # 16 fits, 4 at a time
    with ThreadPoolExecutor(max_workers=4) as pool:
        concurrent = list(pool.map(fit, concurrent_jobs))
    for i, estimator in enumerate(concurrent):
        assert_same_fit(estimator, sequential[i % len(sequential)])


def test_one_fitted_model_predicts_from_four_threads_at_once():
    X, binary, multi, target = make_data(20000, seed=1)
    clf = fit((MLEClassifier(alpha=1e-3), X, multi))
    reg = fit((MLERegressor(variance="heteroscedastic"), X, target))
    chunks = np.array_split(np.arange(X.shape[0]), 8)

    def predict(rows):
        return (clf.predict_proba(X[rows]), clf.predict_log_proba(X[rows]),
                *reg.predict(X[rows], return_std=True))

    sequential = [predict(rows) for rows in chunks]
    with ThreadPoolExecutor(max_workers=4) as pool:
        concurrent = list(pool.map(predict, chunks * 3))
    for i, outputs in enumerate(concurrent):
        for got, expected in zip(outputs, sequential[i % len(chunks)]):
            assert_blas_close(got, expected)


def test_kernels_release_the_gil():
    """While one thread runs a long kernel call, another thread keeps running Python
    code: a kernel that held the GIL would freeze it for the whole call."""
    n = 4_000_000
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, size=n).astype(np.float64)
    raw = rng.normal(size=(n, 1))
    weight = np.full(n, 1.0 / n)
    loss = np.empty(n)
    grad = np.empty((n, 1))

    def call_kernel():
        for _ in range(3):
            _kernels.loss_gradient(_kernels.FAMILY_BERNOULLI, y, raw, weight, loss, grad,
                                   1)

    def longest_freeze_and_call_time():
        start = time.perf_counter()
        call_kernel()
        duration = time.perf_counter() - start
        worker = threading.Thread(target=call_kernel)
        longest_freeze, ticks = 0.0, 0
        worker.start()
        last = time.perf_counter()
        while worker.is_alive():
            now = time.perf_counter()
            longest_freeze = max(longest_freeze, now - last)
            last = now
            ticks += 1
        worker.join()
        assert ticks > 1
        return longest_freeze, duration / 3

    # Holding the GIL would freeze this loop for a whole kernel call, every time; on a
    # loaded machine the scheduler alone can freeze it once, so three tries are given.
    attempts = []
    for _ in range(3):
        freeze, call = longest_freeze_and_call_time()
        attempts.append((freeze, call))
        if freeze < 0.5 * call:
            break
    else:
        raise AssertionError(f"a kernel call froze the other thread: {attempts}")


# ------------------------------------------------------------ OpenMP threads
@pytest.fixture(scope="module")
def large_data():
    # n * n_raw >= 50 000 evaluations per kernel call: the kernels run in parallel
    return make_data(60_000, seed=3)


def test_large_data_really_uses_several_openmp_threads(large_data):
    X = large_data[0]
    with threadpool_limits(2, user_api="openmp"):
        assert _base.n_threads(X.shape[0]) == 2
    with threadpool_limits(1, user_api="openmp"):
        assert _base.n_threads(X.shape[0]) == 1


@pytest.mark.parametrize("index", range(6), ids=["binary", "multiclass_alpha",
                                                 "multiclass_inference", "fixed",
                                                 "constant", "heteroscedastic"])
def test_one_and_two_openmp_threads_give_identical_fits(large_data, index):
    job = jobs(*large_data)[index]
    with threadpool_limits(1, user_api="openmp"):
        one = fit(job)
        one_outputs = _outputs(one, large_data[0])
    with threadpool_limits(2, user_api="openmp"):
        two = fit((job[0].__class__(**job[0].get_params()), job[1], job[2]))
        two_outputs = _outputs(two, large_data[0])
    assert_same_fit(one, two)
    for a, b in zip(one_outputs, two_outputs):
        assert_blas_close(a, b)


def _outputs(estimator, X):
    if hasattr(estimator, "predict_proba"):
        return estimator.predict_proba(X), estimator.predict_log_proba(X)
    return estimator.predict(X, return_std=True)


# ------------------------------------------------------------------- memory
def _rss_bytes():
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * 4096
    except OSError:  # pragma: no cover - not Linux
        return None


def test_repeated_fits_do_not_leak_memory():
    X, binary, multi, target = make_data(150, seed=4)
    X_sparse = sp.csr_matrix(sparsify(X))
    cycle = [
        (MLEClassifier(), X, binary),
        (MLEClassifier(alpha=1e-2, inference=True), X, multi),
        (MLERegressor(variance="heteroscedastic"), X, target),
        (MLERegressor(variance="fixed", inference=True), X_sparse, target),
    ]

    def one_round(k):
        estimator, X_k, y_k = cycle[k % len(cycle)]
        fitted = fit((estimator.__class__(**estimator.get_params()), X_k, y_k))
        _outputs(fitted, X_k)
        if getattr(fitted, "inference", False):
            str(fitted.summary())

    for k in range(40):                       # warm-up: caches, lazy imports, pools
        one_round(k)
    gc.collect()
    # 200 fits: resident memory (numpy buffers, Cython memoryviews, OpenMP pools)
    rss_before = _rss_bytes()
    for k in range(200):
        one_round(k)
    gc.collect()
    rss_after = _rss_bytes()
    if rss_before is not None:
        assert rss_after - rss_before < 20 * 2**20, (rss_before, rss_after)
    # 50 more fits under tracemalloc (slow): every Python and numpy allocation; a
    # leak of even one small array per fit (a few kB) would show
    tracemalloc.start()
    try:
        for k in range(8):
            one_round(k)
        gc.collect()
        traced_before, _ = tracemalloc.get_traced_memory()
        for k in range(48):
            one_round(k)
        gc.collect()
        traced_after, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert traced_after - traced_before < 100_000, (traced_before, traced_after)


def test_repeated_kernel_calls_on_fresh_arrays_do_not_leak():
    """Every kernel, called 150 times on fresh 20 000-sample arrays: a leaked
    reference to any input or output buffer would keep megabytes alive."""
    n, k = 20_000, 3
    rng = np.random.default_rng(5)

    def call_all():
        y2 = rng.integers(0, 2, size=n).astype(np.float64)
        yk = rng.integers(0, k, size=n).astype(np.float64)
        yr = rng.normal(size=n)
        z = rng.normal(size=n)
        zk = rng.normal(size=(n, k))
        z2 = np.column_stack([rng.normal(size=n), 0.1 * rng.normal(size=n)])
        w = np.full(n, 1.0 / n)
        loss = np.empty(n)
        _kernels.sigmoid(z, np.empty(n), 1)
        _kernels.log_sigmoid(z, np.empty(n), 1)
        _kernels.categorical_log_proba(zk, np.empty((n, k)), 1)
        for family, target, raw in ((_kernels.FAMILY_BERNOULLI, y2, z[:, None]),
                                    (_kernels.FAMILY_CATEGORICAL, yk, zk),
                                    (_kernels.FAMILY_GAUSSIAN_FIXED, yr, z[:, None]),
                                    (_kernels.FAMILY_GAUSSIAN, yr, z2)):
            m = raw.shape[1]
            _kernels.loss_gradient(family, target, raw, w, loss, np.empty((n, m)), 1)
            _kernels.hessian(family, target, raw, w, np.empty((n, m, m)), 1)
            _kernels.fisher_information(family, target, raw, w, np.empty((n, m, m)), 1)

    for _ in range(10):
        call_all()
    gc.collect()
    rss_before = _rss_bytes()
    for _ in range(150):
        call_all()
    gc.collect()
    rss_after = _rss_bytes()
    if rss_before is None:  # pragma: no cover - not Linux
        pytest.skip("no /proc/self/statm to read the resident memory from")
    # the inputs and outputs of one round are ~2.5 MB: 150 leaked rounds would be 375 MB
    assert rss_after - rss_before < 20 * 2**20, (rss_before, rss_after)


def _blas_threads():
    from threadpoolctl import threadpool_info
    return sorted(pool["num_threads"] for pool in threadpool_info()
                  if pool["user_api"] == "blas")


def test_overlapping_fits_share_one_blas_hold_and_restore_it():
    # From _BLAS_HOLD_MIN_CELLS on every fit holds BLAS to one thread; fits overlapping in
    # Python threads must neither release the hold under each other (their results
    # would then depend on timing) nor leave BLAS limited afterwards.
    data = make_data(15000, seed=4)
    assert data[0].size >= _base._BLAS_HOLD_MIN_CELLS
    before = _blas_threads()
    sequential = [fit(job) for job in jobs(*data)[:6]]
    assert _blas_threads() == before
    assert _base._BLAS_HOLD["count"] == 0
    with ThreadPoolExecutor(max_workers=4) as pool:
        concurrent = list(pool.map(fit, jobs(*data)[:6] * 3))
    for i, estimator in enumerate(concurrent):
        assert_same_fit(estimator, sequential[i % 6])
    assert _blas_threads() == before
    assert _base._BLAS_HOLD["count"] == 0
