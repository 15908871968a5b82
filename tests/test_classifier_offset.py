"""Offsets for MLEClassifier (issue 19, item 1): a known term in the logit, or in each
class's score.

References: statsmodels' ``Logit(y, X, offset=...)`` on data that ship with statsmodels
(spector, anes96) for two classes; for more classes statsmodels has no offset
(``MNLogit`` takes the argument and ignores it), so a plain NumPy Newton fit of the
softmax NLL with the offset is the reference, and a per-class offset that is a linear
function of a column must move that column's coefficients by exactly its slope.
Tolerances: 1e-8 relative on estimates, standard errors and log-likelihoods (the
references converge to rounding).
"""

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy.special import log_softmax
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_mle import MLEClassifier, UnboundedLikelihoodWarning, log_likelihood_scorer
from sklearn_mle.existence import _fallback

RTOL = 1e-8


def _relative(actual, expected):
    actual, expected = np.asarray(actual, float), np.asarray(expected, float)
    return float(np.max(np.abs(actual - expected) / np.maximum(np.abs(expected), 1e-300)))


# ----------------------------------------------------------------------------- data
@pytest.fixture(scope="module")
def spector():
    data = sm.datasets.spector.load_pandas()
    X, y = data.exog.to_numpy(float), data.endog.to_numpy(float)
    offset = 0.5 * X[:, 2] - 0.1 * (X[:, 1] - 20.0)   # a known part of the logit
    return X, y, offset


@pytest.fixture(scope="module")
def anes96():
    data = sm.datasets.anes96.load_pandas().data
    X = data[["logpopul", "selfLR", "age", "educ", "income"]].to_numpy(float)
    party = np.digitize(data["PID"].to_numpy(), [1.5, 4.5])   # 3 classes: D, I, R
    return X, data["vote"].to_numpy(float), party, data["educ"].to_numpy()


def softmax_newton(X, y, n_classes, offset, fit_intercept=True):
    """The softmax MLE with class 0 as reference, by plain Newton steps in NumPy:
    (parameters (q, K-1) with the intercept last, the inverse Hessian of the total
    NLL, the log-likelihood).  ``offset`` is (n, K)."""
    Z = np.column_stack([X, np.ones(len(y))]) if fit_intercept else X
    n, q = Z.shape
    Y = np.eye(n_classes)[y.astype(int)]
    B = np.zeros((q, n_classes - 1))

    def parts(B):
        log_p = log_softmax(np.column_stack([np.zeros(n), Z @ B]) + offset, axis=1)
        return log_p, np.exp(log_p)

    for _ in range(100):
        _, p = parts(B)
        gradient = (Z.T @ (p - Y)[:, 1:]).T.ravel()
        hessian = np.block([[Z.T @ (Z * (p[:, j] * ((j == k) - p[:, k]))[:, None])
                             for k in range(1, n_classes)] for j in range(1, n_classes)])
        step = np.linalg.solve(hessian, gradient)
        B = B - step.reshape(n_classes - 1, q).T
        if np.max(np.abs(step)) < 1e-15 * max(1.0, np.max(np.abs(B))):
            break
    log_p, p = parts(B)
    hessian = np.block([[Z.T @ (Z * (p[:, j] * ((j == k) - p[:, k]))[:, None])
                         for k in range(1, n_classes)] for j in range(1, n_classes)])
    return B, np.linalg.inv(hessian), float(np.sum(log_p[np.arange(n), y.astype(int)]))


# ---------------------------------------------------------------- two classes
def test_logit_offset_matches_statsmodels_on_spector(spector):
    X, y, offset = spector
    ours = MLEClassifier(inference=True, tol=1e-10).fit(X, y, offset=offset)
    theirs = sm.Logit(y, sm.add_constant(X, prepend=False), offset=offset).fit(
        disp=0, method="newton", tol=1e-14, maxiter=100)
    assert _relative(ours.coef_[0], theirs.params[:3]) < RTOL
    assert _relative(ours.intercept_, theirs.params[3:]) < RTOL
    assert _relative(np.append(ours.coef_se_, ours.intercept_se_), theirs.bse) < RTOL
    for attribute, reference in [("loglik_", theirs.llf), ("loglik_null_", theirs.llnull),
                                 ("aic_", theirs.aic), ("bic_", theirs.bic)]:
        assert _relative(getattr(ours, attribute), reference) < RTOL, attribute
    assert ours.mle_exists_ is True
    # the offset changes the fit: the same data without it give other numbers
    plain = MLEClassifier().fit(X, y)
    assert _relative(plain.coef_, ours.coef_) > 1e-2
    # the summary reports the fit with the offset
    statistics = ours.summary().statistics
    assert statistics["Log-Likelihood"] == pytest.approx(theirs.llf, rel=RTOL)
    assert statistics["LL-Null"] == pytest.approx(theirs.llnull, rel=RTOL)


