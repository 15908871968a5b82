"""Inference at the fitted parameters: covariance, standard errors, fit statistics and
the summary table."""

import html
import textwrap

import numpy as np
import scipy.linalg
from scipy import stats

#: Relative eigenvalue of the (Jacobi-scaled) information below which a direction is
#: aliased: the data carry no information about it (collinear or constant columns).
_ALIASED_RTOL = 1e-10


def covariance_from_information(information):
    """Inverse of the observed information, NaN on aliased directions.

    Returns
    -------
    covariance : ndarray of shape (p, p)
        Inverse information on the identified subspace; rows/columns of parameters
        that load on an aliased direction are NaN.
    aliased : ndarray of bool of shape (p,)
        Parameters that are not identified.
    """
    p = information.shape[0]
    if p == 0:
        return np.zeros((0, 0)), np.zeros(0, dtype=bool)
    diagonal = np.diag(information).copy()
    scale = np.ones_like(diagonal)
    scale[diagonal > 0] = 1.0 / np.sqrt(diagonal[diagonal > 0])
    scaled = information * scale[:, None] * scale[None, :]
    scaled = 0.5 * (scaled + scaled.T)
    eigenvalues, eigenvectors = np.linalg.eigh(scaled)
    flat = eigenvalues <= _ALIASED_RTOL * max(eigenvalues.max(), 1e-300)
    kept = eigenvectors[:, ~flat]
    covariance = (kept / eigenvalues[~flat]) @ kept.T
    covariance = covariance * scale[:, None] * scale[None, :]
    aliased = (diagonal <= 0) | (np.abs(eigenvectors[:, flat]).max(axis=1, initial=0.0)
                                 > 1e-6)
    covariance[aliased, :] = np.nan
    covariance[:, aliased] = np.nan
    return covariance, aliased



#: LAPACK's estimate of the reciprocal condition number of the scaled Gram matrix above
#: which the design has full rank without an eigendecomposition (the estimate is within
#: a small factor of the truth, so this stays well clear of ``_ALIASED_RTOL``).
_FULL_RANK_RCOND = 1e-6


def design_rank(gram, fit_intercept):
    """Rank of the weighted design from its Gram matrix ``sum_i w_i z_i z_i^T``.

    ``gram`` is the Gram matrix of ``[X, 1]`` (shape (d+1, d+1)); the design is
    ``[X, 1]`` when ``fit_intercept`` and ``X`` otherwise.  Columns are Jacobi-scaled
    first, so the rank does not depend on their units, and a direction counts as
    identified on the same criterion as :func:`covariance_from_information` uses.
    Returns None when ``gram`` is None (the Gram matrix was not formed).
    """
    if gram is None:
        return None
    if not fit_intercept:
        gram = gram[:-1, :-1]
    diagonal = np.diag(gram)
    used = diagonal > 0
    if not used.any():
        return 0
    scale = 1.0 / np.sqrt(diagonal[used])
    scaled = gram[np.ix_(used, used)] * scale[:, None] * scale[None, :]
    factor, info = scipy.linalg.lapack.dpotrf(scaled, lower=0, clean=1)
    if info == 0:
        rcond, info = scipy.linalg.lapack.dpocon(factor, np.abs(scaled).sum(axis=0).max())
        if info == 0 and rcond > _FULL_RANK_RCOND:
            return int(used.sum())
    eigenvalues = np.linalg.eigvalsh(scaled)
    return int(np.sum(eigenvalues > _ALIASED_RTOL * max(eigenvalues.max(), 1e-300)))


def set_likelihood_attributes(estimator, *, loglik, loglik_null, n_identified, n_null,
                              n_scale, n_obs, converged):
    """Store the fit's likelihood statistics on ``estimator``.

    ``n_identified`` counts the parameters the data identify (the rank of the design
    per linear predictor), ``n_null`` those of the null model (intercepts only) and
    ``n_scale`` those of a noise scale that, as in OLS, the residual degrees of freedom
    do not count.  Sets ``loglik_``, ``loglik_null_``, ``aic_``, ``bic_``,
    ``df_model_``, ``df_resid_``, ``converged_`` and the private ``_n_obs`` and
    ``_n_identified``.
    """
    estimator.converged_ = bool(converged)
    estimator.loglik_ = float(loglik)
    estimator.loglik_null_ = float(loglik_null)
    estimator.aic_ = float(-2.0 * loglik + 2.0 * n_identified)
    estimator.bic_ = float(-2.0 * loglik + np.log(n_obs) * n_identified)
    estimator.df_model_ = n_identified - n_null
    estimator.df_resid_ = n_obs - (n_identified - n_scale)
    estimator._n_obs = n_obs
    estimator._n_identified = n_identified


def likelihood_ratio_p_value(estimator):
    """p-value of the likelihood-ratio test of the fit against the null model:
    ``2 (loglik_ - loglik_null_)`` is chi-square with ``df_model_`` degrees of freedom."""
    if estimator.df_model_ <= 0:
        return np.nan
    statistic = 2.0 * (estimator.loglik_ - estimator.loglik_null_)
    return float(stats.chi2.sf(max(statistic, 0.0), estimator.df_model_))


