"""MLERegressor with each family, end to end: agreement with statsmodels and
scikit-learn (estimates, observed-information standard errors, log-likelihoods, the
mapped penalty), predictive distributions, domain errors and existence."""

import warnings

import numpy as np
import pytest
import statsmodels.api as sm
from scipy import stats
from scipy.special import xlogy
from sklearn.exceptions import ConvergenceWarning, UndefinedMetricWarning
from sklearn.linear_model import GammaRegressor, PoissonRegressor
from sklearn.metrics import d2_tweedie_score, r2_score

from sklearn_mle import MLERegressor, UnboundedLikelihoodWarning
from sklearn_mle.families import DISTRIBUTIONS


@pytest.fixture(scope="module")
def randhie():
    data = sm.datasets.randhie.load_pandas()
    X = data.exog.to_numpy(dtype=np.float64)
    return X, data.endog.to_numpy(dtype=np.float64)


@pytest.fixture(scope="module")
def star98():
    data = sm.datasets.star98.load_pandas()
    counts = data.endog.to_numpy(dtype=np.float64)
    trials = counts.sum(axis=1)
    X = data.exog.to_numpy(dtype=np.float64)[:, :8]
    return X, counts[:, 0] / trials, trials, counts


def test_poisson_matches_statsmodels_glm_estimates_errors_and_likelihood(randhie):
    X, y = randhie
    ours = MLERegressor(distribution="poisson", inference=True, tol=1e-10).fit(X, y)
    glm = sm.GLM(y, sm.add_constant(X, prepend=False), family=sm.families.Poisson()).fit()
    np.testing.assert_allclose(ours.coef_, glm.params[:-1], rtol=1e-8)
    np.testing.assert_allclose(ours.intercept_, glm.params[-1], rtol=1e-8)
    np.testing.assert_allclose(ours.coef_se_, glm.bse[:-1], rtol=1e-6)
    np.testing.assert_allclose(ours.loglik_, glm.llf, rtol=1e-12)
    np.testing.assert_allclose(ours.loglik_null_, glm.llnull, rtol=1e-10)
    np.testing.assert_allclose(ours.aic_, glm.aic, rtol=1e-12)
    assert ours.mle_exists_


