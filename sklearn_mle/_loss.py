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
from scipy.special import gammaln, logsumexp

from . import _kernels
from ._unbounded import VARIANCE_COLLAPSE_FALLBACK_RIDGE

HALF_LOG_2PI = 0.5 * np.log(2.0 * np.pi)

#: Relative step of the central differences behind :meth:`Family.hessian`'s default.
_HESSIAN_STEP = 1e-5


#: Fallback ridge of the Gamma and Student-t where their scale collapses.  Along a
#: collapse the objective falls about linearly in the log scale while the rounding
#: error of the exactly fitted targets is divided by the scale: with the Gaussian's
#: 1e-3 their stand-in fit sits so far out (scale ~ e^-250 s0) that this noise stops
#: the solver short and the answer depends on rounding (measured: scikit-learn's
#: sample-weight checks, p > n, weights against repeated rows disagreed by up to 8 %).
#: 3e-2 keeps the scale above ~1e-11 s0, where every such fit converged (1e-2 did
#: not for the Student-t).
_COLLAPSE_FALLBACK_RIDGE = 3e-2


def _as_contiguous(array):
    return np.ascontiguousarray(array, dtype=np.float64)


def _positive_exp(log_value):
    """exp(log_value), saturating at the smallest/largest positive doubles instead of
    reaching 0 or inf, so that means, intervals and densities stay defined."""
    tiny, huge = np.finfo(float).tiny, np.finfo(float).max
    return np.clip(np.exp(np.clip(log_value, np.log(tiny), np.log(huge))), tiny, huge)


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
    :meth:`initial_raw_prediction`), :meth:`recession_signs` (default: none) and
    :meth:`log_likelihood_constant` (default: 0) are optional.

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
    The logistic distribution (a smooth, heavier-tailed alternative to the Gaussian)
    with a learned scale, written in NumPy: NLL ``= z + 2 log(1 + exp(-z)) + log s``
    with ``z = (y - mu) / s``:

    >>> import numpy as np
    >>> from scipy import stats
    >>> from sklearn_mle import Family, MLERegressor
    >>> class Logistic(Family):
    ...     name = "logistic"
    ...     raw_columns = ("mean", "log_scale")
    ...     column_modes = ("x", "constant")
    ...     dispersion_column, dispersion_name = 1, "scale"
    ...     def loss_gradient(self, y, raw, sample_weight, n_threads=1):
    ...         z = (y - raw[:, 0]) * np.exp(-raw[:, 1])
    ...         loss = z + 2 * np.logaddexp(0, -z) + raw[:, 1]
    ...         slope = np.tanh(z / 2)
    ...         grad = np.column_stack([-slope * np.exp(-raw[:, 1]), 1 - z * slope])
    ...         return sample_weight * loss, sample_weight[:, None] * grad
    ...     def initial_raw_prediction(self, y, sample_weight):
    ...         return np.array([np.median(y), np.log(np.std(y))])
    ...     def mean(self, raw):
    ...         return raw[:, 0]
    ...     def distribution(self, raw):
    ...         return stats.logistic(loc=raw[:, 0], scale=np.exp(raw[:, 1]))
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(400, 1))
    >>> y = 1 + 2 * X[:, 0] + rng.logistic(size=400)
    >>> reg = MLERegressor(distribution=Logistic()).fit(X, y)
    >>> np.round(reg.coef_, 1)
    array([2.])
    """

    name = "custom"
    raw_columns = ("mean",)
    column_modes = ("x",)
    dispersion_column = None
    dispersion_name = "dispersion"
    #: Short name of the dispersion parameter in summaries (default: its name).
    dispersion_symbol = property(lambda self: self.dispersion_name)
    link = "identity"
    target_kind = "real numbers"
    #: Code of the fused one-pass kernel (``_kernels.FAMILY_*``), or None.
    family = None
    #: Whether the solver's Hessian refreshes should use the observed Hessian instead
    #: of the Fisher information (where the latter is costly to compute).
    refresh_with_observed_hessian = False
    #: Whether the Hessian is the same at every parameter value (then the start
    #: preconditioner whitens it exactly and is never refreshed).
    hessian_is_constant = False
    #: Whether the expected Hessian (Fisher information) equals the observed one, as
    #: for canonical links; then a Hessian refresh whitens the objective exactly.
    fisher_is_hessian = True
    #: The raw columns on which a sample's Fisher information depends (it depends on
    #: neither y nor the others), or None: it may depend on y and on every column.
    #: Where none of them varies with x, every sample has the same information and
    #: the model forms the expected Hessian from the Gram matrix of the design,
    #: without a pass over X.
    fisher_columns = None

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

    def constant_loss(self, y, raw_row, sample_weight, n_threads=1):
        """Weighted NLL summed over samples that all have the raw prediction
        ``raw_row`` (n_raw,): the null model's, for ``loglik_null_``."""
        raw = np.tile(np.asarray(raw_row, dtype=np.float64), (np.size(y), 1))
        return float(np.sum(self.loss_gradient(y, raw, sample_weight, n_threads)[0]))

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
        if not free.any():
            return start
        # The constant model's NLL depends on y only through its distinct values and
        # their total weights: counts have few, which makes every evaluation cheap.
        y, weights = _distinct_targets(np.asarray(y, dtype=np.float64),
                                       np.asarray(sample_weight, dtype=np.float64))
        weights = weights / weights.sum()
        columns = np.flatnonzero(free)
        from ._base import n_threads  # (the fit machinery imports this module)
        threads = n_threads(y.size * self.n_raw)

        def evaluate(values, curvature=False):
            raw = np.tile(start, (y.size, 1))
            raw[:, free] = values
            with np.errstate(over="ignore", invalid="ignore"):
                loss, gradient = self.loss_gradient(y, raw, weights, threads)
                value = float(loss.sum())
                info = (self.fisher_information(y, raw, weights, threads).sum(axis=0)
                        [np.ix_(columns, columns)] if curvature else None)
            if not np.isfinite(value):
                return np.inf, np.zeros(values.size), info
            return value, gradient[:, free].sum(axis=0), info

        # Columns other than the mean are logs (of a scale, degrees of freedom, ...):
        # kept within e^30 of their start, so that a null model that collapses (one
        # sample, a constant target) still gives a finite start.
        low = np.where(columns == 0, -np.inf, start[free] - 30.0)
        high = np.where(columns == 0, np.inf, start[free] + 30.0)
        values = _fisher_scoring(evaluate, start[free].copy(), low, high)
        if values is None:  # scoring stalled: the quasi-Newton fallback
            solution = optimize.minimize(
                lambda v: evaluate(v)[:2], start[free], jac=True, method="L-BFGS-B",
                bounds=list(zip(np.where(np.isinf(low), None, low),
                                np.where(np.isinf(high), None, high))),
                options={"gtol": 1e-10, "ftol": 0.0})
            values = solution.x
        if np.all(np.isfinite(values)):
            start[free] = values
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

    def std(self, raw_prediction):
        """Standard deviation of y at each row (that of :meth:`distribution`, inf
        where it exceeds the doubles)."""
        with np.errstate(over="ignore", invalid="ignore"):
            std = np.asarray(self.distribution(raw_prediction).std(), dtype=np.float64)
        return np.where(np.isnan(std), np.inf, std)

    def log_likelihood_constant(self, y, sample_weight):
        """Per-sample part of the log-likelihood that is not ``-sample_weight * NLL``
        (zeros; a binomial's log C(n, k) with n trials passed as weights is one)."""
        return np.zeros(np.shape(y)[0])

    # ------------------------------------------------------------ for the fit
    #: Whether y must be positive (or non-negative): sets the estimator's tags.
    positive_target = False
    #: Whether the option ``variance=`` of the Gaussian applies.
    variance_option = False
    #: Whether the mean is a least-squares fit (R², OLS inference apply).
    least_squares = False
    #: Whether the family assumes a scale of 1 that it does not estimate (the
    #: summary and predictive distribution then say so and test it).
    assumes_unit_scale = False
    #: Fitted attributes the family fixes by assumption, e.g. ``{"scale_": 1.0}``.
    fixed_attributes = {}
    #: Ridge, in the whitened units of the start Hessian, of the finite stand-in fit
    #: returned where the MLE does not exist.
    fallback_ridge = VARIANCE_COLLAPSE_FALLBACK_RIDGE
    #: Whether a sample weight is a number of trials behind the target (binomial
    #: proportions) rather than a count of repeated rows; then a held-out per-sample
    #: log-likelihood depends on it.
    weights_are_trials = False

    def specialise(self, column_modes):
        """The family and column modes to fit for the modes the user chose: a family
        may hand over to a cheaper equivalent (the Gaussian with sigma fixed at 1
        to the unit-variance one, whose objective is quadratic)."""
        return self, tuple(column_modes)

    def mean_penalty_weight(self, null_raw):
        """Weight of the mean's coefficients in the L2 penalty, given the null model's
        raw prediction: 1, or ``1 / s0**2`` where the mean is in the units of y (so
        that a fit is equivariant in those units)."""
        return 1.0

    def equivariant_target_scale(self, y):
        """A factor c such that fitting y / c and multiplying the mean's parameters by
        c is exactly the fit of y (1.0: no such rescaling)."""
        return 1.0

    def describe(self, column_modes):
        """One line naming the distribution, its link and how its dispersion is
        treated (for summaries)."""
        j = self.dispersion_column
        if j is None:
            return f"{self.name} ({self.link} link)"
        text, name, mode = f"{self.name} ({self.link})", self.dispersion_symbol, column_modes[j]
        if mode == "x":
            return f"{text}, log {name}(x) linear"
        if mode == "constant":
            return f"{text}, {name} learned"
        return f"{text}, {name} = {np.exp(mode):.4g} fixed"

    #: The column whose running off to a limit ``boundary_note`` reports (the
    #: Student-t's log degrees of freedom), or None.
    boundary_column = None

    def boundary_note(self, constant_raw):
        """A sentence when the fit sits on the boundary of the parameter space where
        the family becomes another one (e.g. Student-t degrees of freedom running to
        infinity: the Gaussian), else None.  A boundary is not an unbounded
        likelihood: the estimators report it without a warning."""
        return None

    # --------------------------------------------------------------- existence
    def collapse_log_scale(self, raw_prediction):
        """Log of a spread in the units of the mean's target (sigma for a Gaussian),
        per sample, for families whose dispersion can collapse to 0 where the mean
        fits the targets exactly (then the density, and the likelihood, grow without
        bound); None for families where it cannot.  It must read only the
        dispersion columns (not the mean's), so that a constant dispersion gives the
        same value on every sample and the existence check can judge it on one."""
        return None

    @property
    def can_collapse(self):
        """bool: Whether the family declares a dispersion that can collapse
        (:meth:`collapse_log_scale` is not None)."""
        return self.collapse_log_scale(np.zeros((1, self.n_raw))) is not None

    #: Whether a collapse on only some samples (those the mean fits exactly) can make
    #: the likelihood unbounded even with a constant dispersion.
    partial_collapse = False

    def partial_collapse_unbounded(self, exact_weight, total_weight, raw_prediction):
        """Whether exact fits of total weight ``exact_weight`` (of ``total_weight``)
        make the likelihood unbounded as the scale collapses (see
        :attr:`partial_collapse`)."""
        return False

    def collapse_target(self, y):
        """The target the mean's linear predictor fits exactly when a dispersion
        collapses (y for an identity link, log y for a log link)."""
        return y

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


