"""The solver layer: every preconditioner minimises the same objective."""

import warnings

import numpy as np
import pytest
import scipy.linalg
import scipy.sparse as sp
from sklearn.linear_model import Ridge

from sklearn_mle.estimators._regressor import MLERegressor
from sklearn_mle.families import (
    BernoulliLoss,
    CategoricalLoss,
    GaussianFixedScaleLoss,
    GaussianLoss,
)
from sklearn_mle.models._linear import LinearModel
from sklearn_mle.solver._fit import fit_model

MODELS = {
    "bernoulli": (BernoulliLoss(), [True], [True]),
    "softmax": (CategoricalLoss(3), [False, True, True], [False, True, True]),
    "gaussian_fixed": (GaussianFixedScaleLoss(), [True], [True]),
    "gaussian_constant": (GaussianLoss(), [True, False], [True, True]),
}


def problem(name, sparse=False):
    """Mildly unscaled data, so that plain L-BFGS on theta also converges."""
    rng = np.random.default_rng(23)
    n, d = 600, 4
    X = rng.normal(size=(n, d)) * np.array([1.0, 5.0, 0.2, 2.0]) + np.array([0.5, 0, 0, 1])
    eta = X @ np.array([0.8, -0.1, 2.0, 0.3])
    if name == "bernoulli":
        y = (eta + rng.logistic(size=n) > 0.7).astype(float)
    elif name == "softmax":
        y = np.digitize(eta + rng.logistic(size=n), [0.0, 1.5]).astype(float)
    else:
        y = eta + rng.normal(size=n)
    if sparse:
        X = sp.csr_matrix(np.where(np.abs(X) < 0.3, 0.0, X))
    loss, coef_free, intercept_free = MODELS[name]
    model = LinearModel(loss, d, coef_free, intercept_free)
    weights = rng.uniform(0.5, 1.5, size=n)
    weights /= weights.sum()
    start_raw = loss.constant_raw_prediction(y, weights)
    theta0 = model.pack(np.zeros((loss.n_raw, d)), start_raw)
    return model, X, y, weights, theta0, start_raw


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("sparse", [False, True])
def test_preconditioned_and_plain_lbfgs_reach_the_same_objective(name, sparse):
    model, X, y, weights, theta0, start_raw = problem(name, sparse)
    alpha = 1e-3
    results = {}
    for kind in ("dense", "scaling", "none"):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            results[kind] = fit_model(
                model, X, y, weights, alpha, theta0, start_raw, tol=1e-8,
                max_iter=20000, verbose=0, estimator_name="test", preconditioner=kind)
        assert results[kind].converged
    objectives = {kind: model.objective(r.theta, X, y, weights, alpha)
                  for kind, r in results.items()}
    best = min(objectives.values())
    for kind, value in objectives.items():
        assert value - best <= 1e-12 * abs(best), kind
    for kind in ("scaling", "none"):
        np.testing.assert_allclose(results[kind].theta, results["dense"].theta,
                                   rtol=1e-5, atol=1e-6)
    # The whitened paths need far fewer iterations than plain L-BFGS.
    assert results["dense"].n_iter <= results["none"].n_iter


def unscaled_least_squares(n, d, mean_offset, seed=5):
    """AR(1)-correlated columns with scales 1e-3..1e3 and means ``mean_offset`` times
    a few standard deviations (raw data such as years or prices)."""
    rng = np.random.default_rng(seed)
    rho = 0.9
    X = np.empty((n, d))
    common = rng.standard_normal(n)
    previous = rng.standard_normal(n)
    for j in range(d):
        previous = rho * previous + np.sqrt(1 - rho**2) * rng.standard_normal(n)
        X[:, j] = previous + 0.5 * common
    scales = np.logspace(-3, 3, d)
    X = X * scales + rng.uniform(-3, 3, size=d) * scales * mean_offset
    y = X @ (rng.standard_normal(d) / scales) + 5.0 + 2.0 * rng.standard_normal(n)
    return X, y, rng.uniform(0.5, 2.0, size=n)


def exact_least_squares(X, y, sample_weight):
    """Weighted least squares with intercept, to (nearly) full precision: Householder
    QR of the row-weighted, column-equilibrated design, then refinement of the
    normal-equation residual computed in extended precision (np.longdouble)."""
    root = np.sqrt(sample_weight)
    design = np.column_stack([X, np.ones(X.shape[0])]) * root[:, None]
    target = y * root
    column_scale = np.sqrt(np.mean(design**2, axis=0))
    design /= column_scale
    q, r = np.linalg.qr(design)
    solution = scipy.linalg.solve_triangular(r, q.T @ target)
    design_long, target_long = design.astype(np.longdouble), target.astype(np.longdouble)
    for _ in range(3):
        residual = target_long - design_long @ solution.astype(np.longdouble)
        normal_residual = np.asarray(design_long.T @ residual, dtype=np.float64)
        solution = solution + scipy.linalg.cho_solve((r, False), normal_residual)
    theta = solution / column_scale
    return theta[:-1], theta[-1]


