"""Inference against statsmodels, summaries, and the predictive distribution."""

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from sklearn.compose import TransformedTargetRegressor
from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine

from sklearn_mle import MLEClassifier, MLERegressor

RTOL = 1e-5


def assert_close(ours, theirs, rtol=RTOL):
    np.testing.assert_allclose(ours, theirs, rtol=rtol)


def spector():
    data = sm.datasets.spector.load_pandas()
    return data.exog, data.endog.astype(int)


def breast_cancer_subset():
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    return X[["mean radius", "mean texture", "mean smoothness"]], y


@pytest.mark.parametrize("load", [spector, breast_cancer_subset])
def test_binary_matches_statsmodels_logit(load):
    X, y = load()
    ours = MLEClassifier(inference=True, tol=1e-10).fit(X, y)
    theirs = sm.Logit(y, sm.add_constant(X, prepend=False)).fit(disp=0, method="newton",
                                                                 tol=1e-12)
    assert_close(np.append(ours.coef_[0], ours.intercept_), theirs.params)
    assert_close(np.append(ours.coef_se_[0], ours.intercept_se_), theirs.bse)
    assert_close(ours.loglik_, theirs.llf, rtol=1e-9)
    assert_close(ours.aic_, theirs.aic, rtol=1e-9)
    assert_close(ours.bic_, theirs.bic, rtol=1e-9)
    table = ours.summary()
    assert table.names[:X.shape[1]] == list(X.columns)
    assert_close(table.p_value, theirs.pvalues, rtol=1e-4)


def anes96():
    data = sm.datasets.anes96.load_pandas()
    X = data.exog[["logpopul", "selfLR", "age", "educ", "income"]]
    return X, data.endog.astype(int).to_numpy()


def wine_subset():
    X, y = load_wine(return_X_y=True)
    return X[:, [0, 1, 3]], y


@pytest.mark.parametrize("load", [anes96, wine_subset])
def test_multiclass_matches_statsmodels_mnlogit(load):
    X, y = load()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no false separation alarm
        ours = MLEClassifier(inference=True, tol=1e-10).fit(X, y)
    theirs = sm.MNLogit(y, sm.add_constant(X, prepend=False)).fit(disp=0, method="newton",
                                                                   maxiter=200, tol=1e-12)
    d = X.shape[1]
    # statsmodels: params (d+1, K-1) against class 0, the same reference as ours.
    ours_params = np.vstack([ours.coef_[1:].T, ours.intercept_[1:]])
    ours_se = np.vstack([ours.coef_se_[1:].T, ours.intercept_se_[1:]])
    assert_close(ours_params, np.asarray(theirs.params).reshape(d + 1, -1))
    assert_close(ours_se, np.asarray(theirs.bse).reshape(d + 1, -1))
    assert_close(ours.loglik_, theirs.llf, rtol=1e-9)
    assert_close(ours.aic_, theirs.aic, rtol=1e-9)
    assert_close(ours.bic_, theirs.bic, rtol=1e-9)
    assert np.all(np.isnan(ours.coef_se_[0]))  # the reference class has no variance


def longley():
    data = sm.datasets.longley.load_pandas()
    return data.exog, data.endog


def diabetes():
    return load_diabetes(return_X_y=True, as_frame=True)


@pytest.mark.parametrize("load", [longley, diabetes])
def test_gaussian_matches_statsmodels_ols_with_mle_scale(load):
    X, y = load()
    ours = MLERegressor(inference=True, tol=1e-10).fit(X, y)
    ols = sm.OLS(y, sm.add_constant(X, prepend=False)).fit()
    n, k = X.shape[0], X.shape[1] + 1
    mle_scale = ols.ssr / n
    theirs_se = np.sqrt(np.diag(ols.cov_params(scale=mle_scale)))
    assert_close(np.append(ours.coef_, ours.intercept_), ols.params, rtol=1e-7)
    assert_close(np.append(ours.coef_se_, ours.intercept_se_), theirs_se)
    assert_close(ours.loglik_, ols.llf, rtol=1e-10)
    assert_close(ours.scale_**2, mle_scale, rtol=1e-9)
    # sigma counts as a parameter here (statsmodels' OLS AIC leaves it out)
    assert_close(ours.aic_, ols.aic + 2, rtol=1e-10)
    assert_close(ours.bic_, ols.bic + np.log(n), rtol=1e-10)
    # se(log sigma) = 1/sqrt(2n) at the MLE; the summary shows sigma, se sigma/sqrt(2n)
    assert np.sqrt(ours.covariance_[-1, -1]) == pytest.approx(1 / np.sqrt(2 * n), rel=1e-6)
    assert ours.scale_se_ == pytest.approx(ours.scale_ / np.sqrt(2 * n), rel=1e-6)
    assert ours.summary().std_err[-1] == ours.scale_se_
    assert k == ours.coef_.size + 1


def test_summary_formats_and_notes():
    X, y = breast_cancer_subset()
    clf = MLEClassifier(inference=True, alpha=0.01).fit(X, y)
    table = clf.summary()
    text = str(table)
    assert "mean radius" in text and "Log-Likelihood" in text and "penalised" in text
    frame = table.to_frame()
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns) == ["coef", "std err", "z", "P>|z|", "ci lower", "ci upper"]
    assert "<table>" in table._repr_html_()
    with pytest.raises(AttributeError, match="inference=True"):
        MLEClassifier().fit(X, y).summary()


