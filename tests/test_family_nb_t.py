"""Negative binomial (NB2) and Student-t families: kernels against scipy.stats and exact
references, derivatives against finite differences, Fisher information against the
expectation of the Hessian, the fused pass, and fits against statsmodels."""

import math
import warnings

import numpy as np
import pytest
from scipy import integrate, stats
from scipy.special import gammaln

from sklearn_mle.families import NegativeBinomialLoss, StudentTLoss
from sklearn_mle.models._linear import LinearModel
from sklearn_mle.solver._fit import fit_model

sm = pytest.importorskip("statsmodels.api")


# ------------------------------------------------------------------------- helpers
def evaluate(family, y, raw, weight=None):
    """Per-sample loss, gradient, Hessian and Fisher information (unit weights)."""
    y = np.ascontiguousarray(y, dtype=float)
    raw = np.ascontiguousarray(raw, dtype=float)
    weight = np.ones(len(y)) if weight is None else weight
    loss, grad = family.loss_gradient(y, raw, weight)
    return (loss, grad, family.hessian(y, raw, weight),
            family.fisher_information(y, raw, weight))


def grid(*columns):
    """All combinations of the given values, one row each: (y, raw) arrays."""
    mesh = np.array(np.meshgrid(*columns, indexing="ij")).reshape(len(columns), -1).T
    return mesh[:, 0].copy(), np.ascontiguousarray(mesh[:, 1:])


def central_difference(fun, raw, k, step):
    """Fourth-order central difference of fun(raw) along raw column k."""
    shift = np.zeros_like(raw)
    shift[:, k] = step
    return (-fun(raw + 2 * shift) + 8 * fun(raw + shift) - 8 * fun(raw - shift)
            + fun(raw - 2 * shift)) / (12 * step)


def assert_close_scaled(actual, desired, scale, rtol):
    """|actual - desired| <= rtol * max(1, scale), entry by entry (scale per sample)."""
    error = np.abs(actual - desired) / np.maximum(1.0, scale)
    worst = np.unravel_index(np.argmax(error), error.shape)
    assert error[worst] <= rtol, (worst, actual[worst], desired[worst])


def check_derivatives(family, y, raw, step=1e-4, rtol=1e-7):
    """Gradient and Hessian against differences of the loss and of the gradient,
    relative to the size of the differentiated quantity at each sample."""
    loss, grad, hess, _ = evaluate(family, y, raw)
    for k in range(raw.shape[1]):
        numeric = central_difference(lambda r: evaluate(family, y, r)[0], raw, k, step)
        assert_close_scaled(grad[:, k], numeric, np.abs(loss), rtol)
        numeric = central_difference(lambda r: evaluate(family, y, r)[1], raw, k, step)
        assert_close_scaled(hess[:, :, k], numeric,
                            np.abs(grad).max(axis=1, keepdims=True), rtol)


def exact_nb_nll(y, eta, log_alpha):
    """NB2 NLL from exactly rounded pieces: D = sum_{j<y} log1p(j alpha) by fsum."""
    alpha, t = math.exp(log_alpha), log_alpha + eta
    softplus = t + math.log1p(math.exp(-t)) if t > 0 else math.log1p(math.exp(t))
    d = math.fsum(math.log1p(j * alpha) for j in range(int(y)))
    return (-d + math.lgamma(y + 1) + y * (softplus - eta)
            + (math.exp(-log_alpha) * softplus if y == 0 or t > -30 else
               math.exp(eta) * math.log1p(math.exp(t)) / math.exp(t)))


def fit(family, X, y, weights, coef_free, intercept_free, intercept_value=None):
    """Fit through the linear-model layer from the constant model; (coef, intercept)."""
    n, d = X.shape
    model = LinearModel(family, d, coef_free, intercept_free,
                        intercept_value=intercept_value)
    weights = weights / weights.sum()
    start = family.constant_raw_prediction(y, weights)
    theta0 = model.pack(np.zeros((family.n_raw, d)), start)
    result = fit_model(model, X, y, weights, 0.0, theta0, start, tol=1e-10,
                              max_iter=2000, verbose=0, estimator_name="test")
    assert result.converged
    return model, result.theta, weights


