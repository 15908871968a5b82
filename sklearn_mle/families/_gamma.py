"""Gamma with log link and a learned shape (dispersion)."""

import numpy as np
from scipy import optimize, stats

from . import _kernels
from ._base import (
    _COLLAPSE_FALLBACK_RIDGE,
    _KernelFamily,
    _positive_exp,
)

#: Smallest value of ``log k - digamma(k)`` the constant Gamma start solves for: a
#: relative spread of y of one rounding unit (a constant y has no finite shape MLE).
_SMALLEST_GAMMA_SHAPE_GAP = 0.5 * np.finfo(float).eps ** 2


def _gamma_log_dispersion(y, sample_weight, eta):
    """Log dispersion ``s = -log k`` maximising the weighted Gamma likelihood at the
    constant log mean ``eta``: the root of ``log k - digamma(k) = r`` with ``r`` the
    weighted mean of ``e^u - 1 - u >= 0``, ``u = log y - eta`` (at ``eta`` = log of
    the weighted mean of y, ``r = log(mean y) - mean(log y)``, without cancellation).
    Since ``1 / (2k) < log k - digamma(k) < 1 / k``, the root lies in
    ``[log r, log 2r]``; Brent's method finds it to the last bits."""
    u = np.log(y) - eta
    r = np.einsum("i,i->", np.expm1(u) - u, sample_weight) / np.sum(sample_weight)
    r = max(r, _SMALLEST_GAMMA_SHAPE_GAP)

    def equation(s):
        return _kernels.gamma_log_minus_digamma(s) - r

    return optimize.brentq(equation, np.log(r) - 0.01, np.log(2.0 * r) + 0.01,
                           xtol=1e-14, rtol=4 * np.finfo(float).eps)


class GammaLoss(_KernelFamily):
    r"""Gamma distribution with log link and a learned dispersion.

    Raw-prediction columns are ``(eta, s)``: ``mean = exp(eta)`` and the dispersion
    ``phi = exp(s)`` (``Var[y | x] = phi mean**2``, statsmodels' GLM scale), i.e. the
    shape ``k = 1 / phi``, learned by maximum likelihood (constant by default, linear
    in x when the estimator asks).  With ``u = log y - eta``:

    .. math::

        \mathrm{NLL} = \log\Gamma(k) - k \log k + k \eta - (k - 1) \log y
                       + k y e^{-\eta}
                     = B(k) + k (e^u - 1 - u) + \log y,

    ``B(k) = log Gamma(k) - k log k + k``, computed without cancellation for any k.
    Targets must be positive.  The Fisher information is ``diag(k, k (k psi'(k) -
    1))``; the observed Hessian differs from it, so it is not a canonical family.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy import stats
    >>> from sklearn_mle.families import GammaLoss
    >>> family = GammaLoss()
    >>> y = stats.gamma(a=4.0, scale=0.5).rvs(size=20000, random_state=0)
    >>> eta, s = family.constant_raw_prediction(y, np.ones(y.size))
    >>> shape, loc, scale = stats.gamma.fit(y, floc=0)
    >>> bool(np.isclose(np.exp(-s), shape, rtol=1e-5))
    True
    """

    name = "Gamma"
    raw_columns = ("mean", "log_dispersion")
    column_modes = ("x", "constant")
    dispersion_column = 1
    dispersion_name = "dispersion"
    dispersion_symbol = "φ"
    fallback_ridge = _COLLAPSE_FALLBACK_RIDGE
    link = "log"
    target_kind = "positive real numbers"
    family = _kernels.FAMILY_GAMMA
    fisher_columns = (1,)  # diag(k, D(s))
    fisher_is_hessian = False

    positive_target = True

    def collapse_log_scale(self, raw_prediction):
        # sqrt(phi) is the coefficient of variation: the spread of log y
        return 0.5 * raw_prediction[:, 1]

    def collapse_target(self, y):
        return np.log(y)

    def validate_target(self, y):
        y = super().validate_target(y)
        if np.any(y <= 0):
            self._reject(y, y <= 0, "positive targets (y > 0)")
        return y

    def constant_raw_prediction(self, y, sample_weight, free=None, fixed=None):
        """Intercept-only MLE in closed form: the weighted mean of y (whatever the
        shape), and the shape from ``log k - digamma(k) = log(mean y) - mean(log y)``.

        A constant y has no finite shape (the likelihood grows without bound as
        ``k -> inf``); the shape is then solved as if y had a relative spread of one
        rounding unit (``k ~ 1 / eps**2``, about 2e31): finite, and far beyond any
        shape data can support.
        """
        free = np.ones(2, bool) if free is None else np.asarray(free, bool)
        raw = np.zeros(2) if fixed is None else np.array(fixed, dtype=np.float64)
        weight = np.asarray(sample_weight, dtype=np.float64)
        if free[0]:
            raw[0] = np.log(np.einsum("i,i->", y, weight) / np.sum(weight))
        if free[1]:
            raw[1] = _gamma_log_dispersion(y, weight, raw[0])
        return raw

    def initial_raw_prediction(self, y, sample_weight):
        return self.constant_raw_prediction(y, sample_weight)

    def unit_hessian_at_constant(self, constant_raw, y=None, sample_weight=None):
        """The Fisher information ``diag(k, k (k psi'(k) - 1))``; it does not depend
        on y."""
        raw = np.asarray(constant_raw, dtype=np.float64).reshape(1, 2)
        return self.fisher_information(np.ones(1), raw, np.ones(1))[0]

    def mean(self, raw_prediction):
        return _positive_exp(raw_prediction[:, 0])

    def shape(self, raw_prediction):
        """Shape ``k = exp(-s)`` at each row, kept within the positive doubles."""
        return _positive_exp(-raw_prediction[:, 1])

    def unit_deviance(self, y, raw_prediction):
        """``2 k (y / mu - 1 - log(y / mu))``, the unit deviance times the shape
        ``k = 1 / phi`` (with ``u = log y - eta``: ``2 k (e^u - 1 - u)``, without
        cancellation)."""
        u = np.log(y) - raw_prediction[:, 0]
        with np.errstate(over="ignore", invalid="ignore"):
            return 2.0 * self.shape(raw_prediction) * (np.expm1(u) - u)

    def distribution(self, raw_prediction):
        # scale mean / k = exp(eta + s), formed in logs so it cannot overflow early
        return stats.gamma(a=self.shape(raw_prediction),
                           scale=_positive_exp(raw_prediction[:, 0] + raw_prediction[:, 1]))
