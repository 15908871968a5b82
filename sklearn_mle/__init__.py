"""sklearn_mle: maximum-likelihood linear estimators for scikit-learn.

Choose the conditional distribution p(y | x); the cost is its negative
log-likelihood, minimised exactly by preconditioned L-BFGS over Cython kernels.
"""

from .estimators._classifier import MLEClassifier
from .estimators._regressor import MLERegressor
from .estimators._scoring import log_likelihood_scorer
from .existence._unbounded import ExistenceUndecidedWarning, UnboundedLikelihoodWarning
from .families import Family
from .families import StudentT

__version__ = "0.1.0"

__all__ = ["ExistenceUndecidedWarning", "Family", "MLEClassifier", "MLERegressor", "StudentT", "UnboundedLikelihoodWarning", "__version__",
           "log_likelihood_scorer"]
