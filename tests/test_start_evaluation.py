"""The objective at the null model, summed in the preconditioner's pass over X.

A linear model with a dense preconditioner reads X once for the Gram matrix of
[X, 1]; the same sweep gives the NLL and its gradient at the null model (every
coefficient 0), where the solver starts, so that the solver's first evaluation costs
no pass of its own.  These tests hold that evaluation to the model's own
``objective_gradient``, say where it is not made, and check that a fit which starts
from it ends where a fit without it does.
"""

import numpy as np
import pytest
import scipy.sparse as sp
from tolerance import FIT_RTOL, GRAM_RTOL, assert_blas_close

from sklearn_mle import MLEClassifier, MLERegressor
from sklearn_mle.families import (
    BernoulliLoss,
    CategoricalLoss,
    GammaLoss,
    GaussianFixedScaleLoss,
    GaussianLoss,
    NegativeBinomialLoss,
    PoissonLoss,
    StudentTLoss,
    _kernels,
)
from sklearn_mle.models._linear import LinearModel, weighted_gram
from sklearn_mle.solver import _fit

#: (family, coefficient rows free, intercepts free, intercept values, y maker)
MODELS = {
    "bernoulli": (BernoulliLoss(), [True], [True], None,
                  lambda rng, n: rng.integers(0, 2, n)),
    "softmax_reference": (CategoricalLoss(3), [False, True, True], [False, True, True],
                          None, lambda rng, n: rng.integers(0, 3, n)),
    "gaussian_fixed_no_intercept": (GaussianFixedScaleLoss(), [True], [False], None,
                                    lambda rng, n: rng.normal(1.0, 2.0, n)),
    "gaussian_heteroscedastic": (GaussianLoss(), [True, True], [True, True], None,
                                 lambda rng, n: rng.normal(1.0, 2.0, n)),
    "poisson": (PoissonLoss(), [True], [True], None, lambda rng, n: rng.poisson(3.0, n)),
    "gamma_constant": (GammaLoss(), [True, False], [True, True], None,
                       lambda rng, n: rng.gamma(2.0, 1.5, n)),
    "negative_binomial_fixed": (NegativeBinomialLoss(), [True, False], [True, False],
                                [0.0, np.log(0.5)],
                                lambda rng, n: rng.negative_binomial(2, 0.4, n)),
    "student_t_constant": (StudentTLoss(), [True, False, False], [True, True, True],
                           None, lambda rng, n: rng.standard_t(5.0, n)),
}


def make_problem(name, n=20000, d=5, seed=0, dtype=np.float64, order="C"):
    """A model, X (unscaled columns), y, normalised weights and a constant raw start."""
    loss, coef_free, intercept_free, intercept_value, make_y = MODELS[name]
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * np.logspace(-2, 2, d) + np.linspace(0.0, 50.0, d)
    X = np.asarray(X, dtype=dtype, order=order)
    y = make_y(rng, n).astype(np.float64)
    weights = rng.uniform(0.5, 2.0, n)
    weights /= weights.sum()
    model = LinearModel(loss, d, coef_free, intercept_free,
                        intercept_value=intercept_value)
    start_raw = np.linspace(0.1, 0.4, loss.n_raw)
    return model, X, y, weights, start_raw


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("dtype, order", [(np.float64, "C"), (np.float32, "C"),
                                          (np.float64, "F")])
def test_start_evaluation_is_the_objective_at_the_null_model(name, dtype, order):
    # 20000 rows: two partitions of the Gram kernel; F-ordered X in copied blocks
    model, X, y, weights, start_raw = make_problem(name, dtype=dtype, order=order)
    preconditioner, start = model.preconditioner_with_start(X, y, weights, start_raw,
                                                            alpha=0.0)
    theta, value, gradient = start
    np.testing.assert_array_equal(theta, model.initial_parameters(start_raw))
    reference_value, reference_gradient = model.objective_gradient(theta, X, y, weights,
                                                                   0.0)
    np.testing.assert_allclose(value, reference_value, rtol=1e-12)
    np.testing.assert_allclose(gradient, reference_gradient, rtol=1e-10,
                               atol=1e-12 * np.abs(reference_gradient).max())
    # the Gram matrix is the one weighted_gram forms (the same BLAS calls)
    assert_blas_close(preconditioner.design_gram, weighted_gram(X, weights),
                      rtol=GRAM_RTOL)


def test_start_evaluation_adds_the_penalty():
    model, X, y, weights, start_raw = make_problem("gaussian_heteroscedastic")
    model.ridge_weight = model.ridge_weight * np.linspace(0.5, 2.0, model.n_params)
    _, (theta, value, gradient) = model.preconditioner_with_start(
        X, y, weights, start_raw, alpha=0.3)
    reference_value, reference_gradient = model.objective_gradient(theta, X, y, weights,
                                                                   0.3)
    np.testing.assert_allclose(value, reference_value, rtol=1e-12)
    np.testing.assert_allclose(gradient, reference_gradient, rtol=1e-10,
                               atol=1e-12 * np.abs(reference_gradient).max())


@pytest.mark.parametrize("name", ["softmax_reference", "gamma_constant"])
def test_start_evaluation_is_the_same_for_one_and_two_threads(name):
    # (its sums are the kernel's own, partitions fixed by the shape of X)
    model, X, y, weights, start_raw = make_problem(name, n=40000)
    _, (_, value_1, gradient_1) = model.preconditioner_with_start(
        X, y, weights, start_raw, 0.0, n_threads=1)
    _, (_, value_2, gradient_2) = model.preconditioner_with_start(
        X, y, weights, start_raw, 0.0, n_threads=2)
    assert value_1 == value_2
    np.testing.assert_array_equal(gradient_1, gradient_2)


