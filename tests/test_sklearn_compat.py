"""scikit-learn's estimator checks, with no expected failures."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_mle import MLEClassifier, MLERegressor

ESTIMATORS = [
    MLEClassifier(),
    MLEClassifier(alpha=0.1),
    MLERegressor(variance="fixed"),
    MLERegressor(variance="constant"),
    MLERegressor(variance="heteroscedastic"),
]


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