def test_poisson_matches_scikit_learn_at_the_same_penalty(randhie):
    X, y = randhie
    X = X[:4000]
    y = y[:4000]
    ours = MLERegressor(distribution="poisson", alpha=0.01, tol=1e-10).fit(X, y)
    theirs = PoissonRegressor(alpha=0.01, solver="newton-cholesky", tol=1e-12,
                              max_iter=1000).fit(X, y)
    np.testing.assert_allclose(ours.coef_, theirs.coef_, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(ours.predict(X[:50]), theirs.predict(X[:50]), rtol=1e-7)


def test_gamma_with_unit_dispersion_is_scikit_learns_gamma_objective():
    # With phi fixed at 1 our NLL is sklearn's half Gamma deviance plus terms free of
    # the mean, so the penalised minimisers coincide at the same alpha.
    rng = np.random.default_rng(1)
    X = rng.normal(size=(2000, 4)) * [1.0, 3.0, 0.3, 10.0]
    mu = np.exp(0.5 + X @ [0.2, -0.1, 0.5, 0.01])
    y = rng.gamma(3.0, mu / 3.0)
    ours = MLERegressor(distribution="gamma", dispersion=1.0, alpha=0.01,
                        tol=1e-10).fit(X, y)
    theirs = GammaRegressor(alpha=0.01, solver="newton-cholesky", tol=1e-12,
                            max_iter=1000).fit(X, y)
    np.testing.assert_allclose(ours.coef_, theirs.coef_, rtol=1e-6, atol=1e-9)
    assert ours.dispersion_ == 1.0


def test_gamma_learned_shape_agrees_with_scipy_and_statsmodels_coefficients():
    data = sm.datasets.scotland.load_pandas()
    X, y = data.exog.to_numpy(dtype=float), data.endog.to_numpy(dtype=float)
    ours = MLERegressor(distribution="gamma", inference=True, tol=1e-10).fit(X, y)
    glm = sm.GLM(y, sm.add_constant(X, prepend=False),
                 family=sm.families.Gamma(sm.families.links.Log())).fit()
    np.testing.assert_allclose(ours.coef_, glm.params[:-1], rtol=1e-7)
    # the log-likelihood is scipy's gamma log-density at the fitted mean and shape
    shape = 1.0 / ours.dispersion_
    mean = ours.predict(X)
    expected = stats.gamma(a=shape, scale=mean / shape).logpdf(y).sum()
    np.testing.assert_allclose(ours.loglik_, expected, rtol=1e-12)
    dist = ours.predict_dist(X)
    np.testing.assert_allclose(dist.mean(), mean, rtol=1e-12)
    # the dispersion's standard error by the delta method from log phi's; the summary
    # shows phi itself
    assert ours.dispersion_se_ > 0 and ours.summary().names[-1] == "dispersion"


def test_binomial_matches_statsmodels_with_counts_and_frequency_weights(star98):
    X, proportion, trials, counts = star98
    ours = MLERegressor(distribution="binomial", inference=True, tol=1e-10).fit(
        X, proportion, sample_weight=trials)
    exog = sm.add_constant(X, prepend=False)
    by_counts = sm.GLM(counts, exog, family=sm.families.Binomial()).fit()
    by_weights = sm.GLM(proportion, exog, family=sm.families.Binomial(),
                        freq_weights=trials).fit()
    for glm in (by_counts, by_weights):
        np.testing.assert_allclose(ours.coef_, glm.params[:-1], rtol=1e-7)
        np.testing.assert_allclose(ours.coef_se_, glm.bse[:-1], rtol=1e-5)
    # the full binomial log-likelihood, log C(n, k) included, as the counts GLM's
    np.testing.assert_allclose(ours.loglik_, by_counts.llf, rtol=1e-12)
    held_out = ours.log_likelihood(X, proportion, sample_weight=trials)
    np.testing.assert_allclose(held_out * trials.sum(), by_counts.llf, rtol=1e-12)


SCIPY_DISTRIBUTIONS = {"gaussian": "norm", "poisson": "poisson",
                       "negative_binomial": "nbinom", "gamma": "gamma",
                       "student_t": "t", "binomial": "binom"}


@pytest.mark.parametrize("name", sorted(DISTRIBUTIONS))
def test_predict_is_the_mean_of_the_predictive_distribution(name):
    rng = np.random.default_rng(2)
    X = rng.normal(size=(400, 2))
    eta = 0.3 + X @ [0.4, -0.3]
    y = {"gaussian": eta + rng.normal(size=400),
         "poisson": rng.poisson(np.exp(eta)).astype(float),
         "gamma": rng.gamma(2.0, np.exp(eta) / 2.0),
         "binomial": rng.binomial(1, 1 / (1 + np.exp(-eta))).astype(float),
         "negative_binomial": rng.poisson(np.exp(eta) * rng.gamma(2.0, 0.5, size=400)),
         "student_t": eta + rng.standard_t(4, size=400)}[name].astype(float)
    reg = MLERegressor(distribution=name).fit(X, y)
    dist = reg.predict_dist(X)
    np.testing.assert_allclose(dist.mean(), reg.predict(X), rtol=1e-9)
    # the scipy distribution predict_dist's docstring names for this family
    assert dist.dist.name == SCIPY_DISTRIBUTIONS[name]
    # one row per sample, unpacked by .T into the bounds of scipy's interval
    interval = reg.predict_interval(X, coverage=0.9)
    assert interval.shape == (400, 2)
    low, high = interval.T
    assert np.all(low <= high)
    np.testing.assert_array_equal(np.column_stack(dist.interval(0.9)), interval)
    # the training log-likelihood is the sum of the held-out per-sample values
    np.testing.assert_allclose(reg.log_likelihood(X, y, per_sample=True).sum(),
                               reg.loglik_, rtol=1e-10)


@pytest.mark.parametrize("name, bad", [("poisson", -1.0), ("gamma", 0.0),
                                       ("binomial", 1.5)])
def test_targets_outside_the_domain_get_an_error_naming_the_family(name, bad):
    X = np.arange(10.0)[:, None]
    y = np.ones(10)
    y[3] = bad
    family = DISTRIBUTIONS[name]().name
    with pytest.raises(ValueError, match=family):
        MLERegressor(distribution=name).fit(X, y)


def test_dispersion_is_refused_where_the_family_has_none():
    with pytest.raises(ValueError, match="Poisson distribution has no dispersion"):
        MLERegressor(distribution="poisson", dispersion="linear").fit(
            np.arange(10.0)[:, None], np.arange(10.0))
    with pytest.raises(ValueError, match="variance="):
        MLERegressor(distribution="poisson", variance="fixed").fit(
            np.arange(10.0)[:, None], np.arange(10.0))


def _zero_region_counts(rng, n=300):
    """Counts where an indicator column marks a group with only zero counts."""
    X = rng.normal(size=(n, 2))
    group = (np.arange(n) < 40).astype(float)
    y = rng.poisson(np.exp(0.5 + 0.3 * X[:, 0])).astype(float)
    y[group == 1] = 0.0
    return np.column_stack([X, group]), y


@pytest.mark.parametrize("name", ["poisson", "negative_binomial"])
def test_a_region_of_zero_counts_has_no_mle_and_the_fit_says_so(name):
    if name not in DISTRIBUTIONS:
        pytest.fail(f"{name} is not registered")
    X, y = _zero_region_counts(np.random.default_rng(0))
    with pytest.warns(UnboundedLikelihoodWarning, match="zero counts"):
        reg = MLERegressor(distribution=name).fit(X, y)
    assert not reg.mle_exists_
    assert np.all(np.isfinite(reg.coef_))
    assert reg.coef_[2] < -5  # the group's mean pushed far towards 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        bounded = MLERegressor(distribution=name, alpha=1e-2).fit(X, y)
    assert bounded.mle_exists_
    # without the group the MLE exists and the fit is silent
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert MLERegressor(distribution=name).fit(X[40:], y[40:]).mle_exists_


def test_a_group_of_proportions_all_one_has_no_mle():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(300, 2))
    group = (np.arange(300) < 30).astype(float)
    y = rng.binomial(10, 1 / (1 + np.exp(-X[:, 0]))) / 10.0
    y[group == 1] = 1.0
    X = np.column_stack([X, group])
    with pytest.warns(UnboundedLikelihoodWarning, match="does not exist"):
        reg = MLERegressor(distribution="binomial").fit(X, y, sample_weight=np.full(300, 10.0))
    assert not reg.mle_exists_ and reg.coef_[2] > 5
    np.testing.assert_array_equal(np.sort(reg.predict(X[:30]) > 0.99), True)


