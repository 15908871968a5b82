"""The penalty on a learned variance: every variance collapse at alpha = 0 is bounded,
finite and silent at alpha > 0, and the fit minimises the documented objective."""

import warnings

import numpy as np
import pytest
from scipy.optimize import brentq
from sklearn.linear_model import Ridge

from sklearn_mle import MLERegressor, UnboundedLikelihoodWarning
from sklearn_mle.families._gaussian import null_log_scale


def collapsing_problems():
    """Every regressor problem of the test suite whose learned variance collapses at
    alpha = 0: name -> (X, y, variances that collapse)."""
    rng = np.random.default_rng(0)
    wide = rng.normal(size=(8, 12))          # issue 10: n < d, the mean interpolates
    noiseless = rng.normal(size=(50, 3))
    group = np.column_stack([rng.normal(size=60), np.zeros(60)])
    group[0, 1] = 1.0                         # a group of one in the variance model
    both = ("constant", "heteroscedastic")
    return {
        "fewer_samples_than_features": (wide, rng.normal(size=8), both),
        "noiseless_target": (noiseless, noiseless @ [1.0, 2.0, 3.0] + 4.0, both),
        "two_samples": (np.array([[0.0], [1.0]]), np.array([0.5, 1.5]), both),
        "constant_target": (noiseless, np.full(50, 3.0), both),
        "group_of_one": (group, group[:, 0] + rng.normal(size=60), ("heteroscedastic",)),
    }


CASES = [(name, variance) for name, (_, _, variances) in collapsing_problems().items()
         for variance in variances]
ALPHAS = [1e-3, 0.1, 10.0]


def log_scales(reg, X):
    """log sigma_i of the fitted model on the rows of X."""
    if reg.variance == "constant":
        return np.full(X.shape[0], np.log(reg.scale_))
    return X @ reg.scale_coef_ + reg.scale_intercept_


def reference_log_s0(y):
    """log s0 from its definition: the root mean square of y about its mean, or about 0
    when y is constant."""
    spread = np.sqrt(np.mean((y - y.mean()) ** 2))
    return np.log(spread if spread > 0 else np.sqrt(np.mean(y**2)))


def penalty_bounds(alpha):
    r"""Bounds that hold at every parameter value whose objective is at most that of
    the null model (mean ``ybar``, ``log sigma = log s0``, coefficients 0), where the
    fit starts and which the solver never leaves uphill.

    With ``m`` the training mean of ``log sigma_i`` and ``t = m - log s0``:
    ``F >= log(2 pi)/2 + m + alpha phi(t) + alpha/2 (|w|^2/s0^2 + |v|^2)`` (each
    ``NLL_i >= log(2 pi)/2 + log sigma_i``) and ``F(null) = log(2 pi)/2 + log s0 + 1/2``.
    Hence ``(1 + alpha) t + alpha (exp(-2t) - 1)/2 <= 1/2`` gives ``t >= t_min`` and
    ``alpha/2 (|w|^2/s0^2 + |v|^2) <= Delta = (1 + alpha)/2 log((1 + alpha)/alpha)``.
    """
    excess = lambda t: (1 + alpha) * t + 0.5 * alpha * np.expm1(-2 * t) - 0.5  # noqa: E731
    t_min = brentq(excess, -50.0, 0.0)
    delta = 0.5 * (1 + alpha) * np.log((1 + alpha) / alpha)
    return t_min, delta


@pytest.mark.parametrize("name, variance", CASES)
def test_every_listed_case_collapses_at_alpha_zero(name, variance):
    X, y, _ = collapsing_problems()[name]
    with pytest.warns(UnboundedLikelihoodWarning, match="set alpha > 0"):
        reg = MLERegressor(variance=variance).fit(X, y)
    assert reg.mle_exists_ is False


