"""Fits on Dask arrays over a real dask.distributed cluster: the same optimum as in
memory, predictions lazy chunk by chunk, data larger than a worker's memory, a worker
killed mid-fit, the other schedulers, and bad input.

The ``test`` extra installs Dask and distributed (pyproject.toml), so CI runs these.
"""

import contextlib
import os
import signal
import subprocess
import sys
import time
import warnings

import numpy as np
import pytest
import scipy.sparse as sp

distributed = pytest.importorskip("distributed")
import dask  # noqa: E402
import dask.array as da  # noqa: E402
import dask.dataframe as dd  # noqa: E402
import pandas as pd  # noqa: E402
from scipy import stats  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.datasets import load_iris  # noqa: E402

from sklearn_mle import (Family, MLEClassifier, MLERegressor,  # noqa: E402
                         UnboundedLikelihoodWarning)
from sklearn_mle import ExistenceUndecidedWarning  # noqa: E402
from sklearn_mle.models import _dask as dask_model  # noqa: E402
from tolerance import assert_blas_close  # noqa: E402

#: Per-worker memory limit of the test cluster; the large fit's X is bigger.
WORKER_MEMORY = 700e6
#: The in-memory and the Dask fit agree to this relative to the largest entry.
AGREEMENT = 1e-10


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       memory_limit=WORKER_MEMORY, dashboard_address=None)
    with distributed.Client(cluster) as dask_client:
        yield dask_client
    cluster.close()


def _chunked(X, y, rows=500):
    return da.from_array(X, chunks=(rows, X.shape[1])), da.from_array(y, chunks=rows)


class StudentLocation(Family):
    """A Cauchy-like location family written in NumPy (a user's own family)."""

    name = "Cauchy (NumPy)"
    link = "identity"

    def loss_gradient(self, y, raw, sample_weight, n_threads=1):
        r = y - raw[:, 0]
        return (sample_weight * (np.log(np.pi) + np.log1p(r * r)),
                (sample_weight * -2 * r / (1 + r * r))[:, None])

    def initial_raw_prediction(self, y, sample_weight):
        return np.array([np.median(y)])

    def mean(self, raw):
        return raw[:, 0]

    def distribution(self, raw):
        return stats.cauchy(loc=raw[:, 0])


