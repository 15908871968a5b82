"""The family-agnostic regressor: options, the custom-family path, the scorer."""

import math

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import get_scorer
from sklearn.model_selection import GridSearchCV

from sklearn_mle import (
    Family,
    MLEClassifier,
    MLERegressor,
    UnboundedLikelihoodWarning,
    log_likelihood_scorer,
)
from sklearn_mle import families as _loss
from sklearn_mle.families import DISTRIBUTIONS, GaussianLoss, _kernels


class NumpyGaussian(Family):
    """The Gaussian with learned scale written in NumPy through the public base class
    (no kernel code, the Hessian by central differences)."""

    name = "Gaussian (NumPy)"
    raw_columns = ("mean", "log_scale")
    column_modes = ("x", "constant")
    dispersion_column, dispersion_name = 1, "sigma"

    def loss_gradient(self, y, raw, sample_weight, n_threads=1):
        inv_var = np.exp(-2 * raw[:, 1])
        r = y - raw[:, 0]
        loss = 0.5 * np.log(2 * np.pi) + raw[:, 1] + 0.5 * r**2 * inv_var
        grad = np.column_stack([-r * inv_var, 1 - r**2 * inv_var])
        return sample_weight * loss, sample_weight[:, None] * grad

    def initial_raw_prediction(self, y, sample_weight):
        return np.array([np.average(y, weights=sample_weight), np.log(np.std(y))])

    def mean(self, raw):
        return raw[:, 0]

    def distribution(self, raw):
        return stats.norm(loc=raw[:, 0], scale=np.exp(raw[:, 1]))


@pytest.fixture
def data():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(300, 3)) * [1.0, 10.0, 0.1]
    y = 2.0 + X @ [1.0, -0.2, 5.0] + np.exp(0.3 * X[:, 0]) * rng.normal(size=300)
    return X, y


@pytest.mark.parametrize("dispersion", ["constant", "linear"])
def test_a_family_written_in_numpy_fits_as_the_builtin_one(data, dispersion):
    X, y = data
    builtin = MLERegressor(dispersion=dispersion, inference=True, tol=1e-10).fit(X, y)
    custom = MLERegressor(distribution=NumpyGaussian(), dispersion=dispersion,
                          inference=True, tol=1e-10).fit(X, y)
    np.testing.assert_allclose(custom.coef_, builtin.coef_, rtol=1e-7)
    np.testing.assert_allclose(custom.loglik_, builtin.loglik_, rtol=1e-10)
    np.testing.assert_allclose(custom.loglik_null_, builtin.loglik_null_, rtol=1e-8)
    # the central-difference Hessian of the NumPy family: standard errors to 1e-5
    np.testing.assert_allclose(custom.coef_se_, builtin.coef_se_, rtol=1e-5)
    assert custom.summary().names == builtin.summary().names
    np.testing.assert_allclose(custom.predict_interval(X[:5]),
                               builtin.predict_interval(X[:5]), rtol=1e-6)


def test_dispersion_fixed_at_a_value(data):
    X, y = data
    reg = MLERegressor(dispersion=2.5).fit(X, y)
    assert reg.scale_ == pytest.approx(2.5) and reg.dispersion_ == pytest.approx(2.5)
    expected = stats.norm(reg.predict(X), 2.5).logpdf(y).sum()
    assert reg.loglik_ == pytest.approx(expected, rel=1e-12)
    # the mean of a Gaussian with any fixed sigma is least squares
    ols = MLERegressor(variance="fixed").fit(X, y)
    np.testing.assert_allclose(reg.coef_, ols.coef_, rtol=1e-8)


def test_variance_and_dispersion_options_agree(data):
    X, y = data
    for variance, dispersion in [("constant", "constant"), ("heteroscedastic", "linear"),
                                 ("fixed", 1.0)]:
        a = MLERegressor(variance=variance).fit(X, y)
        b = MLERegressor(dispersion=dispersion).fit(X, y)
        np.testing.assert_array_equal(a.coef_, b.coef_)
        assert a.loglik_ == b.loglik_


def test_option_errors_name_the_problem(data):
    X, y = data
    with pytest.raises(ValueError, match="either variance= or dispersion="):
        MLERegressor(variance="constant", dispersion="linear").fit(X, y)
    with pytest.raises(ValueError, match="distribution"):
        MLERegressor(distribution="cauchy").fit(X, y)
    with pytest.raises(ValueError, match="dispersion"):
        MLERegressor(dispersion=-1.0).fit(X, y)


