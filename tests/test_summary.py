"""Summary headers and fit statistics against statsmodels; honest fixed-sigma inference
and OLS inference (``inference="ols"``)."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import statsmodels.api as sm
from scipy import stats
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import ShuffleSplit
from statsmodels.iolib.summary import forg

from sklearn_mle import MLEClassifier, MLERegressor
from sklearn_mle.report._table import _format_number

# The statistics of the header, by label, next to the statsmodels attribute they match.
SHARED = {"No. Observations": "nobs", "Df Residuals": "df_resid", "Df Model": "df_model",
          "Log-Likelihood": "llf"}
DISCRETE = {**SHARED, "LL-Null": "llnull", "LLR p-value": "llr_pvalue",
            "Pseudo R-squ.": "prsquared", "AIC": "aic", "BIC": "bic"}


def assert_statistics(statistics, theirs, mapping, rtol=1e-8):
    for label, attribute in mapping.items():
        # statsmodels fits its null model iteratively (to ~1e-9 of the closed form we
        # use); a p-value of 1e-102 moves by ~1e-6 of itself with that.
        tolerance = 1e-5 if label == "LLR p-value" else rtol
        np.testing.assert_allclose(statistics[label], getattr(theirs, attribute),
                                   rtol=tolerance, err_msg=label)


def spector():
    data = sm.datasets.spector.load_pandas()
    return data.exog, data.endog.astype(int)


def anes96():
    data = sm.datasets.anes96.load_pandas()
    X = data.exog[["logpopul", "selfLR", "age", "educ", "income"]]
    return X, data.endog.astype(int).to_numpy()


def diabetes():
    return load_diabetes(return_X_y=True, as_frame=True)


def text_cells(summary_text, names):
    """The parameter rows of a printed summary: name -> list of cell strings."""
    rows = {}
    for line in summary_text.splitlines():
        parts = line.split()
        if parts and parts[0] in names and len(parts) == 7:
            rows[parts[0]] = parts[1:]
    return rows


def assert_cells_as_statsmodels(text, columns, theirs):
    """Every parameter row of our text table reads as statsmodels prints it."""
    ours_cells = text_cells(text, list(columns))
    theirs_cells = statsmodels_cells(theirs)
    for name in columns:
        assert ours_cells[name] == theirs_cells[name], name


def statsmodels_cells(result):
    table = result.summary().tables[1].data[1:]
    return {row[0].strip(): [cell.strip() for cell in row[1:]] for row in table}


def test_logit_header_matches_statsmodels_on_spector():
    X, y = spector()
    ours = MLEClassifier(inference=True, tol=1e-10).fit(X, y)
    theirs = sm.Logit(y, sm.add_constant(X, prepend=False)).fit(disp=0, method="newton",
                                                                 tol=1e-12)
    table = ours.summary()
    # statsmodels fits its null model iteratively; ours is the closed form
    assert_statistics(table.statistics, theirs, DISCRETE, rtol=1e-7)
    assert ours.converged_ and theirs.mle_retvals["converged"]
    assert ours.loglik_null_ == pytest.approx(theirs.llnull, rel=1e-9)
    assert (ours.df_model_, ours.df_resid_) == (theirs.df_model, theirs.df_resid)
    text = str(table)
    for piece in ("Bernoulli (logit link)", "P(y = 1)", "Converged:", "True",
                  "LL-Null:", "LLR p-value:", "Pseudo R-squ.:", "P>|z|"):
        assert piece in text, piece
    # Every cell of the parameter table is printed as statsmodels prints it.
    assert_cells_as_statsmodels(text, X.columns, theirs)


def test_mnlogit_header_matches_statsmodels_on_anes96():
    X, y = anes96()
    ours = MLEClassifier(inference=True, tol=1e-10).fit(X, y)
    theirs = sm.MNLogit(y, sm.add_constant(X, prepend=False)).fit(
        disp=0, method="newton", maxiter=200, tol=1e-12)
    table = ours.summary()
    assert_statistics(table.statistics, theirs, DISCRETE, rtol=1e-7)
    text = str(table)
    assert "Categorical (softmax)" in text and "log-odds vs y = 0" in text


def ols_statistics(X, y, **kwargs):
    """statsmodels' OLS and its intercept-only null fit, with the LLR p-value."""
    full = sm.OLS(y, sm.add_constant(X, prepend=False), **kwargs).fit()
    null = sm.OLS(y, np.ones(len(y)), **kwargs).fit()
    p_value = stats.chi2.sf(2 * (full.llf - null.llf), full.df_model)
    return full, null, p_value


