"""Poisson counts with log link."""

import numpy as np
from scipy import stats

from . import _kernels
from ._base import (
    _KernelFamily,
    _positive_exp,
    _y_log_y_over_mean,
)

#: Smallest mean of the constant Poisson start (all-zero counts have no finite MLE).
_SMALLEST_POISSON_MEAN = 1e-12


class PoissonLoss(_KernelFamily):
    r"""Poisson distribution with log link: ``E[y | x] = exp(raw)``.

    .. math:: \mathrm{NLL}(y, \eta) = e^\eta - y \eta + \log \Gamma(y + 1),

    the negative Poisson log-pmf for counts; its Hessian ``e^eta`` is also the Fisher
    information (canonical link).  Like scikit-learn's ``PoissonRegressor``,
    non-negative targets that are not integers (rates, averaged counts) are accepted:
    the fit is then the Poisson quasi-likelihood estimate of the mean, and the
    log-likelihood, with ``log Gamma(y + 1)`` in place of ``log y!``, is not a
    log-pmf to compare with other families.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_mle.families import PoissonLoss
    >>> family = PoissonLoss()
    >>> y = np.array([0.0, 1.0, 3.0])
    >>> np.exp(family.constant_raw_prediction(y, np.ones(3)))
    array([1.33333333])
    >>> family.recession_signs(y)
    array([-1,  0,  0], dtype=int8)
    """

    name = "Poisson"
    raw_columns = ("mean",)
    #: A natural exponential family with its canonical link: the MLE's existence
    #: is certified by a Newton step (see :mod:`sklearn_mle.existence._moments`).
    canonical_exponential_family = True
    link = "log"
    target_kind = "non-negative counts"
    family = _kernels.FAMILY_POISSON
    fisher_columns = (0,)  # mu

    positive_target = True

    def validate_target(self, y):
        y = super().validate_target(y)
        if np.any(y < 0):
            self._reject(y, y < 0, "non-negative counts")
        return y

    def constant_raw_prediction(self, y, sample_weight, free=None, fixed=None):
        """log of the weighted mean of y.  All-zero counts have no finite MLE (the
        likelihood keeps growing as the mean goes to 0): the mean is then taken as
        1e-12, where each sample's NLL is within 1e-12 of its supremum, and
        :meth:`recession_signs` lets the existence check report it."""
        if free is not None and not np.asarray(free, bool)[0]:
            return np.asarray(fixed, dtype=np.float64).copy()
        mean = np.einsum("i,i->", y, sample_weight) / np.sum(sample_weight)
        return np.array([np.log(max(mean, _SMALLEST_POISSON_MEAN))])

    def initial_raw_prediction(self, y, sample_weight):
        return self.constant_raw_prediction(y, sample_weight)

    def unit_hessian_at_constant(self, constant_raw, y=None, sample_weight=None):
        return np.array([[np.exp(constant_raw[0])]])

    def mean(self, raw_prediction):
        return _positive_exp(np.reshape(raw_prediction, (-1, 1))[:, 0])

    def distribution(self, raw_prediction):
        return stats.poisson(self.mean(raw_prediction))

    def unit_deviance(self, y, raw_prediction):
        """``2 (y log(y / mu) - (y - mu))`` (``y log y = 0`` at ``y = 0``)."""
        eta = np.reshape(raw_prediction, (-1, 1))[:, 0]
        return 2.0 * (_y_log_y_over_mean(y, eta) - (y - self.mean(raw_prediction)))

    def recession_signs(self, y):
        """-1 for zero counts (their NLL ``e^eta`` decreases for ever as eta -> -inf),
        0 for the others."""
        return np.where(np.asarray(y) == 0, -1, 0).astype(np.int8)
