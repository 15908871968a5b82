"""Adversarial inputs: each gives the right model or a clear ValueError, never a crash,
a NaN or a numerical warning.

Unscaled and degenerate columns, rare classes, extreme values at predict time, every
numpy dtype and memory layout, every scipy.sparse format, read-only memmaps, pandas,
pickling and a one-iteration budget.
"""

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning

from sklearn_mle import MLEClassifier, MLERegressor, StudentT, UnboundedLikelihoodWarning

TOL = 1e-10


def make_data(n=200, d=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    binary = (X[:, 0] - X[:, 1] + rng.normal(size=n) > 0).astype(int)
    multi = np.digitize(X[:, 0] + 0.5 * X[:, 2] + rng.normal(size=n), [-0.5, 0.5])
    target = X @ np.arange(1.0, d + 1) + 1.0 + rng.normal(scale=np.exp(0.3 * X[:, 0]))
    return X, binary, multi, target


X, Y_BINARY, Y_MULTI, Y_REAL = make_data()

ESTIMATORS = {
    "binary": (MLEClassifier(tol=TOL), Y_BINARY),
    "binary_alpha": (MLEClassifier(alpha=0.05, tol=TOL), Y_BINARY),
    "multiclass": (MLEClassifier(tol=TOL), Y_MULTI),
    "multiclass_alpha": (MLEClassifier(alpha=0.05, tol=TOL), Y_MULTI),
    "fixed": (MLERegressor(variance="fixed", tol=TOL), Y_REAL),
    "constant": (MLERegressor(variance="constant", tol=TOL), Y_REAL),
    "heteroscedastic": (MLERegressor(variance="heteroscedastic", tol=TOL), Y_REAL),
}
ALPHA_ZERO = [name for name in ESTIMATORS if not name.endswith("_alpha")]


def outputs(estimator, X):
    if hasattr(estimator, "predict_proba"):
        return estimator.predict_proba(X)
    mean, std = estimator.predict(X, return_std=True)
    return np.column_stack([mean, std])


def fit_strict(estimator, X, y, **kwargs):
    """Fit with every warning (numerical, convergence, unbounded) turned into an error."""
    with warnings.catch_warnings(), np.errstate(over="raise", divide="raise",
                                                invalid="raise"):
        warnings.simplefilter("error")
        return clone(estimator).fit(X, y, **kwargs)


@pytest.fixture(scope="module")
def references():
    return {name: fit_strict(est, X, y) for name, (est, y) in ESTIMATORS.items()}


# ------------------------------------------------------------ feature scales
@pytest.mark.parametrize("name", ALPHA_ZERO)
@pytest.mark.parametrize("scales", [
    [1e-12, 1.0, 1.0], [1e12, 1.0, 1.0], [1e-12, 1e12, 1.0], [1e12, 1e-12, 1e6],
    [1e-6, 1e-9, 1e-12], [1e6, 1e9, 1e12],
])
def test_feature_scales_from_1e_minus_12_to_1e12(references, name, scales):
    """At alpha=0 the fit is invariant to column units: the same predictions on raw
    columns spanning 24 orders of magnitude, with no warning."""
    estimator, y = ESTIMATORS[name]
    scales = np.asarray(scales)
    fitted = fit_strict(estimator, X * scales, y)
    np.testing.assert_allclose(outputs(fitted, X * scales), outputs(references[name], X),
                               rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(fitted.coef_ * scales, references[name].coef_,
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["binary_alpha", "multiclass_alpha"])
def test_unscaled_columns_with_penalty_converge(name):
    estimator, y = ESTIMATORS[name]
    scales = np.array([1e-12, 1e12, 1.0])
    fitted = fit_strict(estimator, X * scales, y)
    proba = fitted.predict_proba(X * scales)
    assert np.all(np.isfinite(proba))
    # the penalty makes the tiny-unit column's coefficient the one that shrinks most
    assert np.all(np.isfinite(fitted.coef_))


# --------------------------------------------- duplicated and constant columns
@pytest.mark.parametrize("name", ALPHA_ZERO)
@pytest.mark.parametrize("extra", ["duplicate", "scaled_duplicate", "constant", "zeros",
                                   "all"])
def test_duplicated_and_constant_columns_at_alpha_zero(references, name, extra):
    """Aliased columns leave the predictions of the fit without them (no LinAlgError)."""
    estimator, y = ESTIMATORS[name]
    n = X.shape[0]
    columns = {
        "duplicate": [X[:, 0]],
        "scaled_duplicate": [-3.0 * X[:, 1]],
        "constant": [np.full(n, 5.0)],
        "zeros": [np.zeros(n)],
        "all": [X[:, 0], X[:, 0], -3.0 * X[:, 1], np.full(n, 5.0), np.zeros(n),
                X[:, 0] + X[:, 2]],
    }[extra]
    X_extra = np.column_stack([X, *columns])
    fitted = fit_strict(estimator, X_extra, y)
    np.testing.assert_allclose(outputs(fitted, X_extra), outputs(references[name], X),
                               rtol=1e-6, atol=1e-7)
    assert np.all(np.isfinite(fitted.coef_))


@pytest.mark.parametrize("name", ["constant", "binary", "multiclass"])
def test_aliased_columns_with_inference_give_nan_standard_errors_not_errors(name):
    estimator, y = ESTIMATORS[name]
    X_extra = np.column_stack([X, X[:, 0], np.ones(X.shape[0])])
    fitted = fit_strict(clone(estimator).set_params(inference=True), X_extra, y)
    se = np.atleast_2d(fitted.coef_se_)
    assert np.all(np.isnan(se[:, [0, 3, 4]]))          # aliased: no standard error
    assert np.all(np.isfinite(se[-1, [1, 2]]) & (se[-1, [1, 2]] > 0))
    fitted.summary()


@pytest.mark.parametrize("alpha", [0.01, 1.0])
def test_duplicated_column_with_penalty_splits_the_coefficient_equally(alpha):
    X_dup = np.column_stack([X, X[:, 0]])
    for estimator, y in [(MLEClassifier(alpha=alpha, tol=TOL), Y_BINARY),
                         (MLEClassifier(alpha=alpha, tol=TOL), Y_MULTI),
                         (MLERegressor(alpha=alpha, tol=TOL), Y_REAL)]:
        fitted = fit_strict(estimator, X_dup, y)
        coef = np.atleast_2d(fitted.coef_)
        np.testing.assert_allclose(coef[:, 0], coef[:, 3], rtol=1e-6, atol=1e-9)


def test_all_constant_features_give_the_intercept_only_model():
    n = X.shape[0]
    ones = np.ones((n, 2))
    clf = fit_strict(MLEClassifier(tol=TOL), ones, Y_MULTI)
    np.testing.assert_allclose(clf.predict_proba(ones[:1])[0],
                               np.bincount(Y_MULTI) / n, rtol=1e-8)
    reg = fit_strict(MLERegressor(variance="heteroscedastic", tol=TOL), np.zeros((n, 2)),
                     Y_REAL)
    mean, std = reg.predict(np.ones((1, 2)), return_std=True)
    assert mean[0] == pytest.approx(Y_REAL.mean(), rel=1e-8)
    assert std[0] == pytest.approx(Y_REAL.std(), rel=1e-6)


# ------------------------------------------------------------- rare classes
@pytest.mark.parametrize("n_rare", [1, 2, 5])
@pytest.mark.parametrize("alpha", [0.0, 1e-2])
def test_extreme_class_imbalance(n_rare, alpha):
    """A handful of positives among 2000 samples: the fitted mean probability equals
    the class frequency (the intercept's score equation), nothing is NaN."""
    rng = np.random.default_rng(n_rare)
    X_big = rng.normal(size=(2000, 3))
    y = np.zeros(2000, dtype=int)
    # rare samples inside the bulk, so that they are not separable at alpha=0
    rare = np.argsort(np.linalg.norm(X_big, axis=1))[:n_rare]
    y[rare] = 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clf = MLEClassifier(alpha=alpha, tol=TOL).fit(X_big, y)
    assert clf.mle_exists_
    proba = clf.predict_proba(X_big)
    assert np.all(np.isfinite(proba)) and np.all(np.isfinite(clf.coef_))
    assert proba[:, 1].mean() == pytest.approx(n_rare / 2000, rel=1e-6)
    assert clf.predict(X_big).tolist().count(1) <= n_rare


def test_one_sample_class_inside_the_others():
    """A class with one sample in the middle of the data: the MLE exists."""
    y = Y_MULTI.copy()
    centre = np.argmin(np.linalg.norm(X, axis=1))
    y[centre] = 7
    for alpha in (0.0, 0.01):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            clf = MLEClassifier(alpha=alpha, tol=TOL).fit(X, y)
        assert list(clf.classes_) == [0, 1, 2, 7]
        proba = clf.predict_proba(X)
        assert np.all(np.isfinite(proba))
        assert proba[:, 3].sum() == pytest.approx(1.0, rel=1e-6)  # score equation


def test_one_sample_class_on_the_outside_is_separated():
    """A one-sample class at the edge of the data is separable: at alpha=0 a clear
    UnboundedLikelihoodWarning and a finite model; with alpha>0 an ordinary fit."""
    y = Y_MULTI.copy()
    X_out = X.copy()
    X_out[0] = [8.0, 8.0, 8.0]
    y[0] = 7
    with pytest.warns(UnboundedLikelihoodWarning, match="does not exist"):
        clf = MLEClassifier().fit(X_out, y)
    assert not clf.mle_exists_
    assert np.all(np.isfinite(clf.coef_)) and np.all(np.isfinite(clf.predict_proba(X_out)))
    assert clf.predict(X_out[:1])[0] == 7
    penalised = fit_strict(MLEClassifier(alpha=0.01), X_out, y)
    assert penalised.mle_exists_
    assert np.all(np.isfinite(penalised.predict_proba(X_out)))


def test_class_present_only_in_zero_weight_rows_gets_zero_probability():
    y = Y_MULTI.copy()
    y[:3] = 9
    w = np.ones(y.size)
    w[:3] = 0.0
    clf = fit_strict(MLEClassifier(alpha=0.1), X, y, sample_weight=w)
    proba = clf.predict_proba(X)
    assert np.all(np.isfinite(proba))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-12)
    assert proba[:, 3].max() < 1e-6


# ---------------------------------------------------------- far-out predict
@pytest.mark.parametrize("name", sorted(ESTIMATORS))
@pytest.mark.parametrize("factor", [1e3, 1e8, 1e50, 1e150, 1e300])
def test_far_out_x_at_predict_time_raises_no_numerical_warning(references, name, factor):
    fitted = references[name]
    X_far = np.vstack([X[:10] * factor, -X[:10] * factor])
    with warnings.catch_warnings(), np.errstate(over="raise", divide="raise",
                                                invalid="raise"):
        warnings.simplefilter("error")
        prediction = fitted.predict(X_far)
        if hasattr(fitted, "predict_proba"):
            proba = fitted.predict_proba(X_far)
            log_proba = fitted.predict_log_proba(X_far)
            fitted.decision_function(X_far)
        else:
            mean, _ = fitted.predict(X_far, return_std=True)
    if hasattr(fitted, "predict_proba"):
        assert set(prediction) <= set(fitted.classes_)
        assert np.all(np.isfinite(proba)) and np.all(np.isfinite(log_proba))
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=0, atol=1e-12)
        assert np.all(log_proba <= 0)
        # log-probabilities come from log-sum-exp: far below log(DBL_MIN), not -inf
        if factor >= 1e8:
            assert log_proba.min() < -800
        np.testing.assert_array_equal(np.argmax(log_proba, axis=1),
                                      np.searchsorted(fitted.classes_, prediction))
    else:
        assert np.all(np.isfinite(prediction)) and np.all(np.isfinite(mean))


