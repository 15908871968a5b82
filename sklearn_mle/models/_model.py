r"""The model interface: the contract between a likelihood and the solver.

A *model* maps parameters ``theta`` and a sample ``x`` to the raw predictions
``f(x; theta)`` (one row of ``n_raw`` numbers per sample: a logit, K class scores, a
mean and a log scale) that a loss object (:mod:`sklearn_mle.families`) turns into a
negative log-likelihood.  The objective minimised is

.. math::

    F(\theta) = \sum_i \tilde s_i \, \mathrm{NLL}(y_i, f(x_i; \theta))
              + \frac{\alpha}{2} \sum_p \omega_p \theta_p^2 ,
    \qquad \tilde s_i = s_i / \textstyle\sum_k s_k ,

and its gradient is the vector-Jacobian product of the per-sample gradients on the raw
predictions, ``sum_i J_i^T g_i`` with ``J_i = d f(x_i; theta) / d theta``, plus the
penalty's.  The solver (:func:`sklearn_mle.solver._fit.fit_model`) sees only what this
interface gives: the objective and its gradient, optionally a Hessian and a
preconditioner, and a few facts (is the Hessian constant, is a Hessian refresh exact,
how much work one pass over the data is).  The linear model
(:class:`sklearn_mle.models._linear.LinearModel`) is one implementation; a non-linear
``f(x; theta)`` or a model whose data live elsewhere is another, written by
implementing :attr:`Model.n_params`, :meth:`Model.raw_prediction` and
:meth:`Model.raw_vjp` (and, for speed, overriding the rest).

Preconditioner protocol
-----------------------
:meth:`Model.preconditioner` returns None (plain L-BFGS on ``theta``) or an object
describing ``theta = theta0 + P u``, the coordinates ``u`` the optimiser sees:

* ``dim`` (int): the number of columns of ``P`` (``n_params`` minus the directions
  dropped as flat); ``n_flat_directions`` (int): how many were dropped;
* ``apply(u)`` -> ``P u`` and ``apply_transpose(g)`` -> ``P^T g``;
* ``matrix()`` -> ``P`` as a dense (n_params, dim) array;
* ``metric()`` -> the (n_params, n_params) matrix ``Q`` with ``||u||^2 = delta^T Q
  delta`` for ``delta = P u``, and ``metric_apply(delta)`` -> ``Q delta``;
* ``description`` (str): a few words for progress reports;
* optionally ``design_gram``: a weighted Gram matrix of the design that the estimators
  may reuse (read with ``getattr``; None if absent).
* optionally ``refreshable`` (bool, False if absent): the solver may rebuild it from
  the model's Hessian as the fit moves (dense p x p work per refresh, worth it only
  where the preconditioner is dense already).

:class:`sklearn_mle.solver._lbfgs.DensePreconditioner` builds one from any positive
semi-definite matrix, e.g. a Hessian.
"""

import abc
import math

import numpy as np


class RowLimitExceeded(RuntimeError):
    """A check needed more rows of X on the client than the model that holds them
    brings there (see :meth:`RowAccess.take_rows`): the check is then undecided."""


def combine_parts(parts, combine):
    """Per-part results combined by ``combine`` (see :meth:`RowAccess.reduce_rows`),
    in part order."""
    if isinstance(combine, tuple):
        return tuple(combine_parts([part[i] for part in parts], kind)
                     for i, kind in enumerate(combine))
    if combine == "sum":
        total = parts[0]
        for part in parts[1:]:
            total = (tuple(a + b for a, b in zip(total, part))
                     if isinstance(total, tuple) else total + part)
        return total
    if combine in ("max", "min"):
        pick = np.maximum if combine == "max" else np.minimum
        total = parts[0]
        for part in parts[1:]:
            total = pick(total, part)
        return total
    if combine == "any":
        return any(bool(part) for part in parts)
    if combine == "indices":
        if isinstance(parts[0], tuple):
            return tuple(np.concatenate(column) for column in zip(*parts))
        return np.concatenate(parts)
    raise ValueError(f"unknown combine {combine!r}")


