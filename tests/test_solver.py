"""The solver layer: every preconditioner minimises the same objective."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp

from sklearn_mle._base import fit_linear_model
from sklearn_mle._linear import LinearModel
from sklearn_mle._loss import (BernoulliLoss, CategoricalLoss, GaussianFixedScaleLoss,
                               GaussianLoss)

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
            results[kind] = fit_linear_model(
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