@pytest.mark.parametrize("mean_offset", [1.0, 1000.0])
@pytest.mark.parametrize("weighted", [False, True])
def test_fixed_sigma_coefficients_as_accurate_as_ridge_cholesky(mean_offset, weighted):
    """On unscaled least squares the fixed-sigma fit is at least as close to the exact
    solution as Ridge's Cholesky solve of the centred normal equations.  With column
    means far from zero the uncentred Gram matrix the Newton step factors is much
    worse conditioned than Ridge's centred one; iterative refinement makes up for it.
    """
    X, y, sample_weight = unscaled_least_squares(20000, 40, mean_offset)
    sample_weight = sample_weight if weighted else np.ones_like(y)
    coef, intercept = exact_least_squares(X, y, sample_weight)
    ours = MLERegressor(variance="fixed").fit(X, y, sample_weight=sample_weight)
    # alpha far below every eigenvalue of the centred Gram matrix: no bias it can show
    ridge = Ridge(alpha=1e-12, solver="cholesky").fit(X, y, sample_weight=sample_weight)

    def coef_error(estimator):
        return np.linalg.norm(estimator.coef_ - coef) / np.linalg.norm(coef)

    def intercept_error(estimator):
        return abs(estimator.intercept_ - intercept) / abs(intercept)

    assert coef_error(ours) <= coef_error(ridge)
    if mean_offset == 1.0:
        assert intercept_error(ours) <= intercept_error(ridge)
    # With means 1000 standard deviations from zero the intercept is the difference of
    # two numbers 1e4 times larger than itself; both fits then sit at the rounding floor
    # of that difference (measured: 1e-10 ours against 4e-10 Ridge's), a comparison
    # that the order of BLAS's summation could tip.


def test_a_continued_fit_spends_only_what_is_left_of_max_iter():
    model, X, y, weights, theta0, start_raw = problem("softmax")
    options = dict(tol=1e-12, verbose=0, estimator_name="fit")

    def fit(start, max_iter, done):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = fit_model(model, X, y, weights, 0.0, start, start_raw,
                               max_iter=max_iter, iterations_done=done, **options)
        return result, [str(w.message) for w in caught]

    first, _ = fit(theta0, 3, 0)
    assert first.n_iter == 3 and not first.converged
    # two more iterations, counted with the first three
    second, messages = fit(first.theta, 5, first.n_iter)
    assert second.n_iter == 5 and not second.converged
    assert len(messages) == 1 and "after 5 iterations" in messages[0]
    assert "max_iter (now 5)" in messages[0]
    # nothing left: the start is only tested, and the warning says why
    spent, messages = fit(second.theta, 5, 5)
    assert spent.n_iter == 5 and not spent.converged
    np.testing.assert_array_equal(spent.theta, second.theta)
    assert "after 5 iterations: max_iter was reached before the fit's last stage" \
        in messages[0]
    # ... and a start that meets the test is converged without an iteration
    optimum, _ = fit(theta0, 1000, 0)
    assert optimum.converged
    tested, messages = fit(optimum.theta, optimum.n_iter, optimum.n_iter)
    assert tested.converged and tested.n_iter == optimum.n_iter and messages == []


# --------------------------------------------- a NaN in a solver phase never escapes
def _quadratic_with_nan_beyond(limit, optimum):
    """0.5 ||theta - optimum||^2, but NaN (value and gradient) where theta_0 > limit:
    a kernel that fails on extreme raw predictions."""
    def fun(theta):
        if theta[0] > limit:
            return np.nan, np.full_like(theta, np.nan)
        return 0.5 * np.sum((theta - optimum) ** 2), theta - optimum
    return fun


@pytest.mark.parametrize("with_hessian", [False, True])
def test_a_nan_objective_counts_as_infinite_for_the_line_search(with_hessian):
    from sklearn_mle.solver._lbfgs import DensePreconditioner, minimize_lbfgs
    optimum = np.array([3.0, -1.0])
    fun = _quadratic_with_nan_beyond(1.0, optimum)
    hessian = (lambda theta: np.eye(2)) if with_hessian else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = minimize_lbfgs(fun, np.zeros(2), DensePreconditioner(np.eye(2)), tol=1e-8,
                                max_iter=50, hessian=hessian, phase_iter=2)
    assert np.all(np.isfinite(result.theta)) and np.isfinite(result.objective)
    assert result.theta[0] <= 1.0
    assert result.objective <= fun(np.zeros(2))[0]


