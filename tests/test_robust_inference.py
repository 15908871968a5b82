"""Robust (sandwich) standard errors: ``inference="hc0"`` ... ``"hc3"`` and
``"cluster"`` against statsmodels on data that ship with it, against NumPy references
where statsmodels defines no such case, and the errors of bad input.

Agreement with statsmodels is asked to ``RTOL = 1e-8`` relative, on fits converged to
``tol=1e-10`` (statsmodels: Newton / IRLS to 1e-12 or 1e-13); the differences measured
are 1e-15 to 1e-12 (the Gamma fit at ``tol=1e-12``: at 1e-10 it stops 5e-9 standard
errors short of statsmodels' Newton optimum, which moves its errors by 1.5e-11),
except the binomial on star98 (5e-10: its
information has condition number 1.3e14, 1.3e7 with the columns scaled, and
statsmodels' own bse moves by 3e-10 when its ``inv`` of the Hessian is replaced by
``pinv``; the parameters agree to 1e-12).
Where statsmodels counts a parameter differently (the negative binomial's alpha in
the cluster correction) the test applies the known factor.

What statsmodels does, and what we do where it does not define a case:

* ``OLS`` / ``WLS``: HC0-HC3 and cluster are defined, with leverages
  ``h_i = w_i x_i^T (X^T W X)^{-1} x_i`` and HC1 = HC0 n / (n - rank).
* ``GLM``, ``Logit``, ``MNLogit``, ``NegativeBinomial``: ``cov_type="HC1"``, ``"HC2"``
  and ``"HC3"`` silently give HC0 (``cov_white_simple(use_correction=False)``: these
  results have no ``cov_HCx``).  Ours apply the correction: HC1 is HC0 times
  n / (n - k) (statsmodels' HC0 with ``scaling_factor``), HC2 / HC3 divide each score
  by (1 - h_i)^(1/2) / (1 - h_i) with h_i the diagonal of the GLM hat matrix in the
  Fisher metric, ``get_hat_matrix_diag(observed=False)`` (R's ``sandwich::vcovHC``).
"""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import sklearn
import statsmodels.api as sm
from scipy import stats
from sklearn.model_selection import GroupKFold, cross_validate
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError

from sklearn_mle import Family, MLEClassifier, MLERegressor
from sklearn_mle.families import (BernoulliLoss, BinomialLoss, CategoricalLoss,
                                  GammaLoss, GaussianLoss, NegativeBinomialLoss,
                                  PoissonLoss, StudentTLoss)
from sklearn_mle.models._linear import LinearModel
from sklearn_mle.models._model import Model
from sklearn_mle.report import _robust

#: Agreement with statsmodels and with the NumPy references (relative).
RTOL = 1e-8
HC_KINDS = ["hc0", "hc1", "hc2", "hc3"]


def assert_close(ours, theirs, rtol=RTOL):
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=0)


def mean_se(estimator):
    return np.append(estimator.coef_se_, estimator.intercept_se_)


# ----------------------------------------------------------------------------- data
def grunfeld():
    """Grunfeld's investment data: 11 firms x 20 years."""
    data = sm.datasets.grunfeld.load_pandas().data
    return data[["value", "capital"]], data["invest"], data["firm"].astype(str)


def randhie():
    """RAND health insurance experiment: doctor visits; the plan cell (coinsurance
    rate x individual deductible) is the unit of randomisation, the cluster."""
    data = sm.datasets.randhie.load_pandas().data
    plan = data["lncoins"].round(4).astype(str) + "/" + data["idp"].astype(str)
    return data.drop(columns="mdvis"), data["mdvis"].to_numpy(), plan.to_numpy()


def anes96():
    data = sm.datasets.anes96.load_pandas().data
    X = data[["logpopul", "selfLR", "age", "educ", "income"]]
    return X, data["vote"].astype(int), data["PID"].astype(int), data["educ"].astype(int)


def codes_of(labels):
    return pd.factorize(np.asarray(labels))[0]


def with_constant(X):
    return sm.add_constant(X, prepend=False)


# ------------------------------------------------------------------ OLS and WLS
@pytest.mark.parametrize("variance", ["constant", "fixed"])
@pytest.mark.parametrize("kind", HC_KINDS)
def test_ols_hc_matches_statsmodels(kind, variance):
    X, y, _ = grunfeld()
    ours = MLERegressor(variance=variance, inference=kind, tol=1e-10).fit(X, y)
    theirs = sm.OLS(y, with_constant(X)).fit(cov_type=kind.upper())
    assert_close(mean_se(ours), theirs.bse)
    assert_close(ours.covariance_[:3, :3], theirs.cov_params())


