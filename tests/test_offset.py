"""Offsets and exposures (issue 19, item 1): a known term in the mean's linear predictor.

Reference fits are statsmodels' with ``offset=`` / ``exposure=`` on data that ships with
statsmodels; the identity-link families are checked against the fit of ``y - offset``,
which is the same model.  Tolerances: 1e-8 relative on estimates and log-likelihoods
(the references' own convergence is below 1e-10 here), 1e-6 on standard errors.
"""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import statsmodels.api as sm
from statsmodels.tools.sm_exceptions import ConvergenceWarning
from scipy import stats
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_mle import MLERegressor, UnboundedLikelihoodWarning, log_likelihood_scorer


def _relative(actual, expected):
    actual, expected = np.asarray(actual, float), np.asarray(expected, float)
    return float(np.max(np.abs(actual - expected) / np.maximum(np.abs(expected), 1e-300)))


@pytest.fixture(scope="module")
def randhie():
    data = sm.datasets.randhie.load_pandas().data
    y = data["mdvis"].to_numpy(float)
    X = data.drop(columns="mdvis").to_numpy(float)
    # a known log-scale term, varying over the samples (exposure between 1.1 and 5)
    offset = 0.3 * data["lncoins"].to_numpy() + 0.1
    return X, y, offset


def test_poisson_exposure_matches_statsmodels(randhie):
    X, y, offset = randhie
    exposure = np.exp(offset)
    ours = MLERegressor(distribution="poisson", inference=True).fit(X, y,
                                                                    exposure=exposure)
    glm = sm.GLM(y, sm.add_constant(X), family=sm.families.Poisson(),
                 exposure=exposure).fit(tol=1e-13)
    assert _relative(ours.coef_, glm.params[1:]) < 1e-8
    assert _relative(ours.intercept_, glm.params[0]) < 1e-8
    assert _relative(ours.coef_se_, glm.bse[1:]) < 1e-6
    for attribute, reference in [("loglik_", glm.llf), ("loglik_null_", glm.llnull),
                                 ("aic_", glm.aic)]:
        assert _relative(getattr(ours, attribute), reference) < 1e-10, attribute
    # the same fit given as an offset; the workaround of rates with weights has other
    # log-likelihoods (what the issue measured), the offset fit does not
    as_offset = MLERegressor(distribution="poisson").fit(X, y, offset=offset)
    assert _relative(as_offset.coef_, ours.coef_) < 1e-12
    assert as_offset.loglik_ == pytest.approx(ours.loglik_, rel=1e-13)
    # the held-out scorer takes the exposure too: on the training rows it is
    # statsmodels' log-likelihood per observation
    score = log_likelihood_scorer(ours, X, y, exposure=exposure)
    assert _relative(score, glm.llf / y.size) < 1e-10


def test_negative_binomial_offset_matches_statsmodels(randhie):
    X, y, offset = randhie
    ours = MLERegressor(distribution="negative_binomial").fit(X, y, offset=offset)
    with warnings.catch_warnings():
        # only the start of the reference: its Newton refinement below converges
        warnings.simplefilter("ignore", ConvergenceWarning)
        start = sm.NegativeBinomial(y, sm.add_constant(X), offset=offset).fit(
            method="bfgs", maxiter=5000, gtol=1e-10, disp=0)
    reference = sm.NegativeBinomial(y, sm.add_constant(X), offset=offset).fit(
        start_params=start.params, method="newton", maxiter=100, disp=0)
    assert _relative(ours.coef_, reference.params[1:-1]) < 1e-8
    assert _relative(ours.loglik_, reference.llf) < 1e-10
    assert _relative(ours.loglik_null_, reference.llnull) < 1e-10


