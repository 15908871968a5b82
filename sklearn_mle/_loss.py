"""Loss objects: one class per conditional distribution p(y | x).

A loss object knows its family and nothing about coefficients: how many raw-prediction
columns it needs, how to encode and check targets, the per-sample negative
log-likelihood with its gradient and Hessian on raw predictions (delegated to the
Cython kernels), the best constant raw prediction, and the inverse link used for
prediction.  Adding a distribution means one kernel in ``_kernels.pyx`` plus one class
here.

All ``loss_gradient`` methods return the per-sample *weighted* loss (shape (n,)) and
gradient (shape (n, n_raw)), where ``raw_prediction`` always has shape (n, n_raw).
"""

import numpy as np
from scipy.special import logsumexp

from . import _kernels

HALF_LOG_2PI = 0.5 * np.log(2.0 * np.pi)


def _as_contiguous(array):
    return np.ascontiguousarray(array, dtype=np.float64)


class BaseLoss:
    """Interface shared by the distributions.

    Attributes
    ----------
    n_raw : int
        Number of raw-prediction columns per sample.
    """

    n_raw = 1
    #: Family code of the fused one-pass kernel (``_kernels.FAMILY_*``), or None.
    family = None
    #: Whether the Hessian is the same at every parameter value (then the start
    #: preconditioner whitens it exactly and is never refreshed).
    hessian_is_constant = False
    #: Whether the expected Hessian (Fisher information) equals the observed one, as
    #: for canonical links; then a Hessian refresh whitens the objective exactly.
    fisher_is_hessian = True

    def loss_gradient(self, y, raw_prediction, sample_weight, n_threads=1):
        """Per-sample weighted NLL (n,) and gradient wrt raw predictions (n, n_raw)."""
        raise NotImplementedError

    def hessian(self, y, raw_prediction, sample_weight, n_threads=1):
        """Per-sample weighted Hessian wrt raw predictions, shape (n, n_raw, n_raw)."""
        raise NotImplementedError

    def fisher_information(self, y, raw_prediction, sample_weight, n_threads=1):
        """Per-sample expected Hessian (Fisher information) wrt raw predictions.

        Equal to :meth:`hessian` for canonical-link families; always positive
        semi-definite, so it serves as a preconditioner where the observed Hessian
        may be indefinite.
        """
        return self.hessian(y, raw_prediction, sample_weight, n_threads)

    def constant_raw_prediction(self, y, sample_weight):
        """Raw prediction (n_raw,) of the best intercept-only model."""
        raise NotImplementedError

    def unit_hessian_at_constant(self, constant_raw):
        """Hessian (n_raw, n_raw) of one unit-weight sample's expected NLL at a constant model.

        Used to build the preconditioner: at the intercept-only optimum the expected
        Hessian is the same for every sample, so the Hessian of the objective is
        ``unit_hessian ⊗ Gram(X)``.
        """
        raise NotImplementedError


class BernoulliLoss(BaseLoss):
    """Bernoulli distribution with logit link: ``p(y=1|x) = sigmoid(raw)``.

    Targets are 0/1 floats.
    """

    family = _kernels.FAMILY_BERNOULLI

    n_raw = 1

    def loss_gradient(self, y, raw_prediction, sample_weight, n_threads=1):
        n = y.shape[0]
        loss = np.empty(n)
        gradient = np.empty(n)
        _kernels.bernoulli_loss_gradient(
            y, _as_contiguous(raw_prediction.reshape(n)), sample_weight, loss, gradient,
            n_threads,
        )
        return loss, gradient.reshape(n, 1)

    def hessian(self, y, raw_prediction, sample_weight, n_threads=1):
        n = y.shape[0]
        hessian = np.empty(n)
        _kernels.bernoulli_hessian(
            _as_contiguous(raw_prediction.reshape(n)), sample_weight, hessian, n_threads
        )
        return hessian.reshape(n, 1, 1)

    def constant_raw_prediction(self, y, sample_weight):
        # einsum: no sample-sized temporary, and unlike BLAS's dot its sum does not
        # depend on how many threads BLAS may use from the calling thread
        p = np.einsum("i,i->", y, sample_weight) / np.sum(sample_weight)
        p = np.clip(p, 1e-12, 1 - 1e-12)
        return np.array([np.log(p) - np.log1p(-p)])

    def unit_hessian_at_constant(self, constant_raw):
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