def test_a_gamma_mean_that_fits_exactly_collapses_the_dispersion():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(50, 2))
    y = np.exp(0.2 + X @ [0.5, -0.3])  # noiseless: the mean fits every target
    with pytest.warns(UnboundedLikelihoodWarning, match="collapses"):
        reg = MLERegressor(distribution="gamma").fit(X, y)
    assert not reg.mle_exists_ and np.isfinite(reg.dispersion_)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert MLERegressor(distribution="gamma", alpha=1e-3).fit(X, y).mle_exists_


@pytest.mark.parametrize("noise", [0.3, 0.0])
def test_a_constant_dispersion_is_judged_on_one_row_unless_it_collapses(noise):
    """With a constant dispersion the collapse symptom is the same on every sample:
    the existence check reads one row's raw predictions, and all of them (for the
    exact-fit check) only when that row shows the symptom."""
    from sklearn_mle.existence._check import find_unbounded
    from sklearn_mle.families import GammaLoss

    rng = np.random.default_rng(15)
    X = rng.normal(size=(200, 2))
    eta = 0.2 + X @ [0.5, -0.3]
    y = np.exp(eta + noise * rng.normal(size=200))
    log_dispersion = np.log(noise**2) if noise else -60.0
    rows_asked = []

    def raw_prediction(rows):
        rows_asked.append(rows.shape[0])
        return np.column_stack([rows @ [0.5, -0.3] + 0.2,
                                np.full(rows.shape[0], log_dispersion)])

    diagnosis = find_unbounded(GammaLoss(), ("x", "constant"), X, y, np.ones(200),
                               raw_prediction, True)
    if noise:
        assert diagnosis is None and rows_asked == [1]
    else:
        assert diagnosis.kind == "collapse" and diagnosis.samples.size == 200
        assert rows_asked == [1, 200]


def test_student_t_degrees_of_freedom_at_infinity_are_a_boundary_not_a_failure():
    rng = np.random.default_rng(6)
    X = rng.normal(size=(500, 2))
    y = 1.0 + X @ [1.0, -2.0] + 0.5 * rng.normal(size=500)   # Gaussian noise
    with warnings.catch_warnings():
        warnings.simplefilter("error")   # no ConvergenceWarning, no unbounded warning
        t = MLERegressor(distribution="student_t", inference=True).fit(X, y)
    gaussian = MLERegressor().fit(X, y)
    assert t.mle_exists_ and t.converged_ and t.df_ > 1e6
    assert "Gaussian limit" in t.boundary_note_
    assert "Gaussian limit" in " ".join(str(t.summary()).split())
    np.testing.assert_allclose(t.coef_, gaussian.coef_, rtol=1e-5)
    np.testing.assert_allclose(t.scale_, gaussian.scale_, rtol=1e-5)