def test_every_builtin_distribution_constructs_by_default():
    for name, family_class in DISTRIBUTIONS.items():
        family = family_class()
        assert family.n_raw == len(family.column_modes)
        assert family.column_modes[0] == "x"
        assert MLERegressor(distribution=name).get_params()["distribution"] == name
    assert DISTRIBUTIONS["gaussian"] is GaussianLoss


def test_the_scorer_chooses_by_held_out_likelihood():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 2))
    y = 1.0 + X[:, 0] + np.exp(X[:, 1]) * rng.normal(size=600)
    search = GridSearchCV(MLERegressor(),
                          {"dispersion": ["constant", "linear"], "alpha": [0.0, 1e-3]},
                          scoring=log_likelihood_scorer, cv=3).fit(X, y)
    assert search.best_params_["dispersion"] == "linear"
    best = search.best_estimator_
    assert log_likelihood_scorer(best, X, y) == pytest.approx(best.loglik_ / 600)


def test_the_scorer_under_its_name_and_the_classifiers_string_equivalent():
    # scikit-learn takes no new scoring strings: the name lives in a scoring dict,
    # and for the classifier "neg_log_loss" is the same number
    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 2))
    y = rng.poisson(np.exp(0.3 + 0.5 * X[:, 0])).astype(float)
    grid = {"distribution": ["poisson", "gaussian"]}
    named = GridSearchCV(MLERegressor(), grid, cv=3, refit="log_likelihood",
                         scoring={"log_likelihood": log_likelihood_scorer}).fit(X, y)
    plain = GridSearchCV(MLERegressor(), grid, cv=3,
                         scoring=log_likelihood_scorer).fit(X, y)
    np.testing.assert_array_equal(named.cv_results_["mean_test_log_likelihood"],
                                  plain.cv_results_["mean_test_score"])
    assert named.best_params_ == plain.best_params_ == {"distribution": "poisson"}
    labels = (X[:, 0] + rng.logistic(size=300) > 0).astype(int) + (X[:, 1] > 1)
    classifier = MLEClassifier(alpha=1e-3).fit(X, labels)
    weights = rng.uniform(0.5, 2.0, size=300)
    assert get_scorer("neg_log_loss")(classifier, X, labels, sample_weight=weights) \
        == pytest.approx(log_likelihood_scorer(classifier, X, labels, weights),
                         rel=1e-12)


def test_a_refit_in_another_mode_leaves_no_stale_attributes(data):
    X, y = data
    reg = MLERegressor(dispersion="linear", inference=True).fit(X, y)
    assert hasattr(reg, "scale_coef_se_") and hasattr(reg, "dispersion_coef_")
    reg.set_params(dispersion="constant").fit(X, y)
    for name in ("scale_coef_", "scale_coef_se_", "dispersion_coef_se_",
                 "scale_intercept_"):
        assert not hasattr(reg, name), name
    assert reg.scale_se_ > 0 and reg.dispersion_se_ == reg.scale_se_


class NumpyPoisson(Family):
    """The Poisson written in NumPy: the existence check comes from recession_signs."""

    name = "Poisson (NumPy)"
    link = "log"

    def loss_gradient(self, y, raw, sample_weight, n_threads=1):
        eta = raw[:, 0]
        mu = np.exp(eta)
        loss = mu - y * eta + np.vectorize(math.lgamma)(y + 1)
        return sample_weight * loss, (sample_weight * (mu - y))[:, None]

    def initial_raw_prediction(self, y, sample_weight):
        return np.array([np.log(np.average(y, weights=sample_weight))])

    def mean(self, raw):
        return np.exp(raw[:, 0])

    def distribution(self, raw):
        return stats.poisson(np.exp(raw[:, 0]))

    def recession_signs(self, y):
        return np.where(y == 0, -1, 0).astype(np.int8)


