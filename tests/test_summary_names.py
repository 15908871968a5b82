"""What the summary names: features (``feature_names=``, pipelines), the dependent
variable, and constant dispersions on their natural scale (against statsmodels where it
prints them, else against the delta method from ``covariance_`` and a finite-difference
information on the natural scale)."""

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_diabetes
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from statsmodels.miscmodels.tmodel import TLinearModel

from sklearn_mle import MLEClassifier, MLERegressor, StudentT
from test_robust_inference import Logistic as RobustTestsLogistic

Z95 = stats.norm.ppf(0.975)


def diabetes():
    return load_diabetes(return_X_y=True, as_frame=True)


def text_row(summary, name):
    """The cells of the printed row ``name`` (fixed-width: blank cells stay blank)."""
    for line in str(summary).splitlines():
        if line.startswith(name + " "):
            cells = line[len(line) - 66:]
            return [cells[k:k + 11].strip() for k in range(0, 66, 11)]
    raise AssertionError(f"no row {name!r} in the summary")


# ------------------------------------------------------------------ feature_names
def test_feature_names_override_feature_names_in_for_every_row():
    X, y = diabetes()
    X = X[["bmi", "bp", "s5"]]
    names = ["body mass", "blood pressure", "serum"]
    reg = MLERegressor(variance="heteroscedastic", inference=True).fit(X, y)
    table = reg.summary(feature_names=names)
    assert table.names == [*names, "intercept",
                           *(f"log_scale:{name}" for name in names), "log_scale:intercept"]
    default = reg.summary()
    assert default.names[:3] == list(X.columns)
    np.testing.assert_array_equal(table.estimate, default.estimate)
    assert list(table.to_frame().index) == table.names
    # a NumPy array of names, and a pandas Index, serve as well as a list
    assert reg.summary(feature_names=np.array(names)).names == table.names
    assert reg.summary(feature_names=pd.Index(names)).names == table.names


def test_feature_names_name_the_classifier_rows_per_class():
    X, y = diabetes()
    X = X[["bmi", "bp"]]
    classes = np.digitize(y, np.quantile(y, [1 / 3, 2 / 3]))  # 0, 1, 2
    clf = MLEClassifier(inference=True).fit(X.to_numpy(), classes)
    assert clf.summary().names[:2] == ["1:x0", "1:x1"]   # class 0 is the reference
    table = clf.summary(feature_names=["bmi", "bp"])
    assert table.names == ["1:bmi", "1:bp", "2:bmi", "2:bp", "1:intercept",
                           "2:intercept"]
    binary = MLEClassifier(inference=True).fit(X.to_numpy(), classes > 0)
    assert binary.summary(feature_names=["bmi", "bp"]).names == ["bmi", "bp",
                                                                 "intercept"]


@pytest.mark.parametrize("feature_names, error, match", [
    (["bmi"], ValueError, "has 1 names, but the estimator was fitted on 2 features"),
    (["a", "b", "c"], ValueError, "has 3 names"),
    ("bmi bp", TypeError, "array-like of strings"),
    (7, TypeError, "array-like of strings"),
    ([0, 1], TypeError, "must be strings; got 0 of type int"),
    ([["a", "b"]], ValueError, "one-dimensional"),
    (["a", "a"], ValueError, "distinct; 'a' appears more than once"),
])
@pytest.mark.parametrize("make", [lambda: MLERegressor(inference=True),
                                  lambda: MLEClassifier(inference=True)])
def test_wrong_feature_names_are_refused_with_the_reason(make, feature_names, error,
                                                         match):
    X, y = diabetes()
    estimator = make().fit(X[["bmi", "bp"]], y if isinstance(make(), MLERegressor)
                           else y > y.median())
    with pytest.raises(error, match=match):
        estimator.summary(feature_names=feature_names)


@pytest.mark.parametrize("coverage", [0.0, 1.0, 1.5, -0.1, True, "0.9", None])
def test_a_coverage_that_is_not_a_probability_is_refused(coverage):
    X, y = diabetes()
    reg = MLERegressor(inference=True).fit(X[["bmi"]], y)
    with pytest.raises(ValueError, match="coverage must be a probability in"):
        reg.summary(coverage=coverage)