#: The internal name of the base class before it became public.
BaseLoss = Family


#: Targets looked at first to tell counts from continuous values.
_DISTINCT_PROBE = 1000


def _distinct_targets(y, weights):
    """The distinct values of y with their total weights, where that shortens y by
    half or more (counts, proportions); else y and the weights as they are."""
    if y.size > 2 * _DISTINCT_PROBE and np.unique(y[:_DISTINCT_PROBE]).size > \
            _DISTINCT_PROBE // 2:
        return y, weights  # continuous targets: not worth sorting all of them
    values, inverse = np.unique(y, return_inverse=True)
    if values.size > y.size // 2:
        return y, weights
    return values, np.bincount(inverse.reshape(-1), weights=weights,
                               minlength=values.size)


#: Fisher-scoring steps of the constant fit before it gives way to L-BFGS-B ...
_SCORING_MAX_STEPS = 50
#: ... its stopping rule: the Newton decrement g' I^-1 g below this (relative to the
#: value: below it the predicted decrease is rounding) ...
_SCORING_DECREMENT = 1e-15
#: ... and the halvings a step may take before the fit counts as stalled.
_SCORING_HALVINGS = 20


def _fisher_scoring(evaluate, values, low, high):
    """Minimise a smooth function of a few variables by Fisher scoring: steps
    ``-I^-1 g`` (I the Fisher information, positive semi-definite; a little damping
    where it is singular), halved until the value does not increase, kept within
    [low, high].  Returns the minimiser, or None if it stalls (the caller then uses
    L-BFGS-B).  ``evaluate(values, curvature)`` returns (value, gradient,
    information or None)."""
    value, gradient, info = evaluate(values, True)
    for _ in range(_SCORING_MAX_STEPS):
        if not np.isfinite(value) or not np.all(np.isfinite(info)):
            return None
        damping = 1e-12 * max(np.max(np.abs(np.diag(info))), 1e-300)
        try:
            step = np.linalg.solve(info + damping * np.eye(info.shape[0]), gradient)
        except np.linalg.LinAlgError:
            return None
        decrement = float(gradient @ step)
        if not decrement >= 0:
            return None
        if decrement < _SCORING_DECREMENT * max(abs(value), 1.0):
            return values
        length = 1.0
        for _ in range(_SCORING_HALVINGS):
            candidate = np.clip(values - length * step, low, high)
            candidate_value, candidate_gradient, _ = evaluate(candidate)
            if candidate_value <= value:
                break
            length /= 2
        else:
            return None
        if np.array_equal(candidate, values):
            return values
        values, value, gradient = candidate, candidate_value, candidate_gradient
        info = evaluate(values, True)[2]
    return None