def test_student_t_resists_outliers_where_the_gaussian_does_not():
    rng = np.random.default_rng(7)
    X = rng.normal(size=(400, 1))
    y = 2.0 * X[:, 0] + 0.3 * rng.normal(size=400)
    y[:20] += 50.0    # 5 % gross outliers
    t = MLERegressor(distribution="student_t").fit(X, y)
    gaussian = MLERegressor().fit(X, y)
    assert abs(t.coef_[0] - 2.0) < 0.1 < abs(gaussian.intercept_ - 0.0)
    assert t.df_ < 5 and t.boundary_note_ is None
    assert t.loglik_ > gaussian.loglik_


def test_negative_binomial_matches_statsmodels_nb2(randhie):
    X, y = randhie
    ours = MLERegressor(distribution="negative_binomial", inference=True,
                        tol=1e-10).fit(X, y)
    nb = sm.NegativeBinomial(y, sm.add_constant(X, prepend=False),
                             loglike_method="nb2").fit(method="newton", maxiter=100,
                                                       disp=0)
    np.testing.assert_allclose(ours.coef_, nb.params[:-2], rtol=1e-7)
    np.testing.assert_allclose(ours.alpha_, nb.params[-1], rtol=1e-7)
    assert ours.dispersion_ == ours.alpha_
    # observed-information standard errors, alpha's by the delta method
    np.testing.assert_allclose(ours.coef_se_, nb.bse[:-2], rtol=1e-6)
    np.testing.assert_allclose(ours.alpha_se_, nb.bse[-1], rtol=1e-6)
    np.testing.assert_allclose(ours.loglik_, nb.llf, rtol=1e-12)
    assert ours.summary().names[-1] == "alpha"   # on the natural scale, as statsmodels
    # overdispersed counts: the negative binomial beats the Poisson by far
    poisson = MLERegressor(distribution="poisson").fit(X, y)
    assert ours.aic_ < poisson.aic_ - 1000


