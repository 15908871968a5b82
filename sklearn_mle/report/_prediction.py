"""What the regressor's predictive methods share with the summary: the coverage of
an interval checked once, the bounds of a predictive interval, and ``score``."""

from numbers import Real

import numpy as np
from sklearn.metrics import r2_score
from sklearn.utils.validation import _check_sample_weight

from .._plain import plain
from ._deviance import deviance_explained


def validated_coverage(coverage):
    """``coverage`` as a float, or a ValueError naming it unless it is in (0, 1)."""
    if isinstance(coverage, bool) or not isinstance(coverage, Real) \
            or not 0 < coverage < 1:
        raise ValueError("coverage must be a probability in (0, 1) (0.95 for 95 % "
                         f"intervals), got {plain(coverage)!r}.")
    return float(coverage)


def interval_rows(distribution, coverage, trials=None):
    """The central ``coverage`` interval of each sample's frozen ``distribution``, one
    row ``(low, high)`` per sample; with binomial ``trials``, the bounds on the count
    of successes divided by the trials (proportions, as y)."""
    low, high = distribution.interval(validated_coverage(coverage))
    if trials is not None:
        low, high = low / distribution.kwds["n"], high / distribution.kwds["n"]
    return np.column_stack([low, high])


def regression_score(family, y, raw_prediction, sample_weight):
    """D² (see :func:`deviance_explained`) for a family with a deviance, else R² of
    the mean, as ``RegressorMixin.score``."""
    weights = (np.ones_like(y) if sample_weight is None
               else _check_sample_weight(sample_weight, y, dtype=np.float64,
                                         ensure_non_negative=True))
    d2 = deviance_explained(family, y, raw_prediction, weights)
    if d2 is None:
        return float(r2_score(y, family.mean(raw_prediction), sample_weight=sample_weight))
    return d2
