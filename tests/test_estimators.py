"""Behaviour of the estimators: weights, inputs, meta-estimators, errors, warnings."""

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.datasets import (
    load_breast_cancer,
    load_diabetes,
    load_iris,
    make_classification,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_mle import MLEClassifier, MLERegressor, UnboundedLikelihoodWarning


def overlapping_classification(n=300, d=4, n_classes=2, seed=0):
    X, y = make_classification(n_samples=n, n_features=d, n_informative=d, n_redundant=0,
                               n_classes=n_classes, flip_y=0.2, class_sep=0.5,
                               random_state=seed)
    return X, y


def noisy_regression(n=300, d=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = X @ np.arange(1, d + 1) + 1.0 + rng.normal(scale=np.exp(0.5 * X[:, 0]))
    return X, y


ESTIMATORS = {
    "binary": (MLEClassifier(), lambda: overlapping_classification()),
    "multiclass": (MLEClassifier(), lambda: overlapping_classification(n_classes=3)),
    "fixed": (MLERegressor(variance="fixed"), noisy_regression),
    "constant": (MLERegressor(variance="constant"), noisy_regression),
    "heteroscedastic": (MLERegressor(variance="heteroscedastic"), noisy_regression),
}


def predictions(estimator, X):
    if hasattr(estimator, "predict_proba"):
        return estimator.predict_proba(X)
    if estimator.variance == "fixed":
        return estimator.predict(X)
    return np.column_stack(estimator.predict(X, return_std=True))


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_integer_weights_equal_repeated_rows_and_scaling_weights_changes_nothing(name):
    estimator, make = ESTIMATORS[name]
    X, y = make()
    rng = np.random.default_rng(1)
    weights = rng.integers(0, 4, size=y.size)
    weighted = clone(estimator).fit(X, y, sample_weight=weights)
    repeated = clone(estimator).fit(np.repeat(X, weights, axis=0), np.repeat(y, weights))
    np.testing.assert_allclose(predictions(weighted, X), predictions(repeated, X),
                               rtol=1e-6, atol=1e-8)
    assert weighted.loglik_ == pytest.approx(repeated.loglik_, rel=1e-8)
    scaled = clone(estimator).fit(X, y, sample_weight=7.5 * weights)
    np.testing.assert_allclose(predictions(scaled, X), predictions(weighted, X),
                               rtol=1e-6, atol=1e-8)


def test_pipeline_and_grid_search_over_alpha():
    X, y = load_breast_cancer(return_X_y=True)
    search = GridSearchCV(make_pipeline(StandardScaler(), MLEClassifier()),
                          {"mleclassifier__alpha": [1e-3, 1e-2, 1e-1]}, cv=3)
    search.fit(X, y)
    assert search.best_score_ > 0.95
    assert search.best_params_["mleclassifier__alpha"] in (1e-3, 1e-2, 1e-1)
    X, y = load_diabetes(return_X_y=True)
    reg_search = GridSearchCV(make_pipeline(StandardScaler(), MLERegressor()),
                              {"mleregressor__alpha": [0.0, 1e-2, 1.0]}, cv=3).fit(X, y)
    assert reg_search.best_score_ > 0.4


def test_string_labels_and_multiclass_conventions():
    X, y = load_iris(return_X_y=True)
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    penalised = MLEClassifier(alpha=0.01).fit(X, names)
    assert list(penalised.classes_) == ["setosa", "versicolor", "virginica"]
    assert set(penalised.predict(X)) <= set(names)
    np.testing.assert_allclose(penalised.coef_.sum(axis=0), 0.0, atol=1e-6)
    assert penalised.intercept_.sum() == pytest.approx(0.0, abs=1e-12)
    X2, y2 = overlapping_classification(n_classes=3)
    reference = MLEClassifier().fit(X2, y2)
    assert reference.mle_exists_
    np.testing.assert_array_equal(reference.coef_[0], 0.0)
    assert reference.intercept_[0] == 0.0


@pytest.mark.parametrize("n_classes", [2, 3])
def test_predict_log_proba_is_log_sum_exp_and_finite_far_out(n_classes):
    X, y = overlapping_classification(n_classes=n_classes)
    clf = MLEClassifier().fit(X, y)
    far = X[:5] * 1e6
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        log_proba = clf.predict_log_proba(far)
        proba = clf.predict_proba(far)
    assert np.all(np.isfinite(log_proba)) and np.all(log_proba <= 0)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-12)
    assert np.min(log_proba) < -1e3  # a log-probability, not log(0) = -inf
    np.testing.assert_allclose(np.exp(clf.predict_log_proba(X)), clf.predict_proba(X),
                               rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_input_layouts_dtypes_and_containers_agree(name):
    estimator, make = ESTIMATORS[name]
    X, y = make()
    reference = predictions(clone(estimator).fit(X, y), X)
    read_only = X.copy()
    read_only.flags.writeable = False
    variants = {
        "fortran": np.asfortranarray(X),
        "strided": np.repeat(X, 2, axis=1)[:, ::2],
        "read_only": read_only,
        "csr": sp.csr_matrix(X),
        "csc": sp.csc_matrix(X),
        "dataframe": pd.DataFrame(X, columns=[f"x{j}" for j in range(X.shape[1])]),
    }
    for label, variant in variants.items():
        fitted = clone(estimator).fit(variant, y)
        np.testing.assert_allclose(predictions(fitted, variant), reference, rtol=1e-6,
                                   atol=1e-8, err_msg=label)
    fitted = clone(estimator).fit(X.astype(np.float32), y)
    np.testing.assert_allclose(predictions(fitted, X), reference, rtol=1e-3, atol=1e-4)
    integer_X = np.round(X * 10).astype(np.int64)
    clone(estimator).fit(integer_X, y).predict(integer_X)


def test_feature_names_and_pickle_round_trip():
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    clf = MLEClassifier(alpha=1e-2).fit(X, y)
    np.testing.assert_array_equal(clf.feature_names_in_, X.columns)
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(restored.predict_proba(X), clf.predict_proba(X))


BAD_INPUTS = [
    (np.array([[np.nan, 1.0], [1.0, 2.0]]), [0, 1], None, "NaN"),
    (np.array([[np.inf, 1.0], [1.0, 2.0]]), [0, 1], None, "infinity"),
    (np.ones((3, 2)), [0, 1], None, "inconsistent numbers of samples"),
    (np.ones((0, 2)), [], None, "0 sample"),
    (np.ones((4, 2)), [1, 1, 1, 1], None, "only one class"),
    (np.ones((4, 2)), [0.1, 0.2, 0.3, 0.4], None, "Unknown label type"),
    (np.arange(8.0).reshape(4, 2), [0, 1, 0, 1], [1, -1, 1, 1], "Negative values"),
    (np.arange(8.0).reshape(4, 2), [0, 1, 0, 1], [1, 1], "sample_weight.shape"),
    (np.arange(8.0).reshape(4, 2), [0, 1, 0, 1], [0, 0, 0, 0], "only zeros"),
]


@pytest.mark.parametrize("X, y, sample_weight, message", BAD_INPUTS)
def test_bad_input_raises_clear_value_error(X, y, sample_weight, message):
    with pytest.raises(ValueError, match=message):
        MLEClassifier().fit(X, np.asarray(y), sample_weight=sample_weight)


def test_regressor_bad_input_and_parameters():
    with pytest.raises(ValueError, match="NaN"):
        MLERegressor().fit(np.ones((3, 1)), [1.0, np.nan, 2.0])
    with pytest.raises(ValueError, match="variance"):
        MLERegressor(variance="wild").fit(np.ones((3, 1)), [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="alpha"):
        MLEClassifier(alpha=-1.0).fit(np.eye(2), [0, 1])
    X, y = noisy_regression()
    reg = MLERegressor().fit(X, y)
    with pytest.raises(ValueError, match="features"):
        reg.predict(X[:, :2])


def test_max_iter_one_warns_and_leaves_a_usable_model():
    X, y = load_breast_cancer(return_X_y=True)
    with pytest.warns(ConvergenceWarning, match="max_iter"):
        clf = MLEClassifier(alpha=1e-3, max_iter=1).fit(X, y)
    assert clf.n_iter_ == 1
    assert np.all(np.isfinite(clf.predict_proba(X)))


def test_warm_start_resumes_from_previous_fit():
    X, y = load_breast_cancer(return_X_y=True)
    cold = MLEClassifier(alpha=1e-2).fit(X, y)
    warm = MLEClassifier(alpha=1e-2, warm_start=True).fit(X, y)
    warm.fit(X, y)
    assert warm.n_iter_ <= 3
    np.testing.assert_allclose(warm.predict_proba(X), cold.predict_proba(X), atol=1e-7)


def test_class_weight_balanced_equals_explicit_weights():
    X, y = overlapping_classification(n=400)
    keep = (y == 1) | (np.arange(y.size) % 3 == 0)
    X, y = X[keep], y[keep]
    balanced = MLEClassifier(class_weight="balanced").fit(X, y)
    counts = np.bincount(y)
    explicit = MLEClassifier().fit(X, y, sample_weight=(y.size / (2 * counts))[y])
    np.testing.assert_allclose(balanced.coef_, explicit.coef_, rtol=1e-6)


# ------------------------------------------------------------- unbounded likelihood
def test_separable_classes_warn_and_still_predict_perfectly():
    X, y = load_iris(return_X_y=True)
    binary = y == 0  # setosa is linearly separable from the rest
    with pytest.warns(UnboundedLikelihoodWarning, match="alpha > 0"):
        clf = MLEClassifier().fit(X, binary)
    assert clf.mle_exists_ is False
    assert clf.score(X, binary) == 1.0
    proba = clf.predict_proba(X)
    assert np.all(np.isfinite(clf.coef_)) and np.all(np.isfinite(proba))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-12)


def test_multiclass_quasi_separation_names_the_classes():
    X, y = load_iris(return_X_y=True)
    labels = np.array(["setosa", "versicolor", "virginica"])[y]
    with pytest.warns(UnboundedLikelihoodWarning, match="'setosa'"):
        clf = MLEClassifier().fit(X, labels)
    assert not clf.mle_exists_


def test_no_false_alarm_on_overlapping_classes_or_with_penalty():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for n_classes in (2, 3):
            X, y = overlapping_classification(n_classes=n_classes)
            assert MLEClassifier().fit(X, y).mle_exists_
        X, y = load_iris(return_X_y=True)
        assert MLEClassifier(alpha=1e-3).fit(X, y).mle_exists_
        X, y = noisy_regression()
        for variance in ("constant", "heteroscedastic"):
            assert MLERegressor(variance=variance).fit(X, y).mle_exists_


def test_exact_linear_fit_collapses_the_learned_variance():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 3))
    y = X @ [1.0, 2.0, 3.0] + 4.0
    with pytest.warns(UnboundedLikelihoodWarning, match="collapses"):
        reg = MLERegressor(variance="constant").fit(X, y)
    assert reg.mle_exists_ is False
    assert np.isfinite(reg.scale_) and np.all(np.isfinite(reg.coef_))
    np.testing.assert_allclose(reg.predict(X), y, rtol=1e-6)


