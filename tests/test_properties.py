"""Property-based tests (hypothesis) of the objective, the probabilities and the
invariances a maximum-likelihood fit must have.

Data are small (n <= 60, d <= 4).  Invariances are checked where the optimum is unique:
``alpha > 0``, or overlapping classes / noisy targets at ``alpha = 0`` (examples where
the MLE does not exist are discarded with ``assume``).  Fits use ``tol=1e-10`` so that
two fits of the same problem agree far more tightly than the tolerances used here.
"""

import warnings

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from sklearn_mle import MLEClassifier, MLERegressor, UnboundedLikelihoodWarning
from sklearn_mle.families import (
    BernoulliLoss,
    CategoricalLoss,
    GaussianFixedScaleLoss,
    GaussianLoss,
)
from sklearn_mle.models._linear import LinearModel

TOL = 1e-10

MODELS = {
    "bernoulli": (BernoulliLoss, [True], [True]),
    "bernoulli_no_intercept": (BernoulliLoss, [True], [False]),
    "softmax_reference": (lambda: CategoricalLoss(3), [False, True, True],
                          [False, True, True]),
    "softmax_full": (lambda: CategoricalLoss(4), [True, True, True, True],
                     [False, True, True, True]),
    "gaussian_fixed": (GaussianFixedScaleLoss, [True], [True]),
    "gaussian_constant": (GaussianLoss, [True, False], [True, True]),
    "gaussian_heteroscedastic": (GaussianLoss, [True, True], [True, True]),
}


# ------------------------------------------------------------------ strategies
def finite_floats(low, high):
    return st.floats(low, high, allow_nan=False, allow_infinity=False)


@st.composite
def objective_problems(draw, name, theta_bound=3.0):
    """(model, X, y, normalised weights, alpha, theta) for the model called ``name``."""
    make_loss, coef_free, intercept_free = MODELS[name]
    loss = make_loss()
    n = draw(st.integers(1, 60))
    d = draw(st.integers(1, 4))
    X = draw(hnp.arrays(np.float64, (n, d), elements=finite_floats(-5, 5)))
    scales = draw(hnp.arrays(np.float64, d, elements=st.sampled_from([1e-2, 0.1, 1.0, 10.0])))
    X = X * scales
    if isinstance(loss, (BernoulliLoss, CategoricalLoss)):
        n_classes = 2 if isinstance(loss, BernoulliLoss) else loss.n_classes
        y = draw(hnp.arrays(np.float64, n, elements=st.integers(0, n_classes - 1)))
    else:
        y = draw(hnp.arrays(np.float64, n, elements=finite_floats(-20, 20)))
    weights = draw(hnp.arrays(np.float64, n, elements=finite_floats(0.01, 5)))
    weights = weights / weights.sum()
    alpha = draw(st.sampled_from([0.0, 1e-3, 0.5]))
    model = LinearModel(loss, d, coef_free, intercept_free)
    theta = draw(hnp.arrays(np.float64, model.n_params,
                            elements=finite_floats(-theta_bound, theta_bound)))
    theta = theta / np.repeat(np.concatenate([scales, [1.0]]), 1)[model.param_design]
    if isinstance(loss, GaussianLoss):
        # keep log sigma(x) within [-1.5, 1.5] so that the objective is smooth on the
        # scale of the finite-difference step
        coef, intercept = model.unpack(theta)
        intercept[1] = np.clip(intercept[1], -1.0, 1.0)
        coef[1] = np.clip(coef[1] * scales, -0.1 / d, 0.1 / d) / scales
        theta = model.pack(coef, intercept)
    return model, X, y, weights, alpha, theta


def fourth_order_gradient(f, theta, steps):
    grad = np.empty_like(theta)
    for j in range(theta.size):
        e = np.zeros_like(theta)
        e[j] = steps[j]
        grad[j] = (-f(theta + 2 * e) + 8 * f(theta + e) - 8 * f(theta - e)
                   + f(theta - 2 * e)) / (12 * steps[j])
    return grad


