"""The fitted parameters of a family's columns as estimator attributes, and the table
of reported parameters behind ``covariance_`` and ``summary()``.

A family's raw column ``j`` is the mean (``j = 0``: ``coef_`` and ``intercept_``) or
another parameter, reported by its name without the ``log_`` prefix: ``<p>_`` when it
is one constant (fixed or learned), ``<p>_coef_`` and ``<p>_intercept_`` (on its raw,
log scale) when it is linear in x; the dispersion column also as ``dispersion_...``.
Column modes are those of :meth:`Family.specialise`: ``"x"`` (linear in x),
``"constant"`` (learned intercept only) or a number (fixed raw value).  A model with
layers (a network) also reports its weights as ``coefs_`` and ``intercepts_``.
"""

import numpy as np

from . import _ols
from ._table import feature_labels


def column_stems(family, j):
    """Attribute stems of raw column ``j >= 1``: ``log_scale`` -> ``["scale"]``, plus
    ``"dispersion"`` for the family's dispersion column."""
    name = family.raw_columns[j]
    stems = [name[4:] if name.startswith("log_") else name]
    if j == family.dispersion_column and stems[0] != "dispersion":
        stems.append("dispersion")
    return stems


def set_parameter_attributes(estimator, family, modes, coef, intercept):
    """Set ``coef_``, ``intercept_`` and every other column's attributes on
    ``estimator``; return the names set (beyond ``coef_``, ``intercept_``) and the
    standard-error attribute names a fit with inference would add."""
    names = []
    estimator.coef_ = coef[0]
    estimator.intercept_ = float(intercept[0])
    for name, value in family.fixed_attributes.items():
        setattr(estimator, name, value)   # e.g. sigma = 1 of the unit-variance Gaussian
        names.append(name)
    for j in range(1, family.n_raw):
        log_column = family.raw_columns[j].startswith("log_")
        for stem in column_stems(family, j):
            if modes[j] == "x":
                setattr(estimator, f"{stem}_coef_", coef[j])
                setattr(estimator, f"{stem}_intercept_", float(intercept[j]))
                names += [f"{stem}_coef_", f"{stem}_intercept_"]
            else:
                with np.errstate(over="ignore"):  # a boundary at infinity is inf
                    value = float(np.exp(intercept[j]) if log_column else intercept[j])
                setattr(estimator, f"{stem}_", value)
                names.append(f"{stem}_")
    se_names = [name[:-1] + "_se_" for name in names] + ["coef_se_", "intercept_se_"]
    return names, se_names


def set_constant_attributes(estimator, family, modes, raw_row):
    """For a model without coefficients (a network): the attributes of the columns
    that do not depend on x, read from one row of raw predictions ``raw_row`` (1,
    n_raw): the family's fixed ones (``scale_ = 1``) and ``<p>_`` of each constant or
    fixed column ``log_<p>`` (``scale_``, ``alpha_``, ``dispersion_``, ``df_``);
    return the names set."""
    names = []
    for name, value in family.fixed_attributes.items():
        setattr(estimator, name, value)
        names.append(name)
    for j in range(1, family.n_raw):
        if modes[j] == "x":
            continue
        with np.errstate(over="ignore"):
            value = float(np.exp(raw_row[0, j]) if family.raw_columns[j].startswith("log_")
                          else raw_row[0, j])
        for stem in column_stems(family, j):
            setattr(estimator, f"{stem}_", value)
            names.append(f"{stem}_")
    return names


def set_layer_attributes(estimator, model, theta):
    """``coefs_`` and ``intercepts_`` of a model with layers (a network): the weight
    matrix and bias vector of each layer (:meth:`Model.layer_parameters`), as
    scikit-learn's MLP; removed after a model without.  ``coef_`` and ``intercept_``
    of an earlier fit are removed where ``model`` has no coefficients."""
    layers = model.layer_parameters(theta)
    estimator._forget(("coefs_", "intercepts_") if model.has_coefficients else
                      ("coefs_", "intercepts_", "coef_", "intercept_"))
    if layers is not None:
        estimator.coefs_ = [weights for weights, _ in layers]
        estimator.intercepts_ = [bias for _, bias in layers]


def parameter_names(estimator, family, modes, fit_intercept, feature_names=None):
    """Names of the summary's rows, one per reported parameter: the mean's
    coefficients and (with ``fit_intercept``) intercept, then for each learned column
    its coefficients and intercept on the raw (log) scale, ``<column>:<feature>``
    (linear in x), or its constant by its attribute stem (``log_alpha`` is
    ``alpha``: the summary shows it on the natural scale, see
    :func:`natural_scale_rows`)."""
    features = (list(feature_names) if feature_names is not None
                else feature_labels(estimator, estimator.coef_.size))
    intercept = distinct_from_features(["intercept"], features)[0]
    names = list(features) + ([intercept] if fit_intercept else [])
    for j in range(1, family.n_raw):
        column = family.raw_columns[j]
        if modes[j] == "x":
            names += [f"{column}:{name}" for name in [*features, intercept]]
        elif modes[j] == "constant":
            names += distinct_from_features([column_stems(family, j)[0]], features)
    return names


