"""The layers' contracts: public names, and capabilities asked of the model in one place."""

import numpy as np
import pytest

import sklearn_mle
from sklearn_mle import MLEClassifier, MLERegressor
from sklearn_mle.estimators import _classifier, _regressor
from sklearn_mle.models import LinearModel, Model


def test_public_names_are_unchanged():
    assert sorted(sklearn_mle.__all__) == sorted(
        ["ExistenceUndecidedWarning", "Family", "MLEClassifier", "MLERegressor",
         "StudentT",
         "UnboundedLikelihoodWarning", "__version__", "log_likelihood_scorer"])


def test_the_base_model_promises_no_capability_and_the_linear_model_all():
    for capability in ("has_coefficients", "supports_inference",
                       "supports_existence_check"):
        assert getattr(Model, capability) is False
        assert getattr(LinearModel, capability) is True


class _Opaque(LinearModel):
    """A model whose parameters the estimators may not read as a linear predictor's."""
    has_coefficients = False
    supports_inference = False
    supports_existence_check = False


def _opaque(builder):
    def build(*args, **kwargs):
        model = builder(*args, **kwargs)
        model.__class__ = _Opaque
        return model
    return build


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    return X, X @ [1.0, -1.0, 0.5] + rng.normal(size=200)


@pytest.mark.parametrize("inference", [True, "ols"])
def test_an_option_the_model_cannot_serve_gets_one_clear_error(monkeypatch, data,
                                                                inference):
    X, y = data
    monkeypatch.setattr(_regressor, "regression_model",
                        _opaque(_regressor.regression_model))
    capability = "supports_inference" if inference is True else "has_coefficients"
    with pytest.raises(ValueError, match=f"needs a model with {capability}; _Opaque"):
        MLERegressor(inference=inference).fit(X, y)


def test_a_model_without_an_existence_check_says_nothing_is_known(monkeypatch, data):
    X, y = data
    monkeypatch.setattr(_regressor, "regression_model",
                        _opaque(_regressor.regression_model))
    reg = MLERegressor().fit(X, y)
    assert reg.mle_exists_ is None
    assert MLERegressor(alpha=0.1).fit(X, y).mle_exists_ is True
    monkeypatch.setattr(_classifier, "classification_model",
                        _opaque(_classifier.classification_model))
    clf = MLEClassifier().fit(X, y > 0)
    assert clf.mle_exists_ is None
    with pytest.raises(ValueError, match="needs a model with supports_inference"):
        MLEClassifier(inference=True).fit(X, y > 0)


def test_summary_is_written_once():
    assert "summary" not in vars(sklearn_mle.estimators._base.MLEstimator)
    for estimator in (MLEClassifier, MLERegressor):
        # each estimator's summary only documents and delegates to the shared builder
        assert estimator.summary.__code__.co_names == ("_summary",)