def test_ols_cluster_matches_statsmodels():
    X, y, firm = grunfeld()
    ours = MLERegressor(inference="cluster", tol=1e-10).fit(X, y, groups=firm)
    theirs = sm.OLS(y, with_constant(X)).fit(cov_type="cluster",
                                              cov_kwds={"groups": codes_of(firm)})
    assert ours.n_groups_ == 11
    assert_close(mean_se(ours), theirs.bse)
    assert_close(ours.covariance_[:3, :3], theirs.cov_params())


@pytest.mark.parametrize("kind", [*HC_KINDS, "cluster"])
def test_wls_matches_statsmodels(kind):
    """Sample weights multiply the scores, as WLS weights do."""
    X, y, firm = grunfeld()
    weights = np.random.default_rng(0).uniform(0.5, 2.0, y.size)
    groups = firm if kind == "cluster" else None
    ours = MLERegressor(inference=kind, tol=1e-10).fit(X, y, sample_weight=weights,
                                                       groups=groups)
    options = {"groups": codes_of(firm)} if kind == "cluster" else None
    theirs = sm.WLS(y, with_constant(X), weights=weights).fit(cov_type=kind.upper()
                                                              if kind != "cluster"
                                                              else kind,
                                                              cov_kwds=options)
    assert_close(mean_se(ours), theirs.bse)


# ------------------------------------------------------------------ GLM Poisson
@pytest.fixture(scope="module")
def poisson_reference():
    X, y, plan = randhie()
    model = sm.GLM(y, with_constant(X), family=sm.families.Poisson())
    return X, y, plan, model, model.fit(tol=1e-13)


@pytest.mark.parametrize("kind", ["hc0", "hc1"])
def test_poisson_hc0_hc1_match_statsmodels(poisson_reference, kind):
    X, y, _, model, _ = poisson_reference
    n, k = X.shape[0], X.shape[1] + 1
    # statsmodels' GLM gives HC0 for cov_type="HC1": its HC1 is HC0 * n / (n - k)
    factor = {"hc0": None, "hc1": n / (n - k)}[kind]
    theirs = model.fit(tol=1e-13, cov_type="HC0", cov_kwds={"scaling_factor": factor})
    ours = MLERegressor("poisson", inference=kind, tol=1e-10).fit(X, y)
    assert_close(mean_se(ours), theirs.bse)


@pytest.mark.parametrize("kind, power", [("hc2", 0.5), ("hc3", 1.0)])
def test_poisson_hc2_hc3_use_the_glm_hat_matrix(poisson_reference, kind, power):
    """The sandwich of statsmodels' own pieces (score_obs, hessian) with each score
    divided by (1 - h_i)^power, h_i from get_hat_matrix_diag."""
    X, y, _, model, fit = poisson_reference
    leverage = fit.get_hat_matrix_diag(observed=False)
    scores = model.score_obs(fit.params) / (1.0 - leverage)[:, None] ** power
    bread = np.linalg.inv(model.hessian(fit.params))
    reference = bread @ scores.T @ scores @ bread
    ours = MLERegressor("poisson", inference=kind, tol=1e-10).fit(X, y)
    assert_close(ours.covariance_, reference)


def test_poisson_cluster_matches_statsmodels(poisson_reference):
    X, y, plan, model, _ = poisson_reference
    theirs = model.fit(tol=1e-13, cov_type="cluster", cov_kwds={"groups": codes_of(plan)})
    ours = MLERegressor("poisson", inference="cluster", tol=1e-10).fit(X, y, groups=plan)
    assert ours.n_groups_ == 6
    assert_close(mean_se(ours), theirs.bse)