class _KernelFamily(Family):
    """A built-in family: its per-sample NLL, gradient, observed Hessian and Fisher
    information are the Cython kernels of code :attr:`family` (``_kernels.FAMILY_*``),
    which the fused one-pass loops of the linear model use as well."""

    @property
    def kernel(self):
        """Code of the per-sample kernels; :attr:`family` unless a subclass keeps the
        kernels but leaves the fused path (``family = None``) and names its code."""
        return self.family

    def unit_hessian_at_constant(self, constant_raw, y=None, sample_weight=None):
        """The Fisher information of one unit-weight sample at the constant raw
        prediction: an expectation over y, so it is computed once, not averaged over
        the targets (for canonical families it is the observed Hessian, which does
        not depend on y either)."""
        return super().unit_hessian_at_constant(constant_raw, np.zeros(1), np.ones(1))

    def _arrays(self, y, raw_prediction, sample_weight):
        y = _as_contiguous(y)
        raw = _as_contiguous(raw_prediction).reshape(y.shape[0], -1)
        return y, raw, _as_contiguous(sample_weight)

    def loss_gradient(self, y, raw_prediction, sample_weight, n_threads=1):
        y, raw, weight = self._arrays(y, raw_prediction, sample_weight)
        loss = np.empty(raw.shape[0])
        gradient = np.empty(raw.shape)
        _kernels.loss_gradient(self.kernel, y, raw, weight, loss, gradient, n_threads)
        return loss, gradient

    def constant_loss(self, y, raw_row, sample_weight, n_threads=1):
        return _kernels.constant_loss(self.kernel, _as_contiguous(y),
                                      _as_contiguous(raw_row).reshape(-1),
                                      _as_contiguous(sample_weight), n_threads)

    def hessian(self, y, raw_prediction, sample_weight, n_threads=1):
        y, raw, weight = self._arrays(y, raw_prediction, sample_weight)
        out = np.empty((raw.shape[0], raw.shape[1], raw.shape[1]))
        _kernels.hessian(self.kernel, y, raw, weight, out, n_threads)
        return out

    def fisher_information(self, y, raw_prediction, sample_weight, n_threads=1):
        y, raw, weight = self._arrays(y, raw_prediction, sample_weight)
        out = np.empty((raw.shape[0], raw.shape[1], raw.shape[1]))
        _kernels.fisher_information(self.kernel, y, raw, weight, out, n_threads)
        return out


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


