"""Bernoulli (logit link) and binomial proportions (trials as sample weights)."""

import numpy as np
from scipy import stats
from scipy.special import gammaln, xlogy

from . import _kernels
from ._base import (
    _as_contiguous,
    _KernelFamily,
)


class BernoulliLoss(_KernelFamily):
    """Bernoulli distribution with logit link: ``p(y=1|x) = sigmoid(raw)``.

    Targets are 0/1 floats.
    """

    name = "Bernoulli"
    raw_columns = ("logit",)
    link = "logit"
    target_kind = "0/1 labels"
    family = _kernels.FAMILY_BERNOULLI
    fisher_columns = (0,)  # p (1 - p)

    def constant_raw_prediction(self, y, sample_weight):
        # einsum: no sample-sized temporary, and unlike BLAS's dot its sum does not
        # depend on how many threads BLAS may use from the calling thread
        p = np.einsum("i,i->", y, sample_weight) / np.sum(sample_weight)
        p = np.clip(p, 1e-12, 1 - 1e-12)
        return np.array([np.log(p) - np.log1p(-p)])

    def unit_hessian_at_constant(self, constant_raw, y=None, sample_weight=None):
        p = 1.0 / (1.0 + np.exp(-constant_raw[0]))
        return np.array([[max(p * (1.0 - p), 1e-6)]])

    def log_proba(self, raw_prediction, n_threads=1):
        """Log-probabilities of classes 0 and 1, shape (n, 2)."""
        z = _as_contiguous(raw_prediction.reshape(-1))
        out = np.empty((z.shape[0], 2))
        log_p1 = np.empty(z.shape[0])
        log_p0 = np.empty(z.shape[0])
        _kernels.log_sigmoid(z, log_p1, n_threads)
        _kernels.log_sigmoid(-z, log_p0, n_threads)
        out[:, 0] = log_p0
        out[:, 1] = log_p1
        return out

    def proba(self, raw_prediction, n_threads=1):
        """Probabilities of classes 0 and 1, shape (n, 2), rows summing to 1."""
        z = _as_contiguous(raw_prediction.reshape(-1))
        p1 = np.empty(z.shape[0])
        _kernels.sigmoid(z, p1, n_threads)
        p0 = np.empty(z.shape[0])
        _kernels.sigmoid(-z, p0, n_threads)
        return np.column_stack([p0, p1])


# --------------------------------------------------------------------------- Binomial
class BinomialLoss(BernoulliLoss):
    r"""Binomial distribution with logit link for proportions ``y`` in [0, 1], the
    number of trials ``n`` of each row passed as its ``sample_weight``.

    The weighted NLL is the Bernoulli kernel's ``n (log(1 + e^z) - y z)``, right for
    fractional y: ``-(n y) log p - n (1 - y) log(1 - p)``.  The binomial
    log-likelihood adds ``log C(n, n y)`` per row (:meth:`log_likelihood_constant`),
    which is not linear in ``n`` and so is not part of the per-sample NLL.
    :meth:`distribution` is the distribution of one trial, ``binom(n=1, p)``; with
    ``n`` trials the count of successes is ``binom(n, p)`` (:meth:`count_distribution`,
    which the estimator's ``trials=`` uses).

    Examples
    --------
    >>> import numpy as np
    >>> from scipy import stats
    >>> from sklearn_mle.families import BinomialLoss
    >>> family = BinomialLoss()
    >>> y, trials, raw = np.array([0.25, 1.0]), np.array([4.0, 3.0]), np.zeros((2, 1))
    >>> loss, _ = family.loss_gradient(y, raw, trials)
    >>> np.allclose(-loss + family.log_likelihood_constant(y, trials),
    ...             stats.binom.logpmf(y * trials, trials, 0.5))
    True
    """

    name = "Binomial"
    raw_columns = ("mean",)
    target_kind = "proportions in [0, 1]"

    weights_are_trials = True
    #: A natural exponential family with its canonical link: the MLE's existence
    #: is certified by a Newton step (see :mod:`sklearn_mle.existence._moments`).
    canonical_exponential_family = True

    def validate_target(self, y):
        y = super().validate_target(y)
        bad = (y < 0) | (y > 1)
        if np.any(bad):
            self._reject(y, bad, "proportions in [0, 1] (successes / trials)")
        return y

    def constant_raw_prediction(self, y, sample_weight, free=None, fixed=None):
        """Logit of the trial-weighted mean proportion (clipped to [1e-12, 1 - 1e-12]:
        all-0 or all-1 proportions have no finite MLE)."""
        if free is not None and not np.asarray(free, bool)[0]:
            return np.asarray(fixed, dtype=np.float64).copy()
        return super().constant_raw_prediction(y, sample_weight)

    def unit_hessian_at_constant(self, constant_raw, y=None, sample_weight=None):
        return super().unit_hessian_at_constant(constant_raw)

    def mean(self, raw_prediction):
        return self.proba(raw_prediction)[:, 1]

    def distribution(self, raw_prediction):
        return stats.binom(n=1, p=self.mean(raw_prediction))

    def count_distribution(self, raw_prediction, trials):
        """The number of successes in ``trials`` trials (an array, one per row):
        ``binom(n=trials, p)``, a frozen scipy distribution vectorised over rows."""
        return stats.binom(n=trials, p=self.mean(raw_prediction))

    def unit_deviance(self, y, raw_prediction):
        """``2 (y log(y / p) + (1 - y) log((1 - y) / (1 - p)))`` per trial (the
        weights, numbers of trials, multiply it), from the log-probabilities of the
        logit, so that no ``p`` rounds to 0 or 1."""
        log_p = self.log_proba(raw_prediction)
        positive, below_one = y > 0, y < 1
        with np.errstate(invalid="ignore"):
            model = (np.where(positive, y * log_p[:, 1], 0.0)
                     + np.where(below_one, (1.0 - y) * log_p[:, 0], 0.0))
        return 2.0 * (xlogy(y, y) + xlogy(1.0 - y, 1.0 - y) - model)

    def log_likelihood_constant(self, y, sample_weight):
        """``log C(n, n y)`` with ``n = sample_weight``, through ``gammaln`` (so a
        non-integer number of successes ``n y`` is allowed)."""
        trials = np.asarray(sample_weight, dtype=np.float64)
        successes = trials * y
        return (gammaln(trials + 1.0) - gammaln(successes + 1.0)
                - gammaln(trials * (1.0 - y) + 1.0))

    def recession_signs(self, y):
        """+1 for proportions of 1 (NLL decreasing as the logit -> +inf), -1 for
        proportions of 0, 0 for the others."""
        y = np.asarray(y)
        return (y == 1).astype(np.int8) - (y == 0).astype(np.int8)