@pytest.mark.parametrize("name", ["constant", "fixed"])
def test_far_out_regressor_log_likelihood_and_interval_finite(references, name):
    fitted = references[name]
    X_far = X[:10] * 1e100
    y_far = fitted.predict(X_far) + 1.0
    with warnings.catch_warnings(), np.errstate(over="raise", divide="raise",
                                                invalid="raise"):
        warnings.simplefilter("error")
        values = fitted.log_likelihood(X_far, y_far, per_sample=True)
        interval = fitted.predict_interval(X_far)
    assert np.all(np.isfinite(values)) and np.all(np.isfinite(interval))


# ------------------------------------------------------- dtypes and layouts
DTYPES = [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32,
          np.uint64, np.float16, np.float32, np.float64, np.longdouble, np.bool_]


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda t: np.dtype(t).name)
@pytest.mark.parametrize("name", ["binary", "multiclass_alpha", "heteroscedastic"])
def test_every_numpy_dtype(name, dtype):
    """Non-negative small integers are exact in every dtype, so every dtype gives the
    float64 fit (float16/float32: to their own precision)."""
    estimator, y = ESTIMATORS[name]
    rng = np.random.default_rng(3)
    values = rng.integers(0, 2 if dtype is np.bool_ else 4, size=(X.shape[0], 3))
    reference = fit_strict(estimator, values.astype(np.float64), y)
    X_typed = values.astype(dtype)
    fitted = fit_strict(estimator, X_typed, y)
    rtol = {np.float16: 1e-2, np.float32: 1e-5}.get(dtype, 1e-6)
    np.testing.assert_allclose(outputs(fitted, X_typed), outputs(reference, values),
                               rtol=rtol, atol=rtol)
    np.testing.assert_allclose(outputs(reference, X_typed), outputs(reference, values),
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", ["binary", "multiclass", "constant"])
def test_complex_and_string_features_raise_clear_errors(name):
    estimator, y = ESTIMATORS[name]
    with pytest.raises(ValueError, match="[Cc]omplex"):
        clone(estimator).fit(X.astype(np.complex128), y)
    with pytest.raises(ValueError):
        clone(estimator).fit(np.full(X.shape, "a"), y)


def layouts(X):
    wide = np.zeros((X.shape[0] * 2, X.shape[1] * 3))
    wide[::2, ::3] = X
    return {
        "C": np.ascontiguousarray(X),
        "F": np.asfortranarray(X),
        "row_strided": np.repeat(X, 2, axis=0)[::2],
        "column_strided": np.repeat(X, 2, axis=1)[:, ::2],
        "both_strided": wide[::2, ::3],
        "reversed": X[::-1][::-1],
        "transposed_F": np.ascontiguousarray(X.T).T,
        "float32_F": np.asfortranarray(X, dtype=np.float32),
        "read_only": np.frombuffer(X.tobytes(), dtype=np.float64).reshape(X.shape),
    }


@pytest.mark.parametrize("layout", sorted(layouts(X)))
@pytest.mark.parametrize("name", ["binary", "multiclass_alpha", "constant",
                                  "heteroscedastic"])
def test_every_memory_layout(references, name, layout):
    estimator, y = ESTIMATORS[name]
    X_layout = layouts(X)[layout]
    fitted = fit_strict(estimator, X_layout, y)
    tol = 1e-4 if X_layout.dtype == np.float32 else 1e-7
    np.testing.assert_allclose(outputs(fitted, X_layout), outputs(references[name], X),
                               rtol=tol, atol=tol)


SPARSE_FORMATS = ["csr", "csc", "coo", "lil", "dok", "bsr", "dia"]


def sparse(X, fmt, kind):
    make = getattr(sp, f"{fmt}_{kind}", None)
    if make is None:
        pytest.skip(f"scipy.sparse has no {fmt}_{kind} in this version")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sp.SparseEfficiencyWarning)
        return make(X)


