"""The model interface: what the solver sees, a non-linear model fitted through it, the
linear model's vector-Jacobian product, and intercepts fixed at given values."""

import ast
import inspect
import re
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.optimize import minimize
from scipy.special import expit
from test_objective import central_difference_gradient, make_problem

from sklearn_mle.families import BernoulliLoss, GaussianFixedScaleLoss, GaussianLoss
from sklearn_mle.models._linear import LinearModel
from sklearn_mle.models._model import Model
from sklearn_mle.report import _covariance
from sklearn_mle.report._covariance import output_covariance
from sklearn_mle.solver import _fit
from sklearn_mle.solver import _lbfgs as _solver
from sklearn_mle.solver._fit import fit_model
from sklearn_mle.solver._lbfgs import DensePreconditioner

HALF_LOG_2PI = 0.5 * np.log(2 * np.pi)


# ------------------------------------------------------------ a non-linear model
class TanhMean(Model):
    """``f(x; theta) = a tanh(x @ w + b) + c`` with ``theta = (w, b, a, c)``, written
    against the interface only (raw predictions and their vector-Jacobian product)."""

    def __init__(self, loss, n_features):
        super().__init__(loss)
        self.n_features = n_features

    @property
    def n_params(self):
        return self.n_features + 3

    def _parts(self, theta, X):
        w, b, a, c = theta[:-3], theta[-3], theta[-2], theta[-1]
        return np.tanh(X @ w + b), a, c

    def raw_prediction(self, theta, X):
        hidden, a, c = self._parts(theta, X)
        return (a * hidden + c)[:, None]

    def jacobian(self, theta, X):
        """d f(x_i) / d theta, shape (n, n_params)."""
        hidden, a, _ = self._parts(theta, X)
        slope = a * (1.0 - hidden**2)
        return np.column_stack([slope[:, None] * X, slope, hidden, np.ones_like(hidden)])

    def raw_vjp(self, theta, X, raw_gradient):
        hidden, a, _ = self._parts(theta, X)
        g = raw_gradient[:, 0]
        through_tanh = g * a * (1.0 - hidden**2)
        return np.concatenate([X.T @ through_tanh,
                               [through_tanh.sum(), g @ hidden, g.sum()]])


class PreconditionedTanhMean(TanhMean):
    """The same model with a Gauss-Newton (Fisher) Hessian and a dense preconditioner
    built from it at the start point: the solver's preconditioned path with Hessian
    refreshes, for a model the solver knows nothing about."""

    def __init__(self, loss, n_features, theta_start):
        super().__init__(loss, n_features)
        self.theta_start = theta_start

    def hessian(self, theta, X, y, weights, alpha, n_threads=1, expected=False):
        if not expected:
            return None
        raw = self.raw_prediction(theta, X)
        fisher = self.loss.fisher_information(y, raw, weights)[:, 0, 0]
        jacobian = self.jacobian(theta, X)
        return jacobian.T @ (fisher[:, None] * jacobian) + alpha * np.eye(self.n_params)

    def preconditioner(self, X, weights, start_raw, alpha, kind="auto", n_threads=1):
        if kind == "none":
            return None
        y = np.zeros(X.shape[0])  # the Fisher information of these losses ignores y
        return DensePreconditioner(self.hessian(self.theta_start, X, y, weights, alpha,
                                                expected=True))


def tanh_problem(loss_name, seed=4, n=400):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2)) * np.array([1.0, 2.0])
    f = 1.5 * np.tanh(X @ np.array([0.8, -0.5]) + 0.3) + 0.5
    if loss_name == "gaussian":
        loss, y = GaussianFixedScaleLoss(), f + rng.normal(size=n)
    else:
        loss, y = BernoulliLoss(), (rng.uniform(size=n) < expit(f)).astype(float)
    weights = rng.uniform(0.5, 1.5, size=n)
    weights /= weights.sum()
    theta0 = np.array([0.5, -0.2, 0.0, 1.0, np.average(y, weights=weights)])
    return loss, X, y, weights, theta0