def test_student_t_matches_statsmodels_tlinearmodel():
    from statsmodels.miscmodels.tmodel import TLinearModel

    data = sm.datasets.stackloss.load_pandas()
    X, y = data.exog.to_numpy(float), data.endog.to_numpy(float)
    ours = MLERegressor(distribution="student_t", tol=1e-10).fit(X, y)
    design = sm.add_constant(X, prepend=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = TLinearModel(y, design)
        start = np.r_[np.linalg.lstsq(design, y, rcond=None)[0], 5.0, np.std(y)]
        result = model.fit(start_params=start, method="bfgs", maxiter=10000, gtol=1e-10,
                           disp=0)
        result = model.fit(start_params=result.params, method="newton", disp=0)
    np.testing.assert_allclose(ours.coef_, result.params[:3], rtol=1e-6)
    np.testing.assert_allclose([ours.df_, ours.scale_], np.abs(result.params[-2:]),
                               rtol=1e-6)
    np.testing.assert_allclose(ours.loglik_, result.llf, rtol=1e-10)


def test_student_t_scale_collapse_on_part_of_the_samples_is_reported():
    # With the degrees of freedom learned, exact fits of only some targets make the
    # likelihood unbounded (the scale and nu shrink together); alpha > 0 bounds it.
    rng = np.random.default_rng(5)
    X = rng.normal(size=(50, 2))
    y = 0.2 + X @ [0.5, -0.3]
    y[40:] += rng.normal(size=10)
    with pytest.warns(UnboundedLikelihoodWarning, match="fits 40 of 50 targets exactly"):
        reg = MLERegressor(distribution="student_t").fit(X, y)
    assert not reg.mle_exists_ and np.isfinite(reg.scale_)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        bounded = MLERegressor(distribution="student_t", alpha=1e-3).fit(X, y)
    assert bounded.mle_exists_ and bounded.scale_ > 1e-3


def test_student_t_with_fixed_degrees_of_freedom_through_the_public_class():
    from sklearn_mle import StudentT

    rng = np.random.default_rng(9)
    X = rng.normal(size=(300, 2))
    y = X @ [1.0, 0.5] + rng.standard_t(3, size=300)
    reg = MLERegressor(distribution=StudentT(df=3.0), inference=True).fit(X, y)
    assert reg.df_ == pytest.approx(3.0)
    names = reg.summary().names
    assert "df" not in names and "log_df" not in names   # fixed: not a parameter
    expected = stats.t(3.0, reg.predict(X), reg.scale_).logpdf(y).sum()
    np.testing.assert_allclose(reg.loglik_, expected, rtol=1e-12)


@pytest.mark.parametrize("max_iter", [1, 2, 4, 5, 6, 8])
def test_negative_binomial_refit_at_the_poisson_limit_keeps_to_max_iter(max_iter):
    # Poisson counts whose negative binomial fit runs to alpha -> 0: the boundary is
    # fixed and the rest refitted, with what is left of max_iter (it was 2 x max_iter
    # before, and converged_ True at n_iter_ 7 > max_iter = 4)
    rng = np.random.default_rng(4)
    X = rng.normal(size=(300, 2))
    y = rng.poisson(np.exp(0.5 + 0.3 * X[:, 0])).astype(float)
    full = MLERegressor(distribution="negative_binomial").fit(X, y)
    assert "Poisson limit" in full.boundary_note_ and full.converged_
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        short = MLERegressor(distribution="negative_binomial", max_iter=max_iter).fit(X, y)
    convergence = [w for w in caught if issubclass(w.category, ConvergenceWarning)]
    assert short.n_iter_ <= max_iter
    assert short.converged_ == (max_iter >= full.n_iter_)
    assert len(convergence) == (0 if short.converged_ else 1)
    if convergence:
        assert f"after {short.n_iter_} iteration" in str(convergence[0].message)


# ----------------------------------------------------------------- score: D² or R²
def glm_data(seed=3, n=600):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    mu = np.exp(0.4 + X @ [0.3, -0.2, 0.1])
    weights = rng.uniform(0.2, 3.0, size=n)
    return rng, X, mu, weights


@pytest.mark.parametrize("name, sklearn_class, power", [
    ("poisson", PoissonRegressor, 1), ("gamma", GammaRegressor, 2)])
def test_score_is_scikit_learns_d2_at_the_same_fit(name, sklearn_class, power):
    rng, X, mu, weights = glm_data()
    draw = {"poisson": lambda m: rng.poisson(m).astype(float),
            "gamma": lambda m: rng.gamma(2.0, m / 2.0)}[name]
    y, y_new = draw(mu), draw(mu)
    ours = MLERegressor(distribution=name, tol=1e-10).fit(X, y, sample_weight=weights)
    theirs = sklearn_class(alpha=0.0, solver="newton-cholesky", tol=1e-12,
                           max_iter=1000).fit(X, y, sample_weight=weights)
    for target in (y, y_new):   # training and held-out targets
        for w in (None, weights):
            d2 = ours.score(X, target, sample_weight=w)
            np.testing.assert_allclose(d2, theirs.score(X, target, sample_weight=w),
                                       rtol=1e-8)
            np.testing.assert_allclose(
                d2, d2_tweedie_score(target, ours.predict(X), power=power,
                                     sample_weight=w), rtol=1e-12)
            # not R² any more
            assert abs(d2 - r2_score(target, ours.predict(X), sample_weight=w)) > 1e-3


def test_negative_binomial_score_is_the_deviance_ratio_at_its_fitted_alpha(randhie):
    X, y = randhie
    X, y = X[:3000], y[:3000]
    ours = MLERegressor(distribution="negative_binomial", tol=1e-10).fit(X, y)
    glm = sm.GLM(y, sm.add_constant(X, prepend=False),
                 family=sm.families.NegativeBinomial(alpha=ours.dispersion_)).fit(
        tol=1e-12)
    np.testing.assert_allclose(ours.coef_, glm.params[:-1], rtol=1e-6)
    np.testing.assert_allclose(ours.score(X, y), 1 - glm.deviance / glm.null_deviance,
                               rtol=1e-7)


def test_binomial_score_is_the_deviance_ratio_with_trials_as_weights(star98):
    X, proportion, trials, counts = star98
    ours = MLERegressor(distribution="binomial", tol=1e-10).fit(
        X, proportion, sample_weight=trials)
    glm = sm.GLM(counts, sm.add_constant(X, prepend=False),
                 family=sm.families.Binomial()).fit()
    np.testing.assert_allclose(ours.score(X, proportion, sample_weight=trials),
                               1 - glm.deviance / glm.null_deviance, rtol=1e-8)


@pytest.mark.parametrize("name", ["poisson", "negative_binomial", "gamma", "binomial"])
def test_integer_score_weights_are_repeated_rows(name):
    rng, X, mu, _ = glm_data(n=200)
    y = {"poisson": rng.poisson(mu), "negative_binomial": rng.poisson(mu * rng.gamma(
        2.0, 0.5, size=200)), "gamma": rng.gamma(2.0, mu / 2.0),
         "binomial": rng.binomial(1, mu / (1 + mu))}[name].astype(float)
    reg = MLERegressor(distribution=name).fit(X, y)
    counts = rng.integers(0, 4, size=200)
    repeated = np.repeat(np.arange(200), counts)
    np.testing.assert_allclose(reg.score(X, y, sample_weight=counts),
                               reg.score(X[repeated], y[repeated]), rtol=1e-12)


@pytest.mark.parametrize("name", ["poisson", "negative_binomial", "gamma"])
def test_unit_deviance_is_twice_the_log_likelihood_ratio_to_the_saturated_mean(name):
    # the deviance formulas against scipy's log-densities of the predictive
    # distributions, at the prediction and at the mean y_i (dispersion as fitted)
    rng, X, mu, _ = glm_data(n=300)
    y = {"poisson": rng.poisson(mu), "negative_binomial": rng.poisson(mu * rng.gamma(
        2.0, 0.5, size=300)), "gamma": rng.gamma(2.0, mu / 2.0)}[name].astype(float)
    reg = MLERegressor(distribution=name,
                       dispersion=None if name == "poisson" else "linear").fit(X, y)
    family, raw = reg.family_, reg._raw_prediction(X)
    inside = y > 0
    saturated = raw.copy()
    saturated[inside, 0] = family.link_value(y[inside])

    def log_density(rows):
        dist = family.distribution(rows)
        return dist.logpdf(y) if name == "gamma" else dist.logpmf(y)

    # a zero count has saturated probability 1 (mean 0)
    saturated_ll = np.where(inside, log_density(saturated), 0.0)
    np.testing.assert_allclose(family.unit_deviance(y, raw),
                               2 * (saturated_ll - log_density(raw)), rtol=1e-9,
                               atol=1e-12)


def test_binomial_unit_deviance_of_proportions_and_of_extreme_logits():
    family = DISTRIBUTIONS["binomial"]()
    y = np.array([0.0, 0.2, 0.5, 1.0, 0.4, 1.0, 0.0])
    logit = np.array([-1.0, 0.3, 2.0, 1.5, 50.0, 800.0, -800.0])[:, None]
    p, head = 1 / (1 + np.exp(-logit[:4, 0])), y[:4]
    expected = 2 * (xlogy(head, head / p) + xlogy(1 - head, (1 - head) / (1 - p)))
    deviance = family.unit_deviance(y, logit)
    np.testing.assert_allclose(deviance[:4], expected, rtol=1e-12)
    # p rounds to 1 at a logit of 50: the deviance stays finite, (1 - y) 2 * 50 + ...
    np.testing.assert_allclose(deviance[4], 2 * (0.4 * np.log(0.4) + 0.6 * np.log(0.6)
                                                 + 0.6 * 50 + np.log1p(np.exp(-50))),
                               rtol=1e-12)
    assert deviance[5] == 0.0 and deviance[6] == 0.0


@pytest.mark.parametrize("name, options", [("gaussian", {}),
                                           ("gaussian", {"variance": "heteroscedastic"}),
                                           ("student_t", {})])
def test_gaussian_and_student_t_score_is_r2_of_the_mean(name, options):
    rng, X, mu, weights = glm_data()
    y = X @ [1.0, -1.0, 0.5] + rng.standard_t(3, size=X.shape[0])
    reg = MLERegressor(distribution=name, **options).fit(X, y)
    for w in (None, weights):
        np.testing.assert_allclose(reg.score(X, y, sample_weight=w),
                                   r2_score(y, reg.predict(X), sample_weight=w),
                                   rtol=1e-12)


def test_d2_of_a_constant_target_and_of_one_sample():
    X = np.arange(6.0)[:, None]
    reg = MLERegressor(distribution="poisson").fit(X, [0, 1, 1, 2, 3, 5])
    assert reg.score(X, np.full(6, 2.0)) == 0.0        # null deviance 0, as r2_score
    with pytest.warns(UndefinedMetricWarning, match="less than two samples"):
        assert np.isnan(reg.score(X[:1], [1.0]))
    with pytest.raises(ValueError, match="non-negative counts"):
        reg.score(X, -np.ones(6))