class _GaussianPrediction:
    """Mean, predictive distribution and fit hooks shared by the two Gaussian
    families."""

    name = "Gaussian"
    dispersion_name = "sigma"
    variance_option = True
    least_squares = True

    def describe(self, column_modes):
        if len(column_modes) == 1 or column_modes[1] == 0.0:
            return "Gaussian, σ = 1 assumed"
        mode = column_modes[1]
        if mode == "x":
            return "Gaussian, log σ(x) linear"
        if mode == "constant":
            return "Gaussian, σ learned"
        return f"Gaussian, σ = {np.exp(mode):.6g} fixed"

    def variance_label(self, column_modes):
        """The ``variance=`` option equivalent to these modes (for titles)."""
        if len(column_modes) == 1:
            return "fixed"
        return {"x": "heteroscedastic", "constant": "constant"}.get(column_modes[1],
                                                                   "fixed")

    def constant_raw_prediction(self, y, sample_weight, free=None, fixed=None):
        """The null model: the weighted mean of y (0 when the mean's intercept is not
        free) and, with a scale column, ``log sigma`` from :func:`null_log_scale` (or
        its fixed value)."""
        free = np.ones(self.n_raw, bool) if free is None else np.asarray(free, bool)
        fixed = np.zeros(self.n_raw) if fixed is None else np.asarray(fixed, float)
        raw = np.array(fixed, dtype=np.float64)
        if free[0]:
            raw[0] = np.average(y, weights=sample_weight)
        if self.n_raw == 2 and free[1]:
            raw[1] = null_log_scale(y, sample_weight, bool(free[0]))
        return raw

    def unit_hessian_at_constant(self, constant_raw, y=None, sample_weight=None):
        # E[d2/dmu2] = 1/sigma^2, E[d2/ds2] = 2, E[d2/dmu ds] = 0 at the constant MLE.
        if self.n_raw == 1:
            return np.ones((1, 1))
        return np.diag([np.exp(-2.0 * constant_raw[1]), 2.0])

    def mean_penalty_weight(self, null_raw):
        return 1.0 if self.n_raw == 1 else float(np.exp(-2.0 * null_raw[1]))

    def collapse_log_scale(self, raw_prediction):
        return raw_prediction[:, 1] if raw_prediction.shape[1] == 2 else None

    def mean(self, raw_prediction):
        return np.array(raw_prediction[:, 0], dtype=np.float64)

    def scale(self, raw_prediction):
        """sigma at each row, saturating at the smallest/largest positive doubles
        instead of reaching 0 or inf, so that intervals and densities stay defined."""
        if raw_prediction.shape[1] == 1:
            return np.ones(raw_prediction.shape[0])
        return _positive_exp(raw_prediction[:, 1])

    def distribution(self, raw_prediction):
        return stats.norm(loc=self.mean(raw_prediction), scale=self.scale(raw_prediction))

    def std(self, raw_prediction):
        return self.scale(raw_prediction)