def test_aliased_columns_give_nan_with_a_note():
    X, y = breast_cancer_subset()
    X = X.assign(duplicate=X["mean radius"] * 2.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clf = MLEClassifier(inference=True).fit(X, y)
    table = clf.summary()
    assert np.isnan(clf.coef_se_[0][0]) and np.isnan(clf.coef_se_[0][-1])
    assert np.isfinite(clf.coef_se_[0][1])
    assert any("aliased" in note for note in table.notes)
    reg = MLERegressor(inference=True).fit(X, y.astype(float))
    assert np.isnan(reg.coef_se_[0]) and np.isfinite(reg.coef_se_[1])
    # named, with the fix for collinear columns (not the one-hot advice: the intercept
    # is identified)
    note = next(note for note in table.notes if "aliased" in note)
    assert "2 parameters are aliased" in note and "mean radius and duplicate" in note
    assert "drop one column of each collinear set" in note and "OneHot" not in note


def one_hot_data(n=400, seed=0):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"city": rng.choice(["Lyon", "Nice", "Paris"], n),
                          "size": rng.choice(["S", "M", "L", "XL"], n),
                          "age": rng.normal(size=n)})
    eta = 0.3 + 0.5 * (frame.city == "Nice") - 0.4 * (frame.size == "XL") + 0.2 * frame.age
    return frame, rng.poisson(np.exp(eta)).astype(float)


@pytest.mark.parametrize("names", [False, True])
def test_one_hot_columns_with_an_intercept_get_a_note_naming_them_and_the_fix(names):
    from sklearn.compose import make_column_transformer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    X, y = one_hot_data()
    # a real pipeline; with pandas output the regressor knows the columns' names
    encoder = OneHotEncoder(sparse_output=False) if names else OneHotEncoder()
    pipe = make_pipeline(make_column_transformer((encoder, ["city", "size"]),
                                                 remainder="passthrough"),
                         MLERegressor(distribution="poisson", inference=True))
    if names:
        pipe.set_output(transform="pandas")
    reg = pipe.fit(X, y)[-1]
    table = reg.summary()
    frame = table.to_frame()
    nan_rows = [name for name, se in zip(table.names, frame.iloc[:, 1]) if np.isnan(se)]
    assert len(nan_rows) == 3 + 4 + 1            # every category and the intercept
    note = next(note for note in table.notes if "aliased" in note)
    assert note.startswith("8 parameters are aliased")
    first = (["onehotencoder__city_Lyon", "onehotencoder__city_Nice"] if names
             else ["x0", "x1"])
    assert all(name in note for name in first) and "and 3 more" in note
    assert "OneHotEncoder(drop='first')" in note and "fit_intercept=False" in note
    # the fix it gives: one category of each feature dropped, nothing aliased
    pipe.set_params(columntransformer__onehotencoder__drop="first").fit(X, y)
    fixed = pipe[-1].summary()
    assert np.all(np.isfinite(fixed.to_frame().iloc[:, 1]))
    assert not any("aliased" in note for note in fixed.notes)


def heteroscedastic_data(n, seed):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-2, 2, size=(n, 2))
    sigma = np.exp(0.8 * X[:, 0] - 0.3)
    y = 1.0 + X @ [2.0, -1.0] + sigma * rng.normal(size=n)
    return X, y


def test_heteroscedastic_intervals_cover_in_every_quintile_of_sigma():
    X, y = heteroscedastic_data(20_000, seed=0)
    X_test, y_test = heteroscedastic_data(20_000, seed=1)
    hetero = MLERegressor(variance="heteroscedastic").fit(X, y)
    low, high = hetero.predict_interval(X_test, coverage=0.9).T
    inside = (low <= y_test) & (y_test <= high)
    assert 0.88 <= inside.mean() <= 0.92
    _, std = hetero.predict(X_test, return_std=True)
    quintile = np.searchsorted(np.quantile(std, [0.2, 0.4, 0.6, 0.8]), std)
    for q in range(5):
        assert 0.88 <= inside[quintile == q].mean() <= 0.92, q
    constant = MLERegressor(variance="constant").fit(X, y)
    assert hetero.log_likelihood(X_test, y_test) > constant.log_likelihood(X_test, y_test)
    dist = hetero.predict_dist(X_test[:5])
    np.testing.assert_allclose(dist.mean(), hetero.predict(X_test[:5]))
    np.testing.assert_allclose(dist.std(), std[:5])
    with pytest.raises(ValueError, match="coverage"):
        hetero.predict_interval(X_test, coverage=1.5)


def test_plain_predict_works_in_transformed_target_regressor():
    X, y = heteroscedastic_data(500, seed=2)
    model = TransformedTargetRegressor(regressor=MLERegressor(), func=np.arcsinh,
                                       inverse_func=np.sinh).fit(X, y)
    assert model.predict(X).shape == (500,)


def test_classifier_log_likelihood_is_mean_loglik():
    X, y = breast_cancer_subset()
    clf = MLEClassifier().fit(X, y)
    assert clf.log_likelihood(X, y) * len(y) == pytest.approx(clf.loglik_, rel=1e-12)
    assert clf.log_likelihood(X, y, per_sample=True).shape == (len(y),)
    with pytest.raises(ValueError, match="classes_"):
        clf.log_likelihood(X, np.full(len(y), 7))