def test_logit_offset_matches_statsmodels_on_anes96_with_robust_errors(anes96):
    X, vote, _, educ = anes96
    offset = 0.02 * (X[:, 2] - 47.0)
    design = sm.add_constant(X, prepend=False)
    model = sm.Logit(vote, design, offset=offset)
    ours = MLEClassifier(inference="hc0", tol=1e-10).fit(X, vote, offset=offset)
    theirs = model.fit(disp=0, method="newton", tol=1e-14, cov_type="HC0")
    assert _relative(np.append(ours.coef_, ours.intercept_), theirs.params) < RTOL
    assert _relative(np.append(ours.coef_se_, ours.intercept_se_), theirs.bse) < RTOL
    assert ours.loglik_null_ == pytest.approx(theirs.llnull, rel=RTOL)
    clustered = MLEClassifier(inference="cluster", tol=1e-10).fit(X, vote, groups=educ,
                                                                   offset=offset)
    theirs = model.fit(disp=0, method="newton", tol=1e-14, cov_type="cluster",
                       cov_kwds={"groups": pd.factorize(educ)[0]})
    assert _relative(np.append(clustered.coef_se_, clustered.intercept_se_),
                     theirs.bse) < RTOL


def test_an_offset_per_class_is_the_difference_of_its_columns(spector):
    X, y, offset = spector
    as_logit = MLEClassifier().fit(X, y, offset=offset)
    columns = np.column_stack([1.0 - offset, np.ones_like(offset)])  # difference: offset
    per_class = MLEClassifier().fit(X, y, offset=columns)
    np.testing.assert_allclose(per_class.coef_, as_logit.coef_, rtol=1e-10)
    assert per_class.loglik_ == pytest.approx(as_logit.loglik_, rel=1e-12)
    np.testing.assert_allclose(per_class.predict_proba(X, offset=columns),
                               as_logit.predict_proba(X, offset=offset), rtol=1e-12)


def test_predictions_take_their_own_offset(spector):
    X, y, offset = spector
    clf = MLEClassifier().fit(X, y, offset=offset)
    logit = X @ clf.coef_[0] + clf.intercept_[0]
    np.testing.assert_allclose(clf.decision_function(X), logit, rtol=1e-12)
    np.testing.assert_allclose(clf.decision_function(X, offset=offset), logit + offset,
                               rtol=1e-12)
    proba = clf.predict_proba(X, offset=offset)
    np.testing.assert_allclose(proba[:, 1], 1 / (1 + np.exp(-(logit + offset))),
                               rtol=1e-12)
    np.testing.assert_allclose(clf.predict_log_proba(X, offset=offset), np.log(proba),
                               rtol=1e-12)
    np.testing.assert_array_equal(clf.predict(X, offset=offset),
                                  (logit + offset > 0).astype(float))
    assert clf.score(X, y, offset=offset) == np.mean(clf.predict(X, offset=offset) == y)
    assert clf.score(X, y) == np.mean(clf.predict(X) == y)
    # the log-likelihood and the held-out scorer take it too
    assert clf.log_likelihood(X, y, offset=offset) * y.size == pytest.approx(
        clf.loglik_, rel=1e-12)
    assert log_likelihood_scorer(clf, X, y, offset=offset) == clf.log_likelihood(
        X, y, offset=offset)
    per_sample = clf.log_likelihood(X, y, per_sample=True, offset=offset)
    np.testing.assert_allclose(per_sample, np.log(proba[np.arange(y.size),
                                                        y.astype(int)]), rtol=1e-10)