def test_negative_binomial_dispersion_row_matches_statsmodels(poisson_reference):
    """NB2 with alpha: statsmodels reports alpha, we log(alpha) (dispersion_se_ by the
    delta method); its cluster correction counts alpha in k, ours does not (k is what
    df_resid_ counts, as for OLS sigma and the GLM scale)."""
    X, y, plan, _, _ = poisson_reference
    model = sm.NegativeBinomial(y, with_constant(X), loglike_method="nb2")
    hc0 = model.fit(disp=0, method="newton", tol=1e-12, maxiter=100, cov_type="HC0")
    ours = MLERegressor("negative_binomial", inference="hc0", tol=1e-10).fit(X, y)
    assert_close(np.append(mean_se(ours), ours.dispersion_se_), hc0.bse)
    assert_close(ours.dispersion_, hc0.params.iloc[-1])
    cluster = model.fit(disp=0, method="newton", tol=1e-12, maxiter=100,
                        cov_type="cluster", cov_kwds={"groups": codes_of(plan)})
    ours = MLERegressor("negative_binomial", inference="cluster", tol=1e-10).fit(
        X, y, groups=plan)
    n, k = X.shape[0], X.shape[1] + 1
    assert_close(np.append(mean_se(ours), ours.dispersion_se_),
                 cluster.bse * np.sqrt((n - k - 1) / (n - k)))


def test_gamma_mean_rows_match_statsmodels_glm(poisson_reference):
    X, y, _, _, _ = poisson_reference
    target = y + 0.5
    theirs = sm.GLM(target, with_constant(X),
                    family=sm.families.Gamma(sm.families.links.Log())).fit(
                        tol=1e-13, cov_type="HC0")
    ours = MLERegressor("gamma", inference="hc0", tol=1e-12).fit(X, target)
    assert_close(mean_se(ours), theirs.bse)


def test_binomial_with_trials_matches_statsmodels_glm():
    """star98: proportions with the numbers of trials as sample_weight; the score of a
    binomial observation is n_i (y_i - p_i) x_i, as in statsmodels' two-column endog.
    The information is ill-conditioned (1.3e14), so inverting it differently moves
    the standard errors by ~3e-10 (statsmodels' inv against its pinv): 5e-9 here."""
    data = sm.datasets.star98.load_pandas().data
    X, trials = data.iloc[:, 2:], data["NABOVE"] + data["NBELOW"]
    theirs = sm.GLM(data[["NABOVE", "NBELOW"]], with_constant(X),
                    family=sm.families.Binomial()).fit(tol=1e-13, cov_type="HC0")
    ours = MLERegressor("binomial", inference="hc0", tol=1e-10).fit(
        X, data["NABOVE"] / trials, sample_weight=trials)
    assert_close(mean_se(ours), theirs.bse, rtol=5e-9)


# -------------------------------------------------------------- Logit, MNLogit
def test_logit_hc0_matches_statsmodels_on_spector():
    data = sm.datasets.spector.load_pandas()
    X, y = data.exog, data.endog.astype(int)
    theirs = sm.Logit(y, with_constant(X)).fit(disp=0, method="newton", tol=1e-12,
                                               cov_type="HC0")
    ours = MLEClassifier(inference="hc0", tol=1e-10).fit(X, y)
    assert_close(np.append(ours.coef_se_[0], ours.intercept_se_), theirs.bse)


@pytest.mark.parametrize("kind", ["hc0", "cluster"])
def test_logit_and_mnlogit_match_statsmodels_on_anes96(kind):
    X, vote, party, education = anes96()
    groups = education if kind == "cluster" else None
    options = (dict(cov_type="cluster", cov_kwds={"groups": education.to_numpy()})
               if kind == "cluster" else dict(cov_type=kind.upper()))
    theirs = sm.Logit(vote, with_constant(X)).fit(disp=0, method="newton", tol=1e-12,
                                                  **options)
    ours = MLEClassifier(inference=kind, tol=1e-10).fit(X, vote, groups=groups)
    assert_close(np.append(ours.coef_se_[0], ours.intercept_se_), theirs.bse)

    theirs = sm.MNLogit(party, with_constant(X)).fit(disp=0, method="newton",
                                                     maxiter=200, tol=1e-12, **options)
    ours = MLEClassifier(inference=kind, tol=1e-10).fit(X, party, groups=groups)
    # statsmodels: (d+1, K-1) against class 0, the reference of ours
    se = np.vstack([ours.coef_se_[1:].T, ours.intercept_se_[1:]])
    assert_close(se, np.asarray(theirs.bse).reshape(se.shape))
    assert np.all(np.isnan(ours.coef_se_[0]))


