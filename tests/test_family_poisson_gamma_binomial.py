"""Poisson, Gamma and binomial families: kernels against scipy.stats and finite
differences, the Fisher information against the expected Hessian, the fused pass
against the per-sample path, and fits through the linear-model layer against
statsmodels and scikit-learn on data sets that ship with statsmodels."""

import warnings

import numpy as np
import pytest
import statsmodels.api as sm
from scipy import integrate, optimize, stats
from scipy.special import gammaln

from sklearn_mle.families import BinomialLoss, Family, GammaLoss, PoissonLoss, _kernels
from sklearn_mle.models._linear import LinearModel
from sklearn_mle.solver._fit import fit_model

#: Agreement of the kernels with scipy.stats' log-pmf/log-pdf, relative to the size of
#: the largest term of the formula (scipy and we round the same terms differently).
KERNEL_RTOL = 1e-12
#: Fitted parameters against statsmodels / scikit-learn / scipy.optimize.
FIT_RTOL = 1e-6
EXTREME = np.array([-1e300, -1e10, -800.0, -700.0, -40.0, -1.0, 0.0, 1.0, 40.0, 700.0,
                    800.0, 1e10, 1e300])


def per_sample(family, y, raw, weight=None):
    """Loss, gradient, observed Hessian and Fisher information from the family."""
    y = np.asarray(y, dtype=float)
    raw = np.ascontiguousarray(raw, dtype=float).reshape(y.size, family.n_raw)
    weight = np.ones(y.size) if weight is None else weight
    loss, grad = family.loss_gradient(y, raw, weight)
    return (loss, grad, family.hessian(y, raw, weight),
            family.fisher_information(y, raw, weight))


def central_difference(f, raw, k, step):
    """4th-order central difference of f (rows -> (n, ...)) along raw column k."""
    def at(t):
        shifted = raw.copy()
        shifted[:, k] += t * step
        return f(shifted)
    shape = (-1,) + (1,) * (np.ndim(at(0.0)) - 1)
    return (at(-2.0) - 8 * at(-1.0) + 8 * at(1.0) - at(2.0)) / (12 * step.reshape(shape))


def assert_close_to_terms(actual, desired, terms):
    """|actual - desired| <= KERNEL_RTOL * terms, elementwise (terms: the size of the
    largest term each value is summed from)."""
    error = np.abs(actual - desired)
    worst = np.argmax(error / terms)
    assert np.all(error <= KERNEL_RTOL * terms), (actual[worst], desired[worst],
                                                  terms[worst])


def gamma_logpdf(y, raw):
    shape = np.exp(-raw[:, 1])
    return stats.gamma.logpdf(y, a=shape, scale=np.exp(raw[:, 0]) / shape)


# ----------------------------------------------------------------- kernels vs scipy
def test_poisson_loss_is_the_negative_log_pmf():
    y, eta = np.meshgrid([0.0, 1.0, 2.0, 7.0, 30.0, 1e3, 1e6],
                         np.r_[np.linspace(-30, 30, 13), -700.0, -100.0, 100.0, 700.0])
    y, eta = y.ravel(), eta.ravel()
    loss, grad, hess, fisher = per_sample(PoissonLoss(), y, eta)
    reference = -stats.poisson.logpmf(y, np.exp(eta))
    # size of the largest term of the formula: exp(eta), y eta, lgamma(y + 1)
    terms = 1.0 + np.exp(eta) + np.abs(y * eta) + gammaln(y + 1)
    assert_close_to_terms(loss, reference, terms)
    np.testing.assert_allclose(grad[:, 0], np.exp(eta) - y, rtol=1e-14)
    np.testing.assert_allclose(hess[:, 0, 0], np.exp(eta), rtol=1e-14)
    np.testing.assert_array_equal(fisher, hess)


@pytest.mark.parametrize("log_dispersion", [-12.0, -5.0, -np.log(15.0), -1.0, 0.0, 1.0,
                                            5.0, 12.0])