def test_group_of_one_collapses_heteroscedastic_variance():
    rng = np.random.default_rng(1)
    X = np.column_stack([rng.normal(size=60), np.zeros(60)])
    X[0, 1] = 1.0  # a group of one: its own mean and its own variance parameter
    y = X[:, 0] + rng.normal(size=60)
    with pytest.warns(UnboundedLikelihoodWarning, match="variance"):
        reg = MLERegressor(variance="heteroscedastic").fit(X, y)
    assert not reg.mle_exists_
    mean, std = reg.predict(X, return_std=True)
    assert np.all(np.isfinite(mean)) and np.all(np.isfinite(std))


def test_fixed_variance_and_heteroscedastic_predictions():
    X, y = noisy_regression(n=2000)
    hetero = MLERegressor(variance="heteroscedastic").fit(X, y)
    assert hetero.scale_coef_[0] == pytest.approx(0.5, abs=0.1)
    constant = MLERegressor(variance="constant").fit(X, y)
    assert hetero.loglik_ > constant.loglik_
    assert hetero.aic_ < constant.aic_
    mean, std = hetero.predict(X, return_std=True)
    assert mean.shape == std.shape == (2000,)
    np.testing.assert_allclose(std, np.exp(X @ hetero.scale_coef_ + hetero.scale_intercept_))
    assert isinstance(hetero.predict(X), np.ndarray)