def _data(kind, n=2000, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    eta = 0.3 + X @ [0.4, -0.3, 0.2]
    if kind in ("gaussian", "gaussian_linear", "gaussian_fixed", "cauchy"):
        y = eta + np.exp(0.2 * X[:, 0]) * rng.standard_t(5 if kind == "cauchy" else 50,
                                                         size=n)
    elif kind == "student_t":
        y = eta + rng.standard_t(4, size=n)
    elif kind in ("poisson", "negative_binomial"):
        y = rng.negative_binomial(3, 3 / (3 + np.exp(eta))).astype(float)
    elif kind == "gamma":
        y = rng.gamma(2.0, np.exp(eta) / 2.0)
    elif kind in ("binomial", "binary"):
        y = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(float)
    else:  # softmax
        y = np.digitize(eta + rng.logistic(size=n), [0.0, 0.8])
    return X, y


#: The solver's tolerance of the agreement tests: at the default (1e-7) the two fits stop
#: within it of the optimum, and may stop one iteration apart where a rounding
#: difference of the chunked sums flips a stopping test (softmax: 6 against 7
#: iterations, coefficients 4e-7 apart); at 1e-10 both reach the optimum to rounding.
TIGHT = dict(tol=1e-10)

CASES = {
    "gaussian": lambda: MLERegressor(inference=True, **TIGHT),
    "gaussian_fixed": lambda: MLERegressor(variance="fixed", inference=True, **TIGHT),
    "gaussian_linear": lambda: MLERegressor(variance="heteroscedastic", inference=True,
                                            **TIGHT),
    "student_t": lambda: MLERegressor("student_t", inference=True, **TIGHT),
    "poisson": lambda: MLERegressor("poisson", inference=True, **TIGHT),
    "negative_binomial": lambda: MLERegressor("negative_binomial", inference=True,
                                              **TIGHT),
    "gamma": lambda: MLERegressor("gamma", dispersion="linear", inference=True, **TIGHT),
    "binomial": lambda: MLERegressor("binomial", inference=True, **TIGHT),
    "cauchy": lambda: MLERegressor(StudentLocation(), inference=True),
    "binary": lambda: MLEClassifier(inference=True, **TIGHT),
    "softmax": lambda: MLEClassifier(inference=True, **TIGHT),
    "softmax_ridge": lambda: MLEClassifier(alpha=1e-2, inference=True, **TIGHT),
    "gamma_ridge": lambda: MLERegressor("gamma", alpha=1e-2, inference=True, **TIGHT),
}


def _fitted_numbers(est):
    """Every fitted number the two fits must share: the summary's estimates (every
    parameter, dispersions included, compared on one scale) and standard errors, the
    likelihood attributes and the covariance."""
    table = est.summary()
    numbers = {name: np.atleast_1d(getattr(est, name)) for name in
               ("loglik_", "loglik_null_", "aic_", "bic_", "covariance_")}
    numbers["estimate"], numbers["std_err"] = table.estimate, table.std_err
    return numbers, table.names


@pytest.mark.parametrize("kind", list(CASES))
def test_every_family_fits_on_the_cluster_as_in_memory(client, kind):
    X, y = _data(kind.removesuffix("_ridge"))
    in_memory = CASES[kind]().fit(X, y)
    on_dask = CASES[kind]().fit(*_chunked(X, y))
    expected, names = _fitted_numbers(in_memory)
    actual, dask_names = _fitted_numbers(on_dask)
    assert dask_names == names and actual.keys() == expected.keys()
    for name in expected:
        assert_blas_close(actual[name], expected[name], rtol=AGREEMENT, err_msg=name)
    assert on_dask.mle_exists_ is True and in_memory.mle_exists_ is True


# ------------------------------------------------------------- the existence check
@pytest.mark.parametrize("kind", ["poisson", "binary"])
def test_a_converged_fit_checks_existence_in_one_round_trip(client, kind, monkeypatch):
    """Past the solver's passes, a default fit whose MLE exists makes one: the
    classifier's margin growth (from the solver's Hessian) or the moment certificate's
    terms, where the Newton step is 0 (a fit converged to rounding), else three
    whatever the conjugate-gradient iterations (the terms, the Hessian, the step's
    largest change); ``loglik_`` is the objective's, with no pass."""
    X, y = _data(kind, n=4000)
    passes = []
    original = dask_model.DaskLinearModel.map_reduce

    def recorded(self, method, *args, **kwargs):
        passes.append(method if isinstance(method, str) else method.__name__)
        return original(self, method, *args, **kwargs)

    monkeypatch.setattr(dask_model.DaskLinearModel, "map_reduce", recorded)
    estimator = MLERegressor("poisson") if kind == "poisson" else MLEClassifier()
    estimator.fit(*_chunked(X, y))
    assert estimator.mle_exists_ is True and estimator.converged_
    if kind == "binary":
        check = passes[passes.index("_largest_margin_growth"):]
        assert check == ["_largest_margin_growth"]
    else:
        check = passes[passes.index("_certificate_terms"):]
        assert check in (["_certificate_terms"],
                         ["_certificate_terms", "hessian", "_largest_change"])
    assert not {"total_nll", "_curvature_product"} & set(passes)


def _unbounded_cases():
    """Data whose MLE does not exist, one per way (the in-memory tests' examples)."""
    X, y = load_iris(return_X_y=True)
    yield "separable_binary", MLEClassifier(), X, (y == 0).astype(int)
    yield "separable_multiclass", MLEClassifier(), X, y
    rng = np.random.default_rng(0)
    counts = rng.normal(size=(300, 2))
    group = (np.arange(300) < 40).astype(float)
    y = rng.poisson(np.exp(0.5 + 0.3 * counts[:, 0])).astype(float)
    y[group == 1] = 0.0
    yield ("poisson_zero_group", MLERegressor("poisson"), np.column_stack([counts, group]),
           y)
    X = rng.normal(size=(50, 3))
    yield "gaussian_exact_fit", MLERegressor(), X, X @ [1.0, 2.0, 3.0] + 4.0
    X = np.random.default_rng(5).normal(size=(50, 2))
    y = 0.2 + X @ [0.5, -0.3]
    y[40:] += np.random.default_rng(5).normal(size=10)
    yield "student_t_partial_collapse", MLERegressor("student_t"), X, y


#: Cases whose unpenalised fits run off for hundreds of evaluations (837 and 881 in
#: memory, ~50 ms each as a graph on the cluster): fitted on the synchronous scheduler,
#: which runs the same chunk tasks and sums (bit for bit the cluster's, see
#: test_the_synchronous_and_threaded_schedulers_give_the_same_fit).
_MANY_EVALUATIONS = {"gaussian_exact_fit", "student_t_partial_collapse"}


#: A collapsing spread's fallback value is flat under the fallback's ridge: in memory,
#: y perturbed by 1e-16 relative moves the Student-t's scale_ (4.2e-7) by up to 1.9e-8
#: relative and df_ by 4e-10; the Dask fit is compared to within that (and so is
#: the log-likelihood of a fit with a collapsing scale).
COLLAPSED_SPREAD = 1e-7


def _fit_recording(estimator, X, y):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        estimator.fit(X, y)
    return estimator, [(w.category, str(w.message)) for w in caught]


@pytest.mark.parametrize("case", [name for name, *_ in _unbounded_cases()])
def test_an_mle_that_does_not_exist_is_reported_as_in_memory(client, case):
    _, estimator, X, y = next(c for c in _unbounded_cases() if c[0] == case)
    in_memory, expected = _fit_recording(clone(estimator), X, y)
    rows = -(-y.size // 3)
    scheduler = "synchronous" if case in _MANY_EVALUATIONS else None
    with dask.config.set(scheduler=scheduler) if scheduler else contextlib.nullcontext():
        on_dask, caught = _fit_recording(clone(estimator), *_chunked(X, y, rows))
    assert in_memory.mle_exists_ is False and on_dask.mle_exists_ is False
    assert [category for category, _ in expected] == [UnboundedLikelihoodWarning]
    assert caught == expected  # the same warning, word for word
    for name in ("coef_", "intercept_", "separated_samples_", "scale_", "df_"):
        if hasattr(in_memory, name):
            assert_blas_close(np.asarray(getattr(on_dask, name), dtype=float),
                              np.asarray(getattr(in_memory, name), dtype=float),
                              rtol=COLLAPSED_SPREAD if name in ("scale_", "df_")
                              else AGREEMENT, err_msg=name)
    # (a collapse's log-likelihood runs with log scale_: 40 exact fits x 1.9e-8)
    assert on_dask.loglik_ == pytest.approx(
        in_memory.loglik_, rel=COLLAPSED_SPREAD if hasattr(in_memory, "scale_")
        else AGREEMENT)


def test_a_check_that_needs_more_rows_than_the_bound_says_it_is_undecided(
        client, monkeypatch):
    X, y = load_iris(return_X_y=True)
    monkeypatch.setattr(dask_model, "MAX_CLIENT_ROWS", 10)  # the LP needs 150 rows
    with pytest.warns(ExistenceUndecidedWarning, match="rows of X on the "
                                                       "client, more than the 10 "):
        clf = MLEClassifier().fit(*_chunked(X, y, 50))
    assert clf.mle_exists_ is None


def test_sample_weight_and_a_dataframe_with_feature_names(client):
    X, y = _data("poisson")
    w = np.random.default_rng(1).uniform(0.5, 2.0, size=y.size)
    frame = pd.DataFrame(X, columns=["age", "dose", "weight"])
    in_memory = MLERegressor("poisson", inference=True).fit(frame, y, sample_weight=w)
    frames = dd.from_pandas(frame, npartitions=4)
    on_dask = MLERegressor("poisson", inference=True).fit(
        frames, dd.from_pandas(pd.Series(y, name="count"), npartitions=4),
        sample_weight=da.from_array(w, chunks=500))
    assert list(on_dask.feature_names_in_) == ["age", "dose", "weight"]
    assert on_dask.summary().names == in_memory.summary().names
    assert_blas_close(on_dask.coef_se_, in_memory.coef_se_, rtol=AGREEMENT)
    with warnings.catch_warnings():
        warnings.simplefilter("error")   # (no "X does not have valid feature names")
        predicted = on_dask.predict(frames).compute()
    assert_blas_close(predicted, in_memory.predict(frame), rtol=AGREEMENT)
    with pytest.raises(ValueError, match="feature names"):   # as in memory
        on_dask.predict(frames[["dose", "age", "weight"]])


def test_sparse_csr_chunks_fit_as_the_sparse_matrix_in_memory(client):
    X, y = _data("poisson")
    X[np.abs(X) < 0.8] = 0.0
    sparse_chunks = da.from_array(X, chunks=(500, 3)).map_blocks(
        sp.csr_matrix, meta=sp.csr_matrix((0, 0)))
    in_memory = MLERegressor("poisson", inference=True).fit(sp.csr_matrix(X), y)
    on_dask = MLERegressor("poisson", inference=True).fit(sparse_chunks, y)
    assert_blas_close(on_dask.coef_, in_memory.coef_, rtol=AGREEMENT)
    assert_blas_close(on_dask.coef_se_, in_memory.coef_se_, rtol=AGREEMENT)


def test_ten_thousand_features_take_the_scaling_preconditioner(client):
    rng = np.random.default_rng(2)
    X = sp.random(2000, 10_000, density=2e-3, format="csr", random_state=rng)
    y = (rng.random(2000) < 1 / (1 + np.exp(-X @ rng.normal(size=10_000)))).astype(int)
    chunks = da.from_array(X.toarray(), chunks=(500, 10_000)).map_blocks(
        sp.csr_matrix, meta=sp.csr_matrix((0, 0)))
    in_memory = MLEClassifier(alpha=1e-3).fit(X, y)
    on_dask = MLEClassifier(alpha=1e-3).fit(chunks, y)
    assert on_dask.coef_.shape == (1, 10_000)
    assert_blas_close(on_dask.coef_, in_memory.coef_, rtol=AGREEMENT)
    assert on_dask.loglik_ == pytest.approx(in_memory.loglik_, rel=AGREEMENT)


def test_predictions_on_dask_are_lazy_chunk_by_chunk(client):
    X, y = _data("gaussian_linear")
    reg = MLERegressor(variance="heteroscedastic").fit(X, y)
    Xd, yd = _chunked(X, y)
    mean, std = reg.predict(Xd, return_std=True)
    assert isinstance(mean, da.Array) and mean.chunks == yd.chunks
    np.testing.assert_array_equal(mean.compute(), reg.predict(X))
    np.testing.assert_array_equal(std.compute(), reg.predict(X, return_std=True)[1])
    interval = reg.predict_interval(Xd, coverage=0.8)
    assert isinstance(interval, da.Array)
    np.testing.assert_array_equal(interval.compute(), reg.predict_interval(X, 0.8))
    parameters = reg.predict_dist(Xd)
    frozen = reg.predict_dist(X)
    assert parameters.keys() == frozen.kwds.keys()
    for name, value in parameters.items():
        np.testing.assert_array_equal(value.compute(), frozen.kwds[name])
    per_sample = reg.log_likelihood(Xd, yd, per_sample=True)
    assert isinstance(per_sample, da.Array)
    np.testing.assert_array_equal(per_sample.compute(),
                                  reg.log_likelihood(X, y, per_sample=True))
    with pytest.raises(ValueError, match="per_sample=True"):
        reg.log_likelihood(Xd, yd)
    X, y = _data("softmax")
    clf = MLEClassifier().fit(X, y)
    Xd = da.from_array(X, chunks=(500, 3))
    np.testing.assert_array_equal(clf.predict_proba(Xd).compute(), clf.predict_proba(X))
    np.testing.assert_array_equal(clf.predict(Xd).compute(), clf.predict(X))


@pytest.mark.parametrize("scheduler", ["synchronous", "threads"])
def test_the_synchronous_and_threaded_schedulers_give_the_same_fit(client, scheduler):
    X, y = _data("gamma")
    on_cluster = MLERegressor("gamma", inference=True).fit(*_chunked(X, y))
    with dask.config.set(scheduler=scheduler):
        local = MLERegressor("gamma", inference=True).fit(*_chunked(X, y))
    # the same chunks summed in the same order: bit for bit
    np.testing.assert_array_equal(local.coef_, on_cluster.coef_)
    np.testing.assert_array_equal(local.covariance_, on_cluster.covariance_)


def test_grid_search_under_the_dask_joblib_backend(client):
    import joblib
    from sklearn.model_selection import GridSearchCV

    X, y = _data("poisson", n=600)
    grid = {"alpha": [1e-3, 1e-1], "distribution": ["poisson", "negative_binomial"]}
    sequential = GridSearchCV(MLERegressor(), grid, cv=3).fit(X, y)
    with joblib.parallel_backend("dask"):
        parallel = GridSearchCV(MLERegressor(), grid, cv=3).fit(X, y)
    assert parallel.best_params_ == sequential.best_params_
    np.testing.assert_allclose(parallel.cv_results_["mean_test_score"],
                               sequential.cv_results_["mean_test_score"], rtol=1e-12)


# --------------------------------------------------------------------------- bad input
def test_unknown_chunk_sizes_are_refused_with_the_fix(client):
    X, y = _chunked(*_data("poisson"))
    keep = X[:, 0] > -10  # every row, but Dask cannot know how many
    with pytest.raises(ValueError, match="unknown chunk sizes.*compute_chunk_sizes"):
        MLERegressor("poisson").fit(X[keep], y[keep])


def test_chunked_columns_are_rechunked_to_whole_rows(client):
    X, y = _data("poisson")
    whole = MLERegressor("poisson").fit(*_chunked(X, y))
    split = MLERegressor("poisson").fit(da.from_array(X, chunks=(500, 2)),
                                        da.from_array(y, chunks=500))
    np.testing.assert_array_equal(split.coef_, whole.coef_)


def test_nan_in_one_chunk_names_its_rows(client):
    X, y = _data("poisson")
    X[1234, 1] = np.nan
    with pytest.raises(ValueError, match=r"NaN or infinity: row chunk 2 \(rows 1000 to "
                                         r"1499\)"):
        MLERegressor("poisson").fit(*_chunked(X, y))


def test_non_finite_x_is_caught_in_the_first_pass_on_every_path(client):
    """The check runs in the fit's first pass: the Gram matrix started with the input
    (no sample weights), the Gram pass with sample weights (a NaN in a row of weight
    0, which the diagonal does not see), and the synchronous scheduler's graph."""
    X, y = _data("poisson")
    X[1234, 1] = np.inf
    message = r"NaN or infinity: row chunk 2 \(rows 1000 to 1499\)"
    with pytest.raises(ValueError, match=message):
        MLERegressor("poisson").fit(*_chunked(X, y))
    X[1234, 1] = np.nan
    w = np.ones(y.size)
    w[1234] = 0.0
    with pytest.raises(ValueError, match=message):
        MLERegressor("poisson").fit(*_chunked(X, y), sample_weight=w)
    with dask.config.set(scheduler="synchronous"), pytest.raises(ValueError,
                                                                 match=message):
        MLERegressor("poisson").fit(*_chunked(X, y))


def test_finite_columns_whose_squares_overflow_get_the_in_memory_error(client):
    X, y = _data("poisson")
    X[:, 2] *= 1e160   # finite, but the Gram diagonal is not: not called NaN
    with pytest.raises(ValueError) as in_memory:
        MLERegressor("poisson").fit(X, y)
    with pytest.raises(ValueError) as on_dask:
        MLERegressor("poisson").fit(*_chunked(X, y))
    assert str(on_dask.value) == str(in_memory.value)
    assert "NaN" not in str(on_dask.value)


def test_a_default_fit_makes_one_round_trip_per_pass_it_needs(client, monkeypatch):
    """Round trips to the cluster of a default fit whose y is a Dask array: y to the
    client (with the Gram matrix started beside it), the Gram matrix taken, one per
    evaluation, the Hessian refresh and the existence check; no check pass of its
    own, and y and the unit weights are not sent back to the workers."""
    X, y = _data("binary", n=4000)
    trips, evaluations, sent, depth = [], [], [], [0]
    for name in ("get", "gather"):
        original = getattr(distributed.Client, name)

        def counted(self, *args, _original=original, _name=name, **kwargs):
            if not depth[0]:   # (a get's own gather is part of its round trip)
                trips.append(_name)
            depth[0] += 1
            try:
                return _original(self, *args, **kwargs)
            finally:
                depth[0] -= 1
        monkeypatch.setattr(distributed.Client, name, counted)
    original_pass = dask_model.DaskLinearModel.nll_gradient
    original_send = dask_model.DaskLinearModel._persisted

    def counted_pass(self, *args, **kwargs):
        evaluations.append(1)
        return original_pass(self, *args, **kwargs)

    def recorded_send(self, vector, design):
        cached = original_send(self, vector, design)
        sent.append(cached[2] is not None and not any(
            cached[2] is array for _, array in design._copies)
            and not cached[2].name.startswith("astype"))
        return cached
    monkeypatch.setattr(dask_model.DaskLinearModel, "nll_gradient", counted_pass)
    monkeypatch.setattr(dask_model.DaskLinearModel, "_persisted", recorded_send)
    clf = MLEClassifier().fit(*_chunked(X, y))
    assert clf.mle_exists_ is True and clf.converged_
    assert len(trips) == len(evaluations) + 4
    assert sent and not any(sent)


def test_a_target_outside_the_domain_in_one_chunk(client):
    X, y = _data("poisson")
    y[1700] = -1.0
    with pytest.raises(ValueError, match="non-negative"):
        MLERegressor("poisson").fit(*_chunked(X, y))


def test_mismatched_row_chunks_of_x_and_y(client):
    X, y = _data("poisson")
    with pytest.raises(ValueError, match="different row chunks"):
        MLERegressor("poisson").fit(da.from_array(X, chunks=(500, 3)),
                                    da.from_array(y, chunks=400))


def test_options_that_need_rows_on_the_client_are_refused(client):
    X, y = _chunked(*_data("poisson"))
    with pytest.raises(ValueError, match="offset is not supported with Dask"):
        MLERegressor("poisson").fit(X, y, offset=np.zeros(2000))
    with pytest.raises(ValueError, match="'hc1' is not supported with Dask"):
        MLERegressor("poisson", inference="hc1").fit(X, y)


def test_importing_the_package_does_not_import_dask(tmp_path):
    # from an empty directory: the package the tests import (the installed one in CI,
    # whose compiled kernels a clean source tree does not have)
    code = "import sys, sklearn_mle; print('dask' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=tmp_path)
    assert out.stdout.strip() == "False"


# ----------------------------------------------------------- the cluster under strain
def test_chunks_are_balanced_across_workers_by_rows_and_threads():
    """5 chunks on one worker and 3 on the other: one moves, the fewest rows for
    each worker's threads; a chunk no live worker holds is left where Dask puts it."""
    holders = [("a",)] * 5 + [("b",)] * 3
    targets = dask_model._balanced_targets(holders, [10] * 8, {"a": 1, "b": 1})
    assert targets == ["a"] * 4 + ["b"] * 4
    assert dask_model._balanced_targets(holders, [10] * 8, {"a": 1, "b": 3}) == (
        ["a", "a", "b", "b", "b", "b", "b", "b"])
    assert dask_model._balanced_targets([("a", "b"), ("gone",)], [10, 10],
                                        {"a": 1, "b": 1}) == ["a", None]


def test_chunks_on_one_worker_are_spread_and_give_the_same_bits(client):
    """X persisted on one worker only: the fit's chunk tasks run on both (half the
    chunks copied to the other once per fit, realigned) and the coefficients are
    the bits of the fit whose chunks sit on the other worker, and the in-memory
    fit's to 1e-10."""
    X, y = _data("poisson", n=8000)
    workers = sorted(client.scheduler_info()["workers"])
    fits = []
    for worker in workers:
        Xd, yd = (client.persist(part, workers=[worker]) for part in _chunked(X, y))
        distributed.wait([Xd, yd])
        with distributed.get_task_stream(client) as stream:
            fits.append(MLERegressor("poisson", **TIGHT).fit(Xd, yd))
        ran_on = {task["worker"] for task in stream.data
                  if task["key"].startswith("_on_chunk")}
        assert ran_on == set(workers)
    assert fits[0].coef_.tobytes() == fits[1].coef_.tobytes()
    expected = MLERegressor("poisson", **TIGHT).fit(X, y)
    assert_blas_close(fits[0].coef_, expected.coef_, rtol=AGREEMENT)


def test_data_larger_than_a_worker_memory_fit_to_the_chunkwise_optimum(client):
    n, d, rows = 2_000_000, 50, 100_000
    random = da.random.RandomState(18)
    X = random.normal(size=(n, d), chunks=(rows, d)) / 10
    beta = np.linspace(-1, 1, d)
    y = random.poisson(da.exp(0.2 + (X * beta).sum(axis=1)), chunks=rows)
    assert X.nbytes > WORKER_MEMORY  # 800 MB against 700 MB per worker
    reg = MLERegressor("poisson", tol=1e-8).fit(X, y)
    # the reference, from Dask's own array operations: the gradient of the mean NLL
    # and the Newton step at the fit are zero to the optimiser's precision
    Xp = X.persist()
    mu = da.exp(reg.intercept_ + (Xp * reg.coef_).sum(axis=1))
    residual = (mu - y) / n
    gradient, hessian = dask.compute(Xp.T @ residual,
                                     (Xp * mu[:, None]).T @ Xp / n)
    step = np.linalg.solve(hessian, gradient)
    assert np.max(np.abs(step)) < 1e-6
    # and near the truth (standard errors about 0.007 here)
    np.testing.assert_allclose(reg.coef_, beta, atol=0.05)


def test_a_worker_killed_mid_fit_gives_the_right_answer_or_a_clear_error(client,
                                                                         monkeypatch):
    X, y = _data("poisson", n=40_000)
    expected = MLERegressor("poisson").fit(X, y)
    pids = list(client.run(os.getpid).values())
    passes = []
    original = dask_model.DaskLinearModel.nll_gradient

    def killing_pass(self, *args, **kwargs):
        passes.append(1)
        if len(passes) == 3:
            os.kill(pids[0], signal.SIGKILL)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(dask_model.DaskLinearModel, "nll_gradient", killing_pass)
    try:
        reg = MLERegressor("poisson").fit(*_chunked(X, y, rows=4000))
    except distributed.KilledWorker as error:  # a clear error, never a wrong answer
        print(f"killed worker: clear error {error!r}")
        assert "worker" in str(error).lower()
    else:
        assert len(passes) > 3
        print(f"killed worker: completed after {len(passes)} passes, max rel diff "
              f"{np.max(np.abs(reg.coef_ - expected.coef_) / np.abs(expected.coef_)):.2e}")
        assert_blas_close(reg.coef_, expected.coef_, rtol=AGREEMENT)
    client.wait_for_workers(2, timeout=60)
    assert time.time()  # the cluster is whole again for any later test


def test_a_network_on_dask_input_is_refused_with_the_reason():
    import dask.array as da
    X = da.from_array(np.random.default_rng(0).normal(size=(40, 2)), chunks=(20, 2))
    y = da.from_array(np.arange(40) % 2, chunks=20)
    with pytest.raises(ValueError, match="network is fitted in memory only"):
        MLEClassifier(hidden_layer_sizes=(3,)).fit(X, y)
