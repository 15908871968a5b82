"""The estimator base shared by MLEClassifier and MLERegressor.

One place for what every maximum-likelihood estimator does the same way: the common
parameters and their validation, input checks, the fit sequence

    start (or warm start) -> the model's phases -> fit -> existence check
    (alpha = 0) -> warning -> fallback fit,

the same for every model (a model gives its start, the previous fits it can start
from and its phases: see :class:`~sklearn_mle.models._model.Model`), the
capabilities asked of the model (coefficients, Wald inference, an existence
check: a model without one gets a clear error from here), the covariance of the
reported parameters, ``log_likelihood``, the summary table (written once, fed by each
estimator's ``_summary_parts``), and the clean-up of attributes a previous fit left
behind.  The estimators supply what differs: the family and model, how existence is
decided, the fallback, their parameter attributes and their summary's header lines.
"""

import functools
import threading
import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import (_check_sample_weight, check_is_fitted,
                                      validate_data)

from .._threads import ensure_layout, kernels_own_the_cores, n_threads
from ..existence._unbounded import (ExistenceUndecidedWarning, UnboundedLikelihoodWarning,
                                    undecided_message)
from ..models._dask import is_dask_collection
from ..models._model import RowLimitExceeded
from ..models._network import ACTIVATIONS, validated_hidden_layer_sizes
from ..report._covariance import output_covariance
from ..report._prediction import validated_coverage
from ..report._robust import is_robust, robust_label, robust_note, validate_groups
from ..report._statistics import (common_notes, covariance_kind, fit_statistics,
                                  method_name, require_covariance, title_kind)
from ..report._table import InferenceSummary, feature_labels, target_label, target_name
from ..solver._fit import fit_model
from ..solver._progress import Progress
from ._dask_input import validated_dask_fit_input

#: What each capability of a model is needed for, for the error of a model without it.
_CAPABILITY_USE = {
    "has_coefficients": "coefficient attributes and least-squares (OLS) inference",
    "supports_inference": "Wald inference (standard errors, covariance_, summary())",
    "supports_existence_check": "the check that the maximum-likelihood estimate exists",
}

#: Frames from a warning issued by :meth:`MLEstimator._fit_checked` up to the caller
#: of ``fit``: _fit_checked, the shared _fit_model, the estimator's _fit_validated,
#: the shared _fit_reported and _fit, the estimator's fit, scikit-learn's fit wrapper.
_FIT_STACKLEVEL = 7

#: The progress report of the fit running in this thread (its ``progress``), so that
#: the solver, the existence check and the attributes report through one object.
_FIT_REPORT = threading.local()


@functools.cache
def _parameter_names(cls):
    """scikit-learn's parameter names of an estimator class (from ``__init__``)."""
    return tuple(BaseEstimator._get_param_names.__func__(cls))


