"""Families: one class per conditional distribution p(y | raw prediction).

A family knows the distribution and nothing about coefficients or the model f(x; theta)
that produces the raw predictions: the names of its raw-prediction columns and which
of them may depend on x, its link and inverse link, the targets it accepts, the
per-sample negative log-likelihood with its gradient, Hessian and Fisher information
on raw predictions (delegated to the Cython kernels for the built-in families), the
best constant (intercept-only) raw prediction, the predictive distribution as a frozen
``scipy.stats`` object, and what makes its maximum-likelihood estimate fail to exist.
The estimators ask the family; they never branch on its name.  A built-in family is
one ``.pxi`` file of scalar kernels plus one class in its own module; a user's family is one subclass of
:class:`Family` written in NumPy.

All ``loss_gradient`` methods return the per-sample *weighted* loss (shape (n,)) and
gradient (shape (n, n_raw)), where ``raw_prediction`` always has shape (n, n_raw).
"""

import numpy as np
from scipy import optimize

from .._plain import plain
from ..existence._unbounded import VARIANCE_COLLAPSE_FALLBACK_RIDGE
from . import _kernels

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
    :meth:`log_likelihood_constant` (default: 0) are optional, and so is
    :meth:`unit_deviance` (default: none), which makes ``MLERegressor.score`` the
    fraction of deviance explained instead of R².

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
    #: The raw columns that are locations on the link scale (the mean, class scores),
    #: unbounded in the intercept-only fit; the others are logs of scales.
    location_columns = (0,)

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
        shown = ", ".join(f"y[{i}] = {plain(y[i])!r}" for i in first[:3])
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
        return _constant_fit(self, y, weights, start, free)

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

    def unit_deviance(self, y, raw_prediction):
        """Deviance of each sample, or None where the family has none (the default).

        The deviance of a sample is twice its log-likelihood at the saturated mean
        (the mean at ``y_i``, every other raw column as in ``raw_prediction``) minus
        that at ``raw_prediction``: ``>= 0``, 0 where the mean is ``y_i``.  With a
        fitted dispersion it is the deviance at that dispersion (the Gamma's is the
        unit deviance over ``phi``, the negative binomial's that of its fitted
        ``alpha``).  Families that define it are scored by D², the fraction of
        deviance explained, as scikit-learn's ``PoissonRegressor`` and
        ``GammaRegressor`` are; the others by R² of the mean.
        """
        return None

    def link_value(self, mean):
        """Raw value of the mean's column at which the mean is ``mean``: the link
        function (``identity``, ``log`` or ``logit`` by :attr:`link`)."""
        mean = np.asarray(mean, dtype=np.float64)
        with np.errstate(divide="ignore"):
            if self.link == "identity":
                return mean
            if self.link == "log":
                return np.log(mean)
            if self.link == "logit":
                return np.log(mean) - np.log1p(-mean)
        raise NotImplementedError(f"{type(self).__name__} must define link_value for "
                                  f"its link {self.link!r}")

    def log_likelihood_constant(self, y, sample_weight):
        """Per-sample part of the log-likelihood that is not ``-sample_weight * NLL``
        (zeros; a binomial's log C(n, k) with n trials passed as weights is one)."""
        return np.zeros(np.shape(y)[0])

    def total_log_likelihood_constant(self, y, sample_weight):
        """The sum of :meth:`log_likelihood_constant` over the samples (0.0, with no
        array made, for a family that does not define it)."""
        if type(self).log_likelihood_constant is Family.log_likelihood_constant:
            return 0.0
        return float(np.sum(self.log_likelihood_constant(y, sample_weight)))

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
    #: Whether the mean's column is a natural exponential family with its canonical
    #: link (Poisson, binomial): the existence of the MLE is then certified from a
    #: Newton step without an LP (:mod:`sklearn_mle.existence._moments`).  Leave it
    #: False in a family of your own unless that holds.
    canonical_exponential_family = False

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

    def fit_start_raw(self, null_raw):
        """The constant raw prediction a fit starts from, given the null model's
        ``null_raw``: the null model itself unless a column sits where the likelihood
        is flat in it (a family with a ``boundary_column``), from which a fit could
        not move."""
        return np.array(null_raw, dtype=np.float64)

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

    def partial_collapse_cost(self):
        """With a dispersion linear in x: what a sample the mean does not fit exactly
        pays, per unit its log-scale falls, as the scale collapses (its loss per unit
        of a rising log-scale is 1); None if the family declares no such rate.  The
        exact fits gain 1 per unit, so a direction of the dispersion model with a
        negative total slope makes the likelihood unbounded
        (:func:`~sklearn_mle.existence._unbounded.scale_direction_collapses`)."""
        return None

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
    half or more (counts, proportions); else y and the weights as they are.

    Up to ``2 * _DISTINCT_PROBE`` targets a pass over them costs less than sorting
    them: they are returned as they are."""
    if y.size <= 2 * _DISTINCT_PROBE:
        return y, weights
    if np.unique(y[:_DISTINCT_PROBE]).size > _DISTINCT_PROBE // 2:
        return y, weights  # continuous targets: not worth sorting all of them
    # a block of targets at a time, so that the sort's copies are a block's, not y's
    parts_values, parts_weights = [], []
    for start in range(0, y.size, _DISTINCT_BLOCK):
        block, block_weights = (y[start:start + _DISTINCT_BLOCK],
                                weights[start:start + _DISTINCT_BLOCK])
        counted = _small_count_totals(block, block_weights)
        if counted is not None:
            block_values, block_totals = counted
        else:
            block_values, inverse = np.unique(block, return_inverse=True)
            if block_values.size > _DISTINCT_BLOCK // 2:
                return y, weights
            block_totals = np.bincount(inverse.reshape(-1), weights=block_weights,
                                       minlength=block_values.size)
        parts_values.append(block_values)
        parts_weights.append(block_totals)
    values, inverse = np.unique(np.concatenate(parts_values), return_inverse=True)
    if values.size > y.size // 2:
        return y, weights
    return values, np.bincount(inverse.reshape(-1), weights=np.concatenate(parts_weights),
                               minlength=values.size)


#: Targets per block of :func:`_distinct_targets`.
_DISTINCT_BLOCK = 65536


def _small_count_totals(block, weights):
    """For a block of targets that are all integers in ``[0, _DISTINCT_BLOCK)`` (counts,
    classes): its distinct values, increasing, and their total weights, by counting
    instead of sorting (the same sums in the same row order as ``np.unique``'s inverse
    with ``np.bincount``: 500 000 Poisson counts took 13 ms sorted, 2 ms counted);
    else None."""
    if not block.size:
        return None
    low, high = block.min(), block.max()
    if not (low >= 0 and high < _DISTINCT_BLOCK):
        return None
    counts = block.astype(np.intp)
    if not np.array_equal(counts, block):
        return None
    totals = np.bincount(counts, weights=weights)
    present = np.flatnonzero(np.bincount(counts))
    return present.astype(np.float64), totals[present]


#: Fisher-scoring steps of the constant fit before it gives way to L-BFGS-B ...
_SCORING_MAX_STEPS = 50
#: ... its stopping rule: the Newton decrement g' I^-1 g below this (relative to the
#: value: below it the predicted decrease is rounding) ...
_SCORING_DECREMENT = 1e-15
#: ... and the halvings a step may take before the fit counts as stalled.
_SCORING_HALVINGS = 20


#: A score offset that takes a class out of a sample's softmax: exp of it is 0 in
#: double precision whatever finite score it is added to, so the sample's likelihood,
#: gradient and Hessians are those of a softmax over its other classes; finite, it
#: never meets its own negative (no NaN from inf - inf).
EXCLUDED_CLASS_OFFSET = -1e30


def add_offset(raw, offset):
    """Add a known per-sample term to raw predictions (n, n_raw), in place, and return
    them: an ``offset`` of shape (n,) to column 0 (the mean's linear predictor, or the
    logit), one of shape (n, n_raw) to every column (the softmax's class scores);
    None adds nothing."""
    if offset is None:
        return raw
    if offset.ndim == 1:
        raw[:, 0] += offset
    else:
        raw += offset
    return raw


def constant_raw_rows(constant_raw, n_rows, offset=None):
    """Raw predictions (n_rows, n_raw) of a constant model: ``constant_raw`` on every
    row, with ``offset``, if given, added as :func:`add_offset` adds it."""
    return add_offset(np.tile(constant_raw, (n_rows, 1)), offset)


def _constant_fit(family, y, weights, start, free, offset=None):
    """The constant raw prediction (n_raw,) minimising the weighted NLL of ``family``,
    over the columns marked ``free`` (the others stay at ``start``), from ``start``:
    Fisher scoring, L-BFGS-B where scoring stalls.  ``offset`` (n,), if given, is
    added to every sample's column 0 (the intercept-only model of a fit with an
    offset: no closed form then)."""
    weights = weights / weights.sum()
    columns = np.flatnonzero(free)
    from .._threads import n_threads  # (the fit machinery imports this module)
    threads = n_threads(y.size * family.n_raw)

    def evaluate(values, curvature=False):
        constant = start.copy()
        constant[free] = values
        raw = constant_raw_rows(constant, y.size, offset)
        with np.errstate(over="ignore", invalid="ignore"):
            loss, gradient = family.loss_gradient(y, raw, weights, threads)
            value = float(loss.sum())
            info = (family.fisher_information(y, raw, weights, threads).sum(axis=0)
                    [np.ix_(columns, columns)] if curvature else None)
        if not np.isfinite(value):
            return np.inf, np.zeros(values.size), info
        return value, gradient[:, free].sum(axis=0), info

    # Columns other than the locations (the mean, class scores) are logs (of a
    # scale, degrees of freedom, ...): kept within e^30 of their start, so that a null
    # model that collapses (one sample, a constant target) still gives a finite start.
    location = np.isin(columns, family.location_columns)
    low = np.where(location, -np.inf, start[free] - 30.0)
    high = np.where(location, np.inf, start[free] + 30.0)
    values = _fisher_scoring(evaluate, start[free].copy(), low, high)
    if values is None:  # scoring stalled: the quasi-Newton fallback
        solution = optimize.minimize(
            lambda v: evaluate(v)[:2], start[free], jac=True, method="L-BFGS-B",
            bounds=list(zip(np.where(np.isinf(low), None, low),
                            np.where(np.isinf(high), None, high))),
            options={"gtol": 1e-10, "ftol": 0.0})
        values = solution.x
    start = start.copy()
    if np.all(np.isfinite(values)):
        start[free] = values
    return start


def constant_raw_with_offset(family, y, sample_weight, offset, free, fixed,
                             no_offset=None):
    """The intercept-only MLE of ``family`` when every sample carries a known
    ``offset`` (added as :func:`add_offset` adds it): as
    :meth:`Family.constant_raw_prediction`, whose no-offset answer (or ``no_offset``,
    where the caller has it), each free column moved by minus its weighted mean
    offset, is the start."""
    weights = np.asarray(sample_weight, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    offset = np.asarray(offset, dtype=np.float64)
    start = np.array(family.constant_raw_prediction(y, weights, free=free, fixed=fixed)
                     if no_offset is None else no_offset, dtype=np.float64)
    free = np.asarray(free, bool)
    # (an offset that takes a class out of a sample's softmax does not move the start)
    moving = np.where(offset > EXCLUDED_CLASS_OFFSET / 2, offset, 0.0)
    start[free] -= add_offset(np.zeros((1, family.n_raw)),
                              np.average(moving, axis=0, weights=weights)[None])[0, free]
    if not free.any():
        return start
    if family.link == "identity":
        # The offset is in y's units: the no-offset answer for y - offset is the
        # better start where the offset explains much of y (the dispersion of y alone
        # can sit on a flat boundary, e.g. the Student-t's df at infinity, from which
        # the intercept-only fit would not move), so take whichever start is better.
        start = min([start, _constant_start(family, y - offset, weights, free, fixed)],
                    key=lambda raw: _weighted_nll(family, y, weights, raw, offset))
    return _constant_fit(family, y, weights, start, free, offset=offset)


def _constant_start(family, y, weights, free, fixed):
    """``family.constant_raw_prediction`` of ``y`` as a float array (NaN where y is
    outside the family's domain or the closed form fails)."""
    try:
        with np.errstate(all="ignore"):
            return np.asarray(family.constant_raw_prediction(y, weights, free=free,
                                                             fixed=fixed),
                              dtype=np.float64).copy()
    except (ValueError, FloatingPointError, ArithmeticError):
        return np.full(family.n_raw, np.nan)


def _weighted_nll(family, y, weights, constant, offset=None):
    """The weighted NLL of ``family`` at the constant raw prediction (inf where it is
    not finite)."""
    if not np.all(np.isfinite(constant)):
        return np.inf
    from .._threads import n_threads  # (the fit machinery imports this module)
    raw = constant_raw_rows(constant, y.size, offset)
    with np.errstate(over="ignore", invalid="ignore"):
        loss, _ = family.loss_gradient(y, raw, weights / weights.sum(),
                                       n_threads(y.size * family.n_raw))
    value = float(loss.sum())
    return value if np.isfinite(value) else np.inf


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


def _y_log_y_over_mean(y, log_mean):
    """``y (log y - log_mean)``, 0 where ``y = 0`` (whatever the mean): the first
    term of the count families' deviances."""
    positive = y > 0
    with np.errstate(invalid="ignore"):
        return np.where(positive, y * (np.log(np.where(positive, y, 1.0)) - log_mean),
                        0.0)