def reference_objective(loss_name, X, y, weights, alpha, theta):
    """The objective written out in NumPy, independent of the package."""
    f = theta[-2] * np.tanh(X @ theta[:-3] + theta[-3]) + theta[-1]
    if loss_name == "gaussian":
        nll = HALF_LOG_2PI + 0.5 * (y - f) ** 2
    else:
        nll = np.logaddexp(0.0, f) - y * f
    return weights @ nll + 0.5 * alpha * theta @ theta


@pytest.mark.parametrize("loss_name", ["gaussian", "bernoulli"])
def test_default_objective_of_a_nonlinear_model(loss_name):
    loss, X, y, weights, theta0 = tanh_problem(loss_name)
    model = TanhMean(loss, X.shape[1])
    theta = theta0 + np.array([0.1, 0.2, -0.3, 0.4, -0.5])
    alpha = 0.01
    value, gradient = model.objective_gradient(theta, X, y, weights, alpha)
    assert value == pytest.approx(
        reference_objective(loss_name, X, y, weights, alpha, theta), rel=1e-13)
    numeric = central_difference_gradient(
        lambda t: reference_objective(loss_name, X, y, weights, alpha, t), theta, 1e-4)
    np.testing.assert_allclose(gradient, numeric, rtol=1e-7, atol=1e-10)
    assert model.total_nll(theta, X, y, weights) == pytest.approx(
        reference_objective(loss_name, X, y, weights, 0.0, theta), rel=1e-13)


@pytest.mark.parametrize("loss_name", ["gaussian", "bernoulli"])
@pytest.mark.parametrize("model_class", [TanhMean, PreconditionedTanhMean])
def test_fit_model_of_a_nonlinear_model_reaches_scipys_optimum(loss_name, model_class):
    loss, X, y, weights, theta0 = tanh_problem(loss_name)
    alpha = 1e-3
    model = (TanhMean(loss, X.shape[1]) if model_class is TanhMean
             else PreconditionedTanhMean(loss, X.shape[1], theta0))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = fit_model(model, X, y, weights, alpha, theta0,
                           loss.constant_raw_prediction(y, weights), tol=1e-9,
                           max_iter=2000, verbose=0, estimator_name="test")
    assert result.converged

    def reference(theta):
        return reference_objective(loss_name, X, y, weights, alpha, theta)

    scipy_result = minimize(reference, theta0, method="BFGS", jac="3-point",
                            options={"gtol": 1e-10})
    ours = reference(result.theta)
    assert ours <= scipy_result.fun + 1e-12 * abs(scipy_result.fun)
    np.testing.assert_allclose(result.theta, scipy_result.x, rtol=1e-5, atol=1e-6)


def test_preconditioned_path_of_a_nonlinear_model_is_used_and_faster():
    loss, X, y, weights, theta0 = tanh_problem("bernoulli")
    model = PreconditionedTanhMean(loss, X.shape[1], theta0)
    assert model.has_hessian and not TanhMean(loss, 2).has_hessian
    fits = {kind: fit_model(model, X, y, weights, 1e-3, theta0, np.zeros(1), tol=1e-9,
                            max_iter=2000, verbose=0, estimator_name="test",
                            preconditioner=kind)
            for kind in ("auto", "none")}
    # the Hessian refreshes ran: the solver kept the last one it formed
    assert fits["auto"].hessian is not None and fits["none"].hessian is None
    assert fits["auto"].n_iter < fits["none"].n_iter


def test_progress_reports_the_models_own_facts(capsys):
    loss, X, y, weights, theta0 = tanh_problem("gaussian")
    model = TanhMean(loss, X.shape[1])
    fit_model(model, X, y, weights, 1e-3, theta0, np.zeros(1), tol=1e-8, max_iter=500,
              verbose=2, estimator_name="Tanh")
    out = capsys.readouterr().out
    assert "[Tanh] fit: 5 parameters, no preconditioner (plain L-BFGS)" in out
    assert "passes over X by the TanhMean.raw_prediction and raw_vjp" in out


def test_a_model_needs_raw_prediction_and_raw_vjp():
    class NoVJP(Model):
        n_params = 1

        def raw_prediction(self, theta, X):
            return X[:, :1] * theta[0]

    with pytest.raises(TypeError, match="raw_vjp"):
        NoVJP(GaussianFixedScaleLoss())