@pytest.mark.parametrize("kind", ["matrix", "array"])
@pytest.mark.parametrize("fmt", SPARSE_FORMATS)
@pytest.mark.parametrize("name", ["binary", "multiclass_alpha", "fixed", "heteroscedastic"])
def test_every_scipy_sparse_format(references, name, fmt, kind):
    """Every format either gives the dense fit (converted to CSR/CSC) or a clear error."""
    estimator, y = ESTIMATORS[name]
    X_sparse_data = np.where(np.abs(X) < 0.5, 0.0, X)   # a genuinely sparse matrix
    dense = fit_strict(estimator, X_sparse_data, y)
    X_sparse = sparse(X_sparse_data, fmt, kind)
    fitted = fit_strict(estimator, X_sparse, y)
    np.testing.assert_allclose(outputs(fitted, X_sparse), outputs(dense, X_sparse_data),
                               rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(outputs(dense, X_sparse), outputs(dense, X_sparse_data),
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.int64, np.int8, np.bool_],
                         ids=lambda t: np.dtype(t).name)
def test_sparse_non_float64_dtypes(dtype):
    values = np.random.default_rng(4).integers(0, 3, size=(X.shape[0], 4))
    X_sparse = sp.csr_matrix(values.astype(dtype))
    values = values.astype(dtype).astype(np.float64)   # what the dtype can hold
    reference = fit_strict(MLEClassifier(alpha=0.01, tol=TOL), values, Y_MULTI)
    fitted = fit_strict(MLEClassifier(alpha=0.01, tol=TOL), X_sparse, Y_MULTI)
    tol = 1e-5 if dtype is np.float32 else 1e-7
    np.testing.assert_allclose(fitted.predict_proba(X_sparse),
                               reference.predict_proba(values.astype(dtype)),
                               rtol=tol, atol=tol)


