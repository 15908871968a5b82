"""Families: one class per conditional distribution p(y | raw prediction).

A family knows the distribution and nothing about coefficients or the model f(x; theta)
that produces the raw predictions: the names of its raw-prediction columns and which
of them may depend on x, its link and inverse link, the targets it accepts, the
per-sample negative log-likelihood with its gradient, Hessian and Fisher information
on raw predictions (delegated to the Cython kernels for the built-in families), the
best constant (intercept-only) raw prediction, the predictive distribution as a frozen
``scipy.stats`` object, and what makes its maximum-likelihood estimate fail to exist.
The estimators ask the family; they never branch on its name.  A built-in family is
one kernel in ``_kernels.pyx`` plus one class here; a user's family is one subclass of
:class:`Family` written in NumPy.

All ``loss_gradient`` methods return the per-sample *weighted* loss (shape (n,)) and
gradient (shape (n, n_raw)), where ``raw_prediction`` always has shape (n, n_raw).
"""

import numpy as np
from scipy import optimize, stats
from scipy.special import logsumexp

from . import _kernels

HALF_LOG_2PI = 0.5 * np.log(2.0 * np.pi)

#: Relative step of the central differences behind :meth:`Family.hessian`'s default.
_HESSIAN_STEP = 1e-5


def _as_contiguous(array):
    return np.ascontiguousarray(array, dtype=np.float64)