def test_binomial_offset_matches_statsmodels():
    data = sm.datasets.star98.load_pandas().data
    counts = data[["NABOVE", "NBELOW"]].to_numpy(float)
    X = data.drop(columns=["NABOVE", "NBELOW"]).to_numpy(float)[:, :8]
    trials = counts.sum(axis=1)
    offset = np.linspace(-0.5, 0.5, X.shape[0])
    ours = MLERegressor(distribution="binomial", inference=True).fit(
        X, counts[:, 0] / trials, sample_weight=trials, offset=offset)
    glm = sm.GLM(counts, sm.add_constant(X), family=sm.families.Binomial(),
                 offset=offset).fit(tol=1e-13)
    assert _relative(ours.coef_, glm.params[1:]) < 1e-8
    assert _relative(ours.coef_se_, glm.bse[1:]) < 1e-6
    assert _relative(ours.loglik_, glm.llf) < 1e-10
    assert _relative(ours.loglik_null_, glm.llnull) < 1e-10


def test_gamma_offset_matches_statsmodels_and_scipy():
    data = sm.datasets.scotland.load_pandas().data
    y = data["YES"].to_numpy(float)
    X = data.drop(columns="YES").to_numpy(float)
    offset = 0.01 * np.log(X[:, 0])
    ours = MLERegressor(distribution="gamma").fit(X, y, offset=offset)
    glm = sm.GLM(y, sm.add_constant(X), family=sm.families.Gamma(sm.families.links.Log()),
                 offset=offset).fit(tol=1e-13)
    assert _relative(ours.coef_, glm.params[1:]) < 1e-8
    # GLM's llf uses its Pearson scale; the likelihood at our ML shape, from scipy
    mean = ours.predict(X, offset=offset)
    shape = 1.0 / ours.dispersion_ if hasattr(ours, "dispersion_") else None
    expected = ours.log_likelihood(X, y, offset=offset) * y.size
    assert ours.loglik_ == pytest.approx(expected, rel=1e-12)
    if shape is not None:
        reference = stats.gamma(shape, scale=mean / shape).logpdf(y).sum()
        assert ours.loglik_ == pytest.approx(reference, rel=1e-10)


@pytest.mark.parametrize("params", [dict(variance="fixed"), dict(variance="constant"),
                                    dict(variance="heteroscedastic"),
                                    dict(distribution="student_t")])
def test_identity_link_offset_is_the_fit_of_y_minus_offset(params):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(400, 3)) * [1.0, 10.0, 0.1]
    offset = 50.0 * rng.normal(size=400)
    y = 3.0 + X @ [1.0, -0.2, 4.0] + offset + np.exp(0.3 * X[:, 0]) * rng.normal(size=400)
    with_offset = MLERegressor(**params).fit(X, y, offset=offset)
    shifted = MLERegressor(**params).fit(X, y - offset)
    assert _relative(with_offset.coef_, shifted.coef_) < 1e-8
    assert with_offset.loglik_ == pytest.approx(shifted.loglik_, rel=1e-10)
    assert with_offset.loglik_null_ == pytest.approx(shifted.loglik_null_, rel=1e-10)
    np.testing.assert_allclose(with_offset.predict(X, offset=offset),
                               shifted.predict(X) + offset, rtol=1e-9, atol=1e-9)


def test_predictions_take_their_own_offset(randhie):
    X, y, offset = randhie
    reg = MLERegressor(distribution="poisson").fit(X, y, offset=offset)
    # without one the prediction is at offset 0: a rate per unit exposure
    np.testing.assert_allclose(reg.predict(X, offset=offset),
                               reg.predict(X) * np.exp(offset), rtol=1e-12)
    np.testing.assert_allclose(reg.predict(X, exposure=np.exp(offset)),
                               reg.predict(X, offset=offset), rtol=1e-12)
    assert reg.log_likelihood(X, y, offset=offset) * y.size == pytest.approx(
        reg.loglik_, rel=1e-12)
    dist = reg.predict_dist(X[:5], offset=offset[:5])
    np.testing.assert_allclose(dist.mean(), reg.predict(X[:5], offset=offset[:5]))
    low, high = reg.predict_interval(X[:5], 0.9, offset=offset[:5]).T
    np.testing.assert_array_equal(low, dist.ppf(0.05))
    assert np.all(high >= low)