def test_sparse_with_explicit_zeros_unsorted_indices_and_empty_rows():
    dense = np.where(np.abs(X) < 0.5, 0.0, X)
    dense[5] = 0.0                                      # an empty row
    coo = sp.coo_matrix(dense)
    order = np.random.default_rng(5).permutation(coo.nnz)
    rows = np.concatenate([coo.row[order], [1, 2]])
    cols = np.concatenate([coo.col[order], [0, 1]])
    vals = np.concatenate([coo.data[order], [0.0, 0.0]])  # explicit zeros
    messy = sp.csr_matrix((vals, (rows, cols)), shape=dense.shape)
    messy.has_sorted_indices = False
    reference = fit_strict(MLEClassifier(tol=TOL), dense, Y_BINARY)
    fitted = fit_strict(MLEClassifier(tol=TOL), messy, Y_BINARY)
    np.testing.assert_allclose(fitted.predict_proba(messy), reference.predict_proba(dense),
                               rtol=1e-7, atol=1e-8)


# -------------------------------------------------------- read-only memmaps
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int16],
                         ids=lambda t: np.dtype(t).name)
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("name", ["binary", "multiclass", "heteroscedastic"])
def test_read_only_memmap(tmp_path, references, name, dtype, order):
    estimator, y = ESTIMATORS[name]
    values = np.round(X * 100)
    path = tmp_path / "X.dat"
    writer = np.memmap(path, dtype=dtype, mode="w+", shape=values.shape, order=order)
    writer[:] = values
    writer.flush()
    del writer
    X_mm = np.memmap(path, dtype=dtype, mode="r", shape=values.shape, order=order)
    assert not X_mm.flags.writeable
    y_mm_path = tmp_path / "y.dat"
    y_writer = np.memmap(y_mm_path, dtype=np.float64, mode="w+", shape=y.shape)
    y_writer[:] = y
    y_writer.flush()
    del y_writer
    y_mm = np.memmap(y_mm_path, dtype=np.float64, mode="r", shape=y.shape)
    w_mm = np.memmap(tmp_path / "w.dat", dtype=np.float64, mode="w+", shape=y.shape)
    w_mm[:] = 1.0
    w_mm.flush()
    w_mm = np.memmap(tmp_path / "w.dat", dtype=np.float64, mode="r", shape=y.shape)
    reference = fit_strict(estimator, values, y)
    fitted = fit_strict(clone(estimator).set_params(inference=True), X_mm, y_mm,
                        sample_weight=w_mm)
    tol = 1e-4 if dtype == np.float32 else 1e-7
    np.testing.assert_allclose(outputs(fitted, X_mm), outputs(reference, values),
                               rtol=tol, atol=tol)
    np.testing.assert_array_equal(np.asarray(X_mm), values.astype(dtype))  # untouched