class GaussianFixedScaleLoss(_GaussianPrediction, _KernelFamily):
    """Gaussian distribution with unit variance; the raw prediction is the mean."""

    raw_columns = ("mean",)
    assumes_unit_scale = True
    fixed_attributes = {"scale_": 1.0}
    #: The Hessian does not depend on the parameters (a quadratic objective).
    hessian_is_constant = True
    family = _kernels.FAMILY_GAUSSIAN_FIXED
    fisher_columns = ()  # 1

    def specialise(self, column_modes):
        return self, ("x",)

    def equivariant_target_scale(self, y):
        """max|y|: with sigma fixed at 1 the objective is quadratic in y's units, so
        fitting y / max|y| is an exact rescaling (coefficients, intercept and penalty
        scale together) under which targets of any magnitude, 1e-12 or 1e150, meet
        the same relative tolerance and never overflow."""
        largest = float(np.max(np.abs(y))) if y.size else 0.0
        return largest if np.isfinite(largest) and largest > 0 else 1.0


class GaussianLoss(_GaussianPrediction, _KernelFamily):
    """Gaussian distribution with learned scale.

    Raw-prediction columns are ``(mean, log sigma)``; a shared sigma is the special
    case of a constant second column.
    """

    raw_columns = ("mean", "log_scale")
    column_modes = ("x", "constant")
    dispersion_column = 1
    fisher_is_hessian = False
    family = _kernels.FAMILY_GAUSSIAN
    fisher_columns = (1,)  # diag(1 / sigma^2, 2)

    def specialise(self, column_modes):
        if column_modes[1] == 0.0:  # sigma fixed at 1: the quadratic objective
            return GaussianFixedScaleLoss(), ("x",)
        return self, tuple(column_modes)


