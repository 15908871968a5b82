"""The rank of the design, and the shortcut through the preconditioner's factor.

Where the start Hessian is the design's Gram matrix times a number (one raw column,
no penalty), the dense preconditioner's Cholesky factor gives LAPACK's condition
estimate of the scaled design, and ``design_rank`` then needs no factorisation of
its own; elsewhere the estimate is not made.
"""

import numpy as np
import pytest
import scipy.linalg.lapack

from sklearn_mle.families import BernoulliLoss, GaussianFixedScaleLoss, GaussianLoss
from sklearn_mle.models._linear import LinearModel, weighted_gram
from sklearn_mle.report._statistics import design_rank


def scaled_rcond(gram):
    """LAPACK's reciprocal condition estimate of the Jacobi-scaled ``gram``."""
    scale = 1.0 / np.sqrt(gram.diagonal())
    scaled = gram * np.outer(scale, scale)
    factor, info = scipy.linalg.lapack.dpotrf(scaled)
    assert info == 0
    return scipy.linalg.lapack.dpocon(factor, np.abs(scaled).sum(axis=0).max())[0]


def design(rng, n=2000, d=6, aliased=False):
    """Columns over six decades, with means up to five times their spread."""
    scales = np.logspace(-3, 3, d)
    X = (rng.normal(size=(n, d)) + np.linspace(0.0, 5.0, d)) * scales
    if aliased:
        X[:, -1] = 2.0 * X[:, 0] - X[:, 1]
    weights = rng.uniform(0.5, 1.5, n)
    return X, weights / weights.sum()


@pytest.mark.parametrize("loss", [GaussianFixedScaleLoss(), BernoulliLoss()])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_the_preconditioner_estimates_the_design_condition(loss, fit_intercept):
    X, weights = design(np.random.default_rng(0))
    model = LinearModel(loss, X.shape[1], [True], [fit_intercept])
    preconditioner = model.preconditioner(X, weights, np.array([0.3]), alpha=0.0)
    gram = weighted_gram(X, weights)
    used = gram if fit_intercept else gram[:-1, :-1]
    # the same estimate, up to the rounding of the unit Hessian's factor (a band, not
    # a tolerance: LAPACK's estimator may pick other sign vectors on other rounding),
    # and above the threshold, so that it decides the rank
    assert 0.5 < preconditioner.design_rcond / scaled_rcond(used) < 2.0
    assert preconditioner.design_rcond > 1e-4
    full = X.shape[1] + fit_intercept
    assert design_rank(gram, fit_intercept, preconditioner.design_rcond) == full
    assert design_rank(gram, fit_intercept) == full


def test_an_aliased_design_is_ranked_by_its_eigenvalues():
    X, weights = design(np.random.default_rng(1), aliased=True)
    model = LinearModel(GaussianFixedScaleLoss(), X.shape[1], [True], [True])
    preconditioner = model.preconditioner(X, weights, np.array([0.0]), alpha=0.0)
    gram = weighted_gram(X, weights)
    assert preconditioner.design_rcond is None or preconditioner.design_rcond < 1e-6
    assert design_rank(gram, True, preconditioner.design_rcond) == X.shape[1]
    assert design_rank(gram, True) == X.shape[1]


def test_no_estimate_where_the_start_hessian_is_not_the_design_gram():
    X, weights = design(np.random.default_rng(2))
    penalised = LinearModel(GaussianFixedScaleLoss(), X.shape[1], [True], [True])
    assert penalised.preconditioner(X, weights, np.array([0.0]),
                                    alpha=0.1).design_rcond is None
    two_columns = LinearModel(GaussianLoss(), X.shape[1], [True, False], [True, True])
    assert two_columns.preconditioner(X, weights, np.array([0.0, 0.0]),
                                      alpha=0.0).design_rcond is None


def test_an_estimate_below_the_threshold_does_not_decide_the_rank():
    X, weights = design(np.random.default_rng(3))
    gram = weighted_gram(X, weights)
    assert design_rank(gram, True, rcond=1e-9) == X.shape[1] + 1
