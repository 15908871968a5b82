"""sklearn_mle: maximum-likelihood linear estimators for scikit-learn.

Choose the conditional distribution p(y | x); the cost is its negative
log-likelihood, minimised exactly by preconditioned L-BFGS over Cython kernels.
"""

from ._classifier import MLEClassifier
from ._loss import Family
from ._loss import StudentTLoss as StudentT
from ._regressor import MLERegressor
from ._scoring import log_likelihood_scorer
from ._unbounded import UnboundedLikelihoodWarning

__version__ = "0.1.0"

__all__ = ["Family", "MLEClassifier", "MLERegressor", "StudentT", "UnboundedLikelihoodWarning", "__version__",
           "log_likelihood_scorer"]