def fit_statistics(estimator, goodness_of_fit):
    """The header statistics of a summary, in display order (``goodness_of_fit``: the
    pseudo-R² or the R² pair, placed after the degrees of freedom)."""
    return {"No. Observations": estimator._n_obs, "Df Residuals": estimator.df_resid_,
            "Df Model": estimator.df_model_, **goodness_of_fit,
            "Log-Likelihood": estimator.loglik_, "LL-Null": estimator.loglik_null_,
            "LLR p-value": likelihood_ratio_p_value(estimator),
            "AIC": estimator.aic_, "BIC": estimator.bic_}


#: How each header statistic is printed (significant digits as in statsmodels' tables).
_STATISTIC_FORMAT = {"Log-Likelihood": "#.5g", "LL-Null": "#.5g", "LLR p-value": "#.4g",
                     "Pseudo R-squ.": ".4f", "R-squared": ".3f", "Adj. R-squared": ".3f",
                     "F-statistic": "#.4g", "Prob (F-statistic)": "#.3g",
                     "AIC": "#.4g", "BIC": "#.4g"}
_COUNTS = ("No. Observations", "Df Residuals", "Df Model")


def _format_statistic(label, value):
    if label in _COUNTS:
        value = float(value)
        return str(int(value)) if value.is_integer() else f"{value:.2f}"
    return format(value, _STATISTIC_FORMAT.get(label, "#.5g"))


def _format_number(value, decimals):
    """Fixed-point with ``decimals`` decimals for magnitudes in [1e-4, 1e4) (and 0),
    else ``decimals`` significant digits in general format."""
    if value == 0 or 1e-4 <= abs(value) < 1e4:
        return f"{value:.{decimals}f}"
    return f"{value:.{decimals}g}"


def _format_row(estimate, std_err, statistic, p_value, ci_lower, ci_upper):
    return [_format_number(estimate, 4), _format_number(std_err, 3),
            _format_number(statistic, 3), f"{p_value:.3f}", _format_number(ci_lower, 3),
            _format_number(ci_upper, 3)]


