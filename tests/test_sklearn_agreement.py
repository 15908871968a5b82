"""Agreement with scikit-learn at the mapped penalty, on objectives computed independently."""

import numpy as np
import pytest
from scipy.special import log_expit, log_softmax
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris, load_wine
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.preprocessing import StandardScaler

from sklearn_mle import MLEClassifier, MLERegressor


def classification_objective(X, y, coef, intercept, alpha):
    """Mean cross-entropy + alpha/2 ||coef||^2, written independently in NumPy."""
    scores = X @ coef.T + intercept
    if coef.shape[0] == 1:
        z = scores[:, 0]
        log_lik = np.where(y == 1, log_expit(z), log_expit(-z))
    else:
        log_lik = log_softmax(scores, axis=1)[np.arange(len(y)), y]
    return -log_lik.mean() + 0.5 * alpha * np.sum(coef**2)


def gaussian_fixed_objective(X, y, coef, intercept, alpha):
    residual = y - X @ coef - intercept
    return np.mean(0.5 * residual**2 + 0.5 * np.log(2 * np.pi)) + 0.5 * alpha * coef @ coef


@pytest.mark.parametrize("load", [load_breast_cancer, load_iris, load_wine])
@pytest.mark.parametrize("alpha", [1e-3, 1e-1])
def test_classifier_matches_logistic_regression(load, alpha):
    X, y = load(return_X_y=True)
    X = StandardScaler().fit_transform(X)  # so that sklearn itself converges tightly
    n = X.shape[0]
    ours = MLEClassifier(alpha=alpha).fit(X, y)
    theirs = LogisticRegression(C=1 / (alpha * n), tol=1e-12, max_iter=10_000,
                                solver="newton-cholesky").fit(X, y)
    f_ours = classification_objective(X, y, ours.coef_, ours.intercept_, alpha)
    f_theirs = classification_objective(X, y, theirs.coef_, theirs.intercept_, alpha)
    assert f_ours <= f_theirs + 1e-12 * abs(f_theirs)
    assert abs(f_ours - f_theirs) <= 1e-10 * abs(f_theirs)
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), atol=1e-6)
    if ours.coef_.shape[0] > 1:  # both have rows summing to zero under the penalty
        np.testing.assert_allclose(ours.coef_, theirs.coef_, atol=1e-5)
    # loglik_ is the total log-likelihood at the fitted parameters
    penalty = 0.5 * alpha * np.sum(ours.coef_**2)
    assert ours.loglik_ == pytest.approx(-n * (f_ours - penalty), rel=1e-10)


def test_classifier_on_raw_unscaled_data_reaches_the_optimum():
    X, y = load_breast_cancer(return_X_y=True)  # features spanning 4 decades
    n, alpha = X.shape[0], 1e-2
    ours = MLEClassifier(alpha=alpha).fit(X, y)
    newton = LogisticRegression(C=1 / (alpha * n), tol=1e-12, max_iter=1000,
                                solver="newton-cholesky").fit(X, y)
    f_ours = classification_objective(X, y, ours.coef_, ours.intercept_, alpha)
    f_newton = classification_objective(X, y, newton.coef_, newton.intercept_, alpha)
    assert f_ours - f_newton <= 1e-9 * abs(f_newton)


@pytest.mark.parametrize("alpha", [0.0, 1e-3, 1.0])
def test_fixed_variance_regressor_matches_ridge(alpha):
    X, y = load_diabetes(return_X_y=True)
    n = X.shape[0]
    ours = MLERegressor(variance="fixed", alpha=alpha).fit(X, y)
    theirs = (Ridge(alpha=alpha * n, solver="cholesky") if alpha > 0
              else LinearRegression()).fit(X, y)
    f_ours = gaussian_fixed_objective(X, y, ours.coef_, ours.intercept_, alpha)
    f_theirs = gaussian_fixed_objective(X, y, theirs.coef_, theirs.intercept_, alpha)
    assert abs(f_ours - f_theirs) <= 1e-11 * abs(f_theirs)
    np.testing.assert_allclose(ours.coef_, theirs.coef_, rtol=1e-6,
                               atol=1e-6 * np.abs(theirs.coef_).max())
    assert ours.scale_ == 1.0


def test_constant_variance_regressor_is_ols_with_mle_scale():
    X, y = load_diabetes(return_X_y=True)
    n = X.shape[0]
    ours = MLERegressor(variance="constant").fit(X, y)
    ols = LinearRegression().fit(X, y)
    rss = np.sum((y - ols.predict(X)) ** 2)
    np.testing.assert_allclose(ours.coef_, ols.coef_, rtol=1e-6)
    assert ours.intercept_ == pytest.approx(ols.intercept_, rel=1e-9)
    assert ours.scale_**2 == pytest.approx(rss / n, rel=1e-9)
    # closed-form maximised Gaussian log-likelihood
    assert ours.loglik_ == pytest.approx(-0.5 * n * (np.log(2 * np.pi * rss / n) + 1),
                                         rel=1e-12)