def test_a_phase_whose_preconditioner_overflows_keeps_the_last_finite_iterate(
        monkeypatch):
    # The Student-t fit on scikit-learn's check_sample_weights_pandas_series data went
    # NaN this way: a refreshed preconditioner whose basis overflowed mapped every
    # point L-BFGS tried, its start included, to NaN parameters.
    from sklearn_mle.solver import _lbfgs
    original = _lbfgs.RefreshedPreconditioner.__init__
    refreshes = []

    def overflowing(self, start_matrix, hessian):
        original(self, start_matrix, hessian)
        refreshes.append(1)
        if len(refreshes) >= 2:
            self.basis = self.basis * np.inf
    monkeypatch.setattr(_lbfgs.RefreshedPreconditioner, "__init__", overflowing)
    optimum = np.array([3.0, -1.0])

    def fun(theta):  # a quartic, so that no single phase converges
        r = theta - optimum
        return 0.25 * np.sum(r ** 4) + 0.5 * np.sum(r ** 2), r ** 3 + r

    def hessian(theta):
        return np.diag(3 * (theta - optimum) ** 2 + 1)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = _lbfgs.minimize_lbfgs(fun, np.zeros(2), _lbfgs.DensePreconditioner(
            np.eye(2)), tol=1e-10, max_iter=200, hessian=hessian, phase_iter=1)
    assert len(refreshes) >= 2
    assert np.all(np.isfinite(result.theta)) and np.isfinite(result.objective)
    np.testing.assert_allclose(result.theta, optimum, atol=1e-6)


def test_a_phase_ending_on_a_non_finite_point_returns_its_start(monkeypatch):
    from sklearn_mle.solver import _lbfgs
    theta0 = np.array([0.5, 0.5])

    def fun(theta):  # NaN everywhere but the start
        if np.array_equal(theta, theta0):
            return 1.0, np.array([1.0, 1.0])
        return np.nan, np.full(2, np.nan)

    result, theta = _lbfgs._lbfgs_phase(fun, theta0, None, 1e-8, 10)
    np.testing.assert_array_equal(theta, theta0)
    assert result.objective == 1.0 and not result.converged


def one_hot_poisson(n=30000, levels=300, seed=9):
    """Two one-hot blocks (aliased with the intercept) with strong Poisson effects:
    the columns' curvature moves far from the start's as the fit goes."""
    rng = np.random.default_rng(seed)
    columns = np.column_stack([rng.integers(0, levels, n), levels + rng.integers(0, levels, n)])
    X = sp.csr_matrix((np.ones(2 * n), (np.repeat(np.arange(n), 2), columns.ravel())),
                      shape=(n, 2 * levels))
    y = rng.poisson(np.exp(0.5 + X @ rng.normal(scale=0.6, size=2 * levels))).astype(float)
    return X, y


def test_precision_limit_finished_by_newton_steps_under_column_scaling(capsys):
    """A tol below what the objective's rounding lets a line search reach (1e-10 on
    one-hot Poisson counts, column scaling): L-BFGS stops at the precision limit and
    Newton steps with the Hessian at that point finish the fit, which then agrees with
    iteratively reweighted least squares to rounding, with no ConvergenceWarning."""
    X, y = one_hot_poisson(n=12000, levels=260)   # (521 sparse columns)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit = MLERegressor(distribution="poisson", tol=1e-10, verbose=1).fit(X, y)
    assert fit.converged_
    report = capsys.readouterr().out
    assert "column scaling preconditioner" in report
    assert "precision limit of the objective, finished by Newton steps" in report
    # Newton-Raphson on [X, 1] (the one-hot blocks alias the intercept: a
    # minimum-norm step, the same predictions)
    design = sp.hstack([X, np.ones((X.shape[0], 1))]).tocsr()
    eta = np.full(X.shape[0], np.log(y.mean()))
    for _ in range(40):
        mu = np.exp(eta)
        information = (design.T @ design.multiply(mu[:, None])).toarray()
        step = np.linalg.lstsq(information, design.T @ (y - mu), rcond=1e-12)[0]
        eta = eta + design @ step
        if np.max(np.abs(design @ step)) < 1e-13:
            break
    np.testing.assert_allclose(fit.predict(X), np.exp(eta), rtol=1e-9)


def test_column_scaling_formed_again_where_the_curvature_moved(monkeypatch):
    """Poisson counts on one-hot columns: the column scaling, formed again from the
    curvature after three iterations, reaches the same optimum in fewer iterations
    than the start's scaling kept throughout; where the curvature has not moved
    (rescaled_preconditioner gives None) the path is the one without the check."""
    X, y = one_hot_poisson()
    fits = {}
    for label in ("rescaled", "kept"):
        if label == "kept":
            monkeypatch.setattr(LinearModel, "rescaled_preconditioner",
                                lambda self, *args, **kwargs: None)
        # (600 sparse columns: the column scaling preconditioner)
        fits[label] = MLERegressor(distribution="poisson", tol=1e-9).fit(X, y)
    assert fits["rescaled"].n_iter_ < fits["kept"].n_iter_
    # (at tol 1e-9 either fit's Newton step still moves a prediction by ~4e-7)
    np.testing.assert_allclose(fits["rescaled"].predict(X), fits["kept"].predict(X),
                               rtol=2e-6)
    assert fits["rescaled"].loglik_ == pytest.approx(fits["kept"].loglik_, rel=1e-13)