@pytest.mark.parametrize("alpha", ALPHAS)
@pytest.mark.parametrize("name, variance", CASES)
def test_alpha_bounds_every_collapse(name, variance, alpha):
    X, y, _ = collapsing_problems()[name]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning of any kind
        reg = MLERegressor(variance=variance, alpha=alpha).fit(X, y)
    assert reg.mle_exists_ is True
    parameters = [reg.coef_, reg.intercept_, reg.scale_ if variance == "constant"
                  else np.append(reg.scale_coef_, reg.scale_intercept_)]
    assert all(np.all(np.isfinite(p)) for p in parameters)
    log_s0 = reference_log_s0(y)
    t_min, delta = penalty_bounds(alpha)
    log_sigma = log_scales(reg, X)
    # the geometric mean of sigma_i: at least s0 exp(t_min) (3e-5 s0 at alpha=1e-3)
    assert log_sigma.mean() - log_s0 >= t_min
    # the penalised coefficients, and through them every single sigma_i
    penalised = np.sum(reg.coef_**2) * np.exp(-2 * log_s0)
    if variance == "heteroscedastic":
        penalised += np.sum(reg.scale_coef_**2)
        spread = np.linalg.norm(X - X.mean(axis=0), axis=1)
        assert np.all(log_sigma - log_s0 >= t_min - spread * np.sqrt(2 * delta / alpha))
    assert 0.5 * alpha * penalised <= delta
    mean, std = reg.predict(X, return_std=True)
    assert np.all(std > 0) and np.all(np.isfinite(mean))


@pytest.mark.parametrize("alpha", ALPHAS)
@pytest.mark.parametrize("name", ["fewer_samples_than_features", "noiseless_target",
                                  "two_samples", "constant_target"])
def test_exact_fit_sigma_is_held_at_the_pseudo_observation_scale(name, alpha):
    """Where the mean can fit every target, sigma^2 = (mean residual^2 + alpha s0^2)
    / (1 + alpha) >= alpha s0^2 / (1 + alpha): alpha pseudo-observations per
    observation with squared residual s0^2 keep sigma at the scale of y."""
    X, y, _ = collapsing_problems()[name]
    s0_square = np.exp(2 * reference_log_s0(y))
    reg = MLERegressor(alpha=alpha, tol=1e-10).fit(X, y)
    residual = np.mean((y - reg.predict(X)) ** 2)
    np.testing.assert_allclose(reg.scale_**2, (residual + alpha * s0_square) / (1 + alpha),
                               rtol=1e-8)
    assert reg.scale_**2 >= alpha * s0_square / (1 + alpha) * (1 - 1e-8)