@pytest.mark.parametrize("inference", [True, "ols"])
def test_gaussian_header_matches_statsmodels_ols_on_diabetes(inference):
    X, y = diabetes()
    ours = MLERegressor(inference=inference, tol=1e-10).fit(X, y)
    full, null, p_value = ols_statistics(X, y)
    statistics = ours.summary().statistics
    assert_statistics(statistics, full, {**SHARED, "R-squared": "rsquared",
                                         "Adj. R-squared": "rsquared_adj"})
    assert statistics["LL-Null"] == pytest.approx(null.llf, rel=1e-10)
    assert statistics["LLR p-value"] == pytest.approx(p_value, rel=1e-6)
    # sigma counts as a parameter of the likelihood (statsmodels' OLS leaves it out)
    assert statistics["AIC"] == pytest.approx(full.aic + 2, rel=1e-10)
    assert statistics["BIC"] == pytest.approx(full.bic + np.log(len(y)), rel=1e-10)


def test_fixed_sigma_statistics_use_the_sigma_one_likelihood():
    X, y = diabetes()
    ours = MLERegressor(variance="fixed", inference=True).fit(X, y)
    full, null, _ = ols_statistics(X, y)
    n = len(y)
    assert ours.loglik_null_ == pytest.approx(
        -0.5 * n * np.log(2 * np.pi) - 0.5 * null.ssr, rel=1e-12)
    assert ours.loglik_ == pytest.approx(-0.5 * n * np.log(2 * np.pi) - 0.5 * full.ssr,
                                         rel=1e-10)
    assert (ours.df_model_, ours.df_resid_) == (full.df_model, full.df_resid)
    assert ours.aic_ == pytest.approx(-2 * ours.loglik_ + 2 * (full.df_model + 1))
    statistics = ours.summary().statistics
    assert statistics["R-squared"] == pytest.approx(full.rsquared, rel=1e-10)
    assert statistics["Adj. R-squared"] == pytest.approx(full.rsquared_adj, rel=1e-10)


@pytest.mark.parametrize("variance", ["fixed", "constant"])
def test_ols_inference_matches_statsmodels_ols(variance):
    X, y = diabetes()
    ours = MLERegressor(variance=variance, inference="ols", tol=1e-10).fit(X, y)
    theirs = sm.OLS(y, sm.add_constant(X, prepend=False)).fit()
    table = ours.summary(coverage=0.9)
    assert table.names == list(X.columns) + ["intercept"]  # sigma is not a row
    close = {"rtol": 1e-8}
    np.testing.assert_allclose(table.estimate, theirs.params, **close)
    np.testing.assert_allclose(table.std_err, theirs.bse, **close)
    np.testing.assert_allclose(table.statistic, theirs.tvalues, **close)
    np.testing.assert_allclose(table.p_value, theirs.pvalues, **close)
    interval = theirs.conf_int(alpha=0.1)
    np.testing.assert_allclose(table.ci_lower, interval[0], **close)
    np.testing.assert_allclose(table.ci_upper, interval[1], **close)
    np.testing.assert_allclose(np.append(ours.coef_se_, ours.intercept_se_), theirs.bse,
                               **close)
    assert ours.ols_scale_ == pytest.approx(np.sqrt(theirs.scale), rel=1e-10)
    assert table.statistics["F-statistic"] == pytest.approx(theirs.fvalue, rel=1e-9)
    assert table.statistics["Prob (F-statistic)"] == pytest.approx(theirs.f_pvalue,
                                                                   rel=1e-6)
    assert table.df_resid == theirs.df_resid
    assert list(table.to_frame().columns[2:4]) == ["t", "P>|t|"]
    assert_cells_as_statsmodels(str(ours.summary()), X.columns, theirs)


def test_ols_prediction_intervals_are_statsmodels_and_cover_held_out_targets():
    X, y = diabetes()
    coverages = []
    for train, test in ShuffleSplit(n_splits=20, test_size=0.3,
                                    random_state=0).split(X):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            reg = MLERegressor(variance="fixed", inference="ols").fit(X.iloc[train],
                                                                      y.iloc[train])
            low, high = reg.predict_interval(X.iloc[test], coverage=0.9).T
        coverages.append(np.mean((low <= y.iloc[test]) & (y.iloc[test] <= high)))
    ols = sm.OLS(y.iloc[train], sm.add_constant(X.iloc[train], prepend=False)).fit()
    frame = ols.get_prediction(sm.add_constant(X.iloc[test], prepend=False)) \
        .summary_frame(alpha=0.1)
    np.testing.assert_allclose(low, frame["obs_ci_lower"], rtol=1e-8)
    np.testing.assert_allclose(high, frame["obs_ci_upper"], rtol=1e-8)
    # 20 splits of 133 test targets: the mean coverage has a standard error near 0.01
    assert 0.86 <= np.mean(coverages) <= 0.94
    dist = reg.predict_dist(X.iloc[test])
    assert np.all(dist.kwds["df"] == ols.df_resid)