def test_what_a_model_without_hessian_or_preconditioner_refuses():
    loss, X, y, weights, theta0 = tanh_problem("gaussian")
    model = TanhMean(loss, X.shape[1])
    with pytest.raises(ValueError, match="TanhMean provides no preconditioner of kind "
                                         "'dense'"):
        fit_model(model, X, y, weights, 0.0, theta0, np.zeros(1), tol=1e-8,
                  max_iter=10, verbose=0, estimator_name="test", preconditioner="dense")
    with pytest.raises(ValueError, match="TanhMean has no observed Hessian"):
        output_covariance(model, X, y, weights, 1.0, 0.0, theta0, lambda t: t)
    # a model with the expected Hessian only (Gauss-Newton) has none either
    with pytest.raises(ValueError, match="PreconditionedTanhMean has no observed"):
        output_covariance(PreconditionedTanhMean(loss, X.shape[1], theta0), X, y,
                          weights, 1.0, 0.0, theta0, lambda t: t)


# ----------------------------------------------- the linear model's Jacobian
def _layouts(X):
    return {"C": np.ascontiguousarray(X), "F": np.asfortranarray(X),
            "float32": np.ascontiguousarray(X, dtype=np.float32),
            "sparse": sp.csr_matrix(X)}


@pytest.mark.parametrize("name", ["bernoulli_no_intercept", "softmax_reference",
                                  "gaussian_constant", "gaussian_heteroscedastic"])
def test_linear_raw_prediction_and_vjp_are_the_design_products(name):
    rng = np.random.default_rng(7)
    model, X, _ = make_problem(name, rng)
    theta = rng.normal(size=model.n_params)
    raw_gradient = rng.normal(size=(X.shape[0], model.loss.n_raw))
    design = np.column_stack([X, np.ones(X.shape[0])])
    # Explicitly: theta_p multiplies design column param_design[p] in raw column
    # param_column[p]; so J^T g has entries sum_i design[i, k] g[i, j].
    full = np.zeros((model.loss.n_raw, X.shape[1] + 1))
    full[model.param_column, model.param_design] = theta
    explicit_vjp = (design.T @ raw_gradient)[model.param_design, model.param_column]
    for layout, variant in _layouts(X).items():
        rtol = 1e-6 if layout == "float32" else 1e-13
        expected_raw = np.asarray(design, dtype=variant.dtype).astype(float) @ full.T
        np.testing.assert_allclose(model.raw_prediction(theta, variant), expected_raw,
                                   rtol=rtol, atol=rtol, err_msg=layout)
        vjp = model.raw_vjp(theta, variant, raw_gradient)
        np.testing.assert_allclose(
            vjp, (np.asarray(design, dtype=variant.dtype).T.astype(float)
                  @ raw_gradient)[model.param_design, model.param_column],
            rtol=rtol, atol=rtol, err_msg=layout)
        if layout != "float32":
            np.testing.assert_allclose(vjp, explicit_vjp, rtol=1e-13, atol=1e-12)
    # and against a finite difference of raw_prediction along a random direction
    direction = rng.normal(size=model.n_params)
    h = 1e-3
    change = (model.raw_prediction(theta + h * direction, X)
              - model.raw_prediction(theta - h * direction, X)) / (2 * h)
    assert np.sum(raw_gradient * change) == pytest.approx(
        direction @ model.raw_vjp(theta, X, raw_gradient), rel=1e-9)


# ------------------------------------------------------------- what _solver sees
def test_solver_knows_nothing_of_the_linear_model():
    source = inspect.getsource(_solver)
    imported = {alias.name for node in ast.walk(ast.parse(source))
                if isinstance(node, (ast.Import, ast.ImportFrom))
                for alias in node.names}
    imported |= {node.module for node in ast.walk(ast.parse(source))
                 if isinstance(node, ast.ImportFrom) and node.module}
    assert not {name for name in imported if "_linear" in name}
    for name in ("_linear", "LinearModel", "coef_rows", "intercept_rows",
                 "start_hessian", "unit_hessian", "n_features"):
        assert not re.search(rf"\b{name}\b", source), name


@pytest.mark.parametrize("function", [_fit.fit_model, _covariance.total_log_likelihood,
                                      _covariance.output_covariance, _fit._report_fit_start])