# -------------------------------------------------------------- negative binomial
NB = NegativeBinomialLoss()
NB_Y = [0, 1, 2, 7, 40, 64, 65, 300, 5000]


@pytest.mark.parametrize("log_alpha", [-3.0, -0.5, 0.0, 1.5])
def test_nb_matches_scipy(log_alpha):
    y, raw = grid(NB_Y, [-4.0, 0.0, 2.5, 6.0], [log_alpha])
    loss = evaluate(NB, y, raw)[0]
    mu, r = np.exp(raw[:, 0]), np.exp(-raw[:, 1])
    np.testing.assert_allclose(loss, -stats.nbinom.logpmf(y, r, r / (r + mu)),
                               rtol=1e-11)
    np.testing.assert_allclose(loss, -NB.distribution(raw).logpmf(y), rtol=1e-11)


@pytest.mark.parametrize("log_alpha", [np.log(1e-8), -12.0, 10.0, 30.0, 300.0])
def test_nb_exact_at_extreme_dispersion(log_alpha):
    """Where scipy's lgamma differences lose digits (alpha -> 0) or alpha is huge."""
    y, raw = grid(NB_Y, [-3.0, 0.5, 4.0], [log_alpha])
    loss = evaluate(NB, y, raw)[0]
    exact = np.array([exact_nb_nll(*row) for row in np.column_stack([y, raw])])
    np.testing.assert_allclose(loss, exact, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("log_alpha", [-3.0, 0.0, 1.5])
def test_nb_exact_at_large_raw_predictions(log_alpha):
    """|log mu| ~ 1e2, where scipy's nbinom returns inf or NaN."""
    y, raw = grid(NB_Y, [-100.0, -30.0, 30.0, 100.0], [log_alpha])
    loss = evaluate(NB, y, raw)[0]
    exact = np.array([exact_nb_nll(*row) for row in np.column_stack([y, raw])])
    np.testing.assert_allclose(loss, exact, rtol=1e-12)


def test_nb_poisson_limit():
    """alpha = 1e-8: the Poisson NLL plus its first-order correction -alpha((y-mu)^2-y)/2."""
    y, raw = grid(NB_Y[:7], [-2.0, 0.0, 1.0, 3.0], [np.log(1e-8)])
    mu, alpha = np.exp(raw[:, 0]), 1e-8
    loss = evaluate(NB, y, raw)[0]
    first_order = -stats.poisson.logpmf(y, mu) - 0.5 * alpha * ((y - mu) ** 2 - y)
    bound = alpha ** 2 * (y + mu) ** 3 + 1e-14 * np.abs(first_order)
    assert np.all(np.abs(loss - first_order) <= bound)


def test_nb_derivatives():
    y, raw = grid(NB_Y, [-3.0, 0.5, 4.0], [-12.0, -2.0, 0.3, 3.0, 20.0])
    check_derivatives(NB, y, raw)


def nb_expected_hessian(eta, log_alpha):
    """Exact sum over the pmf (from the validated NLL) of the observed Hessian, and
    the kernel's Fisher information, at one (eta, log alpha)."""
    mu, r = np.exp(eta), np.exp(-log_alpha)
    # the tail decays like (alpha mu / (1 + alpha mu))^k
    top = int(mu + 80 * np.sqrt(mu + mu * mu / r) + 40 * (1 + mu / r) + 100)
    y = np.arange(top, dtype=float)
    raw = np.tile([eta, log_alpha], (top, 1))
    loss, _ = NB.loss_gradient(y, raw, np.ones(top))
    pmf = np.exp(-loss)
    assert abs(pmf.sum() - 1) < 1e-10
    expected = np.einsum("i,ijk->jk", pmf, NB.hessian(y, raw, np.ones(top)))
    return expected, NB.fisher_information(None, raw[:1], np.ones(1))[0]


@pytest.mark.parametrize("eta, log_alpha", [(0.5, -1.0), (3.0, 0.7), (-2.0, -20.0),
                                             (2.0, -8.0), (1.0, 3.0), (-5.0, 2.0),
                                             (5.0, -3.0)])
def test_nb_fisher_is_expected_hessian(eta, log_alpha):
    expected, info = nb_expected_hessian(eta, log_alpha)
    np.testing.assert_allclose(info, expected, rtol=1e-9,
                               atol=1e-9 * np.abs(np.diag(expected)).max())
    # the (log alpha, log alpha) entry, tiny near the Poisson limit, to its own scale
    assert info[1, 1] == pytest.approx(expected[1, 1], rel=1e-6)


@pytest.mark.parametrize("mu, log_alpha", [(403.0, 0.0), (520.0, 0.0), (300.0, 2.0),
                                            (1000.0, -1.0)])
def test_nb_fisher_long_tail(mu, log_alpha):
    """alpha mu >> 1: the geometric tail of the series summed by Euler-Maclaurin and
    Gauss-Laguerre (_nb_s2_tail)."""
    expected, info = nb_expected_hessian(np.log(mu), log_alpha)
    assert info[1, 1] == pytest.approx(expected[1, 1], rel=1e-7)


def test_nb_fisher_large_mean_limit():
    """Past NB_FISHER_MAX_TERMS terms (mu = 3e4), the large-mean limit: an upper
    bound (the gamma variable tells more than Y), close for large r."""
    expected, info = nb_expected_hessian(np.log(3e4), -5.0)
    assert expected[1, 1] <= info[1, 1] <= (1 + 1e-4) * expected[1, 1]


def test_nb_infinite_not_nan_at_huge_predictions():
    y, raw = grid([0.0, 3.0, 1e6], [-1e3, -750.0, 750.0, 1e3], [-1e3, -40.0, 0.0, 40.0, 1e3])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise"):
            loss, grad, hess, info = evaluate(NB, y, raw)
    for array in (loss, grad, hess, info):
        assert not np.isnan(array).any()
    # +inf exactly where the NLL (about mu = exp(eta) there) leaves the doubles; e.g.
    # at eta = 750, log alpha = -40 it is r log1p(alpha mu) ~ 1.7e20, finite
    assert np.array_equal(np.isposinf(loss), (raw[:, 0] >= 750) & (raw[:, 1] == -1e3))


def test_nb_targets():
    with pytest.raises(ValueError, match="negative binomial.*non-negative counts"):
        NB.validate_target([0.0, -1.0])
    with pytest.raises(ValueError, match="negative binomial.*non-negative counts"):
        NB.validate_target([0.0, np.nan])
    # non-integer counts: the quasi-likelihood fit, as for the Poisson
    np.testing.assert_array_equal(NB.validate_target([0.5, 1.0]), [0.5, 1.0])
    np.testing.assert_array_equal(NB.recession_signs(np.array([0.0, 2.0])), [-1, 0])


def test_nb_boundary_note_at_the_poisson_limit():
    rng = np.random.default_rng(0)
    under = rng.binomial(6, 0.5, size=3000).astype(float)     # variance < mean
    constant = NB.constant_raw_prediction(under, np.ones(under.size))
    assert np.exp(constant[1]) < NB.POISSON_LIMIT_ALPHA
    assert "Poisson limit" in NB.boundary_note(constant)
    over = rng.negative_binomial(2, 0.4, size=3000).astype(float)
    assert NB.boundary_note(NB.constant_raw_prediction(over, np.ones(over.size))) is None


def test_nb_constant_is_intercept_only_mle():
    y = np.array([0, 0, 1, 2, 2, 3, 7, 12, 0, 5], dtype=float)
    w = np.linspace(0.5, 2.0, y.size)
    start = NB.constant_raw_prediction(y, w)
    assert np.exp(start[0]) == pytest.approx(np.average(y, weights=w), rel=1e-12)
    raw = np.tile(start, (y.size, 1))
    assert np.abs(NB.loss_gradient(y, raw, w / w.sum())[1].sum(axis=0)).max() < 1e-8


@pytest.fixture(scope="module")
def randhie():
    data = sm.datasets.randhie.load_pandas()
    return (np.ascontiguousarray(data.exog.to_numpy(float)),
            data.endog.to_numpy(float))


def test_nb_matches_statsmodels(randhie):
    """statsmodels NegativeBinomial (nb2) on the RAND health insurance data (mdvis):
    estimates incl. alpha, log-likelihood and observed-information standard errors."""
    X, y = randhie
    n = len(y)
    model, theta, weights = fit(NB, X, y, np.ones(n), [True, False], [True, True])
    coef, intercept = model.unpack(theta)
    theirs = sm.NegativeBinomial(y, sm.add_constant(X, prepend=False),
                                 loglike_method="nb2").fit(method="newton", maxiter=100,
                                                           tol=1e-12, disp=0)
    alpha = np.exp(intercept[1])
    np.testing.assert_allclose(np.r_[coef[0], intercept[0], alpha], theirs.params,
                               rtol=1e-8)
    log_likelihood = -n * model.total_nll(model.pack(coef, intercept), X, y, weights)
    assert log_likelihood == pytest.approx(theirs.llf, rel=1e-13)
    covariance = np.linalg.inv(n * model.hessian(theta, X, y, weights, 0.0))
    std_err = np.sqrt(np.diag(covariance))
    std_err[-1] *= alpha    # delta method: se(alpha) = alpha se(log alpha)
    np.testing.assert_allclose(std_err, theirs.bse, rtol=1e-7)


def test_nb_weights_are_repeated_rows(randhie):
    X, y = randhie[0][:300], randhie[1][:300]
    counts = np.arange(300) % 3 + 1
    model, theta, _ = fit(NB, X, y, counts.astype(float), [True, False], [True, True])
    _, theta_rep, _ = fit(NB, np.repeat(X, counts, axis=0), np.repeat(y, counts),
                          np.ones(counts.sum()), [True, False], [True, True])
    np.testing.assert_allclose(theta, theta_rep, rtol=1e-7, atol=1e-9)


# ---------------------------------------------------------------------- Student-t
T = StudentTLoss()


@pytest.mark.parametrize("log_df", [np.log(0.3), 0.0, np.log(4.0), np.log(49.9),
                                    np.log(50.1), np.log(1e3)])
def test_t_matches_scipy(log_df):
    y, raw = grid([-1e3, -7.0, -0.3, 0.0, 0.2, 2.0, 40.0, 1e5], [-2.0, 0.0, 3.0],
                  [-1.0, 0.0, 2.0], [log_df])
    loss = evaluate(T, y, raw)[0]
    ref = -stats.t.logpdf(y, np.exp(raw[:, 2]), raw[:, 0], np.exp(raw[:, 1]))
    # scipy subtracts two lgammas of ~ nu/2: its own rounding, a few ulps of those
    scipy_rounding = 4 * np.finfo(float).eps * abs(gammaln((np.exp(log_df) + 1) / 2))
    np.testing.assert_allclose(loss, ref, rtol=1e-13, atol=scipy_rounding)
    np.testing.assert_allclose(loss, -T.distribution(raw).logpdf(y), rtol=1e-13,
                               atol=scipy_rounding)


@pytest.mark.parametrize("log_df", [0.0, np.log(4.0)])
def test_t_matches_scipy_at_large_raw_predictions(log_df):
    y, raw = grid([-1e3, -7.0, 0.0, 2.0, 1e5], [-300.0, 0.0, 300.0],
                  [-100.0, -10.0, 10.0, 100.0], [log_df])
    ref = -stats.t.logpdf(y, np.exp(raw[:, 2]), raw[:, 0], np.exp(raw[:, 1]))
    np.testing.assert_allclose(evaluate(T, y, raw)[0], ref, rtol=1e-14)


def test_t_gaussian_limit():
    """nu = 1e8: the Gaussian log-density, to the O(1/nu) term (z^4 - 2 z^2 - 1)/(4 nu)."""
    y, raw = grid(np.linspace(-8, 8, 33), [0.5], [-0.7, 0.0, 1.2], [np.log(1e8)])
    loss = evaluate(T, y, raw)[0]
    z = (y - raw[:, 0]) / np.exp(raw[:, 1])
    gaussian = -stats.norm.logpdf(y, raw[:, 0], np.exp(raw[:, 1]))
    np.testing.assert_allclose(loss - gaussian, -(z ** 4 - 2 * z ** 2 - 1) / 4e8,
                               rtol=1e-3, atol=1e-14)


def test_t_derivatives():
    y, raw = grid([-30.0, -1.0, 0.0, 0.4, 3.0, 500.0], [0.1, 2.0], [-1.0, 0.5],
                  [-3.0, 0.0, np.log(49.0), np.log(51.0), 9.0])
    check_derivatives(T, y, raw)


@pytest.mark.parametrize("log_df", [np.log(0.7), 0.0, np.log(5.0), np.log(60.0), 12.0])
def test_t_fisher_is_expected_hessian(log_df):
    """Lange, Little and Taylor's closed forms (in log sigma, log nu) against the
    expectation of the observed Hessian by quadrature over the t density."""
    mu, s = 0.3, -0.4
    raw = np.array([[mu, s, log_df]])
    info = evaluate(T, np.zeros(1), raw)[3][0]
    nu, sigma = np.exp(log_df), np.exp(s)

    def hessian_entry(z, j, k):
        return evaluate(T, [mu + sigma * z], raw)[2][0, j, k] * stats.t.pdf(z, nu)

    expected = np.array([[integrate.quad(hessian_entry, -np.inf, np.inf, args=(j, k),
                                         epsabs=1e-15, epsrel=1e-11, limit=400)[0]
                          for k in range(3)] for j in range(3)])
    np.testing.assert_allclose(info, expected, rtol=1e-7,
                               atol=1e-9 * np.abs(np.diag(expected)).max())
    assert np.linalg.eigvalsh(info).min() >= 0


def test_t_finite_not_nan_at_extremes():
    y, raw = grid([-1e300, 0.0, 1.0, 1e300], [-1e3, 0.0, 1e3], [-1e3, -40.0, 40.0, 1e3],
                  [-1e3, -700.0, 0.0, 700.0, 1e3])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise"):
            arrays = evaluate(T, y, raw)
    for array in arrays:
        assert not np.isnan(array).any()


def test_t_df_option_and_boundary_note():
    assert StudentTLoss(df=3.0).column_modes == ("x", "constant", np.log(3.0))
    with pytest.raises(ValueError, match="Student-t degrees of freedom"):
        StudentTLoss(df=-1.0)
    rng = np.random.default_rng(0)
    # uniform data: lighter tails than any t, so nu runs off to the Gaussian limit
    light = rng.uniform(-1, 1, size=2000)
    constant = T.constant_raw_prediction(light, np.ones(light.size))
    assert np.exp(constant[2]) > T.GAUSSIAN_LIMIT_DF
    assert "Gaussian limit" in T.boundary_note(constant)
    heavy = rng.standard_t(3.0, size=2000)
    assert T.boundary_note(T.constant_raw_prediction(heavy, np.ones(heavy.size))) is None
    assert "Gaussian" in T.boundary_note(np.array([0.0, 0.0, np.log(1e9)]))
    assert T.boundary_note(np.array([0.0, 0.0, np.log(5.0)])) is None
    assert StudentTLoss(df=1e9).boundary_note(np.array([0.0, 0.0, np.log(1e9)])) is None
    fixed = StudentTLoss(df=3.0).constant_raw_prediction(heavy, np.ones(heavy.size))
    assert fixed[2] == np.log(3.0)


@pytest.mark.parametrize("df", [None, 4.0])
def test_t_matches_statsmodels(df):
    """statsmodels TLinearModel on the stack loss data (outliers)."""
    from statsmodels.miscmodels.tmodel import TLinearModel

    data = sm.datasets.stackloss.load_pandas()
    X, y = np.ascontiguousarray(data.exog.to_numpy(float)), data.endog.to_numpy(float)
    n = len(y)
    family = T if df is None else StudentTLoss(df=df)
    fixed = None if df is None else [0.0, 0.0, np.log(df)]
    model, theta, weights = fit(family, X, y, np.ones(n), [True, False, False],
                                [True, True, df is None], fixed)
    coef, intercept = model.unpack(theta)
    design = sm.add_constant(X, prepend=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = TLinearModel(y, design, **({} if df is None else {"fix_df": df}))
        ols = np.linalg.lstsq(design, y, rcond=None)[0]
        start = np.r_[ols, [5.0] if df is None else [], np.std(y)]
        result = theirs.fit(start_params=start, method="bfgs", maxiter=10000,
                            gtol=1e-10, disp=0)
        result = theirs.fit(start_params=result.params, method="newton", disp=0)
    ours = np.r_[coef[0], intercept[0], [np.exp(intercept[2])] if df is None else [],
                 np.exp(intercept[1])]
    np.testing.assert_allclose(ours, np.abs(result.params) * np.sign(ours), rtol=1e-6)
    log_likelihood = -n * model.total_nll(model.pack(coef, intercept), X, y, weights)
    assert log_likelihood == pytest.approx(result.llf, rel=1e-12)


# ----------------------------------------------------------------- both families
@pytest.mark.parametrize("family, n_raw", [(NB, 2), (T, 3)])
def test_fused_pass_matches_per_sample_and_threads(family, n_raw):
    rng = np.random.default_rng(1)
    n, d = 5000, 4
    X = rng.normal(size=(n, d))
    y = rng.poisson(3.0, size=n).astype(float)
    weights = rng.uniform(0.5, 2.0, size=n)
    weights /= weights.sum()
    coef_free = [True] * n_raw
    model = LinearModel(family, d, coef_free, [True] * n_raw)
    theta = rng.normal(scale=0.3, size=model.n_params)
    results = {}
    for dtype in (np.float64, np.float32):
        Xd = np.ascontiguousarray(X, dtype=dtype)
        for fused in (True, False):
            for threads in (1, 2):
                model.fused = fused
                value, grad = model.objective_gradient(theta, Xd, y, weights, 0.0, threads)
                info = model.hessian(theta, Xd, y, weights, 0.0, threads, expected=True)
                results[dtype, fused, threads] = value, grad, info
        for fused in (True, False):
            one, two = results[dtype, fused, 1], results[dtype, fused, 2]
            assert one[0] == two[0] and np.array_equal(one[1], two[1])
        fused_run, plain = results[dtype, True, 1], results[dtype, False, 1]
        assert fused_run[0] == pytest.approx(plain[0], rel=1e-12)
        np.testing.assert_allclose(fused_run[1], plain[1], rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(fused_run[2], plain[2], rtol=1e-12, atol=1e-15)


# ------------------------------------------- Student-t: collapse of a linear log-scale
def sample_weights_pandas_series_data():
    """scikit-learn's ``check_sample_weights_pandas_series`` data: the mean ``x0``
    fits the eight targets with ``x0 < 3`` exactly, and ``log sigma(x)`` linear in
    ``x0`` can run to -inf on them while staying put on ``x0 = 3``."""
    X = np.array([[a, b] for a in (1, 2, 3) for b in (1, 2, 3, 4)], float)
    y = np.array([1, 1, 1, 1, 2, 2, 2, 2, 1, 1, 2, 2], float)
    return X, y


def exact_group_data(seed):
    """A generated case of the same kind: targets exactly linear in x1 where g = 0,
    noisy where g = 1; g is a column, so a linear log-scale can collapse on g = 0."""
    rng = np.random.default_rng(seed)
    n = 40
    g = (np.arange(n) % 2).astype(float)
    x1 = rng.normal(size=n)
    y = 1.0 + 2.0 * x1 + g * rng.normal(scale=0.5, size=n)
    return np.column_stack([g, x1]), y


@pytest.mark.parametrize("case", ["pandas_series", "generated_0", "generated_1"])
@pytest.mark.parametrize("df", [None, 4.0])
def test_t_linear_scale_collapse_is_diagnosed_with_finite_parameters(case, df):
    # Before the fix the first case returned coef_ = [nan, nan] with mle_exists_ True:
    # the solver's refreshed preconditioner overflowed along the collapse and the
    # existence check then read NaN raw predictions as "no collapse".
    X, y = (sample_weights_pandas_series_data() if case == "pandas_series"
            else exact_group_data(int(case[-1])))
    from sklearn.exceptions import ConvergenceWarning

    from sklearn_mle import MLERegressor, StudentT, UnboundedLikelihoodWarning
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = MLERegressor(distribution=StudentT(df=df), dispersion="linear").fit(X, y)
    categories = [w.category for w in caught]
    assert UnboundedLikelihoodWarning in categories
    assert ConvergenceWarning not in categories
    assert not model.mle_exists_
    for name in ("coef_", "intercept_", "scale_coef_", "scale_intercept_", "df_",
                 "loglik_"):
        assert np.all(np.isfinite(getattr(model, name))), name
    assert np.all(np.isfinite(model.predict(X)))


def test_t_linear_scale_collapse_path_is_unbounded():
    # The evidence that no MLE exists: along mean = x0, log sigma = -t (3 - x0), the
    # eight exactly fitted samples gain (3 - x0) t each (12 t in all) and the four
    # with x0 = 3 keep sigma = 1, so the mean NLL falls by exactly 1 per unit of t,
    # whatever the degrees of freedom.
    X, y = sample_weights_pandas_series_data()
    for nu in (0.5, 4.0, 1e6):
        nll = [-stats.t.logpdf(y, df=nu, loc=X[:, 0], scale=np.exp(-t * (3 - X[:, 0]))
                               ).mean() for t in (10.0, 20.0, 40.0)]
        np.testing.assert_allclose(np.diff(nll), [-10.0, -20.0], rtol=1e-9)


def test_t_linear_scale_that_exists_converges():
    # No exact fits: an ordinary heteroscedastic t fit, no warning, MLE exists.
    from sklearn_mle import MLERegressor
    rng = np.random.default_rng(3)
    X = rng.normal(size=(300, 2))
    y = X @ [1.0, -1.0] + np.exp(0.3 * X[:, 0]) * rng.standard_t(5.0, size=300)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = MLERegressor(distribution="student_t", dispersion="linear").fit(X, y)
    assert model.mle_exists_ and model.converged_
    assert np.all(np.isfinite(model.coef_)) and np.all(np.isfinite(model.scale_coef_))


@pytest.mark.parametrize("k, cost", [(3, 0.5), (3, 0.4), (2, 1.0), (7, 0.5)])
def test_scale_direction_collapse_lp_reduces_to_the_constant_scale_rule(k, cost):
    # With an intercept-only dispersion model the only directions are d = -+1: the LP
    # says unbounded exactly when k > (n - k) cost, the rule for a constant scale.
    from sklearn_mle.existence._unbounded import scale_direction_collapses
    n = 10
    exact = np.arange(n) < k
    weights = np.full(n, 1.0 / n)
    unbounded = scale_direction_collapses(np.zeros((n, 1)), weights, exact, True, cost)
    assert unbounded == (k > (n - k) * cost)
    # a column separating the exact fits lets the scale fall on them alone
    assert scale_direction_collapses(exact[:, None].astype(float), weights, exact, True,
                                     cost)


@pytest.mark.parametrize("with_offset", [False, True])
def test_t_fit_leaves_a_gaussian_looking_null_model(with_offset):
    """Where x (or an offset) explains most of y, y alone looks Gaussian and its null
    model has nu at the Gaussian limit, where the likelihood is flat in nu: the fit
    must not start there (it could not come back), but find the heavy tails of the
    residuals, as statsmodels' TLinearModel started from OLS does."""
    from statsmodels.miscmodels.tmodel import TLinearModel

    from sklearn_mle import MLERegressor

    rng = np.random.default_rng(3)
    X = rng.normal(size=(400, 3)) * [1.0, 10.0, 0.1]
    z = rng.normal(size=400)
    signal = 50.0 * z
    y = 3.0 + X @ [1.0, -0.2, 4.0] + signal + rng.standard_t(3.0, size=400)
    null = T.constant_raw_prediction(y, np.ones(y.size))
    assert T.boundary_note(null) is not None  # y alone: the Gaussian limit
    if with_offset:
        ours = MLERegressor(distribution="student_t").fit(X, y, offset=signal)
        design = sm.add_constant(X, prepend=False)
        target = y - signal
    else:
        ours = MLERegressor(distribution="student_t").fit(np.c_[X, z], y)
        design = sm.add_constant(np.c_[X, z], prepend=False)
        target = y
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = TLinearModel(target, design)
        ols = np.linalg.lstsq(design, target, rcond=None)[0]
        result = theirs.fit(start_params=np.r_[ols, 5.0, np.std(target - design @ ols)],
                            method="bfgs", maxiter=10000, gtol=1e-10, disp=0)
        result = theirs.fit(start_params=result.params, method="newton", disp=0)
    assert ours.boundary_note_ is None
    assert ours.df_ == pytest.approx(result.params[-2], rel=1e-5)
    assert ours.df_ < 4.0
    assert ours.loglik_ == pytest.approx(result.llf, rel=1e-10)
