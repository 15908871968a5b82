"""What each estimator's summary shows: the rows, estimates and header lines.

:meth:`MLEstimator._summary <sklearn_mle.estimators._base.MLEstimator._summary>` lays
out the table once; the two functions here gather what differs between a regression
(natural-scale dispersion rows, OLS inference, R² or Cox and Snell's pseudo-R²) and a
classification (class-labelled rows, the reference class, McFadden's pseudo-R²) from a
fitted estimator's attributes, as statsmodels' results classes hold the report apart
from the model.
"""

import numpy as np

from .._plain import plain
from . import _ols
from ._parameters import (distinct_from_features, natural_scale_note,
                          natural_scale_rows, parameter_names, reported_vector)
from ._robust import is_robust


def regression_summary_parts(estimator, features):
    """The summary parts of a fitted :class:`~sklearn_mle.MLERegressor` (the dict
    :meth:`MLEstimator._summary` documents), ``features`` naming the columns of X."""
    family, modes = estimator.family_, estimator._modes
    ols, sigma_one = estimator.inference == "ols", family.assumes_unit_scale
    names = parameter_names(estimator, family, modes, estimator.fit_intercept, features)
    estimate = reported_vector(modes, estimator.fit_intercept, estimator._raw_coef,
                               estimator._raw_intercept)
    std_err = np.sqrt(np.diag(estimator.covariance_))
    from_log = natural_scale_rows(family, modes, estimator.fit_intercept, len(features))
    method, converged, covariance = estimator._header_lines()
    if sigma_one and not is_robust(estimator.inference):
        covariance = ("Covariance", "inv. info at σ = 1")
    distribution, extra_info = family.describe(modes), []
    boundary_note = estimator.boundary_note_
    parts = dict(label=f"({estimator._label(family, modes)})", leading_notes=[],
                 unbounded_cause="an unbounded likelihood",
                 trailing_notes=[boundary_note] if boundary_note else [])
    if ols:
        least_squares = _ols.ols_summary_parts(estimator, sigma_one)
        keep = slice(0, estimator.coef_.size + estimator.fit_intercept)
        names, estimate, std_err = names[keep], estimate[keep], std_err[keep]
        from_log = from_log[keep]
        distribution, extra_info = least_squares["distribution"], \
            least_squares["extra_info"]
        method = ("Method", least_squares["method"])
        covariance = ("Covariance", least_squares["covariance"])
        parts.update(kind=least_squares["kind"], df_resid=estimator.df_resid_,
                     leading_notes=least_squares["notes"])
    elif sigma_one:
        parts["leading_notes"] = [_ols.fixed_sigma_note(
            estimator, robust=is_robust(estimator.inference))]
    if from_log.any():
        parts["trailing_notes"].append(natural_scale_note(
            [name for name, log in zip(names, from_log) if log]))
    if family.least_squares:
        goodness_of_fit = _ols.least_squares_fit_statistics(estimator, ols)
    else:
        # Cox and Snell's, as statsmodels' GLM summary: defined for densities too
        # (McFadden's ratio of log-likelihoods is not, where they are > 0)
        with np.errstate(over="ignore", invalid="ignore"):
            goodness_of_fit = {"Pseudo R-squ. (CS)": -np.expm1(
                2.0 * (estimator.loglik_null_ - estimator.loglik_) / estimator._n_obs)}
    return dict(parts, names=names, estimate=estimate, std_err=std_err,
                from_log=from_log, goodness_of_fit=goodness_of_fit,
                model_info=[("Distribution", distribution), method, converged,
                            covariance, *extra_info])


def classification_summary_parts(estimator, features):
    """The summary parts of a fitted :class:`~sklearn_mle.MLEClassifier` (the dict
    :meth:`MLEstimator._summary` documents), ``features`` naming the columns of X."""
    n_classes = estimator.classes_.size
    leading_notes, trailing_notes = [], []
    intercept = distinct_from_features(["intercept"], features)[0]
    if n_classes == 2:
        names = features + [intercept]
        distribution = "Bernoulli (logit link)"
        modelled = f"P(y = {plain(estimator.classes_[1])!r})"
    else:
        names = [f"{plain(label)}:{feature}" for label in estimator.classes_
                 for feature in features]
        names += [f"{plain(label)}:{intercept}" for label in estimator.classes_]
        distribution = "Categorical (softmax)"
        reference = plain(estimator.classes_[0])
        modelled = (f"log-odds vs y = {reference!r}" if estimator.alpha == 0
                    else "class scores, centred")
        if estimator.alpha == 0:
            leading_notes.append(f"class {reference!r} is the reference: its "
                                 "parameters are 0 by convention (no standard error).")
    if estimator.class_weight is not None:
        trailing_notes.append(
            "class_weight is set: the estimates maximise the class-weighted "
            "likelihood; the log-likelihoods, tests and criteria use the sample "
            "weights only.")
    estimate = np.concatenate([estimator.coef_.ravel(), estimator.intercept_])
    std_err = np.concatenate([estimator.coef_se_.ravel(), estimator.intercept_se_])
    keep = (~(np.isnan(std_err) & (estimate == 0)) if estimator.alpha == 0
            else slice(None))
    with np.errstate(divide="ignore", invalid="ignore"):
        pseudo_r2 = 1.0 - estimator.loglik_ / estimator.loglik_null_
    return dict(
        names=list(np.asarray(names, dtype=object)[keep]), estimate=estimate[keep],
        std_err=std_err[keep], label="", unbounded_cause="separated classes",
        goodness_of_fit={"Pseudo R-squ.": pseudo_r2},
        model_info=[("Distribution", distribution), ("Modelled", modelled),
                    *estimator._header_lines()],
        leading_notes=leading_notes, trailing_notes=trailing_notes)