def test_fit_machinery_uses_only_the_model_interface(function):
    source = inspect.getsource(function)
    for name in ("loss", "coef_rows", "intercept_rows", "start_hessian",
                 "uses_fused_pass", "unpack", "pack", "n_features"):
        assert not re.search(rf"\bmodel\.{name}\b", source), name


# ----------------------------------------------------------- intercept_value
def fixed_scale_model(log_scale=np.log(0.5), n_features=3):
    """Gaussian mean linear in x, log sigma fixed at ``log_scale``."""
    return LinearModel(GaussianLoss(), n_features, [True, False], [True, False],
                       intercept_value=[0.0, log_scale])


def test_intercept_value_round_trip():
    rng = np.random.default_rng(2)
    model = fixed_scale_model()
    theta = rng.normal(size=model.n_params)
    coef, intercept = model.unpack(theta)
    assert intercept[1] == np.log(0.5)
    np.testing.assert_array_equal(coef[1], 0.0)
    np.testing.assert_array_equal(model.pack(coef, intercept), theta)
    # pack ignores the fixed entry; a direction leaves it at zero
    np.testing.assert_array_equal(model.pack(coef, intercept + [0.0, 7.0]), theta)
    step_coef, step_intercept = model.unpack(theta, direction=True)
    np.testing.assert_array_equal(step_intercept, [theta[-1], 0.0])
    np.testing.assert_array_equal(step_coef, coef)
    # the default is zero, as before
    _, intercept = LinearModel(GaussianLoss(), 3, [True, False], [True, False]).unpack(
        theta)
    np.testing.assert_array_equal(intercept, [theta[-1], 0.0])


@pytest.mark.parametrize("value", [[0.0], [0.0, np.nan], [[0.0, 1.0]]])
def test_intercept_value_is_checked(value):
    with pytest.raises(ValueError, match="intercept_value must"):
        LinearModel(GaussianLoss(), 3, [True, False], [True, False],
                    intercept_value=value)


@pytest.mark.parametrize("layout", ["C", "F", "sparse"])
def test_objective_with_a_fixed_nonzero_intercept(layout):
    """The objective, gradient and Hessian equal those of the model with that intercept
    free (and unpenalised) at the same value, restricted to the other parameters."""
    rng = np.random.default_rng(3)
    n, d = 50, 3
    X = _layouts(rng.normal(size=(n, d)))[layout]
    y = rng.normal(size=n) * 0.7
    weights = np.full(n, 1.0 / n)
    log_scale = np.log(0.5)
    fixed = fixed_scale_model(log_scale)
    free = LinearModel(GaussianLoss(), d, [True, False], [True, True])
    theta = rng.normal(size=fixed.n_params)
    theta_free = np.append(theta, log_scale)
    alpha = 0.1
    value, gradient = fixed.objective_gradient(theta, X, y, weights, alpha)
    free_value, free_gradient = free.objective_gradient(theta_free, X, y, weights, alpha)
    assert value == pytest.approx(free_value, rel=1e-14)
    np.testing.assert_allclose(gradient, free_gradient[:-1], rtol=1e-13, atol=1e-15)
    for expected in (False, True):
        np.testing.assert_allclose(
            fixed.hessian(theta, X, y, weights, alpha, expected=expected),
            free.hessian(theta_free, X, y, weights, alpha, expected=expected)[:-1, :-1],
            rtol=1e-12)
    # the NLL in closed form, sigma = 0.5
    residual = y - fixed.raw_prediction(theta, X)[:, 0]
    closed_form = np.sum(weights * (HALF_LOG_2PI + log_scale + 2.0 * residual**2))
    assert fixed.total_nll(theta, X, y, weights) == pytest.approx(closed_form, rel=1e-13)