# --------------------------------------------- NumPy reference: learned variance
def gaussian_reference(X, y, estimator, kind, groups=None):
    """The sandwich of the heteroscedastic (or constant-sigma) Gaussian written out:
    NLL_i = tau_i + e_i^2 exp(-2 tau_i) / 2, tau = log sigma, with its per-sample
    scores, Hessians and, for HC3, the leverages of the mean (z^T (Z^T S^-2 Z)^-1 z /
    sigma^2) and of log sigma (z^T (Z^T Z)^-1 z) in the Fisher metric."""
    Z = np.column_stack([X, np.ones(len(y))])
    linear = hasattr(estimator, "scale_coef_")
    tau = (Z @ np.append(estimator.scale_coef_, estimator.scale_intercept_) if linear
           else np.full(len(y), np.log(estimator.scale_)))
    V = Z if linear else np.ones((len(y), 1))  # the design of log sigma
    e = y - Z @ np.append(estimator.coef_, estimator.intercept_)
    precision = np.exp(-2 * tau)
    g_mean, g_tau = -e * precision, 1 - e**2 * precision
    d_mean, d_tau = Z.shape[1], V.shape[1]
    hessian = np.zeros((d_mean + d_tau,) * 2)
    hessian[:d_mean, :d_mean] = Z.T @ (precision[:, None] * Z)
    hessian[:d_mean, d_mean:] = Z.T @ ((2 * e * precision)[:, None] * V)
    hessian[d_mean:, :d_mean] = hessian[:d_mean, d_mean:].T
    hessian[d_mean:, d_mean:] = V.T @ ((2 * e**2 * precision)[:, None] * V)
    if kind == "hc3":
        mean_information = Z.T @ (precision[:, None] * Z)
        lev_mean = np.einsum("ij,jk,ik->i", Z, np.linalg.inv(mean_information),
                             Z) * precision
        lev_tau = np.einsum("ij,jk,ik->i", V, np.linalg.inv(V.T @ V), V)
        g_mean, g_tau = g_mean / (1 - lev_mean), g_tau / (1 - lev_tau)
    scores = np.column_stack([g_mean[:, None] * Z, g_tau[:, None] * V])
    if groups is not None:
        codes = codes_of(groups)
        scores = np.array([scores[codes == c].sum(axis=0)
                           for c in range(codes.max() + 1)])
    bread = np.linalg.inv(hessian)
    covariance = bread @ scores.T @ scores @ bread
    n, k = len(y), len(y) - estimator.df_resid_
    if kind == "hc1":
        covariance *= n / (n - k)
    if kind == "cluster":
        n_groups = scores.shape[0]
        covariance *= n_groups / (n_groups - 1) * (n - 1) / (n - k)
    return covariance


@pytest.mark.parametrize("variance", ["constant", "heteroscedastic"])
@pytest.mark.parametrize("kind", ["hc0", "hc1", "hc3", "cluster"])
def test_learned_variance_gaussian_matches_numpy_sandwich(variance, kind):
    X, y, firm = grunfeld()
    X = X / X.std()
    groups = firm if kind == "cluster" else None
    ours = MLERegressor(variance=variance, inference=kind, tol=1e-10).fit(X, y,
                                                                          groups=groups)
    reference = gaussian_reference(X.to_numpy(), y.to_numpy(), ours, kind, groups)
    assert_close(ours.covariance_, reference)
    if variance == "constant":  # scale_se_ by the delta method from log sigma's
        assert_close(ours.scale_se_, ours.scale_ * np.sqrt(reference[-1, -1]))


def test_penalised_sandwich_matches_numpy_ridge():
    """alpha > 0: the bread is the inverse penalised information (the intercept is
    not penalised), the meat the likelihood's scores."""
    X, y, _ = grunfeld()
    X = (X / X.std()).to_numpy()
    alpha = 0.05
    ours = MLERegressor(variance="fixed", alpha=alpha, inference="hc0",
                        tol=1e-12).fit(X, y)
    Z = np.column_stack([X, np.ones(len(y))])
    n = len(y)
    e = y.to_numpy() - Z @ np.append(ours.coef_, ours.intercept_)
    penalty = alpha * np.diag([1.0, 1.0, 0.0])
    bread = np.linalg.inv(Z.T @ Z / n + penalty)
    scores = e[:, None] * Z / n
    assert_close(ours.covariance_, bread @ scores.T @ scores @ bread, rtol=1e-7)