def null_log_scale(y, weights, fit_intercept):
    """``log sigma`` of the Gaussian null model: the log of the weighted root mean
    square of y about its weighted mean (about 0 when ``fit_intercept=False``).

    Computed on ``y / max|y|`` so that no square under- or overflows.  When that spread
    is 0 (a constant target, where the null model itself collapses) the root mean
    square about 0 is used, and for an all-zero target, which has no scale, 0.
    Multiplying y by ``c`` adds ``log|c|``.
    """
    largest = float(np.max(np.abs(y[weights > 0])))
    if not largest > 0:
        return 0.0
    unit = y / largest
    mean = np.average(unit, weights=weights) if fit_intercept else 0.0
    mean_square = np.average((unit - mean) ** 2, weights=weights)
    if not mean_square > 0:
        mean_square = np.average(unit**2, weights=weights)
    return float(np.log(largest) + 0.5 * np.log(mean_square))




# ---------------------------------------------------------------------------- Poisson
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
    >>> from sklearn_mle._loss import PoissonLoss
    >>> family = PoissonLoss()
    >>> y = np.array([0.0, 1.0, 3.0])
    >>> np.exp(family.constant_raw_prediction(y, np.ones(3)))
    array([1.33333333])
    >>> family.recession_signs(y)
    array([-1,  0,  0], dtype=int8)
    """

    name = "Poisson"
    raw_columns = ("mean",)
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

    def recession_signs(self, y):
        """-1 for zero counts (their NLL ``e^eta`` decreases for ever as eta -> -inf),
        0 for the others."""
        return np.where(np.asarray(y) == 0, -1, 0).astype(np.int8)


# ------------------------------------------------------------------------------ Gamma
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
    >>> from sklearn_mle._loss import GammaLoss
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

    def distribution(self, raw_prediction):
        # scale mean / k = exp(eta + s), formed in logs so it cannot overflow early
        return stats.gamma(a=self.shape(raw_prediction),
                           scale=_positive_exp(raw_prediction[:, 0] + raw_prediction[:, 1]))


# --------------------------------------------------------------------------- Binomial
class BinomialLoss(BernoulliLoss):
    r"""Binomial distribution with logit link for proportions ``y`` in [0, 1], the
    number of trials ``n`` of each row passed as its ``sample_weight``.

    The weighted NLL is the Bernoulli kernel's ``n (log(1 + e^z) - y z)``, right for
    fractional y: ``-(n y) log p - n (1 - y) log(1 - p)``.  The binomial
    log-likelihood adds ``log C(n, n y)`` per row (:meth:`log_likelihood_constant`),
    which is not linear in ``n`` and so is not part of the per-sample NLL.
    :meth:`distribution` is the distribution of one trial, ``binom(n=1, p)``: with
    ``n`` trials the count of successes is ``binom(n, p)``.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy import stats
    >>> from sklearn_mle._loss import BinomialLoss
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


