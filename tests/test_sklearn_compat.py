"""scikit-learn's estimator checks over both estimators and every built-in distribution,
with no expected failures."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_mle import MLEClassifier, MLERegressor
from sklearn_mle._loss import DISTRIBUTIONS

ESTIMATORS = [
    MLEClassifier(),
    MLEClassifier(alpha=0.1),
    MLERegressor(variance="fixed"),
    MLERegressor(variance="constant"),
    MLERegressor(variance="heteroscedastic"),
    *[MLERegressor(distribution=name) for name in sorted(DISTRIBUTIONS)
      if name != "gaussian"],
    *[MLERegressor(distribution=name, dispersion="linear") for name in sorted(DISTRIBUTIONS)
      if name != "gaussian" and DISTRIBUTIONS[name]().dispersion_column is not None],
]


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