def test_no_start_evaluation_where_the_pass_does_not_give_it():
    model, X, y, weights, start_raw = make_problem("poisson", n=500)
    # column scaling instead of the dense preconditioner: no Gram matrix
    precond, start = model.preconditioner_with_start(X, y, weights, start_raw, 0.0,
                                                     kind="scaling")
    assert start is None and precond is not None
    # sparse X: the Gram matrix comes from SciPy products
    _, start = model.preconditioner_with_start(sp.csr_matrix(X), y, weights, start_raw,
                                               0.0)
    assert start is None
    # an offset: the raw predictions at the null model are not one constant
    with_offset = LinearModel(PoissonLoss(), X.shape[1], [True], [True],
                              offset=np.linspace(-1.0, 1.0, X.shape[0]))
    _, start = with_offset.preconditioner_with_start(X, y, weights, start_raw, 0.0)
    assert start is None


def test_a_non_finite_start_evaluation_is_not_used():
    # Poisson at a raw prediction whose mean overflows: the solver must evaluate itself
    # (the preconditioner from a given, finite curvature)
    _, X, y, weights, _ = make_problem("poisson", n=500)
    model = LinearModel(PoissonLoss(), X.shape[1], [True], [True],
                        unit_hessian=np.ones((1, 1)))
    with np.errstate(over="ignore"):
        precond, start = model.preconditioner_with_start(X, y, weights,
                                                         np.array([800.0]), 0.0)
    assert start is None and precond is not None


def test_kernel_rejects_outputs_of_the_wrong_shape():
    X = np.ones((10, 3))
    good = (X, np.ones(10), np.zeros(10), np.zeros(1), np.arange(1),
            _kernels.FAMILY_BERNOULLI)
    with pytest.raises(ValueError, match="wrong shape"):
        _kernels.weighted_gram_and_start(*good, np.zeros((1, 16)))
    with pytest.raises(ValueError, match="wrong shape"):
        _kernels.weighted_gram_and_start(X, np.ones(9), *good[2:], np.zeros((1, 21)))
    with pytest.raises(ValueError, match="not a row"):
        _kernels.weighted_gram_and_start(*good[:4], np.array([1]), good[5],
                                         np.zeros((1, 21)))


def _fits_with_and_without_the_start(monkeypatch, fit):
    """``fit()`` as it runs, and with the preconditioner's start evaluation dropped
    (the solver then evaluates the start itself)."""
    seeded = fit()
    original = LinearModel.preconditioner_with_start

    def without_start(self, *args, **kwargs):
        return original(self, *args, **kwargs)[0], None

    monkeypatch.setattr(LinearModel, "preconditioner_with_start", without_start)
    return seeded, fit()


@pytest.mark.parametrize("make, target", [
    (lambda: MLERegressor(variance="fixed"), "real"),
    (lambda: MLERegressor(distribution="poisson", alpha=1e-3), "counts"),
    (lambda: MLEClassifier(), "labels"),
])
def test_a_fit_from_the_start_evaluation_ends_where_one_without_it_does(monkeypatch,
                                                                        make, target):
    rng = np.random.default_rng(3)
    scales = np.logspace(-1, 2, 6)
    X = rng.normal(size=(3000, 6)) * scales + 5.0
    eta = X @ (np.array([0.5, -0.2, 0.1, 0.02, -0.01, 0.004]) / scales)
    eta -= eta.mean()
    y = {"real": eta + rng.normal(size=3000),
         "counts": rng.poisson(np.exp(np.clip(eta, -3, 3))),
         "labels": (eta + rng.normal(size=3000) > 0).astype(int)}[target]
    seeded, plain = _fits_with_and_without_the_start(monkeypatch,
                                                     lambda: make().fit(X, y))
    np.testing.assert_allclose(seeded.coef_, plain.coef_, rtol=FIT_RTOL,
                               atol=FIT_RTOL * np.abs(plain.coef_).max())
    np.testing.assert_allclose(seeded.intercept_, plain.intercept_, rtol=FIT_RTOL)
    assert seeded.converged_ and plain.converged_


def test_the_progress_report_names_the_start_evaluation(capsys):
    rng = np.random.default_rng(4)
    X = rng.normal(size=(200, 3))
    MLERegressor(variance="fixed", verbose=2).fit(X, X @ [1.0, 2.0, 3.0])
    assert "and the start's, from the preconditioner's pass" in capsys.readouterr().out


def test_fit_model_uses_the_start_evaluation_only_at_its_theta(monkeypatch):
    # a start elsewhere (a warm start) makes the solver evaluate there itself
    model, X, y, weights, start_raw = make_problem("bernoulli", n=500)
    seen = []
    original = _fit.minimize_lbfgs

    def spy(*args, **kwargs):
        seen.append(kwargs["start_value"])
        return original(*args, **kwargs)

    monkeypatch.setattr(_fit, "minimize_lbfgs", spy)
    options = dict(tol=1e-7, max_iter=100, verbose=0, estimator_name="test")
    theta0 = model.initial_parameters(start_raw)
    _fit.fit_model(model, X, y, weights, 0.0, theta0, start_raw, **options)
    _fit.fit_model(model, X, y, weights, 0.0, theta0 + 0.01, start_raw, **options)
    assert seen[0] is not None and seen[1] is None