# ------------------------------------------------------------------- pandas
@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_pandas_frames_with_mixed_and_extension_dtypes(references, name):
    estimator, y = ESTIMATORS[name]
    values = np.round(X, 3)
    frame = pd.DataFrame({
        "float": values[:, 0],
        "int_ext": pd.array(np.round(values[:, 1] * 1000).astype(np.int64), dtype="Int64"),
        "float32": values[:, 2].astype(np.float32),
    })
    as_array = np.column_stack([values[:, 0], np.round(values[:, 1] * 1000),
                                values[:, 2].astype(np.float32)])
    target = pd.Series(y, index=np.arange(100, 100 + y.size))
    if hasattr(estimator, "predict_proba"):
        target = pd.Series(np.array(["low", "mid", "high"])[y], index=target.index)
    fitted = fit_strict(estimator, frame, target)
    np.testing.assert_array_equal(fitted.feature_names_in_, ["float", "int_ext", "float32"])
    reference = fit_strict(estimator, as_array, target.to_numpy())
    np.testing.assert_allclose(outputs(fitted, frame), outputs(reference, as_array),
                               rtol=1e-6, atol=1e-7)
    with pytest.warns(UserWarning, match="feature names"):
        fitted.predict(as_array)


def test_pandas_missing_value_is_a_clear_error():
    frame = pd.DataFrame({"a": X[:, 0], "b": pd.array(np.arange(X.shape[0]), dtype="Int64")})
    frame.loc[3, "b"] = pd.NA
    with pytest.raises(ValueError, match="NaN"):
        MLEClassifier().fit(frame, Y_BINARY)