def test_fit_with_a_fixed_scale_is_weighted_least_squares():
    """With sigma fixed (at 0.5), the mean's MLE does not depend on sigma: it is the
    weighted least-squares fit; the objective there is the NLL at sigma = 0.5."""
    rng = np.random.default_rng(9)
    n, d = 300, 3
    X = rng.normal(size=(n, d)) * np.array([1.0, 20.0, 0.05]) + np.array([0.0, 100.0, 0.0])
    y = X @ np.array([1.0, -0.02, 30.0]) + 2.0 + rng.normal(size=n)
    weights = rng.uniform(0.5, 2.0, size=n)
    weights /= weights.sum()
    model = fixed_scale_model(np.log(0.5), d)
    start_raw = np.array([np.average(y, weights=weights), np.log(0.5)])
    theta0 = model.pack(np.zeros((2, d)), start_raw)
    result = fit_model(model, X, y, weights, 0.0, theta0, start_raw, tol=1e-10,
                       max_iter=100, verbose=0, estimator_name="test")
    assert result.converged
    design = np.column_stack([X, np.ones(n)]) * np.sqrt(weights)[:, None]
    expected = np.linalg.lstsq(design, y * np.sqrt(weights), rcond=None)[0]
    np.testing.assert_allclose(result.theta, expected, rtol=1e-9)
    residual = y - np.column_stack([X, np.ones(n)]) @ expected
    assert result.objective == pytest.approx(
        weights @ (HALF_LOG_2PI + np.log(0.5) + 2.0 * residual**2), rel=1e-12)


# ------------------------------------- column-major X through the fused kernels
@pytest.mark.parametrize("name", ["bernoulli_no_intercept", "softmax_reference",
                                  "gaussian_constant", "gaussian_heteroscedastic"])
def test_column_major_x_gives_the_row_major_passes_bit_for_bit(name, monkeypatch):
    """F-ordered X is copied a block of rows at a time into a row-major buffer, each
    block a whole number of the kernels' blocks, so the per-block sums are those of
    the row-major array: objective, gradient and Fisher Hessian agree exactly.  A tiny
    buffer forces one kernel block per copy, and X spans several copies."""
    from sklearn_mle import _threads
    from sklearn_mle.families import _kernels

    monkeypatch.setattr(_threads, "_ROW_BLOCK_COPY_BYTES", 1)
    rng = np.random.default_rng(11)
    model, X, y = make_problem(name, rng, n=2 * _kernels.FUSED_BLOCK_ROWS + 123)
    weights = rng.uniform(0.5, 1.5, size=X.shape[0])
    weights /= weights.sum()
    theta = 0.1 * rng.normal(size=model.n_params)
    row_major, column_major = np.ascontiguousarray(X), np.asfortranarray(X)
    assert model.uses_fused_pass(column_major)
    blocks = list(_threads.fused_row_blocks(column_major, _kernels.FUSED_BLOCK_ROWS))
    assert len(blocks) == 3
    value, gradient = model.objective_gradient(theta, row_major, y, weights, 0.1)
    f_value, f_gradient = model.objective_gradient(theta, column_major, y, weights, 0.1)
    assert f_value == value
    np.testing.assert_array_equal(f_gradient, gradient)
    assert model.total_nll(theta, column_major, y, weights) == \
        model.total_nll(theta, row_major, y, weights)
    # the Gram kernels' partitions differ with the copies: equal to rounding
    np.testing.assert_allclose(
        model.hessian(theta, column_major, y, weights, 0.1, expected=True),
        model.hessian(theta, row_major, y, weights, 0.1, expected=True),
        rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("n_features, sparse, dense", [
    (499, True, True), (600, True, False), (600, False, True), (3000, False, False)])
def test_auto_preconditioner_is_dense_where_it_pays(n_features, sparse, dense):
    """Dense up to 3000 parameters, 500 on sparse X (benchmarks/CROSSOVER.md), column
    scaling beyond; only a dense preconditioner lets the solver refresh it from the
    Hessian (a p x p matrix per refresh)."""
    rng = np.random.default_rng(0)
    rows = rng.integers(0, n_features, size=(3 * n_features, 2))
    X = sp.csr_matrix((np.ones(rows.size), (np.repeat(np.arange(rows.shape[0]), 2),
                                            rows.ravel())),
                      shape=(rows.shape[0], n_features))
    X = X if sparse else X.toarray()
    weights = np.full(X.shape[0], 1.0 / X.shape[0])
    model = LinearModel(BernoulliLoss(), n_features, [True], [True])  # p = d + 1
    precond = model.preconditioner(X, weights, np.zeros(1), 0.0)
    assert isinstance(precond, DensePreconditioner) is dense
    assert getattr(precond, "refreshable", False) is dense