def test_a_count_family_in_numpy_fits_and_checks_existence_as_the_builtin_one():
    rng = np.random.default_rng(8)
    X = rng.normal(size=(300, 2))
    y = rng.poisson(np.exp(0.3 + 0.5 * X[:, 0])).astype(float)
    builtin = MLERegressor(distribution="poisson", inference=True, tol=1e-10).fit(X, y)
    custom = MLERegressor(distribution=NumpyPoisson(), inference=True,
                          tol=1e-10).fit(X, y)
    np.testing.assert_allclose(custom.coef_, builtin.coef_, rtol=1e-8)
    np.testing.assert_allclose(custom.loglik_, builtin.loglik_, rtol=1e-12)
    np.testing.assert_allclose(custom.coef_se_, builtin.coef_se_, rtol=1e-5)
    # a group with only zero counts: the same diagnosis through the public hooks
    X_zero = np.column_stack([X, (np.arange(300) < 30).astype(float)])
    y_zero = np.where(np.arange(300) < 30, 0.0, y)
    with pytest.warns(UnboundedLikelihoodWarning, match="zero counts"):
        reg = MLERegressor(distribution=NumpyPoisson()).fit(X_zero, y_zero)
    assert not reg.mle_exists_ and reg.coef_[2] < -5


def test_an_estimator_with_a_custom_family_clones_pickles_and_searches(data):
    import pickle

    from sklearn.base import clone

    X, y = data
    reg = MLERegressor(distribution=NumpyGaussian())
    copy = clone(reg)
    assert copy.distribution is not reg.distribution
    assert isinstance(copy.distribution, NumpyGaussian)
    fitted = pickle.loads(pickle.dumps(copy.fit(X, y)))
    np.testing.assert_array_equal(fitted.predict(X), copy.predict(X))
    search = GridSearchCV(MLERegressor(),
                          {"distribution": ["gaussian", NumpyGaussian(), "student_t"]},
                          scoring=log_likelihood_scorer, cv=3).fit(X, y)
    assert search.best_score_ == max(search.cv_results_["mean_test_score"])


@pytest.mark.parametrize("family", [
    _loss.BernoulliLoss(), _loss.GaussianLoss(), _loss.GaussianFixedScaleLoss(),
    _loss.PoissonLoss(), _loss.GammaLoss(), _loss.NegativeBinomialLoss(),
    _loss.StudentTLoss(), NumpyPoisson()], ids=lambda f: type(f).__name__)
def test_constant_loss_is_the_sum_of_the_per_sample_losses(family):
    """The null model's NLL without per-sample arrays: the sum of loss_gradient's
    losses, the same for 1 and 2 threads (3 blocks of rows)."""
    rng = np.random.default_rng(4)
    n = 2 * _kernels.FUSED_BLOCK_ROWS + 5
    y = (rng.integers(0, 2, n) if family.name == "Bernoulli"
         else rng.poisson(2.0, n) + (family.name == "Gamma")).astype(float)
    weights = rng.uniform(0.5, 2.0, n)
    raw_row = np.array([0.3, -0.2, 1.1][:family.n_raw])
    per_sample = family.loss_gradient(y, np.tile(raw_row, (n, 1)), weights)[0]
    totals = [family.constant_loss(y, raw_row, weights, threads) for threads in (1, 2)]
    assert totals[0] == totals[1]
    np.testing.assert_allclose(totals[0], per_sample.sum(), rtol=1e-13)


def test_constant_loss_checks_the_family_against_the_raw_prediction():
    with pytest.raises(ValueError, match="raw"):
        _kernels.constant_loss(_kernels.FAMILY_GAMMA, np.ones(3), np.zeros(1), np.ones(3))
    assert _kernels.constant_loss(_kernels.FAMILY_POISSON, np.ones(0), np.zeros(1),
                                  np.ones(0)) == 0.0


@pytest.mark.parametrize("kind", ["counts", "binary", "large_counts", "fractions"])
def test_distinct_targets_counted_as_sorted(kind, monkeypatch):
    """Small integer targets are counted instead of sorted: the same distinct values
    and total weights, bit for bit (zero weights included), as ``np.unique``."""
    from sklearn_mle.families import _base

    rng = np.random.default_rng(8)
    n = 150_000
    y = {"counts": rng.poisson(2.0, n), "binary": rng.integers(0, 2, n),
         "large_counts": rng.integers(0, 200_000, n) // 1000 * 1000,
         "fractions": rng.integers(0, 8, n) / 4}[kind].astype(np.float64)
    weights = rng.uniform(size=n)
    weights[::7] = 0.0
    counted = _base._distinct_targets(y, weights)
    monkeypatch.setattr(_base, "_small_count_totals", lambda block, weights: None)
    sorted_ = _base._distinct_targets(y, weights)
    np.testing.assert_array_equal(counted[0], sorted_[0])
    np.testing.assert_array_equal(counted[1], sorted_[1])
    assert counted[0].size < n // 2