class MLEstimator(BaseEstimator):
    """Base class of the maximum-likelihood estimators (not used directly).

    Subclasses define ``_fit_validated(X, y, sample_weight, codes)`` (``codes``: the
    validated cluster codes of ``groups``, or None) and, for the shared fit
    sequence, ``_find_unbounded``, ``_unbounded_message`` and ``_fallback_fit``.
    """

    #: Constraints of the parameters every estimator has.
    _common_parameter_constraints: dict = {
        "alpha": [Interval(Real, 0, None, closed="left")],
        "fit_intercept": ["boolean"],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="neither")],
        "warm_start": ["boolean"],
        "verbose": ["verbose"],
    }
    #: Constraints of the network parameters both estimators have.
    _network_parameter_constraints: dict = {
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "random_state": ["random_state"],
    }
    #: How the progress report names a successful existence check.
    _exists_label = "MLE exists"
    #: Whether fit's y must be numeric (regression) or any labels (classification).
    _numeric_target = True

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    @classmethod
    def _get_param_names(cls):
        # scikit-learn reads them from the signature of __init__ on every get_params
        # (every fit validates its parameters through it): read once per class
        return list(_parameter_names(cls))

    def _fit(self, X, y, sample_weight=None, groups=None, **data):
        """The fit both estimators' ``fit`` run (inside scikit-learn's ``_fit_context``):
        X and y validated, X in a layout the kernels read, ``groups`` checked against
        ``inference``, then ``_fit_validated(X, y, sample_weight, codes, **data)``
        (``codes``: the clusters of ``inference="cluster"``) with BLAS held while the
        kernels own the cores.  ``data`` are the estimator's further per-sample inputs
        (the regressor's offset)."""
        name = target_name(y)  # before validation turns a Series into an array
        # one progress report for the whole fit: input checks, solver, existence
        # check, attributes, so that at verbose=2 every second of it is accounted for
        # (per thread: fits of one estimator may run in several threads at once)
        progress = Progress(self.verbose, type(self).__name__)
        outer, _FIT_REPORT.progress = getattr(_FIT_REPORT, "progress", None), progress
        try:
            return self._fit_reported(X, y, sample_weight, groups, name, data, progress)
        finally:
            _FIT_REPORT.progress = outer
            progress.detail(f"fit: {progress.elapsed():.3g} s in all")

    def _fit_reported(self, X, y, sample_weight, groups, name, data, progress):
        """:meth:`_fit` under its progress report."""
        start = progress.elapsed()
        if is_dask_collection(X):
            X, y, sample_weight = validated_dask_fit_input(self, X, y, sample_weight,
                                                           groups, data)
        else:
            X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"],
                                 dtype=[np.float64, np.float32],
                                 y_numeric=self._numeric_target)
            X = ensure_layout(X)
        self._target_name = name
        codes = validate_groups(groups, self.inference, X.shape[0])
        progress.detail(f"input checked: {progress.elapsed() - start:.3g} s")
        with kernels_own_the_cores(X):
            return self._fit_validated(X, y, sample_weight, codes, **data)

    def _validated_input(self, X):
        """X checked against the fit (features, dtype) for prediction."""
        check_is_fitted(self)
        X = validate_data(self, X, accept_sparse=["csr", "csc"],
                          dtype=[np.float64, np.float32], reset=False)
        return ensure_layout(X)

    def _forget(self, names):
        """Remove fitted attributes a previous fit set and this one may not."""
        for name in names:
            if hasattr(self, name):
                delattr(self, name)

    def _fit_checked(self, model, X, y, weights, theta0, start_raw, fit_options,
                     extra_frames=0):
        """Fit, then (at ``alpha = 0``) check that the MLE exists; if it does not,
        warn with :class:`UnboundedLikelihoodWarning` and return the fallback fit.

        Sets ``mle_exists_`` (None where the model has no existence check and
        ``alpha = 0``: nothing is known; None too, with an
        :class:`ExistenceUndecidedWarning`, where the check needs more rows of X on
        the client than the model brings there: ``RowLimitExceeded``).  Warnings of the first fit (e.g. a ConvergenceWarning
        of an iterate running off to infinity) are passed on only when the MLE
        exists: otherwise the diagnosis says what happened.  Returns the solver's
        result and the diagnosis (None when the MLE exists).
        """
        check = self.alpha == 0 and model.supports_existence_check
        watch = self.alpha == 0 and not check   # a model that tells only what it sees
        with warnings.catch_warnings(record=check or watch) as caught:
            result = fit_model(model, X, y, weights, self.alpha, theta0, start_raw,
                               extra_frames=1 + extra_frames, **fit_options)
        # None: the model cannot tell (no existence check); at alpha > 0 it exists
        self.mle_exists_ = True if self.alpha > 0 or check else None
        if watch:
            self._watch_divergence(model, X, y, weights, result, caught, extra_frames)
        if not check:
            return result, None
        undecided = None
        with fit_options["progress"].timed("existence check") as section:
            try:
                diagnosis = self._find_unbounded(model, X, y, weights, result)
            except RowLimitExceeded as limit:
                diagnosis, undecided = None, limit
            section.outcome = (
                f"undecided: {undecided}" if undecided is not None else
                self._exists_label if diagnosis is None else
                f"likelihood unbounded: {self._diagnosis_label(diagnosis)}")
        if diagnosis is None:
            if undecided is not None:
                self.mle_exists_ = None
                warnings.warn(undecided_message(type(self).__name__, undecided, False),
                              ExistenceUndecidedWarning,
                              stacklevel=_FIT_STACKLEVEL + extra_frames)
            for warning in caught:
                warnings.warn_explicit(warning.message, warning.category,
                                       warning.filename, warning.lineno)
            return result, None
        self.mle_exists_ = False
        warnings.warn(self._unbounded_message(model, y, weights, diagnosis),
                      UnboundedLikelihoodWarning, stacklevel=_FIT_STACKLEVEL + extra_frames)
        try:
            return self._fallback_fit(model, X, y, weights, theta0, start_raw,
                                      fit_options, diagnosis, result), diagnosis
        except RowLimitExceeded as limit:
            warnings.warn(undecided_message(type(self).__name__, limit, True),
                          ExistenceUndecidedWarning,
                          stacklevel=_FIT_STACKLEVEL + extra_frames)
            return result, diagnosis

    def _watch_divergence(self, model, X, y, weights, result, caught, extra_frames):
        """After an unpenalised fit of a model without an existence check: warn with
        :class:`UnboundedLikelihoodWarning` and set ``mle_exists_ = False`` where the
        model sees the likelihood running off to its supremum (``model.divergence``),
        else pass on the fit's warnings (``mle_exists_`` stays None: not known)."""
        sign = model.divergence(result.theta, X, np.ascontiguousarray(y, np.float64),
                                weights)
        if sign is None:
            for warning in caught:
                warnings.warn_explicit(warning.message, warning.category,
                                       warning.filename, warning.lineno)
            return
        self.mle_exists_ = False
        fit_options_note = ("; the parameters returned are where the solver stopped, "
                            "on the way to infinity. Set alpha > 0 (weight decay), "
                            "which bounds the objective.")
        warnings.warn(f"{type(self).__name__}: the maximum likelihood estimate does not "
                      f"exist: {sign}{fit_options_note}", UnboundedLikelihoodWarning,
                      stacklevel=_FIT_STACKLEVEL + 1 + extra_frames)

    def _hidden_layers(self):
        """``hidden_layer_sizes`` checked (``()``: the linear model)."""
        return validated_hidden_layer_sizes(self.hidden_layer_sizes)

    def _start_parameters(self, model, start_raw, warm, adapt=None):
        """``theta0``: with ``warm`` (``warm_start`` and a previous fit of the same
        configuration) the previous fit's parameters where ``model`` takes them
        (:meth:`Model.warm_start_parameters`, through ``adapt``), else
        ``model.initial_parameters(start_raw, random_state)``.  Records which, for
        :meth:`_fit_model` (a warm start needs no warm-up)."""
        previous = getattr(self, "_predictor", None) if warm else None
        theta0 = None if previous is None else model.warm_start_parameters(*previous,
                                                                           adapt)
        self._warm_started = theta0 is not None
        return (theta0 if self._warm_started
                else model.initial_parameters(start_raw, self.random_state))

    def _fit_model(self, model, X, y, weights, theta0, start_raw, fit_options,
                   extra_frames=0):
        """The fit of every model from ``theta0`` (see :meth:`_start_parameters`): the
        model's phases (:meth:`Model.fit_phases`; no warm-up after a warm start),
        the last by :meth:`_fit_checked`; returns that phase's model (the fitted
        one) and the solver's result.  ``extra_frames``: frames between the
        estimator's ``_fit_validated`` and this call."""
        if self.inference:
            self._require(model, "supports_inference")
        *phases, (model, _, _) = model.fit_phases(X, self.max_iter,
                                                  warm_up=not self._warm_started)
        for phase, max_iter, note in phases:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                result = fit_model(phase, X, y, weights, self.alpha, theta0, start_raw,
                                   final=False, **dict(fit_options, max_iter=max_iter))
            theta0 = result.theta
            fit_options["progress"].line(note)
            fit_options["iterations_done"] = result.n_iter
        result, _ = self._fit_checked(model, X, y, weights, theta0, start_raw,
                                      fit_options, extra_frames=1 + extra_frames)
        return model, result

    def _diagnosis_label(self, diagnosis):
        """A few words on the diagnosis, for the progress report: its ``kind``."""
        return getattr(diagnosis, "kind", type(diagnosis).__name__.lower())

    def _fitted_family(self):
        """The fitted family (the classifier's is made from its classes)."""
        return self.family_

    # ------------------------------------------------------------ shared pieces
    def _progress(self):
        """The progress report of the fit under way (a silent one outside a fit)."""
        return (getattr(_FIT_REPORT, "progress", None)
                or Progress(self.verbose, type(self).__name__))

    def _fit_options(self):
        """The solver options of this estimator's fits, with one progress report."""
        return dict(tol=self.tol, max_iter=self.max_iter, verbose=self.verbose,
                    estimator_name=type(self).__name__, progress=self._progress())

    def _attributes_timed(self):
        """The section of the progress report that sets the fitted attributes
        (likelihood statistics, and the covariance where ``inference`` asks for it)."""
        name = "attributes" + (" and inference" if self.inference else "")
        return self._progress().timed(name, level=2)

    @staticmethod
    def _require(model, capability):
        """Raise a clear error unless ``model`` has ``capability`` (see ``Model``)."""
        if not getattr(model, capability, False):
            why = getattr(model, "missing_capabilities_reason",
                          "its parameters are not those of a linear predictor, or not "
                          "identified")
            raise ValueError(
                f"{_CAPABILITY_USE[capability]} needs a model with {capability}; "
                f"{type(model).__name__} has not ({why}): fit without that option.")

    def _covariance(self, model, X, y, weights, total_weight, theta, to_output, codes):
        """Covariance of the reported parameters ``to_output(theta)``: the inverse
        observed information (penalised at alpha > 0), or with a robust ``inference``
        the sandwich on that bread (``codes``: the clusters of ``"cluster"``).  Sets
        ``_aliased``, and for a robust covariance ``_n_robust_rows`` and (clusters)
        ``n_groups_``."""
        self._require(model, "supports_inference")
        robust = (dict(kind=self.inference, codes=codes, n_counted=self._n_counted)
                  if is_robust(self.inference) else None)
        covariance, self._aliased, counts = output_covariance(
            model, X, y, weights, total_weight, self.alpha, theta, to_output, robust)
        if counts is not None:
            self._n_robust_rows = counts["n_rows"]
            if counts["n_groups"] is not None:
                self.n_groups_ = counts["n_groups"]
        return covariance

    def _summary(self, coverage, feature_names):
        """The summary table from the estimator's ``_summary_parts(features)``
        (``features``: the checked ``feature_names``, else ``feature_names_in_``, else
        x0, x1, ...): a dict with ``names``, ``estimate``, ``std_err``, ``label``
        (after the estimator's name in the title), ``unbounded_cause``,
        ``goodness_of_fit``, ``model_info`` (the lines after Dep. Variable and Model),
        and optionally ``kind`` (the title's end), ``leading_notes``,
        ``trailing_notes``, ``df_resid`` (t tests) and ``from_log`` (rows shown on the
        natural scale, see :class:`InferenceSummary`)."""
        check_is_fitted(self)
        self._require(self._predictor[0], "supports_inference")
        require_covariance(self)
        validated_coverage(coverage)
        parts = self._summary_parts(feature_labels(self, self.n_features_in_,
                                                   feature_names))
        name = type(self).__name__
        aliased = [name for name, std_err in zip(parts["names"], parts["std_err"])
                   if np.isnan(std_err)]
        robust = is_robust(self.inference)
        robust_notes = ([robust_note(self.inference, self._n_robust_rows, self._n_counted,
                                     getattr(self, "n_groups_", None))] if robust else [])
        notes = [*robust_notes, *parts.get("leading_notes", ()),
                 *common_notes(self, parts["unbounded_cause"], aliased, robust),
                 *parts.get("trailing_notes", ())]
        model_info = [("Dep. Variable", target_label(self)), ("Model", name),
                      *parts["model_info"]]
        model_info = [(key, value) for key, value in model_info if value is not None]
        kind = parts.get("kind", title_kind(self.alpha))
        return InferenceSummary(
            f"{name}{parts['label']}: {kind}", parts["names"], parts["estimate"],
            parts["std_err"], model_info=model_info,
            statistics=fit_statistics(self, parts["goodness_of_fit"]), notes=notes,
            coverage=coverage, df_resid=parts.get("df_resid"),
            from_log=parts.get("from_log"))

    def _header_lines(self):
        """The Method, Converged and Covariance lines every summary has."""
        covariance = (robust_label(self.inference, getattr(self, "n_groups_", None))
                      if is_robust(self.inference) else covariance_kind(self.alpha))
        return [("Method", method_name(self.alpha)), ("Converged", str(self.converged_)),
                ("Covariance", covariance)]

    def _log_likelihood(self, X, y, sample_weight, per_sample, **prediction):
        """``log_likelihood`` on the family's kernels: ``_likelihood_target`` checks
        and encodes y, ``_raw_prediction(X, **prediction)`` gives the fitted raw
        predictions (``prediction``: the regressor's offset or exposure)."""
        X = self._validated_input(X)
        raw = self._raw_prediction(X, **prediction)
        family = self._fitted_family()
        y = self._likelihood_target(y, raw.shape[0])
        weights = (np.ones_like(y) if sample_weight is None
                   else _check_sample_weight(sample_weight, y, dtype=np.float64,
                                             ensure_non_negative=True))
        # The kernels work from log scales: finite even where a scale itself under- or
        # overflows.
        with np.errstate(over="ignore", invalid="ignore"):
            if per_sample and not family.weights_are_trials:
                return -family.loss_gradient(y, raw, np.ones_like(y), n_threads(y.size))[0]
            loss, _ = family.loss_gradient(y, raw, weights, n_threads(y.size))
        contribution = family.log_likelihood_constant(y, weights) - loss
        if per_sample:
            return contribution
        return float(np.sum(contribution) / np.sum(weights))


def check_target_shape(y, n_samples):
    """y as an array, or a ValueError unless it has one value per sample."""
    y = np.asarray(y)
    if y.shape != (n_samples,):
        raise ValueError(f"y must have shape {(n_samples,)}, got {y.shape}.")
    return y