def test_without_intercept_the_null_model_is_the_offset_alone(spector):
    X, y, offset = spector
    clf = MLEClassifier(fit_intercept=False).fit(X, y, offset=offset)
    log_p1 = -np.logaddexp(0.0, -offset)
    log_p0 = -np.logaddexp(0.0, offset)
    assert clf.loglik_null_ == pytest.approx(np.sum(np.where(y == 1, log_p1, log_p0)),
                                             rel=1e-12)
    theirs = sm.Logit(y, X, offset=offset).fit(disp=0, method="newton", tol=1e-14)
    assert _relative(clf.coef_[0], theirs.params) < RTOL
    assert clf.loglik_ == pytest.approx(theirs.llf, rel=RTOL)


def test_class_weights_do_not_enter_the_null_log_likelihood(spector):
    X, y, offset = spector
    weighted = MLEClassifier(class_weight={0.0: 1.0, 1.0: 3.0}).fit(X, y, offset=offset)
    plain = MLEClassifier().fit(X, y, offset=offset)
    # the null model of the likelihood (user weights only) is the same model
    assert weighted.loglik_null_ == pytest.approx(plain.loglik_null_, rel=1e-10)


# ---------------------------------------------------------------- more classes
def test_softmax_offset_matches_a_numpy_newton_fit(anes96):
    X, _, party, _ = anes96
    rng = np.random.default_rng(0)
    offset = rng.normal(scale=0.5, size=(party.size, 3))
    ours = MLEClassifier(inference=True, tol=1e-10).fit(X, party, offset=offset)
    B, covariance, loglik = softmax_newton(X, party, 3, offset)
    assert _relative(ours.coef_[1:], B[:-1].T) < RTOL
    assert _relative(ours.intercept_[1:], B[-1]) < RTOL
    np.testing.assert_array_equal(ours.coef_[0], 0.0)
    assert ours.loglik_ == pytest.approx(loglik, rel=RTOL)
    # standard errors: the reference orders parameters class by class, intercept last
    se = np.sqrt(np.diag(covariance)).reshape(2, -1)
    assert _relative(ours.coef_se_[1:], se[:, :-1]) < RTOL
    assert _relative(ours.intercept_se_[1:], se[:, -1]) < RTOL
    # the null model: intercepts only, with the offset
    _, _, loglik_null = softmax_newton(np.empty((party.size, 0)), party, 3, offset)
    assert ours.loglik_null_ == pytest.approx(loglik_null, rel=RTOL)
    assert ours.aic_ == pytest.approx(2 * 12 - 2 * loglik, rel=RTOL)
    proba = np.exp(log_softmax(np.column_stack([np.zeros(party.size),
                                                np.column_stack([X, np.ones(party.size)])
                                                @ B]) + offset, axis=1))
    np.testing.assert_allclose(ours.predict_proba(X, offset=offset), proba, rtol=1e-8)
    assert ours.summary().statistics["LL-Null"] == pytest.approx(loglik_null, rel=RTOL)


def test_an_offset_linear_in_a_column_moves_only_its_coefficients(anes96):
    X, _, party, _ = anes96
    slopes = np.array([0.01, -0.03, 0.02])
    offset = X[:, [2]] * slopes          # each class's score gets slope_k * age
    without = MLEClassifier(tol=1e-10, inference=True).fit(X, party)
    shifted = MLEClassifier(tol=1e-10, inference=True).fit(X, party, offset=offset)
    expected = without.coef_.copy()
    expected[:, 2] -= slopes - slopes[0]   # log-odds against class 0
    assert _relative(shifted.coef_, expected) < RTOL
    assert _relative(shifted.intercept_, without.intercept_) < RTOL
    assert shifted.loglik_ == pytest.approx(without.loglik_, rel=1e-12)
    assert _relative(shifted.coef_se_[1:], without.coef_se_[1:]) < RTOL
    # penalised, the coefficients (rows summing to zero) are shrunk towards 0, not
    # shifted: the offset's slopes stay in the offset
    penalised = MLEClassifier(alpha=1e-3).fit(X, party, offset=offset)
    np.testing.assert_allclose(penalised.coef_.sum(axis=0), 0.0, atol=1e-10)
    assert penalised.log_likelihood(X, party, offset=offset) * party.size == \
        pytest.approx(penalised.loglik_, rel=1e-12)