class CategoricalLoss(BaseLoss):
    """Categorical distribution with softmax link over ``n_classes`` scores.

    Targets are class indices 0 .. K-1 stored as floats.
    """

    family = _kernels.FAMILY_CATEGORICAL

    def __init__(self, n_classes):
        self.n_classes = n_classes
        self.n_raw = n_classes

    def loss_gradient(self, y, raw_prediction, sample_weight, n_threads=1):
        n = y.shape[0]
        loss = np.empty(n)
        gradient = np.empty((n, self.n_classes))
        _kernels.categorical_loss_gradient(
            y, _as_contiguous(raw_prediction), sample_weight, loss, gradient, n_threads
        )
        return loss, gradient

    def hessian(self, y, raw_prediction, sample_weight, n_threads=1):
        n = y.shape[0]
        hessian = np.empty((n, self.n_classes, self.n_classes))
        _kernels.categorical_hessian(
            _as_contiguous(raw_prediction), sample_weight, hessian, n_threads
        )
        return hessian

    def constant_raw_prediction(self, y, sample_weight):
        # one masked sum per class: no sample-sized temporary beyond a boolean mask
        counts = np.array([np.sum(sample_weight, where=(y == k))
                           for k in range(self.n_classes)])
        p = np.clip(counts / counts.sum(), 1e-12, None)
        log_p = np.log(p)
        return log_p - log_p.mean()

    def unit_hessian_at_constant(self, constant_raw):
        p = np.exp(constant_raw - logsumexp(constant_raw))
        return np.diag(p) - np.outer(p, p)

    def log_proba(self, raw_prediction, n_threads=1):
        """Log-softmax of the scores, shape (n, K)."""
        raw = _as_contiguous(raw_prediction)
        out = np.empty_like(raw)
        _kernels.categorical_log_proba(raw, out, n_threads)
        return out

    def proba(self, raw_prediction, n_threads=1):
        """Softmax of the scores, shape (n, K), rows summing to 1."""
        proba = np.exp(self.log_proba(raw_prediction, n_threads))
        proba /= proba.sum(axis=1, keepdims=True)
        return proba


class GaussianFixedScaleLoss(BaseLoss):
    """Gaussian distribution with unit variance; the raw prediction is the mean."""

    #: The Hessian does not depend on the parameters (a quadratic objective).
    hessian_is_constant = True
    family = _kernels.FAMILY_GAUSSIAN_FIXED

    n_raw = 1

    def loss_gradient(self, y, raw_prediction, sample_weight, n_threads=1):
        n = y.shape[0]
        loss = np.empty(n)
        gradient = np.empty(n)
        _kernels.gaussian_fixed_loss_gradient(
            y, _as_contiguous(raw_prediction.reshape(n)), sample_weight, loss, gradient,
            n_threads,
        )
        return loss, gradient.reshape(n, 1)

    def hessian(self, y, raw_prediction, sample_weight, n_threads=1):
        return np.asarray(sample_weight, dtype=np.float64).reshape(-1, 1, 1).copy()

    def constant_raw_prediction(self, y, sample_weight):
        return np.array([np.average(y, weights=sample_weight)])

    def unit_hessian_at_constant(self, constant_raw):
        return np.ones((1, 1))


class GaussianLoss(BaseLoss):
    """Gaussian distribution with learned scale.

    Raw-prediction columns are ``(mean, log sigma)``; a shared sigma is the special
    case of a constant second column.
    """

    fisher_is_hessian = False
    family = _kernels.FAMILY_GAUSSIAN

    n_raw = 2

    def loss_gradient(self, y, raw_prediction, sample_weight, n_threads=1):
        n = y.shape[0]
        loss = np.empty(n)
        gradient = np.empty((n, 2))
        _kernels.gaussian_loss_gradient(
            y, _as_contiguous(raw_prediction), sample_weight, loss, gradient, n_threads
        )
        return loss, gradient

    def hessian(self, y, raw_prediction, sample_weight, n_threads=1):
        n = y.shape[0]
        hessian = np.empty((n, 2, 2))
        _kernels.gaussian_hessian(
            y, _as_contiguous(raw_prediction), sample_weight, hessian, n_threads
        )
        return hessian

    def fisher_information(self, y, raw_prediction, sample_weight, n_threads=1):
        # E[d2/dmu2] = 1/sigma^2, E[d2/dmu ds] = 0, E[d2/ds2] = 2.
        n = raw_prediction.shape[0]
        weight = np.asarray(sample_weight, dtype=np.float64)
        info = np.zeros((n, 2, 2))
        with np.errstate(over="ignore"):
            info[:, 0, 0] = weight * np.minimum(np.exp(-2.0 * raw_prediction[:, 1]),
                                                np.finfo(float).max)
        info[:, 1, 1] = 2.0 * weight
        return info

    def constant_raw_prediction(self, y, sample_weight):
        mean = np.average(y, weights=sample_weight)
        variance = np.average((y - mean) ** 2, weights=sample_weight)
        scale = np.sqrt(variance) if variance > 0 else 1.0
        return np.array([mean, np.log(scale)])

    def unit_hessian_at_constant(self, constant_raw):
        # E[d2/dmu2] = 1/sigma^2, E[d2/ds2] = 2, E[d2/dmu ds] = 0 at the constant MLE.
        return np.diag([np.exp(-2.0 * constant_raw[1]), 2.0])