class Family:
    r"""A conditional distribution ``p(y | x)`` through raw predictions: the public
    base class of every family, built-in or written by a user.

    The model produces, for each sample, ``n_raw`` raw predictions ``eta_i`` (with the
    linear model, ``eta_ij = x_i @ W_j + b_j``).  Column 0 is the linear predictor of
    the mean, ``E[y | x] = inverse_link(eta_i0)``; further columns are the family's
    other parameters on an unconstrained scale (a log scale, log degrees of freedom,
    ...).  The fit minimises the weighted mean of :meth:`loss_gradient`'s per-sample
    negative log-likelihood, so the family fixes the cost, as the seed says.

    A subclass written in NumPy must define :attr:`name`, :attr:`raw_columns`,
    :meth:`loss_gradient` (the *full* NLL, constants included, so that
    log-likelihoods, AIC/BIC and held-out scores compare across families),
    :meth:`mean` and :meth:`distribution`.  :meth:`hessian` (default: central
    differences of the gradient), :meth:`fisher_information` (default: the Hessian),
    :meth:`validate_target` (default: finite reals), :meth:`constant_raw_prediction`
    (default: the intercept-only fit, computed numerically from
    :meth:`initial_raw_prediction`) and :meth:`recession_signs` (default: none) are
    optional.

    Attributes
    ----------
    name : str
        Name of the distribution, used in messages and summaries.
    raw_columns : tuple of str
        Names of the raw-prediction columns; the first is the mean's linear
        predictor.  Its length is :attr:`n_raw`.
    column_modes : tuple
        For each raw column, how the model treats it unless the estimator says
        otherwise: ``"x"`` (a linear function of x), ``"constant"`` (one learned
        value) or a float (fixed at that raw value).  Column 0 is always ``"x"``.
    dispersion_column : int or None
        Index of the column holding the log of the dispersion parameter, which the
        estimator's ``dispersion`` option sets; None if the family has none.
    dispersion_name : str
        Name of that parameter (``"sigma"``, ``"alpha"``, ...).
    link : str
        Name of the link of the mean, for summaries.
    target_kind : str
        What ``y`` must be, for error messages ("real numbers", "counts", ...).
    family : int or None
        Code of the built-in Cython kernel (the fused one-pass loops); None for
        families written in NumPy, which the linear model evaluates through
        :meth:`loss_gradient` and BLAS products.
    hessian_is_constant : bool
        Whether the Hessian is the same at every parameter value.
    fisher_is_hessian : bool
        Whether the Fisher information equals the observed Hessian (canonical links).

    Examples
    --------
    A Laplace distribution with a learned scale, written in NumPy:

    >>> import numpy as np
    >>> from scipy import stats
    >>> from sklearn_mle import Family, MLERegressor
    >>> class Laplace(Family):
    ...     name = "Laplace"
    ...     raw_columns = ("mean", "log_scale")
    ...     column_modes = ("x", "constant")
    ...     dispersion_column, dispersion_name = 1, "scale"
    ...     def loss_gradient(self, y, raw, sample_weight, n_threads=1):
    ...         r, s = y - raw[:, 0], raw[:, 1]
    ...         loss = np.log(2) + s + np.abs(r) * np.exp(-s)
    ...         grad = np.column_stack([-np.sign(r) * np.exp(-s),
    ...                                 1 - np.abs(r) * np.exp(-s)])
    ...         return sample_weight * loss, sample_weight[:, None] * grad
    ...     def initial_raw_prediction(self, y, sample_weight):
    ...         return np.array([np.median(y), np.log(np.std(y))])
    ...     def mean(self, raw):
    ...         return raw[:, 0]
    ...     def distribution(self, raw):
    ...         return stats.laplace(loc=raw[:, 0], scale=np.exp(raw[:, 1]))
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(400, 1))
    >>> y = 1 + 2 * X[:, 0] + rng.laplace(size=400)
    >>> reg = MLERegressor(distribution=Laplace()).fit(X, y)
    >>> np.round(reg.coef_, 1)
    array([2.])
    """

    name = "custom"
    raw_columns = ("mean",)
    column_modes = ("x",)
    dispersion_column = None
    dispersion_name = "dispersion"
    link = "identity"
    target_kind = "real numbers"
    #: Code of the fused one-pass kernel (``_kernels.FAMILY_*``), or None.
    family = None
    #: Whether the Hessian is the same at every parameter value (then the start
    #: preconditioner whitens it exactly and is never refreshed).
    hessian_is_constant = False
    #: Whether the expected Hessian (Fisher information) equals the observed one, as
    #: for canonical links; then a Hessian refresh whitens the objective exactly.
    fisher_is_hessian = True

    @property
    def n_raw(self):
        """Number of raw-prediction columns per sample."""
        return len(self.raw_columns)

    # ------------------------------------------------------------------ targets
    def validate_target(self, y):
        """Targets as float64, or a ValueError naming the family and the bad values.

        The default accepts finite real numbers; families with a restricted domain
        (counts, positive values, proportions) override it.
        """
        y = np.ascontiguousarray(y, dtype=np.float64)
        if not np.all(np.isfinite(y)):
            raise ValueError(f"The {self.name} distribution needs finite targets; y "
                             "contains NaN or infinity.")
        return y

    def _reject(self, y, bad, requirement):
        """Raise the domain error: ``bad`` marks the targets outside the domain."""
        first = np.flatnonzero(bad)
        shown = ", ".join(f"y[{i}] = {y[i]!r}" for i in first[:3])
        raise ValueError(f"The {self.name} distribution needs {requirement}; "
                         f"{first.size} target(s) are not: {shown}"
                         f"{', ...' if first.size > 3 else ''}.")

    # ------------------------------------------------------------- per sample
    def loss_gradient(self, y, raw_prediction, sample_weight, n_threads=1):
        """Per-sample weighted NLL (n,) and its gradient wrt raw predictions (n, n_raw)."""
        raise NotImplementedError(f"{type(self).__name__} must define loss_gradient")

    def hessian(self, y, raw_prediction, sample_weight, n_threads=1):
        """Per-sample weighted Hessian wrt raw predictions, shape (n, n_raw, n_raw).

        The default differentiates :meth:`loss_gradient` by central differences.
        """
        raw = np.array(raw_prediction, dtype=np.float64)
        n, m = raw.shape
        out = np.empty((n, m, m))
        for k in range(m):
            step = _HESSIAN_STEP * np.maximum(1.0, np.abs(raw[:, k]))
            raw[:, k] += step
            _, upper = self.loss_gradient(y, raw, sample_weight, n_threads)
            raw[:, k] -= 2 * step
            _, lower = self.loss_gradient(y, raw, sample_weight, n_threads)
            raw[:, k] += step
            out[:, :, k] = (upper - lower) / (2 * step)[:, None]
        return 0.5 * (out + out.transpose(0, 2, 1))

    def fisher_information(self, y, raw_prediction, sample_weight, n_threads=1):
        """Per-sample expected Hessian (Fisher information) wrt raw predictions.

        Equal to :meth:`hessian` for canonical-link families (the default); always
        positive semi-definite, so it serves as a preconditioner where the observed
        Hessian may be indefinite.
        """
        return self.hessian(y, raw_prediction, sample_weight, n_threads)

    # ------------------------------------------------------------------- start
    def initial_raw_prediction(self, y, sample_weight):
        """A rough constant raw prediction (n_raw,) from which
        :meth:`constant_raw_prediction` starts; the default is 0 for every column
        but the mean's, which gets the weighted mean of y."""
        start = np.zeros(self.n_raw)
        start[0] = np.average(y, weights=sample_weight)
        return start

    def constant_raw_prediction(self, y, sample_weight, free=None, fixed=None):
        """Raw prediction (n_raw,) of the best constant model: the intercept-only MLE.

        ``free`` marks the columns whose constant is estimated (default all) and
        ``fixed`` gives the raw values of the others.  The default minimises the
        weighted NLL numerically from :meth:`initial_raw_prediction`.
        """
        start = np.asarray(self.initial_raw_prediction(y, sample_weight), dtype=float)
        free = np.ones(self.n_raw, bool) if free is None else np.asarray(free, bool)
        if fixed is not None:
            start = np.where(free, start, fixed)
        weights = np.asarray(sample_weight, dtype=np.float64)
        weights = weights / weights.sum()

        def objective(values):
            raw = np.tile(start, (y.size, 1))
            raw[:, free] = values
            with np.errstate(over="ignore", invalid="ignore"):
                loss, gradient = self.loss_gradient(y, raw, weights)
                value = float(loss.sum())
            if not np.isfinite(value):
                return np.inf, np.zeros(values.size)
            return value, gradient[:, free].sum(axis=0)

        if free.any():
            solution = optimize.minimize(objective, start[free], jac=True,
                                         method="L-BFGS-B",
                                         options={"gtol": 1e-10, "ftol": 0.0})
            start[free] = solution.x
        return start

    def unit_hessian_at_constant(self, constant_raw, y=None, sample_weight=None):
        """Hessian (n_raw, n_raw) of the expected NLL of one unit-weight sample at a
        constant model, used to build the preconditioner (``unit_hessian ⊗ Gram``).

        The default averages the Fisher information over the training targets ``y``
        (weights ``sample_weight``) at the constant raw prediction.
        """
        if y is None:
            raise ValueError(f"{type(self).__name__}.unit_hessian_at_constant needs the "
                             "targets y")
        weights = np.asarray(sample_weight, dtype=np.float64)
        weights = weights / weights.sum()
        raw = np.tile(np.asarray(constant_raw, dtype=np.float64), (y.size, 1))
        with np.errstate(over="ignore", invalid="ignore"):
            info = self.fisher_information(y, raw, weights).sum(axis=0)
        info = np.nan_to_num(0.5 * (info + info.T))
        # never a column without curvature: the preconditioner divides by it
        diagonal = np.maximum(np.diag(info), 1e-6)
        info[np.diag_indices_from(info)] = diagonal
        return info

    # -------------------------------------------------------------- prediction
    def mean(self, raw_prediction):
        """Expected value of y at each row of raw predictions (the inverse link)."""
        raise NotImplementedError(f"{type(self).__name__} must define mean")

    def distribution(self, raw_prediction):
        """Predictive distribution of y at each row: a frozen ``scipy.stats`` object
        vectorised over samples."""
        raise NotImplementedError(f"{type(self).__name__} must define distribution")

    # --------------------------------------------------------------- existence
    def recession_signs(self, y):
        """How the NLL of each sample behaves along its mean's linear predictor.

        None if no sample's NLL keeps decreasing as the linear predictor runs off to
        infinity (then a linear model cannot make the likelihood unbounded through
        the mean).  Otherwise an int8 array: ``-1`` where the NLL decreases for ever
        as the predictor goes to ``-inf`` (a zero count under a log link), ``+1``
        where it does as the predictor goes to ``+inf`` (a proportion of 1 under a
        logit link), ``0`` where it has a minimum.  The maximum likelihood estimate
        then fails to exist exactly when some direction of the coefficients moves
        every sample's predictor only in its sign's direction (and some strictly).
        """
        return None

    def boundary_note(self, constant_raw):
        """A one-sentence note when the fitted constant raw predictions
        ``constant_raw`` (n_raw,) lie on a boundary of the family that is a limit
        of it rather than a failure of the fit (the Student-t's degrees of freedom
        running to infinity: the Gaussian), for the estimator to report instead of
        warning; None otherwise (the default)."""
        return None