def distinct_from_features(names, features):
    """The model's own row names (intercepts, dispersions), each renamed ``<name>
    (model term)`` where a feature has the same name: the rows of a table must not
    share a name (a feature called ``scale`` beside the Gaussian's sigma)."""
    taken = set(features)
    return [f"{name} (model term)" if name in taken else name for name in names]


def natural_scale_rows(family, modes, fit_intercept, n_features):
    """Which entries of the reported vector are a constant learned on the log scale
    (``log_<p>``, reported by the summary as ``<p>`` on the natural scale); columns
    linear in x stay on the log scale, as coefficients of a linear predictor."""
    rows = [False] * (n_features + bool(fit_intercept))
    for j in range(1, family.n_raw):
        if modes[j] == "x":
            rows += [False] * (n_features + 1)
        elif modes[j] == "constant":
            rows.append(family.raw_columns[j].startswith("log_"))
    return np.array(rows, dtype=bool)


def reported_vector(modes, fit_intercept, coef, intercept):
    """The reported parameter vector (in the order of :func:`parameter_names`) from the
    full coefficients (n_raw, d) and intercepts (n_raw,)."""
    parts = [coef[0], intercept[:1] if fit_intercept else []]
    for j in range(1, coef.shape[0]):
        if modes[j] == "x":
            parts += [coef[j], intercept[j:j + 1]]
        elif modes[j] == "constant":
            parts.append(intercept[j:j + 1])
    return np.concatenate(parts)


def set_standard_errors(estimator, family, modes, fit_intercept, se, n_features):
    """``coef_se_``, ``intercept_se_`` and each column's ``<p>_se_`` (delta method from
    the log scale for a constant log column) or ``<p>_coef_se_`` /
    ``<p>_intercept_se_``, from the standard errors ``se`` of the reported vector."""
    d = n_features
    estimator.coef_se_ = se[:d]
    position = d
    if fit_intercept:
        estimator.intercept_se_ = float(se[position])
        position += 1
    else:
        estimator.intercept_se_ = np.nan
    for j in range(1, family.n_raw):
        stems = column_stems(family, j)
        if modes[j] == "x":
            for stem in stems:
                setattr(estimator, f"{stem}_coef_se_", se[position:position + d])
                setattr(estimator, f"{stem}_intercept_se_", float(se[position + d]))
            position += d + 1
        elif modes[j] == "constant":
            log_column = family.raw_columns[j].startswith("log_")
            for stem in stems:
                value = getattr(estimator, f"{stem}_")
                setattr(estimator, f"{stem}_se_",
                        float((value if log_column else 1.0) * se[position]))
            position += 1


def natural_scale_note(names):
    """The note under a summary whose rows ``names`` are shown on the natural scale."""
    subject = ", ".join(names) + (" is" if len(names) == 1 else " are")
    logs = ", ".join(f"log({name})" for name in names)
    return (f"{subject} estimated as {logs} = t and shown on the natural scale: "
            "standard error exp(t) se(t) (delta method), interval exp(t -/+ z se(t)), "
            "the log-scale Wald interval transformed, which stays positive and is "
            "better than a symmetric interval (the normal approximation holds better "
            "on the log scale); no z test, as 0 is on the boundary. covariance_ is on "
            "the log scale.")


def set_regression_inference(estimator, family, modes, model, X, y, fit_weights, theta,
                             codes):
    """``covariance_`` of the regressor's reported vector (see :func:`reported_vector`:
    the parameters in y's units, dispersions on the log scale) and the standard-error
    attributes (:func:`set_standard_errors`), by the estimator's ``inference``: Wald,
    robust (``codes``: the clusters of ``"cluster"``) or OLS."""
    # (with sigma fixed at 1 the fit ran on y / max|y|, but the information does not
    # depend on y: the parameters in y's units give the same Hessian)
    covariance = estimator._covariance(
        model, X, y, fit_weights.normalised, fit_weights.total, theta,
        lambda t: reported_vector(modes, estimator.fit_intercept, *model.unpack(t)),
        codes)
    if estimator.inference == "ols":
        covariance = _ols.ols_covariance(estimator, covariance,
                                         X.shape[1] + estimator.fit_intercept)
    estimator.covariance_ = covariance
    set_standard_errors(estimator, family, modes, estimator.fit_intercept,
                        np.sqrt(np.diag(covariance)), X.shape[1])