def test_offset_fits_agree_across_layouts_and_in_a_pipeline(randhie):
    X, y, offset = randhie
    X, y, offset = X[:3000], y[:3000], offset[:3000]
    reference = MLERegressor(distribution="poisson").fit(X, y, offset=offset)
    for variant in (np.asfortranarray(X), sp.csr_matrix(X), X.astype(np.float32)):
        fitted = MLERegressor(distribution="poisson").fit(variant, y, offset=offset)
        rtol = 1e-4 if variant.dtype == np.float32 else 1e-8
        np.testing.assert_allclose(fitted.coef_, reference.coef_, rtol=rtol, atol=1e-10)
    pipe = make_pipeline(StandardScaler(), MLERegressor(distribution="poisson"))
    pipe.fit(X, y, mleregressor__offset=offset)
    assert pipe[-1].loglik_ == pytest.approx(reference.loglik_, rel=1e-10)


def test_existence_check_sees_through_the_offset():
    rng = np.random.default_rng(0)
    group = (np.arange(300) % 10 == 0).astype(float)
    X = np.column_stack([rng.normal(size=300), group])
    exposure = rng.uniform(0.5, 2.0, size=300)
    y = rng.poisson(exposure * np.exp(0.5 + 0.3 * X[:, 0])).astype(float)
    y[group == 1] = 0.0  # a group with no counts at all: its coefficient runs to -inf
    with pytest.warns(UnboundedLikelihoodWarning, match="zero counts"):
        reg = MLERegressor(distribution="poisson").fit(X, y, exposure=exposure)
    assert reg.mle_exists_ is False
    assert np.all(np.isfinite(reg.coef_))


@pytest.mark.parametrize("kwargs, message", [
    (dict(offset=np.zeros(50), exposure=np.ones(50)), "offset or exposure, not both"),
    (dict(offset=np.zeros(49)), r"offset must have one value per sample, shape \(50,\)"),
    (dict(offset=np.r_[np.nan, np.zeros(49)]), "NaN"),
    (dict(exposure=np.r_[0.0, np.ones(49)]), "exposure must be positive, got 0 at sample 0"),
])
def test_bad_offsets_get_clear_errors(kwargs, message):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(50, 2)), rng.poisson(2.0, size=50)
    with pytest.raises(ValueError, match=message):
        MLERegressor(distribution="poisson").fit(X, y, **kwargs)
    reg = MLERegressor(distribution="poisson").fit(X, y)
    with pytest.raises(ValueError, match=message):
        reg.predict(X, **kwargs)


def test_exposure_needs_a_log_link():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(50, 2)), rng.normal(size=50)
    with pytest.raises(ValueError, match="Gaussian mean has a identity link|identity "
                                         "link: pass the term"):
        MLERegressor().fit(X, y, exposure=np.ones(50))


@pytest.mark.parametrize("kind", ["hc0", "cluster"])
def test_robust_errors_take_each_blocks_own_offset(randhie, kind):
    """The sandwich runs over blocks of rows (4096 at a time, clusters sorted): each
    block's scores need that block's offset (before, more rows than one block raised
    "the model's offset has 20190 rows, X has 4096")."""
    X, y, offset = randhie
    groups = np.round(offset, 4)   # the coinsurance cells: 6 clusters
    ours = MLERegressor(distribution="poisson", inference=kind, tol=1e-10).fit(
        X, y, offset=offset, groups=groups if kind == "cluster" else None)
    options = (dict(cov_type="cluster", cov_kwds={"groups": np.unique(
        groups, return_inverse=True)[1]}) if kind == "cluster" else dict(cov_type="HC0"))
    glm = sm.GLM(y, sm.add_constant(X), family=sm.families.Poisson(),
                 offset=offset).fit(tol=1e-13, **options)
    assert _relative(ours.coef_se_, glm.bse[1:]) < 1e-8
    assert _relative(ours.intercept_se_, glm.bse[0]) < 1e-8
