"""Dask input at the estimators' face: the checks of a fit on Dask X (what it refuses,
y and the weights validated as in memory) and the wrapper that makes a prediction
method lazy on Dask X.  Where the data live is the model layer's business
(:mod:`sklearn_mle.models._dask`); this module only takes the input there."""

import functools
import inspect

from sklearn.utils.validation import _check_y, check_is_fitted

from ..models._dask import is_dask_collection, map_rows
from ..report._robust import is_robust


def validated_dask_fit_input(estimator, X, y, sample_weight, groups, data):
    """Dask X persisted on the workers (a ``DaskDesign``), y and the weights on the
    client, checked as ``validate_data`` checks in-memory input (see
    :func:`sklearn_mle.models._dask.dask_fit_input`); sets ``n_features_in_`` and
    ``feature_names_in_``.  The options that need X's rows on the client (``groups``,
    per-sample ``data`` such as an offset, robust inference) and networks are
    refused with the reason.  Returns X, y and the sample weights."""
    from ..models._dask import dask_fit_input

    unsupported = [name for name, value in [("groups", groups), *data.items()]
                   if value is not None]
    if estimator._hidden_layers():
        raise ValueError(
            f"hidden_layer_sizes={estimator.hidden_layer_sizes!r} is not supported with "
            "Dask input: a network is fitted in memory only (the distributed model "
            "is the linear one); pass a NumPy array, or hidden_layer_sizes=().")
    if unsupported or is_robust(estimator.inference):
        option = (unsupported[0] if unsupported
                  else f"inference={estimator.inference!r}")
        raise ValueError(f"{option} is not supported with Dask input (it needs "
                         "per-sample rows on the client): fit in memory, or use "
                         "inference=True")
    X, y, weights, names = dask_fit_input(X, y, sample_weight)
    y = _check_y(y, y_numeric=estimator._numeric_target, estimator=estimator)
    estimator.n_features_in_ = X.shape[1]
    estimator._forget(["feature_names_in_"])
    if names is not None:
        estimator.feature_names_in_ = names
    return X, y, weights


#: Per-sample prediction inputs that a chunked Dask prediction cannot take.
_PER_SAMPLE_INPUTS = ("offset", "exposure")


def lazy_on_dask(method):
    """Let a prediction method take Dask X (and a Dask y): its result is then lazy
    Dask arrays, the method run chunk by chunk over the rows (``map_rows``); for
    in-memory X the method itself.  A per-sample ``offset`` or ``exposure`` with Dask
    X gets a clear error (it is not chunked as X's rows)."""
    signature = inspect.signature(method)

    @functools.wraps(method)
    def wrapper(self, X, *args, **kwargs):
        if not is_dask_collection(X):
            return method(self, X, *args, **kwargs)
        given = signature.bind(self, X, *args, **kwargs).arguments
        for name in _PER_SAMPLE_INPUTS:
            if given.get(name) is not None:
                raise ValueError(
                    f"{name} is not supported with Dask input (predictions run chunk "
                    f"by chunk over X's rows, and {name} is not chunked with them): "
                    "predict on in-memory X, or without it.")
        check_is_fitted(self)
        vectors = [arg for arg in args[:1] if is_dask_collection(arg)]
        return map_rows(method, self, X, vectors, args[len(vectors):], kwargs)
    return wrapper