#: The internal name of the base class before it became public.
BaseLoss = Family


class BernoulliLoss(BaseLoss):
    """Bernoulli distribution with logit link: ``p(y=1|x) = sigmoid(raw)``.

    Targets are 0/1 floats.
    """

    name = "Bernoulli"
    raw_columns = ("logit",)
    link = "logit"
    target_kind = "0/1 labels"
    family = _kernels.FAMILY_BERNOULLI

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

    name = "categorical"
    link = "softmax"
    target_kind = "class indices"
    family = _kernels.FAMILY_CATEGORICAL

    def __init__(self, n_classes):
        self.n_classes = n_classes
        self.raw_columns = tuple(f"score_{k}" for k in range(n_classes))
        self.column_modes = ("x",) * n_classes

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


class _GaussianPrediction:
    """Mean and predictive distribution shared by the two Gaussian families."""

    name = "Gaussian"
    dispersion_name = "sigma"

    def mean(self, raw_prediction):
        return np.array(raw_prediction[:, 0], dtype=np.float64)

    def scale(self, raw_prediction):
        """sigma at each row, saturating at the smallest/largest positive doubles
        instead of reaching 0 or inf, so that intervals and densities stay defined."""
        if raw_prediction.shape[1] == 1:
            return np.ones(raw_prediction.shape[0])
        tiny, huge = np.finfo(float).tiny, np.finfo(float).max
        log_std = np.clip(raw_prediction[:, 1], np.log(tiny), np.log(huge))
        return np.clip(np.exp(log_std), tiny, huge)

    def distribution(self, raw_prediction):
        return stats.norm(loc=self.mean(raw_prediction), scale=self.scale(raw_prediction))


