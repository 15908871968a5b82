"""Run the Examples sections of the public docstrings (the installed package's)."""

import doctest
from importlib.util import find_spec

import numpy as np
import pytest

import sklearn_mle
from sklearn_mle import _plain
from sklearn_mle.estimators import _classifier, _regressor, _scoring
from sklearn_mle.families import _base as _family_base
from sklearn_mle.families import (
    _bernoulli,
    _gamma,
    _negative_binomial,
    _poisson,
    _student_t,
)
from sklearn_mle.models import _dask, _linear, _model

#: The Dask model's examples run on Dask: only where the [dask] extra is installed
#: (the oldest-versions job installs the core dependencies only).
_DASK_EXAMPLES = pytest.param(_dask, marks=pytest.mark.skipif(
    find_spec("distributed") is None, reason="the [dask] extra is not installed"))
MODULES = [_plain, _classifier, _linear, _family_base, _bernoulli, _gamma, _negative_binomial, _poisson,
           _student_t,
           _model, _regressor, _scoring, _DASK_EXAMPLES]


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
def test_docstring_examples(module):
    np.set_printoptions(legacy=False)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
                             raise_on_error=False, verbose=False)
    assert result.attempted > 0, f"no doctest examples found in {module.__name__}"
    assert result.failed == 0


def test_every_public_name_has_a_docstring_with_examples():
    for name in sklearn_mle.__all__:
        obj = getattr(sklearn_mle, name)
        if isinstance(obj, str):
            continue
        assert obj.__doc__, name
        if name != "UnboundedLikelihoodWarning":
            assert "Examples" in obj.__doc__, name