def offset_indices(result, combine, start):
    """A part's ``"indices"`` results (indices into its rows) made indices into X, the
    part's rows starting at ``start``."""
    if isinstance(combine, tuple):
        return tuple(offset_indices(part, kind, start)
                     for part, kind in zip(result, combine))
    if combine != "indices" or not start:
        return result
    if isinstance(result, tuple):
        return (result[0] + start, *result[1:])
    return result + start


class RowAccess:
    """Passes over the rows of X that return a reduction, and rows brought to the
    client: what the existence checks ask of where the data live.

    This class is the in-memory case (each pass is one call on the whole X); a model
    whose rows live elsewhere (:class:`~sklearn_mle.models._dask.DaskLinearModel`)
    runs the pass on each part of the rows and combines the parts, and brings at most
    a bounded number of rows to the client.  ``IN_MEMORY`` is an instance for callers
    that have no model.
    """

    def reduce_rows(self, function, X, vectors=(), args=(), combine="sum"):
        """``function(self, *args, X, *vectors)`` over the rows of X.

        ``vectors`` are per-sample arrays (first axis: the rows of X; None allowed).
        Where the rows come in parts, the parts' results are combined by ``combine``:
        ``"sum"`` (added in row order, tuples elementwise), ``"max"``, ``"min"``,
        ``"any"`` or ``"indices"`` (the function returns indices into the rows it got,
        or a tuple of such indices and arrays aligned with them: offset and
        concatenated in row order); a tuple of these combines a tuple result
        elementwise.  In memory: one call.
        """
        return function(self, *args, X, *vectors)

    def take_rows(self, X, indices):
        """Rows ``indices`` (integer indices or a boolean mask) of X, in memory.  A
        model whose rows live elsewhere raises :class:`RowLimitExceeded` beyond its
        bound."""
        return X[indices]


#: Row access for callers without a model: X in memory.
IN_MEMORY = RowAccess()


