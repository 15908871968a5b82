"""The scikit-learn estimators: thin layers of parameters over the families, models,
solver and report."""

from ._classifier import MLEClassifier
from ._regressor import MLERegressor
from ._scoring import log_likelihood_scorer

__all__ = ["MLEClassifier", "MLERegressor", "log_likelihood_scorer"]