# ------------------------------------------------------- per-sample scores by FD
def model_case(name, rng, n=7, d=3):
    """A LinearModel of every column linear in x, parameters and valid targets."""
    losses = {"gaussian": GaussianLoss(), "poisson": PoissonLoss(),
              "negative_binomial": NegativeBinomialLoss(), "gamma": GammaLoss(),
              "student_t": StudentTLoss(), "bernoulli": BernoulliLoss(),
              "categorical": CategoricalLoss(4), "binomial": BinomialLoss()}
    loss = losses[name]
    free = np.ones(loss.n_raw, dtype=bool)
    model = LinearModel(loss, d, free, free)
    X = rng.normal(size=(n, d))
    theta = 0.3 * rng.normal(size=model.n_params)
    targets = {"gaussian": rng.normal(size=n), "student_t": rng.normal(size=n),
               "poisson": rng.poisson(2.0, n), "negative_binomial": rng.poisson(2.0, n),
               "gamma": rng.gamma(2.0, size=n), "bernoulli": rng.integers(0, 2, n),
               "categorical": rng.integers(0, 4, n),
               "binomial": rng.integers(0, 5, n) / 4}
    return model, X, np.asarray(targets[name], dtype=np.float64), theta


FAMILY_NAMES = ["gaussian", "poisson", "negative_binomial", "gamma", "student_t",
                "bernoulli", "categorical", "binomial"]