class GaussianFixedScaleLoss(_GaussianPrediction, BaseLoss):
    """Gaussian distribution with unit variance; the raw prediction is the mean."""

    raw_columns = ("mean",)
    #: The Hessian does not depend on the parameters (a quadratic objective).
    hessian_is_constant = True
    family = _kernels.FAMILY_GAUSSIAN_FIXED

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


class GaussianLoss(_GaussianPrediction, BaseLoss):
    """Gaussian distribution with learned scale.

    Raw-prediction columns are ``(mean, log sigma)``; a shared sigma is the special
    case of a constant second column.
    """

    raw_columns = ("mean", "log_scale")
    column_modes = ("x", "constant")
    dispersion_column = 1
    fisher_is_hessian = False
    family = _kernels.FAMILY_GAUSSIAN

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


def _count_target(family, y):
    """y as float64 if it holds finite non-negative integers, else the family's error."""
    y = np.ascontiguousarray(y, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(y) | (y < 0) | (y != np.floor(y))
    if bad.any():
        family._reject(y, bad, "non-negative integer counts")
    return y


class _KernelFamily(BaseLoss):
    """A family whose per-sample loops are the Cython kernels ``<_kernel>_loss_gradient``,
    ``<_kernel>_hessian`` and ``<_kernel>_fisher`` (weighted, full (m, m) matrices)."""

    _kernel = None

    def _call(self, suffix, *arrays):
        return getattr(_kernels, f"{self._kernel}_{suffix}")(*arrays)

    def loss_gradient(self, y, raw_prediction, sample_weight, n_threads=1):
        n = y.shape[0]
        loss, gradient = np.empty(n), np.empty((n, self.n_raw))
        self._call("loss_gradient", y, _as_contiguous(raw_prediction),
                   _as_contiguous(sample_weight), loss, gradient, n_threads)
        return loss, gradient

    def hessian(self, y, raw_prediction, sample_weight, n_threads=1):
        out = np.empty((y.shape[0], self.n_raw, self.n_raw))
        self._call("hessian", y, _as_contiguous(raw_prediction),
                   _as_contiguous(sample_weight), out, n_threads)
        return out

    def fisher_information(self, y, raw_prediction, sample_weight, n_threads=1):
        out = np.empty((raw_prediction.shape[0], self.n_raw, self.n_raw))
        self._call("fisher", _as_contiguous(raw_prediction),
                   _as_contiguous(sample_weight), out, n_threads)
        return out

    def unit_hessian_at_constant(self, constant_raw, y=None, sample_weight=None):
        """The Fisher information of one unit-weight sample at the constant raw
        prediction (it does not depend on y), each diagonal entry at least 1e-6."""
        raw = np.asarray(constant_raw, dtype=np.float64).reshape(1, -1)
        info = self.fisher_information(None, raw, np.ones(1))[0]
        info[np.diag_indices_from(info)] = np.maximum(np.diag(info), 1e-6)
        return info


class NegativeBinomialLoss(_KernelFamily):
    r"""Negative binomial distribution (NB2) with log link.

    Raw-prediction columns ``(log mu, log alpha)``: ``E[y] = mu``, ``Var[y] = mu +
    alpha mu^2``; with ``r = 1 / alpha`` the NLL is the full

    .. math:: -\log\Gamma(y + r) + \log\Gamma(r) + \log\Gamma(y + 1)
              - r \log\frac{r}{r + \mu} - y \log\frac{\mu}{r + \mu},

    evaluated without cancellation as ``alpha -> 0`` (the Poisson limit) or
    ``alpha -> inf``.  ``alpha`` is learned by maximum likelihood: one constant by
    default, a linear function of x (on the log scale) or fixed if the estimator says
    so.  Targets are non-negative integer counts.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_mle._loss import NegativeBinomialLoss
    >>> family = NegativeBinomialLoss()
    >>> y = np.array([0.0, 3.0, 1.0, 8.0])
    >>> raw = np.tile(family.constant_raw_prediction(y, np.ones(4)), (4, 1))
    >>> bool(np.isclose(family.mean(raw)[0], y.mean()))
    True
    >>> loss, _ = family.loss_gradient(y, raw, np.ones(4))
    >>> bool(np.allclose(loss, -family.distribution(raw).logpmf(y)))
    True
    """

    name = "negative binomial"
    raw_columns = ("mean", "log_alpha")
    column_modes = ("x", "constant")
    dispersion_column = 1
    dispersion_name = "alpha"
    link = "log"
    target_kind = "non-negative integer counts"
    family = _kernels.FAMILY_NEGATIVE_BINOMIAL
    _kernel = "negative_binomial"
    #: alpha below which the fit is reported as the Poisson limit: the log-pmf differs
    #: from the Poisson's by alpha ((y - mu)^2 - y) / 2 + O(alpha^2), below 1e-6 per
    #: sample for counts within a few standard deviations of a mean of order 1; with
    #: equi- or underdispersed counts the solver stops log alpha near -20.
    POISSON_LIMIT_ALPHA = 1e-6
    fisher_is_hessian = False

    def validate_target(self, y):
        return _count_target(self, y)

    def initial_raw_prediction(self, y, sample_weight):
        """log of the mean of y and log alpha from the method of moments,
        ``alpha = (variance - mean) / mean^2`` (at least 1e-8)."""
        mean = max(np.average(y, weights=sample_weight), np.finfo(float).tiny)
        variance = np.average((y - mean) ** 2, weights=sample_weight)
        alpha = max((variance - mean) / mean ** 2, 1e-8)
        return np.array([np.log(mean), np.log(alpha)])

    def constant_raw_prediction(self, y, sample_weight, free=None, fixed=None):
        """The intercept-only MLE: the mean is the weighted mean of y whatever alpha
        (its score is sum w (y - mu) / (1 + alpha mu)), log alpha a 1-D minimisation
        from the method of moments."""
        free = np.ones(2, bool) if free is None else np.asarray(free, bool)
        start = self.initial_raw_prediction(y, sample_weight)
        if fixed is not None:
            start = np.where(free, start, fixed)
        return super().constant_raw_prediction(y, sample_weight, free=[False, free[1]],
                                               fixed=start)

    def mean(self, raw_prediction):
        tiny, huge = np.finfo(float).tiny, np.finfo(float).max
        return np.exp(np.clip(raw_prediction[:, 0], np.log(tiny), np.log(huge)))

    def distribution(self, raw_prediction):
        """``scipy.stats.nbinom(n=1/alpha, p=1/(1 + alpha mu))`` per row."""
        log_alpha = np.clip(raw_prediction[:, 1], -700.0, 700.0)
        t = log_alpha + np.clip(raw_prediction[:, 0], -700.0, 700.0)
        return stats.nbinom(n=np.exp(-log_alpha), p=np.exp(-np.logaddexp(0.0, t)))

    def recession_signs(self, y):
        """-1 for zero counts: their NLL decreases for ever as log mu -> -inf."""
        return np.where(np.asarray(y) == 0, -1, 0).astype(np.int8)

    def boundary_note(self, constant_raw):
        """The note that alpha ran to 0: no overdispersion, the Poisson limit."""
        log_alpha = float(np.asarray(constant_raw, dtype=float)[1])
        if log_alpha < np.log(self.POISSON_LIMIT_ALPHA):
            return (f"The negative binomial alpha is {np.exp(log_alpha):.3g} "
                    f"(< {self.POISSON_LIMIT_ALPHA:g}), where the likelihood is flat: "
                    "the counts show no overdispersion, and the fit is the Poisson "
                    "limit.")
        return None


class StudentTLoss(_KernelFamily):
    r"""Student-t distribution (location-scale) with identity link.

    Raw-prediction columns ``(mu, log sigma, log nu)``; with ``z = (y - mu) / sigma``
    the full NLL is

    .. math:: -\log\Gamma\left(\tfrac{\nu+1}{2}\right)
              + \log\Gamma\left(\tfrac{\nu}{2}\right)
              + \tfrac12 \log(\nu\pi) + \log\sigma
              + \tfrac{\nu+1}{2}\log\left(1 + \frac{z^2}{\nu}\right),

    which tends to the Gaussian's as ``nu -> inf`` without cancellation.  ``mean`` is
    the location mu (the mean of y where ``nu > 1``).

    Parameters
    ----------
    df : float or None, default=None
        Degrees of freedom: None learns ``log nu`` as a constant; a float > 0 fixes
        it (``column_modes[2] = log(df)``).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_mle._loss import StudentTLoss
    >>> family = StudentTLoss(df=4.0)
    >>> raw = np.array([[0.5, np.log(2.0), np.log(4.0)]])
    >>> loss, _ = family.loss_gradient(np.array([3.0]), raw, np.ones(1))
    >>> bool(np.isclose(-loss[0], family.distribution(raw).logpdf(3.0)[0]))
    True
    """

    name = "Student-t"
    raw_columns = ("mean", "log_scale", "log_df")
    dispersion_column = 1
    dispersion_name = "sigma"
    link = "identity"
    family = _kernels.FAMILY_STUDENT_T
    _kernel = "student_t"
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
                                 f"positive finite number or None; got {df!r}.")
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

    def distribution(self, raw_prediction):
        """``scipy.stats.t(df=nu, loc=mu, scale=sigma)`` per row."""
        tiny, huge = np.finfo(float).tiny, np.finfo(float).max
        bounds = np.log(tiny), np.log(huge)
        return stats.t(df=np.exp(np.clip(raw_prediction[:, 2], *bounds)),
                       loc=raw_prediction[:, 0],
                       scale=np.exp(np.clip(raw_prediction[:, 1], *bounds)))

    def boundary_note(self, constant_raw):
        """The note that the degrees of freedom ran to the Gaussian limit."""
        log_df = float(np.asarray(constant_raw, dtype=float)[2])
        if self.df is None and log_df > np.log(self.GAUSSIAN_LIMIT_DF):
            return (f"The Student-t degrees of freedom ran to {np.exp(log_df):.3g} "
                    f"(> {self.GAUSSIAN_LIMIT_DF:g}), where the likelihood is flat: "
                    "the data show no heavier tails than a Gaussian's, and the fit "
                    "is the Gaussian limit.")
        return None
