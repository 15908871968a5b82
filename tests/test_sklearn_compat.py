"""scikit-learn's estimator checks over both estimators and every built-in distribution,
with no expected failures."""

import inspect
import warnings

import numpy as np
import pytest
from scipy.special import expit
from sklearn.base import clone
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_mle import MLEClassifier, MLERegressor, UnboundedLikelihoodWarning
from sklearn_mle.families import DISTRIBUTIONS, BinomialLoss
from sklearn_mle.solver import _fit
from sklearn_mle.solver._lbfgs import minimize_lbfgs


class BinomialOfRealTargets(BinomialLoss):
    """The binomial family seen through a monotone change of target units, for the
    checks only: scikit-learn's regressor checks draw real targets, outside the
    binomial's domain of proportions (which no estimator tag can state), so this
    family fits the proportions ``expit(y)`` and reports the mean on the logit scale,
    back in y's units.  Everything else — the kernels, weights, sparse and float32
    paths, pickling, cloning, the existence check — is the binomial's own; its
    domain check is tested below and in test_family_poisson_gamma_binomial.py."""

    def validate_target(self, y):
        return super().validate_target(expit(np.asarray(y, dtype=np.float64)))

    def mean(self, raw_prediction):
        return np.array(raw_prediction[:, 0], dtype=np.float64)


#: Distributions whose domain the checks' targets respect (with the tags' help).
CHECKED = sorted(name for name in DISTRIBUTIONS if name not in ("gaussian", "binomial"))

ESTIMATORS = [
    MLEClassifier(),
    MLEClassifier(alpha=0.1),
    MLERegressor(variance="fixed"),
    MLERegressor(variance="constant"),
    MLERegressor(variance="heteroscedastic"),
    *[MLERegressor(distribution=name) for name in CHECKED],
    *[MLERegressor(distribution=name, dispersion="linear") for name in CHECKED
      if DISTRIBUTIONS[name]().dispersion_column is not None],
    MLERegressor(distribution=BinomialOfRealTargets()),
    # robust covariances on the checks' data ("cluster" needs groups, which no check
    # passes: its errors are tested in test_robust_inference.py)
    MLEClassifier(inference="hc3"),
    MLERegressor(variance="heteroscedastic", inference="hc1"),
    # networks (issue 17), with weight decay, which bounds their likelihood and makes
    # the optimum well conditioned enough that the weighted and the repeated fits,
    # summed in other orders, agree to the check's 1e-7 (at alpha=0.1 the Gaussian's
    # agree to 1.7e-7); tanh, whose objective is smooth (ReLU fits stop on kinks,
    # short of tol=1e-7)
    MLEClassifier(hidden_layer_sizes=(4,), activation="tanh", alpha=0.1),
    MLERegressor(hidden_layer_sizes=(4,), activation="tanh", alpha=1.0),
    MLERegressor(hidden_layer_sizes=(4,), activation="tanh", alpha=1.0,
                 dispersion="linear"),
    MLERegressor(distribution="poisson", hidden_layer_sizes=(4,), activation="tanh",
                 alpha=1.0),
]


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_compatible_estimator(estimator, check, monkeypatch):
    # The checks fit tiny data sets (a dozen rows, classes a line separates, targets a
    # plane fits exactly) on which the unpenalised MLE often does not exist, and the
    # estimators say so, as they must.  Those warnings are expected here: they are
    # caught, and each must be that diagnosis, from an unpenalised fit; every other
    # warning is passed on.
    # Most checks assert nothing about the fitted values, so a fit gone NaN would pass
    # them silently: every solver result of every fit in the check must be finite.
    solved = []

    def finite_minimize_lbfgs(*args, **kwargs):
        result = minimize_lbfgs(*args, **kwargs)
        solved.append(bool(np.all(np.isfinite(result.theta))
                           and np.isfinite(result.objective)))
        return result
    monkeypatch.setattr(_fit, "minimize_lbfgs", finite_minimize_lbfgs)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UnboundedLikelihoodWarning)
        check(estimator)
    assert all(solved), "a fit in the check returned non-finite parameters"
    for warning in caught:
        if issubclass(warning.category, UnboundedLikelihoodWarning):
            assert estimator.alpha == 0, str(warning.message)
            assert (f"{type(estimator).__name__}" in str(warning.message)
                    and "the maximum likelihood estimate does not exist"
                    in str(warning.message)), str(warning.message)
        else:
            warnings.warn_explicit(warning.message, warning.category,
                                   warning.filename, warning.lineno)


def test_the_binomial_rejects_the_checks_real_targets_by_name():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(20, 2)), rng.normal(size=20)
    with pytest.raises(ValueError, match="Binomial distribution needs proportions"):
        MLERegressor(distribution="binomial").fit(X, y)


def test_parameter_names_read_once_per_class_and_per_subclass():
    """The parameter names come from each class's own ``__init__`` (read once per
    class): a subclass with a parameter of its own lists it, clones it and rejects a
    bad value of the base's parameters as the base does."""

    class WithShrinkage(MLERegressor):
        def __init__(self, distribution="gaussian", *, shrinkage=0.5, alpha=0.0):
            super().__init__(distribution, alpha=alpha)
            self.shrinkage = shrinkage

    assert "shrinkage" not in MLERegressor().get_params()
    assert WithShrinkage().get_params() == {"alpha": 0.0, "distribution": "gaussian",
                                            "shrinkage": 0.5}
    assert clone(WithShrinkage(shrinkage=2.0)).shrinkage == 2.0
    assert set(MLEClassifier().get_params()) == set(
        inspect.signature(MLEClassifier.__init__).parameters) - {"self"}