def test_softmax_offset_in_a_pipeline_and_on_sparse_input(anes96):
    import scipy.sparse as sp
    X, _, party, _ = anes96
    offset = np.random.default_rng(1).normal(size=(party.size, 3))
    reference = MLEClassifier(tol=1e-10).fit(X, party, offset=offset)
    sparse = MLEClassifier(tol=1e-10).fit(sp.csr_matrix(X), party, offset=offset)
    np.testing.assert_allclose(sparse.coef_, reference.coef_, rtol=1e-8, atol=1e-12)
    pipe = make_pipeline(StandardScaler(), MLEClassifier(tol=1e-10))
    pipe.fit(X, party, mleclassifier__offset=offset)
    assert pipe[-1].loglik_ == pytest.approx(reference.loglik_, rel=1e-10)


# ------------------------------------------------------------------- existence
def test_separation_is_found_through_an_offset():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 2))
    y = (X[:, 0] > 0).astype(int)            # complete separation by x0
    offset = rng.normal(scale=2.0, size=200)
    with pytest.warns(UnboundedLikelihoodWarning, match="completely separated"):
        clf = MLEClassifier().fit(X, y, offset=offset)
    assert clf.mle_exists_ is False
    np.testing.assert_array_equal(clf.separated_samples_, np.arange(200))
    # the returned model classifies every separated sample correctly with its offset,
    # at the fallback's logit margin
    margin = clf.decision_function(X, offset=offset) * (2 * y - 1)
    assert margin.min() >= 20.0 - 1e-6
    np.testing.assert_array_equal(clf.predict(X, offset=offset), y)


def test_quasi_separation_of_three_classes_is_the_same_with_an_offset():
    from sklearn.datasets import load_iris
    X, y = load_iris(return_X_y=True)
    offset = np.random.default_rng(2).normal(size=(y.size, 3))
    with pytest.warns(UnboundedLikelihoodWarning):
        plain = MLEClassifier().fit(X, y)
    with pytest.warns(UnboundedLikelihoodWarning):
        shifted = MLEClassifier().fit(X, y, offset=offset)
    assert shifted.mle_exists_ is False
    assert shifted.separated_class_pairs_ == plain.separated_class_pairs_
    np.testing.assert_array_equal(shifted.separated_samples_, plain.separated_samples_)
    # every separated pair has the fallback's logit margin, with the offset
    log_proba = shifted.predict_log_proba(X, offset=offset)
    for own, other in shifted.separated_class_pairs_:
        rows = y == own
        assert np.max(log_proba[rows, other] - log_proba[rows, own]) <= -20.0 + 1e-6


def test_a_strong_offset_without_separation_is_certified(monkeypatch, spector):
    """The offset alone nearly decides each label, but X does not separate the
    classes, so the MLE exists: the certificate (with the offset in its
    probabilities) proves it without the separation LP, and the fit is
    statsmodels'."""
    X, y, _ = spector
    offset = 4.0 * (2 * y - 1) + 0.3 * X[:, 1] - 6.0

    def no_lp(*args, **kwargs):
        raise AssertionError("the separation LP ran: the certificate failed")

    monkeypatch.setattr(_fallback, "find_separation", no_lp)
    monkeypatch.setattr(_fallback, "find_complete_separation", no_lp)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ours = MLEClassifier(tol=1e-10).fit(X, y, offset=offset)
    assert ours.mle_exists_ is True
    theirs = sm.Logit(y, sm.add_constant(X, prepend=False), offset=offset).fit(
        disp=0, method="newton", tol=1e-14, maxiter=100)
    assert _relative(np.append(ours.coef_, ours.intercept_), theirs.params) < 1e-7
    assert ours.loglik_ == pytest.approx(theirs.llf, rel=RTOL)