# ---------------------------------------------------------------------- pipelines
def survey(n=800, seed=0):
    """A generated frame of mixed types: region (3 levels), age, income; a count
    target and a binary one."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "region": rng.choice(["north", "south", "east"], size=n),
        "age": rng.uniform(20, 70, size=n),
        "income": rng.lognormal(10, 0.5, size=n),
    })
    eta = (0.3 + 0.4 * (frame["region"] == "south") - 0.3 * (frame["region"] == "east")
           + 0.02 * (frame["age"] - 45) + 0.3 * np.log(frame["income"] / 2e4))
    visits = pd.Series(rng.negative_binomial(2.0, 2.0 / (2.0 + np.exp(eta))),
                       name="visits")
    insured = pd.Series(rng.uniform(size=n) < 1 / (1 + np.exp(-eta)), name="insured")
    return frame, visits, insured


def preprocessing(**encoder):
    return ColumnTransformer([
        ("cat", OneHotEncoder(drop="first", **encoder), ["region"]),
        ("num", StandardScaler(), ["age", "income"]),
    ])


EXPECTED_FEATURES = ["cat__region_north", "cat__region_south", "num__age",
                     "num__income"]


@pytest.mark.parametrize("make", [
    lambda: MLERegressor(distribution="negative_binomial", inference=True),
    lambda: MLEClassifier(inference=True),
])
def test_a_pipeline_summary_names_the_transformer_outputs(make):
    frame, visits, insured = survey()
    y = visits if isinstance(make(), MLERegressor) else insured
    pipe = make_pipeline(preprocessing(), make()).fit(frame, y)
    model = pipe[-1]
    # the last step saw a NumPy array: no names of its own
    transformed = pipe[:-1].transform(frame)
    assert isinstance(transformed, np.ndarray)
    assert not hasattr(model, "feature_names_in_")
    assert model.summary().names[:4] == ["x0", "x1", "x2", "x3"]
    names = pipe[:-1].get_feature_names_out()
    assert list(names) == EXPECTED_FEATURES
    table = model.summary(feature_names=names)
    assert table.names[:5] == [*EXPECTED_FEATURES, "intercept"]
    for name in EXPECTED_FEATURES:
        assert text_row(table, name)[0] != ""
    # the same numbers as a fit on the transformed frame itself
    direct = make().fit(pd.DataFrame(transformed, columns=names), y)
    np.testing.assert_allclose(table.estimate, direct.summary().estimate, rtol=1e-8)
    assert direct.summary().names == table.names
    # y passes through the pipeline untouched, with its name
    assert ("Dep. Variable", y.name) in table.model_info


@pytest.mark.parametrize("make", [
    lambda: MLERegressor(distribution="negative_binomial", inference=True),
    lambda: MLEClassifier(inference=True),
])
def test_pandas_output_brings_the_names_without_help(make):
    frame, visits, insured = survey()
    y = visits if isinstance(make(), MLERegressor) else insured
    pipe = make_pipeline(preprocessing(sparse_output=False), make())
    pipe.set_output(transform="pandas")
    pipe.fit(frame, y)
    model = pipe[-1]
    assert list(model.feature_names_in_) == EXPECTED_FEATURES
    assert model.summary().names[:5] == [*EXPECTED_FEATURES, "intercept"]
    # explicit names still override them
    renamed = [f"f{j}" for j in range(4)]
    assert model.summary(feature_names=renamed).names[:4] == renamed


# ------------------------------------------------------------------ Dep. Variable
def test_dep_variable_is_the_name_of_y_or_y():
    X, y = diabetes()
    X = X[["bmi", "bp"]]
    reg = MLERegressor(inference=True).fit(X, y)
    table = reg.summary()
    assert table.model_info[:2] == [("Dep. Variable", "target"), ("Model", "MLERegressor")]
    first = str(table).splitlines()[2]
    assert first.startswith("Dep. Variable:") and "target" in first
    assert "<th>Dep. Variable:</th><td>target</td>" in table._repr_html_()
    # a refit on an unnamed target forgets the name
    reg.fit(X, y.to_numpy())
    assert reg.summary().model_info[0] == ("Dep. Variable", "y")
    assert reg.fit(X, y.rename(None)).summary().model_info[0] == ("Dep. Variable", "y")
    # a one-column frame (scikit-learn warns and ravels it) names its column
    with pytest.warns(Warning, match="column-vector y"):
        reg.fit(X, y.to_frame("progression"))
    assert reg.summary().model_info[0] == ("Dep. Variable", "progression")
    clf = MLEClassifier(inference=True).fit(X, (y > y.median()).rename("high"))
    assert clf.summary().model_info[0] == ("Dep. Variable", "high")
    assert clf.fit(X, (y > y.median()).to_list()).summary().model_info[0] == \
        ("Dep. Variable", "y")


# ------------------------------------------------- dispersions on the natural scale
@pytest.fixture(scope="module")
def randhie():
    data = sm.datasets.randhie.load_pandas()
    return data.exog, data.endog


@pytest.mark.parametrize("coverage", [0.95, 0.9])
def test_negative_binomial_alpha_row_is_statsmodels_alpha(randhie, coverage):
    X, y = randhie
    ours = MLERegressor(distribution="negative_binomial", inference=True,
                        tol=1e-10).fit(X, y)
    theirs = sm.NegativeBinomial(y, sm.add_constant(X, prepend=False),
                                 loglike_method="nb2").fit(method="newton", maxiter=100,
                                                           tol=1e-12, disp=0)
    table = ours.summary(coverage=coverage)
    assert table.names[-1] == "alpha" and "log_alpha" not in table.names
    row = table.to_frame().loc["alpha"]
    alpha, se = theirs.params["alpha"], theirs.bse["alpha"]
    # statsmodels fits alpha itself: its inverse Hessian is our delta method (the
    # score is zero at the maximum, so the two parametrisations' informations agree)
    assert row["coef"] == pytest.approx(alpha, rel=1e-8)
    assert row["std err"] == pytest.approx(se, rel=1e-6)
    assert (ours.alpha_, ours.alpha_se_) == (row["coef"], row["std err"])
    # the interval: statsmodels' log-scale Wald interval exp(log alpha -/+ z se/alpha),
    # not its printed symmetric alpha -/+ z se
    z = stats.norm.ppf(0.5 + coverage / 2)
    expected = np.exp(np.log(alpha) + np.array([-1, 1]) * z * se / alpha)
    np.testing.assert_allclose([row["ci lower"], row["ci upper"]], expected, rtol=1e-6)
    symmetric = theirs.conf_int(alpha=1 - coverage).loc["alpha"]
    assert row["ci lower"] > symmetric[0] and row["ci upper"] > symmetric[1]
    assert np.isnan(row["z"]) and np.isnan(row["P>|z|"])
    cells = text_row(table, "alpha")
    assert cells[2:4] == ["", ""] and cells[0] == f"{alpha:.4f}"
    assert any("alpha is estimated as log(alpha)" in note for note in table.notes)
    # the mean's rows are statsmodels' as before
    np.testing.assert_allclose(table.std_err[:-1], theirs.bse[:-1], rtol=1e-6)


def student_t_data(seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(300, 2))
    return X, 1.0 + X @ [1.0, -0.5] + rng.standard_t(4, size=300)


@pytest.mark.parametrize("seed", [0, 1])
def test_student_t_scale_and_df_rows_are_statsmodels_tlinearmodel(seed):
    X, y = student_t_data(seed)
    ours = MLERegressor(distribution="student_t", inference=True, tol=1e-10).fit(X, y)
    with warnings.catch_warnings():
        # its BFGS ends at the optimum (gradient ~1e-10) but flags no convergence
        warnings.simplefilter("ignore")
        theirs = TLinearModel(y, sm.add_constant(X, prepend=False)).fit(
            disp=0, method="bfgs", maxiter=2000, gtol=1e-10)
    table = ours.summary()
    assert table.names == ["x0", "x1", "intercept", "scale", "df"]
    # statsmodels orders (..., df, scale) and differentiates its Hessian numerically
    order = [0, 1, 2, 4, 3]
    np.testing.assert_allclose(table.estimate[order], theirs.params, rtol=1e-7)
    np.testing.assert_allclose(table.std_err[order], theirs.bse, rtol=1e-6)
    assert (table.estimate[3], table.estimate[4]) == (ours.scale_, ours.df_)
    assert (table.std_err[3], table.std_err[4]) == (ours.scale_se_, ours.df_se_)
    log_se = theirs.bse[[4, 3]] / theirs.params[[4, 3]]
    expected = np.exp(np.log(theirs.params[[4, 3]]) + np.multiply.outer([-1, 1], Z95 * log_se))
    np.testing.assert_allclose([table.ci_lower[3:], table.ci_upper[3:]], expected,
                               rtol=1e-6)


def delta_method_rows(reg, table, stems):
    """Check every natural-scale row against exp(t), exp(t) se(t), exp(t -/+ z se(t))
    with t the log-scale estimate and se(t) from ``covariance_``."""
    for stem in stems:
        k = table.names.index(stem)
        t = np.log(getattr(reg, f"{stem}_"))
        se_t = np.sqrt(reg.covariance_[k, k])
        assert table.from_log[k]
        assert table.estimate[k] == pytest.approx(np.exp(t), rel=1e-14)
        assert table.std_err[k] == pytest.approx(np.exp(t) * se_t, rel=1e-12)
        assert getattr(reg, f"{stem}_se_") == pytest.approx(table.std_err[k], rel=1e-14)
        assert table.ci_lower[k] == pytest.approx(np.exp(t - Z95 * se_t), rel=1e-12)
        assert table.ci_upper[k] == pytest.approx(np.exp(t + Z95 * se_t), rel=1e-12)
        assert np.isnan(table.statistic[k]) and np.isnan(table.p_value[k])
    assert table.from_log.sum() == len(stems)


def gamma_data():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(400, 2))
    mean = np.exp(1.0 + X @ [0.4, -0.2])
    return X, rng.gamma(shape=3.0, scale=mean / 3.0)


@pytest.mark.parametrize("params, data, stems", [
    ({}, lambda: diabetes(), ["scale"]),
    ({"alpha": 0.01}, lambda: diabetes(), ["scale"]),
    ({"distribution": "gamma"}, gamma_data, ["dispersion"]),
    ({"distribution": "student_t"}, lambda: student_t_data(0), ["scale", "df"]),
    ({"distribution": StudentT(df=4.0)}, lambda: student_t_data(1), ["scale"]),
    ({"distribution": "negative_binomial"},
     lambda: (sm.datasets.randhie.load_pandas().exog.iloc[:2000],
              sm.datasets.randhie.load_pandas().endog.iloc[:2000]), ["alpha"]),
])
def test_natural_scale_rows_are_the_delta_method_from_covariance(params, data, stems):
    X, y = data()
    reg = MLERegressor(inference=True, **params).fit(X, y)
    delta_method_rows(reg, reg.summary(), stems)


def test_gamma_dispersion_se_is_the_natural_scale_inverse_information():
    """Independent of our Hessian: the observed information of scipy's gamma
    log-likelihood in (coef, intercept, phi), by central differences, inverted."""
    X, y = gamma_data()
    reg = MLERegressor(distribution="gamma", inference=True, tol=1e-10).fit(X, y)

    def loglik(theta):
        eta = X @ theta[:2] + theta[2]
        shape = 1.0 / theta[3]
        return stats.gamma(a=shape, scale=np.exp(eta) / shape).logpdf(y).sum()

    theta = np.r_[reg.coef_, reg.intercept_, reg.dispersion_]
    steps = 1e-4 * np.maximum(np.abs(theta), 0.1)
    hessian = np.empty((4, 4))
    for i in range(4):
        for j in range(4):
            ei, ej = np.eye(4)[i] * steps[i], np.eye(4)[j] * steps[j]
            hessian[i, j] = (loglik(theta + ei + ej) - loglik(theta + ei - ej)
                             - loglik(theta - ei + ej) + loglik(theta - ei - ej)) \
                / (4 * steps[i] * steps[j])
    se = np.sqrt(np.diag(np.linalg.inv(-hessian)))
    table = reg.summary()
    assert table.names[-1] == "dispersion"
    assert table.std_err[-1] == pytest.approx(se[3], rel=1e-5)
    np.testing.assert_allclose(table.std_err[:3], se[:3], rtol=1e-5)


def test_a_dispersion_linear_in_x_stays_on_the_log_scale():
    X, y = student_t_data(0)
    reg = MLERegressor(distribution="student_t", dispersion="linear",
                       inference=True).fit(X, y)
    table = reg.summary(feature_names=["bmi", "bp"])
    # log sigma(x) is a linear predictor: its rows keep the log scale and their tests;
    # the constant df is shown on its natural scale
    hetero = [name for name in table.names if name.startswith("log_scale:")]
    assert hetero == ["log_scale:bmi", "log_scale:bp", "log_scale:intercept"]
    k = table.names.index("log_scale:intercept")
    assert not table.from_log[k] and np.isfinite(table.p_value[k])
    assert table.estimate[k] == reg.scale_intercept_
    assert table.names[-1] == "df" and table.from_log[-1]


def test_models_without_a_learned_constant_dispersion_have_no_natural_scale_rows():
    X, y = diabetes()
    for reg in (MLERegressor(variance="fixed", inference=True).fit(X, y),
                MLERegressor(inference="ols").fit(X, y),
                MLERegressor(variance="heteroscedastic", inference=True).fit(X, y),
                MLERegressor(distribution="poisson", inference=True).fit(X, y.round())):
        table = reg.summary()
        assert not table.from_log.any()
        assert not any("natural scale" in note for note in table.notes)
        assert np.all(np.isfinite(table.p_value))


def test_a_custom_family_log_column_is_shown_on_its_natural_scale():
    class Logistic(RobustTestsLogistic):
        """The user guide's logistic family, its log scale named log_spread."""

        raw_columns = ("mean", "log_spread")
        dispersion_name = "spread"

    rng = np.random.default_rng(5)
    X = rng.normal(size=(500, 1))
    y = 1.0 + 2.0 * X[:, 0] + rng.logistic(scale=0.7, size=500)
    reg = MLERegressor(distribution=Logistic(), inference=True).fit(X, y)
    table = reg.summary()
    assert table.names == ["x0", "intercept", "spread"]
    delta_method_rows(reg, table, ["spread"])


@pytest.mark.parametrize("make, n_classes", [
    (lambda: MLERegressor(distribution="student_t", inference=True), None),
    (lambda: MLEClassifier(inference=True), 2),
    (lambda: MLEClassifier(alpha=0.1, inference=True), 3),
])
def test_features_named_like_model_terms_keep_every_row_distinct(make, n_classes):
    """Features called ``scale``, ``intercept`` and ``df`` beside the Student-t's own
    rows of those names: the model's rows say they are model terms, the features
    keep their names, and the table's index stays unique."""
    rng = np.random.default_rng(3)
    X = pd.DataFrame(rng.normal(size=(300, 3)), columns=["scale", "intercept", "df"])
    y = X["scale"] + rng.standard_t(5, size=300)
    if n_classes is not None:
        y = np.digitize(y, [0.0] if n_classes == 2 else [-1.0, 1.0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (the t's own fit warnings are not the point)
        names = make().fit(X, y).summary().names
    assert len(set(names)) == len(names)
    features = [name.split(":")[-1] for name in names if "model term" not in name]
    assert {"scale", "intercept", "df"} <= set(features)
    assert any(name.endswith("intercept (model term)") for name in names)
    if n_classes is None:
        assert names[-2:] == ["scale (model term)", "df (model term)"]