@pytest.mark.parametrize("name", FAMILY_NAMES)
def test_sample_scores_are_the_gradients_of_each_samples_nll(name):
    """J_i^T g_i against a 4th-order central difference of s_i NLL_i (step 1e-3,
    truncation ~1e-12: agreement to 1e-7 relative to the largest score)."""
    rng = np.random.default_rng(3)
    model, X, y, theta = model_case(name, rng)
    weights = rng.uniform(0.5, 2.0, y.size)
    raw = model.raw_prediction(theta, X)
    _, gradient = model.loss.loss_gradient(y, raw, weights)
    scores = model.sample_scores(theta, X, gradient)
    step = 1e-3
    numeric = np.empty_like(scores)
    for i in range(y.size):
        def nll(t):
            return model.total_nll(t, X[i:i + 1], y[i:i + 1], weights[i:i + 1])
        for p in range(theta.size):
            e = np.zeros_like(theta)
            e[p] = step
            numeric[i, p] = (8 * (nll(theta + e) - nll(theta - e))
                             - (nll(theta + 2 * e) - nll(theta - 2 * e))) / (12 * step)
    np.testing.assert_allclose(scores, numeric, atol=1e-7 * np.abs(numeric).max())
    # the generic interface (raw_vjp one row at a time) gives the same
    np.testing.assert_allclose(Model.sample_scores(model, theta, X, gradient), scores,
                               rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", ["gaussian", "categorical", "poisson"])
def test_sample_forms_are_the_jacobian_quadratic_forms(name):
    rng = np.random.default_rng(4)
    model, X, _, theta = model_case(name, rng)
    root = rng.normal(size=(model.n_params, model.n_params))
    matrix = root @ root.T
    assert_close(model.sample_forms(theta, X, matrix),
                 Model.sample_forms(model, theta, X, matrix), rtol=1e-12)


def test_scalar_and_matrix_leverage_corrections_agree():
    """With one raw column the matrix correction is g / (1 - h)^p."""
    rng = np.random.default_rng(5)
    gradient = rng.normal(size=(20, 1))
    information = rng.uniform(0.1, 2.0, size=(20, 1, 1))
    forms = rng.uniform(0.0, 0.4, size=(20, 1, 1))
    leverage = (information * forms)[:, 0, 0]
    for power in (0.5, 1.0):
        expected = gradient / (1 - leverage)[:, None] ** power
        padded = np.zeros((20, 2, 2))  # a second, inert raw column
        padded[:, :1, :1] = information
        padded_forms = np.zeros((20, 2, 2))
        padded_forms[:, :1, :1] = forms
        matrix = _robust.leverage_corrected(np.column_stack([gradient, np.zeros(20)]),
                                            padded, padded_forms, power)
        assert_close(_robust.leverage_corrected(gradient, information, forms, power),
                     expected, rtol=1e-13)
        assert_close(matrix[:, :1], expected, rtol=1e-13)


# ------------------------------------------------------- invariances and corners
@pytest.mark.parametrize("kind", ["hc3", "cluster"])
def test_blocks_of_rows_give_the_one_block_result(kind, monkeypatch):
    """Clusters that straddle blocks (grunfeld's 20 rows a firm, blocks of 16)."""
    X, y, firm = grunfeld()
    groups = firm if kind == "cluster" else None
    whole = MLERegressor(variance="heteroscedastic", inference=kind,
                         tol=1e-10).fit(X, y, groups=groups)
    monkeypatch.setattr(_robust, "_BLOCK_NUMBERS", 1)
    blocks = MLERegressor(variance="heteroscedastic", inference=kind,
                          tol=1e-10).fit(X, y, groups=groups)
    assert_close(blocks.covariance_, whole.covariance_, rtol=1e-10)


@pytest.mark.parametrize("layout", ["csr", "csc", "fortran"])
def test_sparse_and_column_major_x_give_the_same_covariance(layout):
    X, y, firm = grunfeld()
    dense = X.to_numpy()
    converted = {"csr": sp.csr_matrix, "csc": sp.csc_matrix,
                 "fortran": np.asfortranarray}[layout](dense)
    for kind, groups in [("hc3", None), ("cluster", firm)]:
        reference = MLERegressor("poisson", inference=kind, tol=1e-10).fit(
            dense, y, groups=groups)
        ours = MLERegressor("poisson", inference=kind, tol=1e-10).fit(
            converted, y, groups=groups)
        assert_close(ours.covariance_, reference.covariance_, rtol=1e-9)


@pytest.mark.parametrize("kind", ["hc1", "hc3", "cluster"])
def test_zero_weights_are_rows_left_out(kind):
    """n and G of the corrections count the samples with a positive weight."""
    X, y, firm = grunfeld()
    weights = np.ones(y.size)
    weights[firm.isin(["Chrysler", "IBM"]).to_numpy()] = 0.0
    weights[::7] = 0.0
    kept = weights > 0
    groups = firm if kind == "cluster" else None
    weighted = MLERegressor(inference=kind, tol=1e-10).fit(X, y, sample_weight=weights,
                                                           groups=groups)
    subset = MLERegressor(inference=kind, tol=1e-10).fit(
        X[kept], y[kept], groups=None if groups is None else groups[kept])
    assert_close(weighted.covariance_, subset.covariance_, rtol=1e-9)


def test_a_sample_of_leverage_one_is_left_uncorrected():
    """A dummy column for one sample fits it exactly (h = 1, residual 0): HC3 stays
    finite and is the HC3 of the other samples' terms."""
    X, y, _ = grunfeld()
    X = X.to_numpy()
    dummy = np.zeros(y.size)
    dummy[0] = 1.0
    X = np.column_stack([X, dummy])
    ours = MLERegressor(variance="fixed", inference="hc3", tol=1e-12).fit(X, y)
    Z = np.column_stack([X, np.ones(y.size)])
    bread = np.linalg.inv(Z.T @ Z)
    leverage = np.einsum("ij,jk,ik->i", Z, bread, Z)
    e = y.to_numpy() - Z @ np.append(ours.coef_, ours.intercept_)
    scores = (e / (1 - leverage))[1:, None] * Z[1:]
    assert np.all(np.isfinite(ours.covariance_))
    assert_close(ours.covariance_[:2, :2], (bread @ scores.T @ scores @ bread)[:2, :2],
                 rtol=1e-7)


def test_aliased_columns_stay_nan_and_the_rest_matches():
    X, y, _ = grunfeld()
    doubled = X.assign(twice=2 * X["value"])
    ours = MLERegressor(inference="hc1", tol=1e-10).fit(doubled, y)
    full = MLERegressor(inference="hc1", tol=1e-10).fit(X, y)
    assert np.isnan(ours.coef_se_[0]) and np.isnan(ours.coef_se_[2])
    # capital and the intercept are estimable; k is the rank, as without the copy
    assert_close(ours.coef_se_[1], full.coef_se_[1], rtol=1e-6)
    assert_close(ours.intercept_se_, full.intercept_se_, rtol=1e-6)


def test_every_family_and_dispersion_mode_gives_finite_robust_errors():
    rng = np.random.default_rng(6)
    X = rng.normal(size=(300, 2))
    groups = rng.integers(0, 12, 300)
    eta = 0.5 + X @ [0.3, -0.2]
    targets = {"gaussian": eta + rng.normal(size=300),
               "student_t": eta + rng.standard_t(5, 300),
               "poisson": rng.poisson(np.exp(eta)),
               "negative_binomial": rng.poisson(np.exp(eta) * rng.gamma(2, 0.5, 300)),
               "gamma": rng.gamma(2.0, np.exp(eta) / 2)}
    for distribution, y in targets.items():
        modes = (None,) if distribution == "poisson" else ("constant", "linear")
        for dispersion in modes:
            for kind in ("hc2", "cluster"):
                reg = MLERegressor(distribution, dispersion=dispersion, inference=kind,
                                   alpha=1e-3).fit(X, y, groups=groups
                                                   if kind == "cluster" else None)
                assert np.all(np.isfinite(reg.covariance_)), (distribution, dispersion)
                assert np.all(np.linalg.eigvalsh(reg.covariance_) > -1e-12)


class Logistic(Family):
    """The user guide's NumPy family: logistic noise with a learned scale (its Fisher
    information is the base class's default, central differences of the gradient)."""

    name = "logistic"
    raw_columns = ("mean", "log_scale")
    column_modes = ("x", "constant")
    dispersion_column, dispersion_name = 1, "scale"

    def loss_gradient(self, y, raw, sample_weight, n_threads=1):
        z = (y - raw[:, 0]) * np.exp(-raw[:, 1])
        loss = z + 2 * np.logaddexp(0, -z) + raw[:, 1]
        slope = np.tanh(z / 2)
        grad = np.column_stack([-slope * np.exp(-raw[:, 1]), 1 - z * slope])
        return sample_weight * loss, sample_weight[:, None] * grad

    def initial_raw_prediction(self, y, sample_weight):
        return np.array([np.median(y), np.log(np.std(y))])

    def mean(self, raw):
        return raw[:, 0]

    def distribution(self, raw):
        return stats.logistic(loc=raw[:, 0], scale=np.exp(raw[:, 1]))


@pytest.mark.parametrize("kind", ["hc0", "hc3", "cluster"])
def test_a_users_numpy_family_gets_robust_errors(kind):
    """HC0 of the user's family equals the sandwich of its own per-sample gradients;
    HC3 and cluster are finite and positive semi-definite."""
    rng = np.random.default_rng(7)
    X = rng.normal(size=(400, 2))
    y = 1 + X @ [2.0, -1.0] + rng.logistic(size=400) * np.exp(0.4 * X[:, 0])
    groups = rng.integers(0, 20, 400)
    reg = MLERegressor(distribution=Logistic(), inference=kind, tol=1e-10).fit(
        X, y, groups=groups if kind == "cluster" else None)
    assert np.all(np.isfinite(reg.covariance_))
    assert np.all(np.linalg.eigvalsh(reg.covariance_) > 0)
    if kind == "hc0":
        model_based = MLERegressor(distribution=Logistic(), inference=True,
                                   tol=1e-10).fit(X, y)
        Z = np.column_stack([X, np.ones(len(y))])
        raw = np.column_stack([Z @ np.append(reg.coef_, reg.intercept_),
                               np.full(len(y), np.log(reg.scale_))])
        _, gradient = Logistic().loss_gradient(y, raw, np.ones(len(y)))
        scores = np.column_stack([gradient[:, :1] * Z, gradient[:, 1:]])
        bread = model_based.covariance_
        assert_close(reg.covariance_, bread @ scores.T @ scores @ bread, rtol=1e-7)


# ----------------------------------------------------------- summary and attributes
def test_summary_names_the_covariance_and_the_tests_follow_it():
    X, y, firm = grunfeld()
    reg = MLERegressor(inference="hc1", tol=1e-10).fit(X, y)
    table = reg.summary()
    assert dict(table.model_info)["Covariance"] == "HC1"
    assert "n / (n - k) = 220 / 217" in table.notes[0]
    assert_close(table.std_err[:3], mean_se(reg))
    z = table.estimate / table.std_err
    # the mean's rows are z tested; sigma, on its natural scale, has no test
    assert_close(table.p_value[:3], 2 * stats.norm.sf(np.abs(z[:3])))
    assert np.isnan(table.p_value[3])
    assert_close(table.ci_upper[:3] - table.estimate[:3],
                 stats.norm.ppf(0.975) * table.std_err[:3])
    clustered = MLERegressor(inference="cluster").fit(X, y, groups=firm)
    assert dict(clustered.summary().model_info)["Covariance"] == "cluster (11 groups)"
    assert "G = 11" in str(clustered.summary())
    # a refit without clusters forgets n_groups_
    clustered.set_params(inference=True).fit(X, y)
    assert not hasattr(clustered, "n_groups_")
    fixed = MLERegressor(variance="fixed", inference="hc0").fit(X, y).summary()
    assert dict(fixed.model_info)["Covariance"] == "HC0"
    assert any("do not rely on it" in note for note in fixed.notes)


def test_classifier_summary_with_penalised_robust_covariance():
    X, vote, _, _ = anes96()
    clf = MLEClassifier(alpha=0.01, inference="hc3").fit(X, vote)
    table = clf.summary()
    assert dict(table.model_info)["Covariance"] == "HC3"
    assert any("sandwich whose bread is the inverse penalised information" in note
               for note in table.notes)
    assert np.all(np.isfinite(table.std_err))


def test_groups_route_through_a_pipeline():
    X, y, firm = grunfeld()
    pipe = Pipeline([("scale", StandardScaler()),
                     ("mle", MLERegressor(inference="cluster", tol=1e-10))])
    pipe.fit(X, y, mle__groups=firm)
    direct = MLERegressor(inference="cluster", tol=1e-10).fit(
        StandardScaler().fit_transform(X), y, groups=firm)
    assert_close(pipe[-1].covariance_, direct.covariance_, rtol=1e-9)


def test_groups_route_to_the_estimator_and_the_splitter_with_metadata_routing():
    """With metadata routing, one ``groups`` feeds GroupKFold and each fold's
    cluster-robust fit."""
    X, y, firm = grunfeld()
    with sklearn.config_context(enable_metadata_routing=True):
        estimator = MLERegressor(inference="cluster").set_fit_request(
            groups=True, sample_weight=False)
        result = cross_validate(estimator, X, y, cv=GroupKFold(3),
                                params={"groups": firm}, return_estimator=True)
    held_out = [firm.iloc[test].nunique() for _, test in GroupKFold(3).split(X, y, firm)]
    assert [fit.n_groups_ for fit in result["estimator"]] == [11 - k for k in held_out]


# --------------------------------------------------------------------- bad input
def test_cluster_needs_groups():
    X, y, _ = grunfeld()
    with pytest.raises(ValueError, match="inference='cluster' needs the cluster of"):
        MLERegressor(inference="cluster").fit(X, y)
    with pytest.raises(ValueError, match="inference='cluster' needs the cluster of"):
        MLEClassifier(inference="cluster").fit(X, y > y.median())


@pytest.mark.parametrize("inference", [False, True, "ols", "hc1"])
def test_groups_without_cluster_inference_are_rejected(inference):
    X, y, firm = grunfeld()
    with pytest.raises(ValueError, match=f"groups is used only by inference='cluster'.*"
                                         f"inference={inference!r}"):
        MLERegressor(inference=inference).fit(X, y, groups=firm)


@pytest.mark.parametrize("groups, message", [
    (np.zeros(5), r"one cluster label per sample, shape \(220,\), got shape \(5,\)"),
    (np.zeros((220, 1)), r"shape \(220,\), got shape \(220, 1\)"),
    (np.r_[np.nan, np.arange(219.0)], "groups contains NaN"),
    (np.array([None] + ["a", "b"] * 109 + ["a"], dtype=object), "missing labels"),
    (np.array([1] + ["a"] * 219, dtype=object), "labels of one sortable type"),
    (np.zeros(220), "at least 2 clusters, but groups holds only one label"),
])
def test_bad_groups_are_named(groups, message):
    X, y, _ = grunfeld()
    with pytest.raises(ValueError, match=message):
        MLERegressor(inference="cluster").fit(X, y, groups=groups)


def test_one_cluster_with_positive_weight_is_an_error():
    X, y, firm = grunfeld()
    weights = (firm == "IBM").to_numpy().astype(float)
    with pytest.raises(ValueError, match="at least 2 clusters among the samples with a "
                                         "positive weight, got 1"):
        MLERegressor(inference="cluster").fit(X, y, sample_weight=weights, groups=firm)


@pytest.mark.parametrize("estimator, inference", [
    (MLERegressor, "HC1"), (MLERegressor, "robust"), (MLEClassifier, "ols"),
    (MLEClassifier, "hc4")])
def test_unknown_inference_names_are_rejected(estimator, inference):
    X, y, _ = grunfeld()
    target = y > y.median() if estimator is MLEClassifier else y
    with pytest.raises(InvalidParameterError, match="inference"):
        estimator(inference=inference).fit(X, target)