def _count_target(family, y):
    """y as float64 if it holds finite non-negative numbers, else the family's error.

    Non-integer values are accepted as scikit-learn's PoissonRegressor does: the
    kernels' formulas hold for any real y >= 0 (through lgamma), the fit is then a
    quasi-likelihood estimate of the mean and the log-likelihood not a log-pmf."""
    y = np.ascontiguousarray(y, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(y) | (y < 0)
    if bad.any():
        family._reject(y, bad, "non-negative counts")
    return y


class NegativeBinomialLoss(_KernelFamily):
    r"""Negative binomial distribution (NB2) with log link.

    Raw-prediction columns ``(log mu, log alpha)``: ``E[y] = mu``, ``Var[y] = mu +
    alpha mu^2``; with ``r = 1 / alpha`` the NLL is the full

    .. math:: -\log\Gamma(y + r) + \log\Gamma(r) + \log\Gamma(y + 1)
              - r \log\frac{r}{r + \mu} - y \log\frac{\mu}{r + \mu},

    evaluated without cancellation as ``alpha -> 0`` (the Poisson limit) or
    ``alpha -> inf``.  ``alpha`` is learned by maximum likelihood: one constant by
    default, a linear function of x (on the log scale) or fixed if the estimator says
    so.  Targets are non-negative counts (non-integer values give the
    quasi-likelihood fit, as for the Poisson).

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
    dispersion_symbol = "α"
    boundary_column = 1
    #: The expected information of log alpha is a series over the pmf per row (19 ms
    #: a refresh on 50 000 rows); the observed Hessian is closed-form and, near the
    #: optimum where the solver refreshes, exact Newton: 15 % off a default fit.
    refresh_with_observed_hessian = True
    link = "log"
    target_kind = "non-negative counts"
    positive_target = True
    family = _kernels.FAMILY_NEGATIVE_BINOMIAL
    fisher_columns = (0, 1)  # the mean and alpha
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

    def collapse_log_scale(self, raw_prediction):
        return raw_prediction[:, 1]

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
            with np.errstate(over="ignore"):
                df = np.exp(log_df)
            return (f"The Student-t degrees of freedom ran to {df:.3g} "
                    f"(> {self.GAUSSIAN_LIMIT_DF:g}), where the likelihood is flat: "
                    "the data show no heavier tails than a Gaussian's, and the fit "
                    "is the Gaussian limit.")
        return None


#: The built-in distributions, by the name ``MLERegressor(distribution=...)`` takes.
DISTRIBUTIONS = {"gaussian": GaussianLoss, "poisson": PoissonLoss,
                 "negative_binomial": NegativeBinomialLoss, "gamma": GammaLoss,
                 "student_t": StudentTLoss, "binomial": BinomialLoss}