@pytest.mark.parametrize("alpha", ALPHAS)
def test_constant_sigma_is_the_penalised_closed_form(alpha):
    """Stationarity in log sigma: sigma^2 = (mean residual^2 + alpha s0^2) / (1 + alpha)."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(40, 3))
    y = X @ [1.0, -2.0, 0.5] + rng.normal(size=40)
    weights = rng.uniform(0.2, 2.0, size=40)
    reg = MLERegressor(alpha=alpha, tol=1e-10).fit(X, y, sample_weight=weights)
    residual = np.average((y - reg.predict(X)) ** 2, weights=weights)
    s0_square = np.average((y - np.average(y, weights=weights)) ** 2, weights=weights)
    np.testing.assert_allclose(reg.scale_**2, (residual + alpha * s0_square) / (1 + alpha),
                               rtol=1e-8)
    # given sigma, the mean is ridge regression with the penalty in units of s0
    ridge = Ridge(alpha=alpha * weights.sum() * reg.scale_**2 / s0_square, tol=1e-12)
    ridge.fit(X, y, sample_weight=weights)
    np.testing.assert_allclose(reg.coef_, ridge.coef_, rtol=1e-6)


def reference_objective(X, y, weights, alpha, variance, mean_params, scale_params,
                        dispersion_alpha=None):
    """The documented objective of MLERegressor, in NumPy from its formula
    (``dispersion_alpha``: the penalty on ``scale_coef``, None for ``alpha``)."""
    dispersion_alpha = alpha if dispersion_alpha is None else dispersion_alpha
    w, b = mean_params
    weights = weights / weights.sum()
    mu = X @ w + b
    if variance == "constant":
        log_sigma = np.full(y.size, scale_params)
        scale_coef = np.zeros(0)
    else:
        scale_coef, c = scale_params
        log_sigma = X @ scale_coef + c
    nll = 0.5 * np.log(2 * np.pi) + log_sigma + 0.5 * ((y - mu) / np.exp(log_sigma)) ** 2
    log_s0 = 0.5 * np.log(np.average((y - np.average(y, weights=weights)) ** 2,
                                     weights=weights))
    t = np.average(log_sigma, weights=weights) - log_s0
    kl = t + 0.5 * (np.exp(-2 * t) - 1)
    return (np.average(nll, weights=weights)
            + 0.5 * alpha * w @ w * np.exp(-2 * log_s0)
            + 0.5 * dispersion_alpha * scale_coef @ scale_coef
            + alpha * kl)


@pytest.mark.parametrize("variance, dispersion_alpha", [
    ("constant", None), ("heteroscedastic", None), ("heteroscedastic", 0.05),
    ("heteroscedastic", 3.0)])
@pytest.mark.parametrize("alpha", [1e-3, 0.5])
def test_fit_minimises_the_documented_objective(variance, dispersion_alpha, alpha):
    """The fitted parameters are a stationary point of the objective written from the
    docstring's formula, and no nearby point is lower; with ``dispersion_alpha`` the
    coefficients of log sigma(x) carry that penalty instead of alpha."""
    rng = np.random.default_rng(4)
    X = rng.normal(size=(30, 2)) * [1.0, 5.0]
    y = 2.0 + X @ [1.0, 0.2] + np.exp(0.3 * X[:, 0]) * rng.normal(size=30)
    weights = rng.uniform(0.5, 2.0, size=30)
    reg = MLERegressor(variance=variance, alpha=alpha, dispersion_alpha=dispersion_alpha,
                       tol=1e-10).fit(X, y, sample_weight=weights)
    if variance == "constant":
        flat = np.concatenate([reg.coef_, [reg.intercept_, np.log(reg.scale_)]])
    else:
        flat = np.concatenate([reg.coef_, [reg.intercept_], reg.scale_coef_,
                               [reg.scale_intercept_]])

    def objective(p):
        scale = p[3] if variance == "constant" else (p[3:5], p[5])
        return reference_objective(X, y, weights, alpha, variance, (p[:2], p[2]), scale,
                                   dispersion_alpha)

    step = 1e-5
    gradient = [(objective(flat + step * e) - objective(flat - step * e)) / (2 * step)
                for e in np.eye(flat.size)]
    np.testing.assert_allclose(gradient, 0.0, atol=1e-6)
    best = objective(flat)
    for e in np.eye(flat.size):
        assert objective(flat + 1e-3 * e) > best and objective(flat - 1e-3 * e) > best


@pytest.mark.parametrize("variance", ["constant", "heteroscedastic"])
@pytest.mark.parametrize("factor", [-1e-3, 7.0, 1e6])
def test_fit_is_equivariant_in_the_units_of_y(variance, factor):
    """y -> factor * y: the mean scales with it, sigma with |factor|, at alpha > 0 too
    (the penalty is taken in units of s0, which scales with y)."""
    X, y, _ = collapsing_problems()["fewer_samples_than_features"]
    for alpha in (0.1, 10.0):
        a = MLERegressor(variance=variance, alpha=alpha, tol=1e-10).fit(X, y)
        b = MLERegressor(variance=variance, alpha=alpha, tol=1e-10).fit(X, factor * y)
        mean_a, std_a = a.predict(X, return_std=True)
        mean_b, std_b = b.predict(X, return_std=True)
        np.testing.assert_allclose(mean_b, factor * mean_a, rtol=1e-6,
                                   atol=1e-6 * abs(factor) * np.std(y))
        np.testing.assert_allclose(std_b, abs(factor) * std_a, rtol=1e-6)


@pytest.mark.parametrize("factor", [1e-200, -3.0, 1e200])
def test_null_log_scale_follows_the_units_of_y(factor):
    rng = np.random.default_rng(5)
    y = rng.normal(size=20) + 4.0
    weights = np.full(20, 1 / 20)
    for fit_intercept in (True, False):
        base = null_log_scale(y, weights, fit_intercept)
        assert null_log_scale(factor * y, weights, fit_intercept) == pytest.approx(
            base + np.log(abs(factor)), abs=1e-12 * max(1.0, abs(np.log(abs(factor)))))
    assert base == pytest.approx(0.5 * np.log(np.mean(y**2)), rel=1e-14)
    assert null_log_scale(np.zeros(20), weights, True) == 0.0


def test_alpha_too_small_for_double_precision_warns():
    """A bounded sigma below the rounding error of the targets is reported: the
    estimate exists, but rounding decides it."""
    X, y, _ = collapsing_problems()["noiseless_target"]
    with pytest.warns(UnboundedLikelihoodWarning,
                      match="alpha=1e-100 is too small") as caught:
        reg = MLERegressor(variance="heteroscedastic", alpha=1e-100).fit(X, y)
    assert caught[0].filename == __file__  # points at the caller's fit
    assert reg.mle_exists_ is True
    assert np.all(np.isfinite(reg.scale_coef_)) and np.isfinite(reg.scale_intercept_)
    assert np.min(log_scales(reg, X)) < np.log(np.spacing(np.max(np.abs(y))))


def heteroscedastic_data(n=400, seed=6):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    return X, X @ [1.0, 2.0, 3.0] + np.exp(0.5 * X[:, 0]) * rng.normal(size=n)


def test_dispersion_alpha_none_is_alpha_bit_for_bit():
    X, y = heteroscedastic_data()
    a = MLERegressor(variance="heteroscedastic", alpha=0.01).fit(X, y)
    b = MLERegressor(variance="heteroscedastic", alpha=0.01, dispersion_alpha=0.01).fit(X, y)
    assert np.array_equal(a.coef_, b.coef_) and np.array_equal(a.scale_coef_, b.scale_coef_)


def test_dispersion_alpha_to_infinity_is_the_constant_variance_fit():
    """Penalising the slopes of log sigma(x) without bound leaves one sigma: the fit
    tends to ``variance="constant"``'s at the same alpha (same mean penalty, same pull
    of the level of log sigma)."""
    X, y = heteroscedastic_data()
    constant = MLERegressor(variance="constant", alpha=0.01, tol=1e-10).fit(X, y)
    shrunk = [MLERegressor(variance="heteroscedastic", alpha=0.01, dispersion_alpha=d,
                           tol=1e-10).fit(X, y) for d in (1e-3, 0.1, 10.0, 1e9)]
    norms = [np.linalg.norm(reg.scale_coef_) for reg in shrunk]
    assert all(a > b for a, b in zip(norms, norms[1:]))
    np.testing.assert_allclose(shrunk[-1].coef_, constant.coef_, rtol=1e-7)
    np.testing.assert_allclose(shrunk[-1].scale_intercept_, np.log(constant.scale_),
                               rtol=1e-7)
    assert norms[-1] < 1e-7


def test_dispersion_alpha_on_a_network_weighs_only_the_log_scale_outputs():
    """On a network the hidden layers (shared with the mean) keep alpha's weight; the
    log-scale output's weights carry dispersion_alpha / alpha, and shrink with it."""
    X, y = heteroscedastic_data()
    common = dict(variance="heteroscedastic", alpha=1e-3, hidden_layer_sizes=(6,),
                  activation="tanh", random_state=0, max_iter=200)
    fits = []
    for dispersion_alpha in (None, 1.0):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # (stopped by max_iter)
            fits.append(MLERegressor(dispersion_alpha=dispersion_alpha, **common).fit(X, y))
    plain, smooth = (reg._predictor[0] for reg in fits)
    hidden = slice(0, plain._layer_starts[-1])
    np.testing.assert_array_equal(smooth.ridge_weight[hidden], plain.ridge_weight[hidden])
    log_scale = smooth.output_mask([1]) & (plain.ridge_weight > 0)
    np.testing.assert_allclose(smooth.ridge_weight[log_scale], 1.0 / 1e-3)
    np.testing.assert_array_equal(smooth.ridge_weight[~log_scale],
                                  plain.ridge_weight[~log_scale])
    sizes = [np.abs(reg.coefs_[-1][:, 1]).sum() for reg in fits]
    assert sizes[1] < 0.5 * sizes[0]


@pytest.mark.parametrize("alpha, dispersion_alpha, message", [
    (0.0, 1.0, "needs alpha > 0"), (0.1, 0.0, "unpenalised")])
def test_dispersion_alpha_that_leaves_no_objective_is_refused(alpha, dispersion_alpha,
                                                              message):
    X, y = heteroscedastic_data(n=50)
    reg = MLERegressor(variance="heteroscedastic", alpha=alpha,
                       dispersion_alpha=dispersion_alpha)
    with pytest.raises(ValueError, match=message):
        reg.fit(X, y)


def test_dispersion_alpha_without_a_dispersion_in_x_warns_and_changes_nothing():
    X, y = heteroscedastic_data(n=50)
    plain = MLERegressor(alpha=0.1).fit(X, y)
    with pytest.warns(UserWarning, match="dispersion_alpha=5.0 is ignored") as caught:
        ignored = MLERegressor(alpha=0.1, dispersion_alpha=5.0).fit(X, y)
    assert caught[0].filename == __file__
    np.testing.assert_array_equal(ignored.coef_, plain.coef_)