@pytest.mark.parametrize("scale", [1e-12, 1e-8, 1e20, 1e150])
def test_fixed_variance_is_least_squares_at_any_target_scale(scale):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 3))
    y = X @ [1.0, 2.0, 3.0] + rng.normal(size=100)
    reference = MLERegressor(variance="fixed").fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scaled = MLERegressor(variance="fixed", alpha=0.1).fit(X, y * scale)
    ridge = MLERegressor(variance="fixed", alpha=0.1).fit(X, y)
    np.testing.assert_allclose(scaled.coef_ / scale, ridge.coef_, rtol=1e-7)
    assert np.abs(reference.coef_ - ridge.coef_).max() > 1e-3  # the penalty matters


def test_warnings_point_at_the_callers_line():
    X = np.array([[0.0], [1.0], [2.0], [3.0]])
    y = np.array([0, 0, 1, 1])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        MLEClassifier().fit(X, y)                              # separated classes
        MLEClassifier(alpha=1e-3, max_iter=1).fit(X, y)        # iteration limit
        MLERegressor().fit(X[:2], np.array([0.5, 1.5]))        # collapsing variance
    categories = {type(w.message).__name__ for w in caught}
    assert {"UnboundedLikelihoodWarning", "ConvergenceWarning"} <= categories
    for w in caught:
        assert w.filename == __file__, (type(w.message).__name__, w.filename)