class Model(RowAccess, abc.ABC):
    r"""Parameters to raw predictions, and the gradient back: what the solver fits.

    A subclass implements :attr:`n_params`, :meth:`raw_prediction` and
    :meth:`raw_vjp`; the objective, its gradient and the total negative
    log-likelihood then follow from the loss.  It may also implement
    :meth:`hessian` (which enables the solver's Hessian refreshes and Wald inference)
    and :meth:`preconditioner`, and override :meth:`nll_gradient` with a faster pass
    over the data.

    Parameters
    ----------
    loss : BaseLoss
        The distribution: per-sample NLL and its gradient on the raw predictions
        (``loss.n_raw`` columns).
    ridge_weight : ndarray of shape (n_params,) or None, default=None
        Weight ``omega_p`` of each parameter in the penalty
        ``alpha / 2 * sum_p omega_p theta_p**2``; None: 1 for every parameter.

    Examples
    --------
    A mean ``f(x; theta) = theta_0 * exp(theta_1 * x_0)`` under a unit-variance
    Gaussian, written against the interface only:

    >>> import numpy as np
    >>> from sklearn_mle.families import GaussianFixedScaleLoss
    >>> from sklearn_mle.models._model import Model
    >>> class Exponential(Model):
    ...     n_params = 2
    ...     def raw_prediction(self, theta, X):
    ...         return (theta[0] * np.exp(theta[1] * X[:, 0]))[:, None]
    ...     def raw_vjp(self, theta, X, raw_gradient):
    ...         g, growth = raw_gradient[:, 0], np.exp(theta[1] * X[:, 0])
    ...         return np.array([g @ growth, g @ (theta[0] * X[:, 0] * growth)])
    >>> model = Exponential(GaussianFixedScaleLoss())
    >>> X = np.array([[0.0], [1.0]])
    >>> y = np.array([1.0, 2.0])
    >>> weights = np.full(2, 0.5)
    >>> value, gradient = model.objective_gradient(np.array([1.0, np.log(2.0)]), X, y,
    ...                                            weights, alpha=0.0)
    >>> print(f"{value:.6f}", gradient)
    0.918939 [0. 0.]
    """

    # ------------------------------------------------------------ capabilities
    #: What the estimators may ask of a model beyond predictions; each is False here,
    #: and an estimator option that needs one raises a clear error for a model without
    #: it (one place: ``MLEstimator._require``).  Whether the parameters are a linear
    #: predictor's coefficients (``coef_`` attributes, least-squares inference).
    has_coefficients = False
    #: Whether the parameters are identified and :meth:`hessian` gives the observed
    #: information, so Wald inference (``inference=True``, ``summary()``) applies.
    supports_inference = False
    #: Whether the estimators can decide that the MLE does not exist (the separation
    #: LP and certificate, recession and collapse checks of a linear predictor).
    supports_existence_check = False

    def __init__(self, loss, ridge_weight=None):
        self.loss = loss
        self.ridge_weight = (None if ridge_weight is None
                             else np.asarray(ridge_weight, dtype=np.float64))

    # ------------------------------------------------------- what to implement
    @property
    @abc.abstractmethod
    def n_params(self):
        """int: Number of free parameters, the length of ``theta``."""

    @property
    def n_estimated(self):
        """int: Parameters the fit estimates, counted by AIC and BIC where the model
        has no coefficients whose identification the design's rank tells
        (default: :attr:`n_params`)."""
        return self.n_params

    @abc.abstractmethod
    def raw_prediction(self, theta, X):
        """Raw predictions ``f(x_i; theta)`` of every sample.

        Parameters
        ----------
        theta : ndarray of shape (n_params,)
            Parameters.
        X : {ndarray, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        raw : ndarray of shape (n_samples, n_raw), float64
        """

    @abc.abstractmethod
    def raw_vjp(self, theta, X, raw_gradient):
        """Vector-Jacobian product ``sum_i J_i^T g_i`` back to the parameters.

        Parameters
        ----------
        theta : ndarray of shape (n_params,)
            Parameters at which the Jacobians ``J_i = d f(x_i; theta) / d theta``
            (each (n_raw, n_params)) are taken.
        X : {ndarray, sparse matrix} of shape (n_samples, n_features)
            Samples.
        raw_gradient : ndarray of shape (n_samples, n_raw)
            The vectors ``g_i``, e.g. the gradient of each sample's weighted NLL
            with respect to its raw predictions.

        Returns
        -------
        gradient : ndarray of shape (n_params,)
        """

    def training_rows_raw(self, theta, X_rows, rows):
        """Raw predictions of the training samples ``rows`` (a slice or indices) from
        their features ``X_rows = X[rows]``, with whatever the model adds to each
        training sample (an offset): for passes over part of the training data (the
        robust covariance's blocks).  The default is :meth:`raw_prediction` of
        ``X_rows``."""
        return self.raw_prediction(theta, X_rows)

    # ----------------------------------------------------------------- objective
    def nll_gradient(self, theta, X, y, weights, n_threads=1):
        """Weighted NLL ``sum_i s_i NLL_i`` (unpenalised) and its gradient wrt theta.

        The default is one :meth:`raw_prediction`, the loss, and one :meth:`raw_vjp`;
        a model with a faster pass over the data overrides it.  Parameters are those of
        :meth:`objective_gradient` without ``alpha``.

        Returns
        -------
        nll : float
        gradient : ndarray of shape (n_params,)
        """
        raw = self.raw_prediction(theta, X)
        loss, raw_gradient = self.loss.loss_gradient(y, raw, weights, n_threads)
        return loss.sum(), self.raw_vjp(theta, X, raw_gradient)

    def add_penalty(self, theta, alpha, objective, gradient):
        """Objective and gradient with the penalty at ``theta`` added (for alpha > 0).

        The default is the ridge ``alpha / 2 * sum_p omega_p theta_p**2`` with the
        weights ``ridge_weight``; a model with further penalties extends it.

        Returns
        -------
        objective : float
        gradient : ndarray of shape (n_params,)
        """
        weight = 1.0 if self.ridge_weight is None else self.ridge_weight
        pull = alpha * weight * theta
        return objective + 0.5 * np.dot(theta, pull), gradient + pull

    def penalised_nll_gradient(self, theta, X, y, weights, alpha, n_threads=1):
        """:meth:`nll_gradient` with :meth:`add_penalty` (at alpha > 0); a model whose
        penalty needs a pass over X (a level of its raw predictions) overrides it.
        Parameters and returns are those of :meth:`objective_gradient`."""
        objective, gradient = self.nll_gradient(theta, X, y, weights, n_threads)
        if alpha > 0:
            objective, gradient = self.add_penalty(theta, alpha, objective, gradient)
        return objective, gradient

    def objective_gradient(self, theta, X, y, weights, alpha, n_threads=1):
        """Objective ``F(theta)`` (module docstring) and its gradient.

        Where the objective or its gradient leaves the range of doubles (a trial step
        far too long) the objective is reported as ``inf`` with a zero gradient, so
        that the solver's line search backs off.

        Parameters
        ----------
        theta : ndarray of shape (n_params,)
            Parameters.
        X : {ndarray, sparse matrix} of shape (n_samples, n_features)
            Samples.
        y : ndarray of shape (n_samples,), float64
            Targets, encoded as the loss expects.
        weights : ndarray of shape (n_samples,)
            Sample weights, normalised to sum to one.
        alpha : float
            Penalty strength.
        n_threads : int, default=1
            OpenMP threads the kernels may use.

        Returns
        -------
        objective : float
        gradient : ndarray of shape (n_params,)
        """
        with np.errstate(over="ignore", invalid="ignore"):
            objective, gradient = self.penalised_nll_gradient(theta, X, y, weights, alpha,
                                                              n_threads)
        if not (math.isfinite(objective) and np.isfinite(gradient).all()):
            return np.inf, np.zeros_like(theta)
        return objective, gradient

    def objective(self, theta, X, y, weights, alpha, n_threads=1):
        """Objective value only (see :meth:`objective_gradient`)."""
        return self.objective_gradient(theta, X, y, weights, alpha, n_threads)[0]

    def total_nll(self, theta, X, y, weights, n_threads=1):
        """``sum_i weights_i * NLL_i`` at ``theta``, unpenalised (for log-likelihoods).

        Parameters are as in :meth:`nll_gradient`; ``weights`` need not sum to one.
        """
        raw = self.raw_prediction(theta, X)
        return self.loss.loss_gradient(y, raw, weights, n_threads)[0].sum()

    # ------------------------------------------------------ the fit's sequence
    def initial_parameters(self, start_raw, random_state=None):
        """The parameters a fit starts from: raw predictions constant at ``start_raw``
        (n_raw,), the null model (see :meth:`Family.fit_start_raw`); parameters that
        cannot express it alone (a network's hidden weights) drawn from
        ``random_state``.  Every model the estimators fit implements it.

        Returns
        -------
        theta : ndarray of shape (n_params,)
        """
        raise NotImplementedError(
            f"{type(self).__name__} does not say where a fit starts: implement "
            "initial_parameters(start_raw, random_state).")

    def warm_start_parameters(self, previous_model, previous_theta, adapt=None):
        """With ``warm_start``: the previous fit's parameters ``previous_theta`` (of
        ``previous_model``, the model its predictions are made with) as this model's,
        or None where they do not fit it (another kind of model, other shapes); the
        fit then starts from :meth:`initial_parameters`.  ``adapt(coef, intercept)``
        re-expresses a linear predictor's coefficients in the new fit's convention
        (the units it runs in, a reference class); a model without coefficients
        ignores it.  The default takes none."""
        return None

    def fit_phases(self, X, max_iter, warm_up=True):
        """The fits that make up this model's fit on X, in order, each from where the
        previous ended: a list of ``(model, max_iter, note)``, the model with some
        parameters held at their start or with passes of another precision, fitted
        for at most ``max_iter`` iterations of the fit's budget (its ``n_iter_``
        counts them all), with ``note`` the progress line at its end.  The last is the
        model whose fit is checked and reported (its ``max_iter`` and ``note`` are
        not used).  ``warm_up=False`` (after a warm start): no phase that holds
        parameters at their start.  The default is the model's own fit alone."""
        return [(self, max_iter, None)]

    def layer_parameters(self, theta):
        """A layered model's ``[(W_k, b_k), ...]`` (the estimators' ``coefs_`` and
        ``intercepts_``, as scikit-learn's MLP), the output layer's in raw-prediction
        units; None for a model without layers (the default)."""
        return None

    def in_target_units(self, theta, target_scale):
        """The parameters of the fit of y from those of the fit of ``y /
        target_scale``: needed only of a model fitted on a rescaled target (see
        :meth:`Family.equivariant_target_scale`), which its builder decides."""
        raise NotImplementedError(f"{type(self).__name__} is not fitted on a rescaled "
                                  "target")

    # -------------------------------------------------------- optional pieces
    def divergence(self, theta, X, y, weights):
        """For a model without an existence check (``supports_existence_check``
        False): a sentence on a sign, seen at the fitted ``theta`` of an
        unpenalised fit, that the likelihood has no maximum, or None when none is
        seen (which proves nothing).  The default sees none."""
        return None

    def hessian(self, theta, X, y, weights, alpha, n_threads=1, expected=False):
        """Hessian of the objective wrt theta, or None if the model has none.

        Parameters are as in :meth:`objective_gradient`; ``expected=True`` asks for
        the expected Hessian given x (Fisher information of each sample, always
        positive semi-definite), which the solver uses to refresh its
        preconditioner.  The default returns None: the solver then keeps its start
        preconditioner and Wald inference is unavailable.

        Returns
        -------
        hessian : ndarray of shape (n_params, n_params) or None
        """
        return None

    def sample_scores(self, theta, X, raw_gradient):
        """Per-sample vector-Jacobian products ``J_i^T g_i``, one row per sample.

        Their sum over the rows is :meth:`raw_vjp`; with ``g_i`` the gradient of a
        sample's weighted NLL they are its scores, the meat of a robust (sandwich)
        covariance.  The default calls :meth:`raw_vjp` on one row at a time, which
        holds for any model; a model with an explicit Jacobian overrides it.

        Parameters
        ----------
        theta : ndarray of shape (n_params,)
            Parameters.
        X : {ndarray, sparse matrix} of shape (n_samples, n_features)
            Samples (a block of rows: the result has ``n_params`` columns per row).
        raw_gradient : ndarray of shape (n_samples, n_raw)
            The vectors ``g_i``.

        Returns
        -------
        scores : ndarray of shape (n_samples, n_params)
        """
        raw_gradient = np.asarray(raw_gradient, dtype=np.float64)
        scores = np.empty((X.shape[0], self.n_params))
        for i in range(X.shape[0]):
            scores[i] = self.raw_vjp(theta, X[i:i + 1], raw_gradient[i:i + 1])
        return scores

    def sample_forms(self, theta, X, matrix):
        """Per-sample quadratic forms ``J_i M J_i^T`` (n_raw, n_raw) of a parameter-space
        matrix ``M``: with ``M`` the inverse information, the leverage of each sample
        on its own raw predictions (HC2 and HC3 covariances).

        The default forms each ``J_i`` from :meth:`raw_vjp` on unit vectors, one row
        at a time; a model with an explicit Jacobian overrides it.

        Parameters
        ----------
        theta : ndarray of shape (n_params,)
            Parameters.
        X : {ndarray, sparse matrix} of shape (n_samples, n_features)
            Samples (a block of rows).
        matrix : ndarray of shape (n_params, n_params)
            The matrix ``M``.

        Returns
        -------
        forms : ndarray of shape (n_samples, n_raw, n_raw)
        """
        n_raw = self.loss.n_raw
        forms = np.empty((X.shape[0], n_raw, n_raw))
        for i in range(X.shape[0]):
            jacobian = np.array([self.raw_vjp(theta, X[i:i + 1], unit[None, :])
                                 for unit in np.eye(n_raw)])
            forms[i] = jacobian @ matrix @ jacobian.T
        return forms

    @property
    def has_hessian(self):
        """bool: Whether :meth:`hessian` is implemented (overridden by the subclass)."""
        return type(self).hessian is not Model.hessian

    def preconditioner_with_start(self, X, y, weights, start_raw, alpha, kind="auto",
                                  n_threads=1):
        """:meth:`preconditioner`, and the objective at the null model where the model
        evaluates it in the same pass over X (the solver then starts without a pass
        of its own).

        ``y`` is the fit's target (float64); the other parameters are those of
        :meth:`preconditioner`.  Returns the preconditioner and either None or
        ``(theta, objective, gradient)``: :meth:`objective_gradient` at ``theta =
        initial_parameters(start_raw)``, up to rounding.  The default forms the
        preconditioner alone (None).
        """
        return self.preconditioner(X, weights, start_raw, alpha, kind, n_threads), None

    def preconditioner(self, X, weights, start_raw, alpha, kind="auto", n_threads=1):
        """The solver's change of coordinates ``theta = theta0 + P u``, or None.

        Parameters
        ----------
        X : {ndarray, sparse matrix} of shape (n_samples, n_features)
            Samples.
        weights : ndarray of shape (n_samples,)
            Sample weights, normalised to sum to one.
        start_raw : ndarray of shape (n_raw,)
            The constant raw prediction near which the fit starts.
        alpha : float
            Penalty strength.
        kind : str, default="auto"
            Which preconditioner: "auto" (the model's choice), "none" (plain
            L-BFGS on theta), or a kind the model names.  The default model has
            none and takes "auto" and "none" only.
        n_threads : int, default=1
            OpenMP threads the kernels may use.

        Returns
        -------
        preconditioner : object or None
            An object with the attributes and methods of the module docstring's
            preconditioner protocol, or None for plain L-BFGS.
        """
        if kind in ("auto", "none"):
            return None
        raise ValueError(f"{type(self).__name__} provides no preconditioner of kind "
                         f"{kind!r}; use 'auto' or 'none'.")

    def rescaled_preconditioner(self, preconditioner, theta, X, y, weights, alpha,
                                n_threads=1):
        """A preconditioner like ``preconditioner`` (built by :meth:`preconditioner`)
        but formed from the curvature at ``theta`` instead of the start's, where that
        differs enough to pay for restarting L-BFGS in its coordinates; else None.
        The solver asks once, early in a fit whose preconditioner no Hessian refresh
        follows.  The default model has none: None."""
        return None

    # ------------------------------------------------------------------- facts
    @property
    def hessian_is_constant(self):
        """bool: Whether the objective's Hessian is the same at every theta.

        Then the preconditioner, built once, whitens it exactly: the solver takes a
        Newton step and never refreshes it.  False by default (a non-linear ``f``
        has a curvature that varies even under a quadratic loss).
        """
        return False

    @property
    def refresh_with_expected_hessian(self):
        """bool: Whether the solver's Hessian refreshes use the expected Hessian
        (positive semi-definite everywhere; the default) rather than the observed one
        (cheaper where the expectation is a series, and exact Newton near the
        optimum)."""
        return True

    @property
    def fisher_is_hessian(self):
        """bool: Whether ``hessian(expected=True)`` equals the observed Hessian.

        Then a Hessian refresh whitens the objective exactly and the solver refreshes
        early.  False by default.
        """
        return False

    @property
    def hessian_refresh_is_free(self):
        """bool: Whether a Hessian refresh (``hessian`` with the solver's choice of
        ``expected``) costs no pass over X.  Then the solver refreshes early, so that
        the preconditioner follows the parameters it depends on (a dispersion).
        False by default."""
        return False

    def work_per_pass(self, X):
        """Per-sample evaluations in one pass over X (the solver's thread decision)."""
        return X.shape[0] * self.loss.n_raw

    def pass_description(self, X):
        """How a pass over X is computed, in a few words (for progress reports)."""
        return f"{type(self).__name__}.raw_prediction and raw_vjp"