# ------------------------------------------------------------------ pickling
@pytest.mark.parametrize("name", sorted(ESTIMATORS))
@pytest.mark.parametrize("protocol", [2, pickle.HIGHEST_PROTOCOL])
def test_pickle_round_trip_of_fitted_and_unfitted(references, name, protocol):
    fitted = references[name]
    restored = pickle.loads(pickle.dumps(fitted, protocol=protocol))
    np.testing.assert_array_equal(outputs(restored, X), outputs(fitted, X))
    assert restored.get_params() == fitted.get_params()
    unfitted = pickle.loads(pickle.dumps(clone(ESTIMATORS[name][0]), protocol=protocol))
    refit = fit_strict(unfitted, X, ESTIMATORS[name][1])
    np.testing.assert_array_equal(outputs(refit, X), outputs(fitted, X))


def test_pickle_with_inference_and_summary():
    clf = fit_strict(MLEClassifier(inference=True), X, Y_MULTI)
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(restored.covariance_, clf.covariance_)
    assert str(restored.summary()) == str(clf.summary())


# ---------------------------------------------------------------- max_iter=1
@pytest.mark.parametrize("name", sorted(ESTIMATORS))
@pytest.mark.parametrize("inference", [False, True])
def test_max_iter_one_gives_usable_model_and_convergence_warning(name, inference):
    estimator, y = ESTIMATORS[name]
    X_raw = X * np.array([1.0, 1e4, 1e-3])
    estimator = clone(estimator).set_params(max_iter=1, inference=inference)
    with warnings.catch_warnings(record=True) as caught, np.errstate(
            over="raise", divide="raise", invalid="raise"):
        warnings.simplefilter("always")
        estimator.fit(X_raw, y)
    categories = [w.category for w in caught]
    if name == "fixed":
        # sigma = 1: the objective is quadratic and whitened by its exact Hessian, so
        # the first iteration is the Newton step and lands on the least-squares fit.
        assert categories == [], [str(w.message) for w in caught]
        # (reference by numpy's lstsq: scikit-learn 1.9.1's LinearRegression returns
        # a fit with 8x the residual sum of squares on these column scales)
        design = np.column_stack([X_raw, np.ones(len(y))])
        reference = design @ np.linalg.lstsq(design, y, rcond=None)[0]
        np.testing.assert_allclose(estimator.predict(X_raw), reference,
                                   rtol=1e-7, atol=1e-9 * np.abs(y).max())
    else:
        assert ConvergenceWarning in categories, [str(w.message) for w in caught]
        assert all(c is ConvergenceWarning for c in categories), \
            [str(w.message) for w in caught]
        message = str(next(w.message for w in caught if w.category is ConvergenceWarning))
        assert "max_iter" in message
    assert estimator.n_iter_ == 1
    out = outputs(estimator, X_raw)
    assert np.all(np.isfinite(out))
    assert np.isfinite(estimator.loglik_)
    assert np.isfinite(estimator.score(X_raw, y))
    if inference:
        # (the last row is never the multiclass reference row, which has no SE)
        assert np.all(np.isfinite(np.atleast_2d(estimator.coef_se_)[-1]))
    # and a usable warm start: continuing from it reaches the full fit
    estimator.set_params(max_iter=1000, warm_start=True)
    fit_strict_in_place(estimator, X_raw, y)
    full = fit_strict(clone(estimator).set_params(warm_start=False), X_raw, y)
    np.testing.assert_allclose(outputs(estimator, X_raw), outputs(full, X_raw),
                               rtol=1e-6, atol=1e-7)