def test_fixed_sigma_says_sigma_is_assumed_and_warns_when_residuals_disagree():
    X, y = diabetes()
    reg = MLERegressor(variance="fixed", inference=True).fit(X, y)
    table = reg.summary()
    text = str(table)
    assert "σ = 1 assumed" in text
    note = table.notes[0]
    assert "sigma = 1 is assumed, not estimated" in note and "not consistent" in note
    assert f"{np.sqrt(np.sum((y - reg.predict(X)) ** 2) / reg.df_resid_):.4g}" in note
    with pytest.warns(UserWarning, match="sigma = 1, which is assumed"):
        low, high = reg.predict_interval(X, coverage=0.9).T
    # sigma = 1 against residuals of sd ~ 54: the intervals miss almost every target
    assert np.mean((low <= y) & (y <= high)) < 0.5
    with pytest.warns(UserWarning, match="inference='ols'"):
        reg.predict_dist(X)


def test_fixed_sigma_is_quiet_when_the_noise_has_unit_variance():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 3))
    y = X @ [1.0, -2.0, 0.5] + 3.0 + rng.normal(size=400)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        reg = MLERegressor(variance="fixed", inference=True).fit(X, y)
        low, high = reg.predict_interval(X, coverage=0.9).T
    assert 0.85 <= np.mean((low <= y) & (y <= high)) <= 0.95
    note = reg.summary().notes[0]
    assert "sigma = 1 is assumed" in note and "not consistent" not in note


@pytest.mark.parametrize("params, match", [
    ({"variance": "heteroscedastic"}, "heteroscedastic"),
    ({"variance": "fixed", "alpha": 0.1}, "alpha=0"),
])
def test_ols_inference_rejects_models_it_does_not_fit(params, match):
    X, y = diabetes()
    with pytest.raises(ValueError, match=match):
        MLERegressor(inference="ols", **params).fit(X, y)


def test_aliased_columns_count_once_in_degrees_of_freedom_aic_and_bic():
    X, y = diabetes()
    doubled = X.assign(bmi_again=2.0 * X["bmi"], constant=1.0)
    ours = MLERegressor(inference=True).fit(doubled, y)
    with warnings.catch_warnings():  # statsmodels says the design is rank-deficient
        warnings.simplefilter("ignore", sm.tools.sm_exceptions.SingularMatrixWarning)
        theirs = sm.OLS(y, sm.add_constant(doubled, prepend=False,
                                           has_constant="add")).fit()
    assert (ours.df_model_, ours.df_resid_) == (theirs.df_model, theirs.df_resid)
    assert ours.aic_ == pytest.approx(theirs.aic + 2, rel=1e-9)
    assert ours.bic_ == pytest.approx(theirs.bic + np.log(len(y)), rel=1e-9)
    Xc, yc = spector()
    plain = MLEClassifier().fit(Xc, yc)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        aliased = MLEClassifier().fit(Xc.assign(gpa_again=-Xc["GPA"]), yc)
    assert aliased.aic_ == pytest.approx(plain.aic_, rel=1e-8)
    assert (aliased.df_model_, aliased.df_resid_) == (plain.df_model_, plain.df_resid_)


def test_penalised_multiclass_counts_the_identified_parameters():
    X, y = anes96()
    n_classes, d = np.unique(y).size, X.shape[1]
    clf = MLEClassifier(alpha=0.01).fit(X, y)
    n_identified = (n_classes - 1) * (d + 1)
    assert clf.aic_ == pytest.approx(-2 * clf.loglik_ + 2 * n_identified, rel=1e-12)
    assert clf.bic_ == pytest.approx(-2 * clf.loglik_ + np.log(len(y)) * n_identified,
                                     rel=1e-12)
    assert clf.df_model_ == (n_classes - 1) * d


def test_heteroscedastic_null_is_intercept_only_mean_and_log_sigma():
    X, y = diabetes()
    hetero = MLERegressor(variance="heteroscedastic").fit(X, y)
    constant = MLERegressor(variance="constant").fit(X, y)
    intercept_only = MLERegressor(variance="constant", tol=1e-10).fit(np.zeros((len(y), 1)),
                                                                      y)
    assert hetero.loglik_null_ == pytest.approx(intercept_only.loglik_, rel=1e-10)
    assert constant.loglik_null_ == pytest.approx(intercept_only.loglik_, rel=1e-10)
    assert hetero.df_model_ == 2 * X.shape[1]
    assert hetero.df_resid_ == len(y) - 2 * X.shape[1] - 1


