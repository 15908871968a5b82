"""D², the fraction of deviance explained: the regressor's score for the families with
a deviance (:meth:`~sklearn_mle.Family.unit_deviance`), as scikit-learn scores its
Poisson, Gamma and Tweedie regressors."""

import warnings

import numpy as np
from sklearn.exceptions import UndefinedMetricWarning


def deviance_explained(family, y, raw_prediction, sample_weight):
    """``1 - sum_i s_i d_i / sum_i s_i d0_i``, or None if ``family`` has no deviance.

    ``d_i`` is the deviance of sample ``i`` at ``raw_prediction`` and ``d0_i`` that of
    the null model, whose mean is the weighted mean of the scored ``y`` (the other raw
    columns as fitted), as in ``sklearn.metrics.d2_tweedie_score``.  Where the null
    deviance is 0 (a constant ``y``) the score is 1.0 for a perfect fit and 0.0
    otherwise, as ``r2_score``; with fewer than two samples it is NaN with an
    ``UndefinedMetricWarning``, as scikit-learn's D² scores.
    """
    deviance = family.unit_deviance(y, raw_prediction)
    if deviance is None:
        return None
    if y.shape[0] < 2:
        warnings.warn("D^2 score is not well-defined with less than two samples.",
                      UndefinedMetricWarning, stacklevel=3)
        return float("nan")
    null = np.array(raw_prediction, dtype=np.float64)
    null[:, 0] = family.link_value(np.average(y, weights=sample_weight))
    numerator = float(np.dot(sample_weight, deviance))
    denominator = float(np.dot(sample_weight, family.unit_deviance(y, null)))
    if denominator == 0.0:
        return 1.0 if numerator == 0.0 else 0.0
    return 1.0 - numerator / denominator