def test_gamma_loss_is_the_negative_log_density(log_dispersion):
    y, eta = np.meshgrid(np.logspace(-6, 6, 13),
                         np.r_[np.linspace(-20, 20, 9), -300.0, -100.0, 100.0, 300.0])
    y, eta = y.ravel(), eta.ravel()
    raw = np.column_stack([eta, np.full(y.size, log_dispersion)])
    loss, *_ = per_sample(GammaLoss(), y, raw)
    shape = np.exp(-log_dispersion)
    # size of the largest term: lgamma(k), k log k, k eta, (k - 1) log y, k y / mu
    terms = (1.0 + abs(gammaln(shape)) + abs(shape * log_dispersion) + shape * np.abs(eta)
             + np.abs((shape - 1) * np.log(y)) + shape * y * np.exp(-eta))
    assert_close_to_terms(loss, -gamma_logpdf(y, raw), terms)


def test_gamma_series_and_direct_branches_meet():
    """At the shape k = 15 where the kernel changes from lgamma/digamma/trigamma to
    their asymptotic series, both sides agree (loss, gradient, Hessian, Fisher)."""
    s = -np.log(15.0)
    raw = np.array([[0.3, np.nextafter(s, -np.inf)], [0.3, np.nextafter(s, np.inf)]])
    values = per_sample(GammaLoss(), np.full(2, 1.7), raw)
    for value in values:
        np.testing.assert_allclose(value[0], value[1], rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("family", [PoissonLoss(), GammaLoss()])
def test_fused_pass_matches_the_scipy_likelihood(family, dtype):
    rng = np.random.default_rng(0)
    n, d = 300, 4
    X = rng.normal(size=(n, d)).astype(dtype)
    coef = 0.3 * rng.normal(size=(family.n_raw, d))
    intercept = np.array([0.5, -0.7])[:family.n_raw]
    eta = X.astype(float) @ coef.T + intercept
    if isinstance(family, PoissonLoss):
        y = rng.poisson(np.exp(eta[:, 0])).astype(float)
        reference = stats.poisson.logpmf(y, np.exp(eta[:, 0]))
    else:
        y = rng.gamma(np.exp(-eta[:, 1]), np.exp(eta[:, 0] + eta[:, 1]))
        reference = gamma_logpdf(y, eta)
    model = LinearModel(family, d, np.ones(family.n_raw, bool), np.ones(family.n_raw, bool))
    assert model.uses_fused_pass(X)
    total = model.total_nll(model.pack(coef, intercept), X, y, np.ones(n))
    np.testing.assert_allclose(-total, reference.sum(), rtol=KERNEL_RTOL)


# ------------------------------------------------- derivatives and Fisher information
def derivative_cases():
    poisson_raw = np.array([-200.0, -30.0, -1.0, 0.0, 0.5, 3.0, 30.0, 200.0])
    poisson_y = np.array([0.0, 0.0, 1.0, 2.0, 0.0, 5.0, 1e13, 1e87])
    eta = np.array([-200.0, -30.0, -1.0, 0.0, 0.5, 3.0, 30.0, 200.0, 2.0, 2.0, 2.0])
    s = np.array([0.0, 1.0, -2.0, 3.0, -30.0, 0.5, -1.0, 20.0, -np.log(15), 8.0, -8.0])
    gamma_y = np.exp(eta + np.array([0.3, -2.0, 0.01, 1.0, 1e-3, -5.0, 2.0, 0.5, 0.2,
                                     -40.0, 5.0]))
    return [(PoissonLoss(), poisson_y, poisson_raw[:, None]),
            (GammaLoss(), gamma_y, np.column_stack([eta, s]))]


@pytest.mark.parametrize("family, y, raw", derivative_cases(),
                         ids=lambda case: getattr(case, "name", ""))
def test_gradient_and_hessian_match_finite_differences(family, y, raw):
    weight = np.linspace(0.5, 2.0, y.size)
    loss, grad, hess, _ = per_sample(family, y, raw, weight)
    for k in range(family.n_raw):
        # the log link's curvature is on the unit scale whatever the raw value
        step = np.full(y.size, 1e-3)

        def loss_at(r):
            return family.loss_gradient(y, r, weight)[0]

        def grad_at(r):
            return family.loss_gradient(y, r, weight)[1]

        scale = np.abs(grad).max(axis=1) + np.abs(loss) * 1e-3
        np.testing.assert_allclose(central_difference(loss_at, raw, k, step), grad[:, k],
                                   rtol=1e-7, atol=1e-7 * scale.max())
        np.testing.assert_allclose(central_difference(grad_at, raw, k, step),
                                   hess[:, :, k], rtol=1e-6,
                                   atol=1e-7 * np.abs(hess).max())


def test_poisson_fisher_is_the_expected_hessian_summed_over_the_pmf():
    family = PoissonLoss()
    for eta in (-3.0, 0.0, 2.5):
        counts = np.arange(200.0)
        pmf = stats.poisson.pmf(counts, np.exp(eta))
        raw = np.full((counts.size, 1), eta)
        _, _, hess, _ = per_sample(family, counts, raw)
        fisher = per_sample(family, [0.0], [[eta]])[3][0]
        expected = np.einsum("i,ijk->jk", pmf, hess)
        np.testing.assert_allclose(fisher, expected, rtol=1e-13)
        # and the expected gradient (score) is zero
        grad = per_sample(family, counts, raw)[1]
        assert abs(pmf @ grad[:, 0]) < 1e-12


@pytest.mark.parametrize("log_dispersion", [-6.0, -1.0, 0.0, 1.5, 2.5])
def test_gamma_fisher_is_the_expected_hessian_by_quadrature(log_dispersion):
    family = GammaLoss()
    eta = 0.7
    raw = np.array([[eta, log_dispersion]])
    fisher = per_sample(family, [1.0], raw)[3][0]
    density = stats.gamma(a=np.exp(-log_dispersion),
                          scale=np.exp(eta + log_dispersion))

    # over t = log y, between quantiles leaving out less than 1e-16 of the mass
    lower = np.log(max(density.ppf(1e-16), np.exp(-700.0)))
    scale = max(1.0, np.exp(-log_dispersion))  # the size of the Hessian's entries
    upper = np.log(density.isf(1e-16))

    def expected(j, k):
        def integrand(t):
            y = np.exp(t)
            return per_sample(family, [y], raw)[2][0, j, k] * np.exp(density.logpdf(y) + t)
        return integrate.quad(integrand, lower, upper, limit=400, epsabs=1e-10 * scale,
                              epsrel=1e-10)[0]

    for j, k in ((0, 0), (0, 1), (1, 1)):
        np.testing.assert_allclose(fisher[j, k], expected(j, k), rtol=1e-8,
                                   atol=1e-8 * scale)
    assert fisher[0, 1] == 0.0
    assert np.all(np.linalg.eigvalsh(fisher) > 0)


# ----------------------------------------------------------- extremes and threads
@pytest.mark.parametrize("family", [PoissonLoss(), GammaLoss(), BinomialLoss()])
def test_no_nan_and_no_warning_for_any_finite_raw_prediction(family):
    grid = np.array(np.meshgrid(*[EXTREME] * family.n_raw)).reshape(family.n_raw, -1).T
    targets = {"Poisson": [0.0, 1.0, 1e6], "Gamma": [1e-300, 1.0, 1e300],
               "Binomial": [0.0, 0.3, 1.0]}[family.name]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise"):
            for target in targets:
                y = np.full(grid.shape[0], target)
                for value in per_sample(family, y, grid):
                    assert not np.any(np.isnan(value))


def test_exp_link_losses_are_infinite_beyond_the_doubles():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss, grad, hess, _ = per_sample(PoissonLoss(), [3.0, 0.0], [[710.0], [1e300]])
        assert np.all(loss == np.inf)
        assert np.all(np.isfinite(grad)) and np.all(np.isfinite(hess))
        # y / mean beyond the doubles, and a shape beyond the doubles with y != mean
        loss, grad, hess, _ = per_sample(GammaLoss(), [2.0, 2.0],
                                         [[-1e3, 0.0], [0.0, -1e3]])
        assert np.all(loss == np.inf)
        assert np.all(np.isfinite(grad)) and np.all(np.isfinite(hess))
        # ... but at y = mean the NLL with an infinite shape stays finite
        loss, *_ = per_sample(GammaLoss(), [1.0], [[0.0, -1e3]])
        assert np.isfinite(loss[0])


def test_zero_weight_gives_zero_loss_even_where_it_is_infinite():
    family = PoissonLoss()
    loss, grad = family.loss_gradient(np.ones(2), np.array([[800.0], [1.0]]),
                                      np.array([0.0, 1.0]))
    assert loss[0] == 0.0 and grad[0, 0] == 0.0 and np.isfinite(loss[1])


def data(family, n, d=5, dtype=np.float64, seed=1):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype(dtype)
    eta = 0.2 * X.astype(float) @ rng.normal(size=d) + 0.5
    if family.name == "Poisson":
        y = rng.poisson(np.exp(eta)).astype(float)
    elif family.name == "Gamma":
        y = rng.gamma(2.0, np.exp(eta) / 2.0)
    else:
        y = rng.binomial(7, 1 / (1 + np.exp(-eta))) / 7.0
    return X, y, rng.uniform(0.5, 2.0, size=n)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("family", [PoissonLoss(), GammaLoss(), BinomialLoss()],
                         ids=lambda f: f.name)
def test_fused_pass_equals_per_sample_path_and_threads_agree(family, dtype):
    X, y, weight = data(family, 2 * _kernels.FUSED_BLOCK_ROWS + 77, dtype=dtype)
    weight /= weight.sum()
    m = family.n_raw
    model = LinearModel(family, X.shape[1], np.ones(m, bool), np.ones(m, bool))
    theta = np.random.default_rng(2).normal(scale=0.1, size=model.n_params)
    fused = [model.objective_gradient(theta, X, y, weight, 0.0, n_threads=t)
             for t in (1, 2)]
    np.testing.assert_array_equal(fused[0][0], fused[1][0])
    np.testing.assert_array_equal(fused[0][1], fused[1][1])
    fisher = model.hessian(theta, X, y, weight, 0.0, expected=True)
    model.fused = False
    value, gradient = model.objective_gradient(theta, X, y, weight, 0.0)
    np.testing.assert_allclose(value, fused[0][0], rtol=1e-12)
    np.testing.assert_allclose(gradient, fused[0][1], rtol=1e-12,
                               atol=1e-12 * np.abs(gradient).max())
    np.testing.assert_allclose(model.hessian(theta, X, y, weight, 0.0, expected=True),
                               fisher, rtol=1e-12, atol=1e-12 * np.abs(fisher).max())
    raw = model.raw_prediction(theta, X)
    for method in (family.loss_gradient, family.hessian, family.fisher_information):
        one, two = method(y, raw, weight, 1), method(y, raw, weight, 2)
        for a, b in zip(*(((one,), (two,)) if isinstance(one, np.ndarray)
                          else (one, two))):
            np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------------ constant fits
def test_poisson_constant_is_the_log_mean_and_finite_for_zero_counts():
    family = PoissonLoss()
    y, weight = np.array([0.0, 2.0, 5.0]), np.array([1.0, 2.0, 0.5])
    np.testing.assert_allclose(family.constant_raw_prediction(y, weight),
                               [np.log(np.average(y, weights=weight))], rtol=1e-15)
    numeric = Family.constant_raw_prediction(family, y, weight)
    np.testing.assert_allclose(family.constant_raw_prediction(y, weight), numeric,
                               rtol=1e-8)
    zero = family.constant_raw_prediction(np.zeros(4), np.ones(4))
    np.testing.assert_allclose(np.exp(zero), 1e-12, rtol=1e-14)
    np.testing.assert_array_equal(family.recession_signs(np.zeros(4)), [-1] * 4)


def test_gamma_constant_is_the_maximum_likelihood_fit():
    family = GammaLoss()
    rng = np.random.default_rng(5)
    for shape in (0.05, 0.2, 3.0, 500.0, 1e7):
        y = rng.gamma(shape, 2.0 / shape, size=3000)
        eta, s = family.constant_raw_prediction(y, np.ones(y.size))
        a, _, scale = stats.gamma.fit(y, floc=0, method="MLE")
        np.testing.assert_allclose(np.exp(-s), a, rtol=1e-5)
        np.testing.assert_allclose(np.exp(eta), y.mean(), rtol=1e-13)
        # the score of the constant model vanishes in both columns (the mean's is
        # k (1 - mean(y) / mu), rounding relative to the shape k)
        grad = family.loss_gradient(y, np.tile([eta, s], (y.size, 1)),
                                    np.full(y.size, 1.0 / y.size))[1].sum(axis=0)
        assert abs(grad[0]) < 1e-12 * np.exp(-s) and abs(grad[1]) < 1e-12
    # weights as repeated rows; a fixed mean column
    y = rng.gamma(2.0, 1.0, size=50)
    counts = rng.integers(1, 4, size=50)
    np.testing.assert_allclose(family.constant_raw_prediction(y, counts.astype(float)),
                               family.constant_raw_prediction(np.repeat(y, counts),
                                                              np.ones(counts.sum())),
                               rtol=1e-12)
    fixed = family.constant_raw_prediction(y, np.ones(50), free=[False, True],
                                           fixed=[0.3, 0.0])
    numeric = Family.constant_raw_prediction(family, y, np.ones(50), free=[False, True],
                                             fixed=[0.3, 0.0])
    assert fixed[0] == 0.3
    np.testing.assert_allclose(fixed, numeric, rtol=1e-7)


def test_gamma_constant_target_gets_a_finite_huge_shape():
    eta, s = GammaLoss().constant_raw_prediction(np.full(5, 3.0), np.ones(5))
    assert eta == np.log(3.0)
    assert np.isfinite(s) and np.exp(-s) > 1e30


@pytest.mark.parametrize("family", [PoissonLoss(), GammaLoss(), BinomialLoss()],
                         ids=lambda f: f.name)
def test_unit_hessian_at_constant_is_the_average_fisher_information(family):
    X, y, weight = data(family, 400)
    constant = family.constant_raw_prediction(y, weight)
    np.testing.assert_allclose(
        family.unit_hessian_at_constant(constant),
        Family.unit_hessian_at_constant(family, constant, y, weight), rtol=1e-12)


# -------------------------------------------------------- prediction and domain
def test_distribution_log_density_is_minus_the_loss():
    rng = np.random.default_rng(6)
    for family, y in ((PoissonLoss(), rng.poisson(3.0, size=20).astype(float)),
                      (GammaLoss(), rng.gamma(2.0, size=20))):
        raw = rng.normal(scale=0.5, size=(20, family.n_raw))
        loss = family.loss_gradient(y, raw, np.ones(20))[0]
        dist = family.distribution(raw)
        log_density = dist.logpmf(y) if family.name == "Poisson" else dist.logpdf(y)
        np.testing.assert_allclose(log_density, -loss, rtol=1e-12)
        np.testing.assert_allclose(family.mean(raw), dist.mean(), rtol=1e-12)
    for family in (PoissonLoss(), GammaLoss()):
        means = family.mean(np.array([[1e4, 0.0], [-1e4, 0.0]])[:, :family.n_raw])
        assert np.all(np.isfinite(means)) and np.all(means > 0)


@pytest.mark.parametrize("family, bad", [(PoissonLoss(), [1.0, -1.0, 2.0]),
                                         (PoissonLoss(), [1.0, np.nan]),
                                         (GammaLoss(), [1.0, 0.0]),
                                         (GammaLoss(), [1.0, -2.0]),
                                         (BinomialLoss(), [0.5, 1.5]),
                                         (BinomialLoss(), [-0.1, 0.5])],
                         ids=lambda case: getattr(case, "name", ""))
def test_targets_outside_the_domain_are_refused_naming_the_family(family, bad):
    with pytest.raises(ValueError, match=f"The {family.name} distribution needs"):
        family.validate_target(np.array(bad))
    good = {"Poisson": [0.0, 2.5, 7.0], "Gamma": [1e-9, 2.0],
            "Binomial": [0.0, 0.5, 1.0]}[family.name]
    np.testing.assert_array_equal(family.validate_target(good), good)


def test_recession_signs():
    y = np.array([0.0, 0.5, 1.0])
    np.testing.assert_array_equal(BinomialLoss().recession_signs(y), [-1, 0, 1])
    np.testing.assert_array_equal(PoissonLoss().recession_signs(y), [-1, 0, 0])
    assert GammaLoss().recession_signs(y + 1) is None


def test_binomial_log_likelihood_is_the_binomial_log_pmf():
    rng = np.random.default_rng(7)
    trials = rng.integers(1, 40, size=30).astype(float)
    successes = rng.binomial(trials.astype(int), 0.3).astype(float)
    y = successes / trials
    raw = rng.normal(size=(30, 1))
    family = BinomialLoss()
    loss = family.loss_gradient(y, raw, trials)[0]
    p = family.mean(raw)
    np.testing.assert_allclose(-loss + family.log_likelihood_constant(y, trials),
                               stats.binom.logpmf(successes, trials, p), rtol=1e-12)
    np.testing.assert_array_equal(Family().log_likelihood_constant(y, trials),
                                  np.zeros(30))


# ------------------------------------------------------------- fits vs statsmodels
def fit(family, X, y, sample_weight=None, coef_free=None):
    """Fit through the linear-model layer; return the model, coef and intercept."""
    X = np.ascontiguousarray(X, dtype=np.float64)
    m = family.n_raw
    coef_free = np.arange(m) == 0 if coef_free is None else np.asarray(coef_free)
    model = LinearModel(family, X.shape[1], coef_free, np.ones(m, bool))
    weight = np.ones(y.size) if sample_weight is None else sample_weight
    weight = weight / weight.sum()
    start = family.constant_raw_prediction(y, weight)
    theta0 = model.pack(np.zeros((m, X.shape[1])), start)
    result = fit_model(model, X, y, weight, 0.0, theta0, start, tol=1e-10,
                              max_iter=500, verbose=0, estimator_name="test")
    assert result.converged
    return (model,) + model.unpack(result.theta)


def load_randhie():
    data = sm.datasets.randhie.load_pandas()
    return data.exog.to_numpy(float), data.endog.to_numpy(float).ravel()


def test_poisson_fit_matches_statsmodels_and_scikit_learn():
    from sklearn.linear_model import PoissonRegressor

    X, y = load_randhie()
    model, coef, intercept = fit(PoissonLoss(), X, y)
    glm = sm.GLM(y, sm.add_constant(X, prepend=False),
                 family=sm.families.Poisson()).fit(tol=1e-13)
    np.testing.assert_allclose(np.append(coef[0], intercept[0]), glm.params,
                               rtol=FIT_RTOL * 1e-3)
    loglik = -model.total_nll(model.pack(coef, intercept), X, y, np.ones(y.size))
    np.testing.assert_allclose(loglik, glm.llf, rtol=1e-12)
    sk = PoissonRegressor(alpha=0.0, solver="newton-cholesky", tol=1e-12,
                          max_iter=1000).fit(X, y)
    np.testing.assert_allclose(coef[0], sk.coef_, rtol=FIT_RTOL)
    np.testing.assert_allclose(intercept[0], sk.intercept_, rtol=FIT_RTOL)


@pytest.mark.parametrize("family", [PoissonLoss(), GammaLoss()], ids=lambda f: f.name)
def test_weights_are_repeated_rows(family):
    X, y, _ = data(family, 3000)
    counts = np.random.default_rng(8).integers(1, 4, size=y.size)
    weighted = fit(family, X, y, counts.astype(float))
    repeated = fit(family, np.repeat(X, counts, axis=0), np.repeat(y, counts))
    for a, b in zip(weighted[1:], repeated[1:]):
        np.testing.assert_allclose(a, b, rtol=FIT_RTOL * 1e-2, atol=1e-10)


def gamma_data():
    data = sm.datasets.scotland.load_pandas()
    return data.exog.to_numpy(float), data.endog.to_numpy(float).ravel()


def test_gamma_fit_matches_statsmodels_scikit_learn_and_a_direct_likelihood_fit():
    from sklearn.linear_model import GammaRegressor

    X, y = gamma_data()
    # statsmodels' scotland example: columns of very different scales
    model, coef, intercept = fit(GammaLoss(), X, y)
    params = np.append(coef[0], intercept[0])
    glm = sm.GLM(y, sm.add_constant(X, prepend=False),
                 family=sm.families.Gamma(sm.families.links.Log())).fit(tol=1e-13)
    np.testing.assert_allclose(params, glm.params, rtol=FIT_RTOL,
                               atol=FIT_RTOL * np.abs(glm.params).max())
    # scikit-learn's GammaRegressor on standardised columns (its lbfgs stops short on
    # the raw ones), mapped back
    centre, spread = X.mean(axis=0), X.std(axis=0)
    sk = GammaRegressor(alpha=0.0, tol=1e-12, max_iter=10_000).fit(
        (X - centre) / spread, y)
    sk_coef = sk.coef_ / spread
    np.testing.assert_allclose(coef[0], sk_coef, rtol=1e-5,
                               atol=1e-5 * np.abs(sk_coef).max())
    # the dispersion: a direct scipy.optimize fit of the full Gamma likelihood
    design = sm.add_constant(X, prepend=False)

    def nll(theta):
        shape = np.exp(-theta[-1])
        return -stats.gamma.logpdf(y, a=shape, scale=np.exp(design @ theta[:-1]) / shape
                                   ).sum()

    direct = optimize.minimize(nll, np.append(glm.params, np.log(glm.scale)),
                               method="Nelder-Mead",
                               options={"xatol": 1e-10, "fatol": 1e-12,
                                        "maxiter": 40_000, "maxfev": 40_000})
    np.testing.assert_allclose(intercept[1], direct.x[-1], rtol=1e-5)
    loglik = -model.total_nll(model.pack(coef, intercept), X, y, np.ones(y.size))
    assert loglik >= -direct.fun - 1e-9
    np.testing.assert_allclose(loglik, -direct.fun, rtol=1e-9)


def test_gamma_dispersion_linear_in_x_matches_a_direct_likelihood_fit():
    family = GammaLoss()
    X, y, _ = data(family, 400, d=2, seed=3)
    model, coef, intercept = fit(family, X, y, coef_free=[True, True])
    design = np.column_stack([X, np.ones(y.size)])

    def nll(theta):
        eta, s = design @ theta[:3], design @ theta[3:]
        return -stats.gamma.logpdf(y, a=np.exp(-s), scale=np.exp(eta + s)).sum()

    direct = optimize.minimize(nll, np.zeros(6), method="BFGS", options={"gtol": 1e-9})
    ours = np.concatenate([coef[0], intercept[:1], coef[1], intercept[1:]])
    np.testing.assert_allclose(ours, direct.x, rtol=1e-5, atol=1e-6)


def star98():
    data = sm.datasets.star98.load_pandas()
    successes, failures = data.endog.to_numpy(float).T
    X = data.exog.to_numpy(float)
    return (X - X.mean(axis=0)) / X.std(axis=0), successes, failures


def test_binomial_fit_matches_statsmodels_counts_and_frequency_weights():
    X, successes, failures = star98()
    trials = successes + failures
    y = successes / trials
    model, coef, intercept = fit(BinomialLoss(), X, y, trials)
    params = np.append(coef[0], intercept[0])
    design = sm.add_constant(X, prepend=False)
    counts = sm.GLM(np.column_stack([successes, failures]), design,
                    family=sm.families.Binomial()).fit(tol=1e-13)
    freq = sm.GLM(y, design, family=sm.families.Binomial(),
                  freq_weights=trials).fit(tol=1e-13)
    for reference in (counts, freq):
        np.testing.assert_allclose(params, reference.params, rtol=FIT_RTOL,
                                   atol=FIT_RTOL * np.abs(params).max())
    family = BinomialLoss()
    loglik = (-model.total_nll(model.pack(coef, intercept), X, y, trials)
              + family.log_likelihood_constant(y, trials).sum())
    np.testing.assert_allclose(loglik, counts.llf, rtol=1e-12)
    p = family.mean(model.linear_predictor(X, coef, intercept))
    np.testing.assert_allclose(loglik, stats.binom.logpmf(successes, trials, p).sum(),
                               rtol=1e-12)