def test_the_certificates_margin_growth_uses_the_offsets_probabilities(anes96):
    """The certificate's growth ``t_ik - sum_l p_il t_il`` (module docstring of
    ``existence._separation``) with ``p`` the probabilities of the fit's gradient and
    Hessian, offset included, at a point where it matters (not converged)."""
    from sklearn_mle.existence._separation import _growth_in_chunks, newton_solution
    from sklearn_mle.models._linear_layouts import classification_model

    X, _, party, _ = anes96
    offset = 3.0 * np.random.default_rng(3).normal(size=(party.size, 3))
    model = classification_model(X.shape[1], 3, True, 0.0, offset)
    weights = np.full(party.size, 1.0 / party.size)
    y = party.astype(float)
    theta = np.random.default_rng(4).normal(scale=0.05, size=model.n_params)
    delta, _ = newton_solution(model, X, y, weights, theta, 1)
    growth = _growth_in_chunks(model, X, y, weights, *model.unpack(theta),
                               *model.unpack(delta, direction=True))
    coef, intercept = model.unpack(theta)
    step_coef, step_intercept = model.unpack(delta, direction=True)
    p = np.exp(log_softmax(X @ coef.T + intercept + offset, axis=1))
    t = X @ step_coef.T + step_intercept
    expected = t - np.sum(p * t, axis=1, keepdims=True)
    expected[np.arange(y.size), party] = -np.inf
    np.testing.assert_allclose(growth, expected.max(axis=1), rtol=1e-9, atol=1e-12)


# ------------------------------------------------------------------ networks
def test_a_network_takes_the_offset(spector):
    X, y, offset = spector
    clf = MLEClassifier(hidden_layer_sizes=(3,), alpha=0.1, random_state=0).fit(
        X, y, offset=offset)
    assert clf.log_likelihood(X, y, offset=offset) * y.size == pytest.approx(
        clf.loglik_, rel=1e-10)
    np.testing.assert_allclose(clf.decision_function(X, offset=offset),
                               clf.decision_function(X) + offset, rtol=1e-12)


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize("n_classes, offset, message", [
    (3, np.zeros(60), r"offset of shape \(60,\) with 3 classes: a term added to every "
                      r"class's score cancels in the softmax.*shape \(60, 3\)"),
    (3, np.zeros((60, 2)), r"offset must have shape \(60, 3\).*got shape \(60, 2\)"),
    (2, np.zeros((60, 3)), r"offset must have shape \(60,\).*or \(60, 2\).*got shape "
                           r"\(60, 3\)"),
    (2, np.zeros(59), r"offset must have shape \(60,\).*got shape \(59,\)"),
    (2, np.r_[np.nan, np.zeros(59)], "offset.*NaN"),
    (3, np.r_[[np.inf] * 3, np.zeros(177)].reshape(60, 3), "offset.*infinity"),
])
def test_bad_offsets_get_clear_errors(n_classes, offset, message):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(60, 2)), np.arange(60) % n_classes
    with pytest.raises(ValueError, match=message):
        MLEClassifier().fit(X, y, offset=offset)
    clf = MLEClassifier(alpha=0.1).fit(X, y)
    for method in ("decision_function", "predict_proba", "predict_log_proba", "predict"):
        with pytest.raises(ValueError, match=message):
            getattr(clf, method)(X, offset=offset)
    with pytest.raises(ValueError, match=message):
        clf.log_likelihood(X, y, offset=offset)
    with pytest.raises(ValueError, match=message):
        clf.score(X, y, offset=offset)


def test_dask_input_with_an_offset_is_refused_with_the_reason():
    da = pytest.importorskip("dask.array")
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(60, 2)), np.arange(60) % 2
    lazy_X = da.from_array(X, chunks=30)
    with pytest.raises(ValueError, match="offset is not supported with Dask input"):
        MLEClassifier().fit(lazy_X, da.from_array(y, chunks=30), offset=np.zeros(60))
    clf = MLEClassifier(alpha=0.1).fit(X, y)
    for method in ("decision_function", "predict_proba", "predict"):
        with pytest.raises(ValueError, match="offset is not supported with Dask input"):
            getattr(clf, method)(lazy_X, offset=np.zeros(60))
    # without an offset the lazy predictions still work
    np.testing.assert_allclose(clf.predict_proba(lazy_X).compute(), clf.predict_proba(X))