def fit_strict_in_place(estimator, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        estimator.fit(X, y)


# ----------------------------------------------------------- extreme weights
@pytest.mark.parametrize("scale", [1e-300, 1e-100, 1e100, 1e300])
def test_extreme_weight_scales(references, scale):
    for name in ("binary", "multiclass", "constant"):
        estimator, y = ESTIMATORS[name]
        fitted = fit_strict(estimator, X, y, sample_weight=np.full(y.size, scale))
        np.testing.assert_allclose(outputs(fitted, X), outputs(references[name], X),
                                   rtol=1e-7, atol=1e-8)


# ------------------------------------------------- columns beyond the doubles' range
@pytest.mark.parametrize("factor", [1e155, 1e200, 1e-150, 1e-200])
@pytest.mark.parametrize("layout", ["dense", "csr"])
@pytest.mark.parametrize("name", ["binary", "multiclass", "fixed", "constant"])
def test_columns_whose_squares_leave_the_doubles_are_refused(name, layout, factor):
    estimator, y = ESTIMATORS[name]
    X_bad = X.copy()
    X_bad[:, 1] *= factor
    if layout == "csr":
        X_bad = sp.csr_matrix(X_bad)
    with pytest.raises(ValueError, match=r"Column\(s\) 1 of X .* Rescale these columns"):
        clone(estimator).fit(X_bad, y)


@pytest.mark.parametrize("factor", [1e150, 1e-140])
def test_columns_at_the_edge_of_the_range_are_fitted_in_their_units(factor):
    estimator, y = ESTIMATORS["binary"]
    reference = clone(estimator).fit(X, y)
    X_scaled = X.copy()
    X_scaled[:, 1] *= factor
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scaled = clone(estimator).fit(X_scaled, y)
    np.testing.assert_allclose(scaled.coef_[:, 1] * factor, reference.coef_[:, 1],
                               rtol=1e-7)
    np.testing.assert_allclose(scaled.predict_proba(X_scaled), reference.predict_proba(X),
                               rtol=1e-7, atol=1e-10)


def test_wide_sparse_columns_beyond_the_doubles_are_refused():
    # More than 3000 parameters: the column-scaling preconditioner makes the check.
    rng = np.random.default_rng(3)
    X_wide = sp.random(400, 3100, density=0.01, random_state=rng, format="csc")
    X_wide = sp.hstack([X_wide[:, :7], sp.csc_matrix(np.full((400, 1), 1e-180)),
                        X_wide[:, 8:]], format="csc")
    y = rng.integers(0, 2, size=400)
    with pytest.raises(ValueError, match=r"Column\(s\) 7 of X"):
        MLEClassifier(alpha=1e-3).fit(X_wide, y)


# NumPy scalars in the arguments and data (a grid from np.logspace, a label from an
# array): the messages print the numbers, not NumPy 2's np.float64(...) reprs.
NUMPY_SCALAR_ERRORS = {
    "negative count": (lambda: MLERegressor(distribution="poisson").fit(X, -Y_REAL ** 2),
                       "y[0] = -"),
    "coverage": (lambda: MLERegressor().fit(X, Y_REAL).predict_interval(
        X, coverage=np.float64(1.5)), "got 1.5."),
    "ols with alpha": (lambda: MLERegressor(inference="ols", alpha=np.float64(0.1))
                       .fit(X, Y_REAL), "alpha=0.1;"),
    "t degrees of freedom": (lambda: StudentT(df=np.float64(-1.0)), "got -1.0."),
    "dispersion of the Poisson": (lambda: MLERegressor(
        distribution="poisson", dispersion=np.float64(2.0)).fit(X, Y_BINARY),
        "dispersion=2.0."),
    "one class": (lambda: MLEClassifier().fit(X, np.full(X.shape[0], 3)), "class: 3."),
    "unknown label": (lambda: MLEClassifier().fit(X, Y_BINARY).log_likelihood(
        X, np.full(X.shape[0], 7)), "classes_ [0, 1]."),
}


@pytest.mark.parametrize("case", sorted(NUMPY_SCALAR_ERRORS))
def test_errors_print_numpy_scalars_as_plain_numbers(case):
    trigger, plain_text = NUMPY_SCALAR_ERRORS[case]
    with pytest.raises(ValueError) as error:
        trigger()
    message = str(error.value)
    assert plain_text in message
    assert "np.float64(" not in message and "np.int64(" not in message


def test_titles_and_warnings_print_a_numpy_dispersion_as_a_number():
    rng = np.random.default_rng(0)
    y = rng.gamma(2.0, size=X.shape[0])
    fit = MLERegressor(distribution="gamma", dispersion=np.float64(0.5),
                       inference=True).fit(X, y)
    assert "dispersion=0.5)" in str(fit.summary()).splitlines()[0]
    labels = np.array(["a", "b"])[Y_BINARY]
    X_separated = np.column_stack([X, Y_BINARY])
    with pytest.warns(UnboundedLikelihoodWarning) as caught:
        MLEClassifier().fit(X_separated, labels)
    message = str(caught[0].message)
    assert "class 'a' from class 'b'" in message and "np.str_(" not in message