class InferenceSummary:
    """Fit statistics and the table of estimates, standard errors, tests and intervals.

    Print it for a text table laid out as statsmodels' ``summary()``; ``to_frame()``
    gives the parameter table as a pandas DataFrame at full precision, and notebooks
    render it as HTML.

    Parameters
    ----------
    title : str
        First line of the table.
    names : list of str
        Parameter names.
    estimate, std_err : array-like
        Estimates and their standard errors (NaN for aliased parameters).
    model_info : list of (str, str), default=()
        Left column of the header: what is modelled and how.
    statistics : dict, default=None
        Right column of the header: fit statistics by label, in display order.
    notes : list of str, default=()
        Caveats printed under the table.
    coverage : float, default=0.95
        Coverage of the confidence intervals.
    df_resid : float, default=None
        None for Wald tests (normal distribution, ``z``); else the degrees of freedom
        of Student's t (``t``), as in OLS.

    Attributes
    ----------
    names : list of str
        Parameter names.
    estimate, std_err, statistic, p_value, ci_lower, ci_upper : ndarray
        One value per parameter; ``statistic`` is ``estimate / std_err`` (z, or t when
        ``df_resid`` is given).  NaN for aliased parameters.
    columns : tuple of str
        Column names of the table: "z" and "P>|z|" become "t" and "P>|t|" under t.
    model_info : list of (str, str)
        Model, distribution, modelled quantity, method, convergence, covariance.
    statistics : dict
        Number of observations, degrees of freedom, goodness of fit (pseudo-R² or R²
        and adjusted R²), log-likelihood, its null value, the likelihood-ratio test's
        p-value, AIC and BIC.
    notes : list of str
        Caveats (assumed sigma, penalised estimate, aliased parameters, non-existent
        MLE, reference class).
    """

    def __init__(self, title, names, estimate, std_err, *, model_info=(), statistics=None,
                 notes=(), coverage=0.95, df_resid=None):
        self.title = title
        self.names = list(names)
        self.estimate = np.asarray(estimate, dtype=float)
        self.std_err = np.asarray(std_err, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            self.statistic = self.estimate / self.std_err
        reference = stats.norm if df_resid is None else stats.t(df_resid)
        self.p_value = 2.0 * reference.sf(np.abs(self.statistic))
        half_width = reference.ppf(0.5 + coverage / 2.0) * self.std_err
        self.ci_lower = self.estimate - half_width
        self.ci_upper = self.estimate + half_width
        self.coverage = coverage
        self.df_resid = df_resid
        letter = "z" if df_resid is None else "t"
        self.columns = ("coef", "std err", letter, f"P>|{letter}|", "ci lower", "ci upper")
        self.model_info = list(model_info)
        self.statistics = dict(statistics or {})
        self.notes = list(notes)

    def _rows(self):
        return np.column_stack([self.estimate, self.std_err, self.statistic, self.p_value,
                                self.ci_lower, self.ci_upper])

    def _header_rows(self):
        """Pairs of (label, text) for the left and right header columns, padded."""
        left = [(f"{label}:", text) for label, text in self.model_info]
        right = [(f"{label}:", _format_statistic(label, value))
                 for label, value in self.statistics.items()]
        n_rows = max(len(left), len(right))
        left += [("", "")] * (n_rows - len(left))
        right += [("", "")] * (n_rows - len(right))
        return list(zip(left, right))

    def _interval_labels(self):
        tail = (1.0 - self.coverage) / 2.0
        return f"[{tail:.4g}", f"{1.0 - tail:.4g}]"

    def to_frame(self):
        """The parameter table as a pandas DataFrame (pandas must be installed).

        Returns
        -------
        frame : pandas.DataFrame
            One row per parameter, the columns of :attr:`columns`, full precision.
        """
        import pandas as pd

        return pd.DataFrame(self._rows(), index=self.names, columns=list(self.columns))

    def __str__(self):
        stub = max([len(name) for name in self.names] + [12]) + 1
        width = stub + 6 * 11
        rows = self._header_rows()
        # each half of the header holds its pairs right-aligned, three spaces apart
        half = max([(width - 3) // 2] + [len(label) + len(text) + 1 for pair in rows
                                         for label, text in pair])
        width = max(width, 2 * half + 3)
        lines = [self.title.center(width).rstrip(), "=" * width]
        for (left_label, left_text), (right_label, right_text) in rows:
            left = left_label + left_text.rjust(half - len(left_label))
            right = right_label + right_text.rjust(half - len(right_label))
            lines.append((left + "   " + right).rstrip())
        lines.append("=" * width)
        headers = list(self.columns[:4]) + list(self._interval_labels())
        lines.append(" " * (width - 66) + "".join(f"{c:>11}" for c in headers))
        lines.append("-" * width)
        for name, row in zip(self.names, self._rows()):
            lines.append(f"{name:<{width - 66}}"
                         + "".join(f"{cell:>11}" for cell in _format_row(*row)))
        lines.append("=" * width)
        if self.notes:
            lines.append("Notes:")
            for number, note in enumerate(self.notes, start=1):
                lines += textwrap.wrap(f"[{number}] {note}", width=width,
                                       subsequent_indent="    ")
        return "\n".join(lines)

    __repr__ = __str__

    def _repr_html_(self):
        esc = html.escape
        header = "".join(
            "<tr>" + "".join(f"<th>{esc(label)}</th><td>{esc(text)}</td>"
                             for label, text in pair) + "</tr>"
            for pair in self._header_rows())
        columns = list(self.columns[:4]) + list(self._interval_labels())
        head = "".join(f"<th>{esc(c)}</th>" for c in ("", *columns))
        body = "".join(
            f"<tr><th>{esc(name)}</th>"
            + "".join(f"<td>{esc(cell)}</td>" for cell in _format_row(*row)) + "</tr>"
            for name, row in zip(self.names, self._rows()))
        notes = "".join(f"<li>{esc(note)}</li>" for note in self.notes)
        notes = f"<p>Notes:</p><ol>{notes}</ol>" if notes else ""
        return (f"<div><p><b>{esc(self.title)}</b></p>"
                f"<table><tbody>{header}</tbody></table>"
                f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
                f"{notes}</div>")


def penalised_note(alpha):
    return (f"alpha={alpha:g} > 0: inference is for the penalised estimate (inverse "
            "penalised information); estimates are shrunk towards 0.")


ALIASED_NOTE = ("some parameters are aliased (collinear or constant columns): the data do "
                "not identify them, their standard errors are NaN, and the degrees of "
                "freedom, AIC and BIC count only the identified ones.")


def require_covariance(estimator):
    """Raise a clear error when ``summary()`` is called without ``inference=True``."""
    if not hasattr(estimator, "covariance_"):
        raise AttributeError(
            "summary() needs the covariance of the estimates: fit with inference=True.")


def common_notes(estimator, unbounded_cause):
    """Notes every summary may carry: penalty, aliasing, non-existent MLE, no
    convergence."""
    notes = []
    if estimator.alpha > 0:
        notes.append(penalised_note(estimator.alpha))
    if estimator._aliased:
        notes.append(ALIASED_NOTE)
    if not estimator.mle_exists_:
        notes.append(f"the MLE does not exist ({unbounded_cause}): the estimates and "
                     "standard errors are not meaningful.")
    if not estimator.converged_:
        notes.append("the solver did not converge (see the ConvergenceWarning of fit): "
                     "the estimates and standard errors may be inaccurate.")
    return notes


def method_name(alpha):
    """The Method line of a summary header."""
    return f"Penalised ML (alpha={alpha:g})" if alpha > 0 else "Maximum likelihood"


def covariance_kind(alpha):
    """The Covariance line of a summary header."""
    return "inv. penalised info" if alpha > 0 else "inv. observed info"


def title_kind(alpha):
    """What a summary reports: penalised estimates when alpha > 0."""
    return "penalised maximum-likelihood estimates" if alpha > 0 else \
        "maximum-likelihood estimates"
