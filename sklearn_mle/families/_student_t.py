"""Student-t (location-scale) with learned scale and degrees of freedom."""

import numpy as np
from scipy import stats

from .._plain import plain
from . import _kernels
from ._base import (
    _COLLAPSE_FALLBACK_RIDGE,
    _KernelFamily,
)


class StudentT(_KernelFamily):
    r"""The Student-t family (location-scale, identity link), for
    ``MLERegressor(distribution=StudentT(...))``: heavy-tailed regression that
    resists outliers.

    ``y | x`` is ``mu + sigma T`` with ``T`` Student's t on ``nu`` degrees of freedom:
    ``mu = x @ coef_ + intercept_`` (the location, the mean of y where ``nu > 1``),
    the scale ``sigma`` (``scale_``, also ``dispersion_``) learned as the
    ``dispersion`` option of the estimator says, and ``nu`` (``df_``) learned as one
    constant or fixed here.  ``distribution="student_t"`` is ``StudentT()``: pass an
    instance only to fix the degrees of freedom (``df=1`` is the Cauchy).

    The raw-prediction columns are ``(mu, log sigma, log nu)``; with
    ``z = (y - mu) / sigma`` the full NLL of a sample is

    .. math:: -\log\Gamma\left(\tfrac{\nu+1}{2}\right)
              + \log\Gamma\left(\tfrac{\nu}{2}\right)
              + \tfrac12 \log(\nu\pi) + \log\sigma
              + \tfrac{\nu+1}{2}\log\left(1 + \frac{z^2}{\nu}\right),

    which tends to the Gaussian's as ``nu -> inf`` without cancellation.  A learned
    ``nu`` that runs to that limit is reported in ``boundary_note_`` (the fit is the
    Gaussian one), not as a failure.  The predictive distribution
    (``predict_dist``) is ``scipy.stats.t(df=nu, loc=mu, scale=sigma)``.

    Parameters
    ----------
    df : float or None, default=None
        Degrees of freedom ``nu``: None learns them (one constant, reported as
        ``df_`` with ``df_se_`` under inference); a positive finite number fixes
        them (then ``log_df`` is not a parameter of the fit or of the summary).

    Attributes
    ----------
    df : float or None
        The fixed degrees of freedom, as a float, or None.
    column_modes : tuple
        ``("x", "constant", "constant")``, or ``("x", "constant", log(df))`` with
        ``df`` fixed (see :class:`~sklearn_mle.Family`).

    See Also
    --------
    MLERegressor : the estimator that fits it (``distribution="student_t"``).
    Family : the base class, for a family of your own.

    Examples
    --------
    A regression with 5 % gross outliers, the degrees of freedom fixed at 4:

    >>> import numpy as np
    >>> from sklearn_mle import MLERegressor, StudentT
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(400, 1))
    >>> y = 2.0 * X[:, 0] + 0.3 * rng.normal(size=400)
    >>> y[:20] += 50.0
    >>> t4 = MLERegressor(distribution=StudentT(df=4)).fit(X, y)
    >>> round(float(t4.coef_[0]), 1), t4.df_
    (2.0, 4.0)
    >>> t4.predict_dist(X[:1]).dist.name
    't'

    The family on its own: its per-sample NLL is scipy's negative log-density.

    >>> family = StudentT(df=4.0)
    >>> raw = np.array([[0.5, np.log(2.0), np.log(4.0)]])
    >>> loss, _ = family.loss_gradient(np.array([3.0]), raw, np.ones(1))
    >>> bool(np.isclose(-loss[0], family.distribution(raw).logpdf(3.0)[0]))
    True
    """

    name = "Student-t"
    raw_columns = ("mean", "log_scale", "log_df")
    dispersion_column = 1
    dispersion_name = "sigma"
    dispersion_symbol = "σ"
    boundary_column = 2
    link = "identity"
    family = _kernels.FAMILY_STUDENT_T
    fisher_columns = (1, 2)  # location, scale and df: the scale and df only
    fisher_is_hessian = False
    #: Degrees of freedom beyond which the fit is reported as the Gaussian limit: the
    #: log-density of t(nu) differs from the Gaussian's by (z^4 - 2 z^2 - 1) / (4 nu)
    #: + O(1/nu^2), below 1e-6 per sample within 3 sigma, and the gradient in log nu
    #: (of that order) is below the solver's tolerance.
    GAUSSIAN_LIMIT_DF = 1e6

    def __init__(self, df=None):
        if df is not None:
            if isinstance(df, bool) or not np.isscalar(df) or not np.isfinite(df) \
                    or df <= 0:
                raise ValueError(f"The Student-t degrees of freedom df must be a "
                                 f"positive finite number or None; got {plain(df)!r}.")
            df = float(df)
        self.df = df
        self.column_modes = ("x", "constant",
                             "constant" if df is None else float(np.log(df)))

    def initial_raw_prediction(self, y, sample_weight):
        """Median, log of the scaled median absolute deviation, and log(df) (5 if
        learned)."""
        location = np.median(y)
        spread = 1.4826 * np.median(np.abs(y - location))
        if not spread > 0:
            spread = np.std(y) if np.std(y) > 0 else 1.0
        return np.array([location, np.log(spread),
                         np.log(5.0 if self.df is None else self.df)])

    def constant_raw_prediction(self, y, sample_weight, free=None, fixed=None):
        free = np.ones(3, bool) if free is None else np.array(free, bool)
        if self.df is not None:
            free[2] = False
            fixed = self.initial_raw_prediction(y, sample_weight) if fixed is None \
                else np.array(fixed, dtype=float)
            fixed[2] = np.log(self.df)
        return super().constant_raw_prediction(y, sample_weight, free=free, fixed=fixed)

    def mean(self, raw_prediction):
        return np.array(raw_prediction[:, 0], dtype=np.float64)

    def mean_penalty_weight(self, null_raw):
        """``1 / s0**2``: the mean is in the units of y, as the Gaussian's."""
        return float(np.exp(-2.0 * null_raw[1]))

    #: As sigma -> 0 an exactly fitted sample gains ``log(1/sigma)`` and every other
    #: loses only ``nu log(1/sigma)``: with k exact fits of n the likelihood is
    #: unbounded once k > (n - k) nu, and with nu learned (nu -> 0 with sigma) for
    #: any k >= 1 (Fernández and Steel, 1999).  Ordinary fits stop at a local
    #: maximum away from that corner; a fit that ends in it is reported.
    partial_collapse = True
    fallback_ridge = _COLLAPSE_FALLBACK_RIDGE

    def partial_collapse_unbounded(self, exact_weight, total_weight, raw_prediction):
        if self.df is None:
            return exact_weight > 0
        return exact_weight > (total_weight - exact_weight) * self.df

    def partial_collapse_cost(self):
        """``nu``: a sample at a fixed residual pays ``nu log(1/sigma)`` as its sigma
        falls; with nu learned (it falls with sigma) the cost is 0."""
        return 0.0 if self.df is None else self.df

    def collapse_log_scale(self, raw_prediction):
        return raw_prediction[:, 1]

    def distribution(self, raw_prediction):
        """``scipy.stats.t(df=nu, loc=mu, scale=sigma)`` per row."""
        tiny, huge = np.finfo(float).tiny, np.finfo(float).max
        bounds = np.log(tiny), np.log(huge)
        return stats.t(df=np.exp(np.clip(raw_prediction[:, 2], *bounds)),
                       loc=raw_prediction[:, 0],
                       scale=np.exp(np.clip(raw_prediction[:, 1], *bounds)))

    #: Most degrees of freedom a learned nu starts from.  A null model whose y alone
    #: looks Gaussian (nu at the limit, e.g. where x explains most of y) would start
    #: the fit where the likelihood is flat in nu and the gradient in log nu below
    #: the tolerance: heavy-tailed residuals could then never pull nu back down.
    START_MAX_DF = 30.0

    def fit_start_raw(self, null_raw):
        """The null model with a learned nu brought down to at most ``START_MAX_DF``
        (the fit runs it back to the Gaussian limit where the residuals have no
        heavier tails)."""
        start = np.array(null_raw, dtype=np.float64)
        if self.df is None:
            start[2] = min(start[2], np.log(self.START_MAX_DF))
        return start

    def boundary_note(self, constant_raw):
        """The note that the degrees of freedom ran to the Gaussian limit."""
        log_df = float(np.asarray(constant_raw, dtype=float)[2])
        if self.df is None and log_df > np.log(self.GAUSSIAN_LIMIT_DF):
            with np.errstate(over="ignore"):
                df = np.exp(log_df)
            return (f"The Student-t degrees of freedom ran to {df:.3g} "
                    f"(> {self.GAUSSIAN_LIMIT_DF:g}), where the likelihood is flat: "
                    "the data show no heavier tails than a Gaussian's, and the fit "
                    "is the Gaussian limit.")
        return None


#: The name the family had before it was public (the other built-in families keep
#: their ``...Loss`` names, in :mod:`sklearn_mle.families`).
StudentTLoss = StudentT