# ------------------------------------------------------- objective and gradient
@pytest.mark.parametrize("name", sorted(MODELS))
@given(data=st.data())
def test_objective_gradient_finite_and_match_finite_differences(name, data):
    model, X, y, weights, alpha, theta = data.draw(objective_problems(name))
    value, gradient = model.objective_gradient(theta, X, y, weights, alpha)
    assert np.isfinite(value)
    assert np.all(np.isfinite(gradient))
    assert gradient.shape == theta.shape

    def f(t):
        return model.objective(t, X, y, weights, alpha)

    # step ~ 1e-3 of the parameter's natural unit (1 / column scale)
    column_scale = np.concatenate([np.max(np.abs(X), axis=0), [1.0]])[model.param_design]
    steps = 1e-3 / np.maximum(column_scale, 1e-3)
    numerical = fourth_order_gradient(f, theta, steps)
    # rounding error of the differences: ~ eps * |F| / step
    slack = 1e-9 * max(1.0, abs(value)) / steps
    np.testing.assert_array_less(np.abs(gradient - numerical),
                                 1e-6 * np.abs(numerical) + slack + 1e-9)


@pytest.mark.parametrize("name", ["bernoulli", "softmax_reference", "softmax_full",
                                  "gaussian_fixed"])
@given(data=st.data())
def test_objective_finite_for_huge_parameters(name, data):
    """Raw predictions up to ~1e7: classification losses and the unit-variance Gaussian
    stay finite (log-sum-exp, saturating squares), so the line search sees numbers."""
    model, X, y, weights, alpha, _ = data.draw(objective_problems(name))
    theta = data.draw(hnp.arrays(np.float64, model.n_params,
                                 elements=finite_floats(-1e5, 1e5)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value, gradient = model.objective_gradient(theta, X, y, weights, alpha)
    assert np.isfinite(value) and np.all(np.isfinite(gradient))
    assert value >= 0 or isinstance(model.loss, GaussianFixedScaleLoss)


# ------------------------------------------------------------------ estimators
@st.composite
def classification_data(draw, max_classes=4, n_min=8):
    """Noisy linear classes (overlapping), with random per-feature scales."""
    n_classes = draw(st.integers(2, max_classes))
    n = draw(st.integers(max(n_min, 2 * n_classes), 60))
    d = draw(st.integers(1, 4))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    W = rng.normal(size=(d, n_classes))
    scores = X @ W + rng.gumbel(size=(n, n_classes)) * 1.5
    y = np.argmax(scores, axis=1)
    y[:n_classes] = np.arange(n_classes)  # every class present
    scales = 10.0 ** rng.uniform(-2, 2, size=d)
    return X * scales, y


@st.composite
def regression_data(draw, n_min=10):
    n = draw(st.integers(n_min, 60))
    d = draw(st.integers(1, 4))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = X @ rng.normal(size=d) + 1.0 + rng.normal(scale=0.5 + rng.uniform(), size=n)
    scales = 10.0 ** rng.uniform(-2, 2, size=d)
    return X * scales, y


def fit_quiet(estimator, X, y, **kwargs):
    """Fit; return None (discard the example) if the MLE does not exist."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnboundedLikelihoodWarning)
        try:
            return estimator.fit(X, y, **kwargs)
        except UnboundedLikelihoodWarning:
            return None


def regressor_outputs(reg, X):
    mean, std = reg.predict(X, return_std=True)
    return np.column_stack([mean, std])


ALPHAS = st.sampled_from([1e-3, 0.1, 1.0])
VARIANCES = st.sampled_from(["fixed", "constant", "heteroscedastic"])


@given(data=classification_data(), alpha=st.sampled_from([0.0, 1e-3, 0.1]),
       far=st.sampled_from([1.0, 1e3, 1e6, 1e9]))
def test_predict_proba_rows_sum_to_one_and_finite(data, alpha, far):
    X, y = data
    clf = MLEClassifier(alpha=alpha)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnboundedLikelihoodWarning)
        clf.fit(X, y)
    X_new = X * far
    with warnings.catch_warnings(), np.errstate(over="raise", divide="raise", invalid="raise"):
        warnings.simplefilter("error")
        proba = clf.predict_proba(X_new)
        log_proba = clf.predict_log_proba(X_new)
    assert proba.shape == (X.shape[0], clf.classes_.size)
    assert np.all(np.isfinite(proba)) and np.all(np.isfinite(log_proba))
    assert np.all(proba >= 0) and np.all(proba <= 1)
    assert np.all(log_proba <= 0)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=0, atol=1e-12)


@given(data=classification_data(), alpha=ALPHAS, seed=st.integers(0, 2**32 - 1))
def test_classifier_invariant_to_permuting_samples(data, alpha, seed):
    X, y = data
    rng = np.random.default_rng(seed)
    w = rng.uniform(0.2, 2.0, size=y.size)
    order = rng.permutation(y.size)
    a = MLEClassifier(alpha=alpha, tol=TOL).fit(X, y, sample_weight=w)
    b = MLEClassifier(alpha=alpha, tol=TOL).fit(X[order], y[order], sample_weight=w[order])
    np.testing.assert_allclose(b.predict_proba(X), a.predict_proba(X), rtol=0, atol=1e-7)
    np.testing.assert_allclose(b.coef_, a.coef_, rtol=1e-5,
                               atol=1e-7 * max(1.0, np.abs(a.coef_).max()))


@given(data=regression_data(), alpha=ALPHAS, variance=VARIANCES,
       seed=st.integers(0, 2**32 - 1))
def test_regressor_invariant_to_permuting_samples(data, alpha, variance, seed):
    X, y = data
    rng = np.random.default_rng(seed)
    order = rng.permutation(y.size)
    a = fit_quiet(MLERegressor(variance=variance, alpha=alpha, tol=TOL), X, y)
    assume(a is not None)
    b = MLERegressor(variance=variance, alpha=alpha, tol=TOL).fit(X[order], y[order])
    np.testing.assert_allclose(regressor_outputs(b, X), regressor_outputs(a, X),
                               rtol=1e-6, atol=1e-7 * np.std(y))


@given(data=classification_data(), alpha=ALPHAS, seed=st.integers(0, 2**32 - 1))
def test_permuting_features_permutes_classifier_coefficients(data, alpha, seed):
    X, y = data
    perm = np.random.default_rng(seed).permutation(X.shape[1])
    a = MLEClassifier(alpha=alpha, tol=TOL).fit(X, y)
    b = MLEClassifier(alpha=alpha, tol=TOL).fit(X[:, perm], y)
    np.testing.assert_allclose(b.coef_, a.coef_[:, perm], rtol=1e-5,
                               atol=1e-7 * max(1.0, np.abs(a.coef_).max()))
    np.testing.assert_allclose(b.intercept_, a.intercept_, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(b.predict_proba(X[:, perm]), a.predict_proba(X),
                               rtol=0, atol=1e-7)


@given(data=regression_data(), alpha=ALPHAS, variance=VARIANCES,
       seed=st.integers(0, 2**32 - 1))
def test_permuting_features_permutes_regressor_coefficients(data, alpha, variance, seed):
    X, y = data
    perm = np.random.default_rng(seed).permutation(X.shape[1])
    a = fit_quiet(MLERegressor(variance=variance, alpha=alpha, tol=TOL), X, y)
    assume(a is not None)
    b = MLERegressor(variance=variance, alpha=alpha, tol=TOL).fit(X[:, perm], y)
    np.testing.assert_allclose(b.coef_, a.coef_[perm], rtol=1e-5,
                               atol=1e-7 * max(1.0, np.abs(a.coef_).max()))
    if variance == "heteroscedastic":
        np.testing.assert_allclose(b.scale_coef_, a.scale_coef_[perm], rtol=1e-5,
                                   atol=1e-7 * max(1.0, np.abs(a.scale_coef_).max()))
    np.testing.assert_allclose(regressor_outputs(b, X[:, perm]), regressor_outputs(a, X),
                               rtol=1e-6, atol=1e-7 * np.std(y))


@given(data=classification_data(), alpha=st.sampled_from([0.0, 1e-3, 0.1]),
       seed=st.integers(0, 2**32 - 1))
def test_relabelling_classes_permutes_probability_columns(data, alpha, seed):
    X, y = data
    n_classes = np.unique(y).size
    rng = np.random.default_rng(seed)
    # new labels: strings whose sorted order is a random permutation of the old one
    order = rng.permutation(n_classes)
    names = np.array([f"class_{k}" for k in range(n_classes)])[order]
    a = fit_quiet(MLEClassifier(alpha=alpha, tol=TOL), X, y)
    assume(a is not None)
    b = MLEClassifier(alpha=alpha, tol=TOL).fit(X, names[y])
    # column of b for old class k is the position of names[k] in b.classes_
    columns = np.searchsorted(b.classes_, names)
    np.testing.assert_allclose(b.predict_proba(X)[:, columns], a.predict_proba(X),
                               rtol=0, atol=1e-7)
    np.testing.assert_array_equal(b.predict(X), names[a.predict(X)])
    assert b.loglik_ == pytest.approx(a.loglik_, rel=1e-9, abs=1e-9)


@given(data=classification_data(), alpha=ALPHAS, seed=st.integers(0, 2**32 - 1))
def test_classifier_integer_weights_equal_repeated_rows(data, alpha, seed):
    X, y = data
    counts = np.random.default_rng(seed).integers(0, 4, size=y.size)
    counts[:np.unique(y).size] = np.maximum(counts[:np.unique(y).size], 1)
    a = MLEClassifier(alpha=alpha, tol=TOL).fit(X, y, sample_weight=counts)
    b = MLEClassifier(alpha=alpha, tol=TOL).fit(np.repeat(X, counts, axis=0),
                                                np.repeat(y, counts))
    np.testing.assert_allclose(a.predict_proba(X), b.predict_proba(X), rtol=0, atol=1e-7)
    # alpha > 0: the log-likelihood inherits the solver error to first order
    assert a.loglik_ == pytest.approx(b.loglik_, rel=1e-6, abs=1e-8)


@given(data=regression_data(), alpha=ALPHAS, variance=VARIANCES,
       seed=st.integers(0, 2**32 - 1))
def test_regressor_integer_weights_equal_repeated_rows(data, alpha, variance, seed):
    X, y = data
    counts = np.random.default_rng(seed).integers(0, 4, size=y.size)
    assume(np.count_nonzero(counts) >= X.shape[1] + 4)
    a = fit_quiet(MLERegressor(variance=variance, alpha=alpha, tol=TOL), X, y,
                  sample_weight=counts)
    assume(a is not None)
    b = MLERegressor(variance=variance, alpha=alpha, tol=TOL).fit(
        np.repeat(X, counts, axis=0), np.repeat(y, counts))
    np.testing.assert_allclose(regressor_outputs(a, X), regressor_outputs(b, X),
                               rtol=1e-6, atol=1e-7 * np.std(y))
    # at alpha > 0 the log-likelihood is not stationary at the fit, so it inherits the
    # parameters' solver error to first order
    assert a.loglik_ == pytest.approx(b.loglik_, rel=1e-6, abs=1e-8)


@given(data=classification_data(), alpha=ALPHAS, factor=st.sampled_from([1e-3, 0.5, 7.0, 1e4]),
       seed=st.integers(0, 2**32 - 1))
def test_scaling_all_weights_changes_no_classifier(data, alpha, factor, seed):
    X, y = data
    w = np.random.default_rng(seed).uniform(0.1, 3.0, size=y.size)
    a = MLEClassifier(alpha=alpha, tol=TOL).fit(X, y, sample_weight=w)
    b = MLEClassifier(alpha=alpha, tol=TOL).fit(X, y, sample_weight=factor * w)
    np.testing.assert_allclose(b.coef_, a.coef_, rtol=1e-6,
                               atol=1e-8 * max(1.0, np.abs(a.coef_).max()))
    np.testing.assert_allclose(b.predict_proba(X), a.predict_proba(X), rtol=0, atol=1e-8)
    assert b.loglik_ == pytest.approx(factor * a.loglik_, rel=1e-6)


@given(data=regression_data(), alpha=ALPHAS, variance=VARIANCES,
       factor=st.sampled_from([1e-3, 0.5, 7.0, 1e4]), seed=st.integers(0, 2**32 - 1))
def test_scaling_all_weights_changes_no_regressor(data, alpha, variance, factor, seed):
    X, y = data
    w = np.random.default_rng(seed).uniform(0.1, 3.0, size=y.size)
    a = fit_quiet(MLERegressor(variance=variance, alpha=alpha, tol=TOL), X, y,
                  sample_weight=w)
    assume(a is not None)
    b = MLERegressor(variance=variance, alpha=alpha, tol=TOL).fit(X, y,
                                                                  sample_weight=factor * w)
    np.testing.assert_allclose(regressor_outputs(b, X), regressor_outputs(a, X),
                               rtol=1e-7, atol=1e-8 * np.std(y))


@given(data=classification_data(max_classes=3, n_min=30),
       factor=st.sampled_from([1e-6, 1e-3, 0.1, 10.0, 1e3, 1e6]), column=st.integers(0, 3))
def test_rescaling_a_feature_at_alpha_zero_keeps_classifier_predictions(data, factor,
                                                                       column):
    X, y = data
    column = column % X.shape[1]
    a = fit_quiet(MLEClassifier(tol=TOL), X, y)
    assume(a is not None)
    X_scaled = X.copy()
    X_scaled[:, column] *= factor
    b = MLEClassifier(tol=TOL).fit(X_scaled, y)
    np.testing.assert_allclose(b.predict_proba(X_scaled), a.predict_proba(X),
                               rtol=0, atol=1e-7)
    np.testing.assert_allclose(b.coef_[:, column] * factor, a.coef_[:, column],
                               rtol=1e-5, atol=1e-7 * max(1.0, np.abs(a.coef_).max()))


@given(data=regression_data(n_min=20), variance=VARIANCES,
       factor=st.sampled_from([1e-6, 1e-3, 0.1, 10.0, 1e3, 1e6]), column=st.integers(0, 3))
def test_rescaling_a_feature_at_alpha_zero_keeps_regressor_predictions(data, variance,
                                                                      factor, column):
    X, y = data
    column = column % X.shape[1]
    a = fit_quiet(MLERegressor(variance=variance, tol=TOL), X, y)
    assume(a is not None)
    X_scaled = X.copy()
    X_scaled[:, column] *= factor
    b = MLERegressor(variance=variance, tol=TOL).fit(X_scaled, y)
    np.testing.assert_allclose(regressor_outputs(b, X_scaled), regressor_outputs(a, X),
                               rtol=1e-6, atol=1e-7 * np.std(y))


@given(data=regression_data(n_min=20), variance=VARIANCES,
       alpha=st.sampled_from([0.0, 1e-3, 0.1, 1.0]),
       shift=st.sampled_from([-1e4, -3.0, 0.0, 2.5, 1e6]),
       scale=st.sampled_from([-50.0, -1.0, 1e-4, 0.5, 3.0, 1e5]))
def test_shifting_and_scaling_y_transforms_mean_and_sigma(data, variance, alpha, shift,
                                                          scale):
    """y -> scale * y + shift: the mean follows, sigma is multiplied by |scale|.

    Exact at any alpha: the fixed variance is ridge regression, linear in y (sigma
    stays 1); with a learned variance the penalty is taken in units of the spread of y.
    """
    X, y = data
    a = fit_quiet(MLERegressor(variance=variance, alpha=alpha, tol=TOL), X, y)
    assume(a is not None)
    b = MLERegressor(variance=variance, alpha=alpha, tol=TOL).fit(X, scale * y + shift)
    mean_a, std_a = a.predict(X, return_std=True)
    mean_b, std_b = b.predict(X, return_std=True)
    spread = abs(scale) * np.std(y)
    # the shifted targets themselves are rounded to ~eps * |shift|: relative to their
    # spread that is an error the fit cannot undo
    rounding = 1e-14 * abs(shift) / spread
    np.testing.assert_allclose(mean_b, scale * mean_a + shift, rtol=1e-7,
                               atol=(1e-6 + rounding) * spread)
    np.testing.assert_allclose(b.coef_, scale * a.coef_, rtol=1e-6 + rounding,
                               atol=(1e-6 + rounding) * abs(scale) * np.abs(a.coef_).max())
    if variance == "fixed":
        np.testing.assert_array_equal(std_b, 1.0)
    else:
        np.testing.assert_allclose(std_b, abs(scale) * std_a, rtol=1e-6 + 10 * rounding)
    if variance == "heteroscedastic":
        np.testing.assert_allclose(b.scale_coef_, a.scale_coef_, rtol=1e-5,
                                   atol=1e-6 * max(1.0, np.abs(a.scale_coef_).max()))
        assert b.scale_intercept_ == pytest.approx(a.scale_intercept_ + np.log(abs(scale)),
                                                   rel=1e-6, abs=1e-6)


@given(data=regression_data(), alpha=ALPHAS, shift=st.sampled_from([-1e3, 7.0]),
       scale=st.sampled_from([-2.0, 1e-3, 40.0]))
def test_ridge_regressor_equivariant_in_y_at_any_alpha(data, alpha, shift, scale):
    X, y = data
    a = MLERegressor(variance="fixed", alpha=alpha, tol=TOL).fit(X, y)
    b = MLERegressor(variance="fixed", alpha=alpha, tol=TOL).fit(X, scale * y + shift)
    np.testing.assert_allclose(b.predict(X), scale * a.predict(X) + shift, rtol=1e-7,
                               atol=1e-6 * abs(scale) * np.std(y))
