"""Categorical distribution with softmax link (the multiclass classifier)."""

import numpy as np
from scipy.special import logsumexp

from . import _kernels
from ._base import (
    _as_contiguous,
    _KernelFamily,
)


class CategoricalLoss(_KernelFamily):
    """Categorical distribution with softmax link over ``n_classes`` scores.

    Targets are class indices 0 .. K-1 stored as floats.
    """

    name = "categorical"
    link = "softmax"
    target_kind = "class indices"
    family = _kernels.FAMILY_CATEGORICAL

    def __init__(self, n_classes):
        self.n_classes = n_classes
        self.raw_columns = tuple(f"score_{k}" for k in range(n_classes))
        self.column_modes = ("x",) * n_classes
        self.location_columns = tuple(range(n_classes))

    def constant_raw_prediction(self, y, sample_weight):
        # one masked sum per class: no sample-sized temporary beyond a boolean mask
        counts = np.array([np.sum(sample_weight, where=(y == k))
                           for k in range(self.n_classes)])
        p = np.clip(counts / counts.sum(), 1e-12, None)
        log_p = np.log(p)
        return log_p - log_p.mean()

    def unit_hessian_at_constant(self, constant_raw, y=None, sample_weight=None):
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