def test_without_intercept_the_null_has_no_free_location():
    X, y = spector()
    clf = MLEClassifier(fit_intercept=False).fit(X, y)
    assert clf.loglik_null_ == pytest.approx(-len(y) * np.log(2), rel=1e-14)
    assert (clf.df_model_, clf.df_resid_) == (X.shape[1], len(y) - X.shape[1])
    Xr, yr = diabetes()
    reg = MLERegressor(fit_intercept=False, inference=True).fit(Xr, yr)
    theirs = sm.OLS(yr, Xr).fit()  # no constant: uncentred R-squared
    statistics = reg.summary().statistics
    assert statistics["R-squared"] == pytest.approx(theirs.rsquared, rel=1e-9)
    assert statistics["Adj. R-squared"] == pytest.approx(theirs.rsquared_adj, rel=1e-9)
    assert (reg.df_model_, reg.df_resid_) == (theirs.df_model, theirs.df_resid)


def test_integer_weights_give_the_statistics_of_repeated_rows():
    X, y = diabetes()
    rng = np.random.default_rng(0)
    weights = rng.integers(0, 4, size=len(y))
    repeated = np.repeat(np.arange(len(y)), weights)
    for make in (lambda: MLERegressor(inference=True, tol=1e-10),
                 lambda: MLERegressor(variance="fixed", inference="ols"),
                 lambda: MLEClassifier(inference=True, tol=1e-10)):
        target = y if isinstance(make(), MLERegressor) else (y > y.median()).astype(int)
        weighted = make().fit(X, target, sample_weight=weights).summary()
        rows = make().fit(X.iloc[repeated], target.iloc[repeated]).summary()
        for label, value in rows.statistics.items():
            assert weighted.statistics[label] == pytest.approx(value, rel=1e-7), label
        np.testing.assert_allclose(weighted.std_err, rows.std_err, rtol=1e-6)


def test_converged_flag_reaches_the_summary():
    X, y = load_breast_cancer(return_X_y=True)
    with pytest.warns(ConvergenceWarning):
        clf = MLEClassifier(max_iter=1, inference=True).fit(X, y)
    assert clf.converged_ is False
    table = clf.summary()
    assert any("did not converge" in note for note in table.notes)
    assert "False" in str(table)
    assert MLEClassifier().fit(X[:, :3], y).converged_ is True


def test_html_view_has_the_header_and_escapes_names():
    X, y = spector()
    X = X.rename(columns={"GPA": "<b>GPA</b>"})
    table = MLEClassifier(inference=True).fit(X, y).summary()
    page = table._repr_html_()
    assert "&lt;b&gt;GPA&lt;/b&gt;" in page and "<b>GPA</b>" not in page
    for label in ("LL-Null:", "Pseudo R-squ.:", "Converged:", "P(y = 1)"):
        assert label in page
    frame = table.to_frame()
    np.testing.assert_array_equal(frame["P>|z|"], table.p_value)  # full precision


@pytest.mark.parametrize("value", [0.0, 3.14159265, -2.5e-5, 123456.789, 1e-12, -0.5,
                                   9999.99, 1e4])
@pytest.mark.parametrize("decimals", [3, 4])
def test_numbers_are_formatted_as_statsmodels_formats_them(value, decimals):
    expected = forg(value, prec=decimals).strip()
    if value == 0:  # statsmodels prints a plain "0"; we keep the decimals
        expected = f"{0:.{decimals}f}"
    assert _format_number(value, decimals) == expected


def test_ols_intervals_are_the_same_for_sparse_and_dense_x():
    X, y = load_diabetes(return_X_y=True)
    dense = MLERegressor(variance="fixed", inference="ols").fit(X, y)
    expected = dense.predict_interval(X[:40], coverage=0.8)
    for to_sparse in (sp.csr_matrix, sp.csc_matrix):
        sparse = MLERegressor(variance="fixed", inference="ols").fit(to_sparse(X), y)
        np.testing.assert_allclose(sparse.predict_interval(to_sparse(X[:40]), coverage=0.8),
                                   expected, rtol=1e-10)


@pytest.mark.parametrize("method", ["predict_dist", "predict_interval"])
def test_the_fixed_sigma_warning_points_at_the_caller(method):
    X, y = load_diabetes(return_X_y=True)
    reg = MLERegressor(variance="fixed").fit(X, y)
    with pytest.warns(UserWarning, match="assumed, not estimated") as record:
        getattr(reg, method)(X[:3])
    assert record[0].filename == __file__


def test_a_constant_target_has_no_r_squared():
    X, _ = load_diabetes(return_X_y=True)
    reg = MLERegressor(variance="fixed", inference=True).fit(X, np.full(X.shape[0], 3.0))
    statistics = reg.summary().statistics
    assert np.isnan(statistics["R-squared"]) and np.isnan(statistics["Adj. R-squared"])
