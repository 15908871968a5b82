"""The summary table: a statsmodels-style report of estimates and fit statistics."""

import html
import textwrap

import numpy as np
from scipy import stats

from ..models._dask import is_dask_collection

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


def _format_row(estimate, std_err, statistic, p_value, ci_lower, ci_upper, tested=True):
    """The printed cells of one parameter row; the test's cells are blank when the
    row has no test (``tested=False``: a parameter shown on its natural scale)."""
    test = ([_format_number(statistic, 3), f"{p_value:.3f}"] if tested else ["", ""])
    return [_format_number(estimate, 4), _format_number(std_err, 3), *test,
            _format_number(ci_lower, 3), _format_number(ci_upper, 3)]


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
    from_log : array-like of bool, default=None
        Rows whose ``estimate`` and ``std_err`` are those of ``log(theta)`` for a
        positive parameter ``theta`` (a scale, a dispersion, degrees of freedom).  They
        are reported on the natural scale: the estimate ``exp(estimate)``, its
        delta-method standard error ``exp(estimate) * std_err``, the interval
        ``exp`` of the log-scale interval's endpoints, and no test (NaN statistic and
        p-value: 0 is on the boundary of the parameter's range).  None: no such row.

    Attributes
    ----------
    names : list of str
        Parameter names.
    estimate, std_err, statistic, p_value, ci_lower, ci_upper : ndarray
        One value per parameter; ``statistic`` is ``estimate / std_err`` (z, or t when
        ``df_resid`` is given).  NaN for aliased parameters.  Rows of ``from_log``
        hold the natural-scale estimate, its delta-method standard error and the
        transformed interval, with NaN statistic and p-value.
    from_log : ndarray of bool
        Which rows were estimated on the log scale and are reported on the natural
        scale.
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
                 notes=(), coverage=0.95, df_resid=None, from_log=None):
        self.title = title
        self.names = list(names)
        estimate = np.array(estimate, dtype=float)   # copies: the log rows change
        std_err = np.array(std_err, dtype=float)
        self.from_log = (np.zeros(estimate.shape, dtype=bool) if from_log is None
                         else np.asarray(from_log, dtype=bool))
        with np.errstate(divide="ignore", invalid="ignore"):
            statistic = estimate / std_err
        reference = stats.norm if df_resid is None else stats.t(df_resid)
        p_value = 2.0 * reference.sf(np.abs(statistic))
        half_width = reference.ppf(0.5 + coverage / 2.0) * std_err
        ci_lower, ci_upper = estimate - half_width, estimate + half_width
        log = self.from_log
        # a boundary at infinity is an infinite estimate and interval, honestly
        with np.errstate(over="ignore", invalid="ignore"):
            natural = np.exp(estimate[log])
            std_err[log] = natural * std_err[log]
            estimate[log] = natural
            ci_lower[log], ci_upper[log] = np.exp(ci_lower[log]), np.exp(ci_upper[log])
        statistic[log], p_value[log] = np.nan, np.nan
        self.estimate, self.std_err = estimate, std_err
        self.statistic, self.p_value = statistic, p_value
        self.ci_lower, self.ci_upper = ci_lower, ci_upper
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
        for name, row, log in zip(self.names, self._rows(), self.from_log):
            lines.append(f"{name:<{width - 66}}" + "".join(
                f"{cell:>11}" for cell in _format_row(*row, tested=not log)))
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
            + "".join(f"<td>{esc(cell)}</td>"
                      for cell in _format_row(*row, tested=not log)) + "</tr>"
            for name, row, log in zip(self.names, self._rows(), self.from_log))
        notes = "".join(f"<li>{esc(note)}</li>" for note in self.notes)
        notes = f"<p>Notes:</p><ol>{notes}</ol>" if notes else ""
        return (f"<div><p><b>{esc(self.title)}</b></p>"
                f"<table><tbody>{header}</tbody></table>"
                f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
                f"{notes}</div>")


def feature_labels(estimator, n_features, feature_names=None):
    """Feature names for tables: ``feature_names`` if given (checked by
    :func:`check_feature_names`), else ``feature_names_in_`` if known, else x0, x1,
    ..."""
    if feature_names is not None:
        return check_feature_names(feature_names, n_features)
    names = getattr(estimator, "feature_names_in_", None)
    if names is not None:
        return [str(name) for name in names]
    return [f"x{j}" for j in range(n_features)]


def check_feature_names(feature_names, n_features):
    """``feature_names`` as a list of ``n_features`` distinct strings, or a ValueError
    (TypeError for a wrong type) that says what is wrong with it."""
    if isinstance(feature_names, str) or not hasattr(feature_names, "__len__"):
        raise TypeError(
            "feature_names must be an array-like of strings, one per feature (e.g. "
            "pipeline[:-1].get_feature_names_out()); got "
            f"{type(feature_names).__name__} {feature_names!r:.60}.")
    names = np.asarray(feature_names, dtype=object)
    if names.ndim != 1:
        raise ValueError(f"feature_names must be one-dimensional; got an array of shape "
                         f"{names.shape}.")
    if names.size != n_features:
        raise ValueError(f"feature_names has {names.size} names, but the estimator was "
                         f"fitted on {n_features} features.")
    not_strings = [name for name in names if not isinstance(name, str)]
    if not_strings:
        raise TypeError(f"feature_names must be strings; got {not_strings[0]!r} of type "
                        f"{type(not_strings[0]).__name__}.")
    seen = set()
    for name in names:
        if name in seen:
            raise ValueError(f"feature_names must be distinct; {name!r} appears more than "
                             "once.")
        seen.add(name)
    return [str(name) for name in names]


def target_label(estimator):
    """The Dep. Variable of a summary: the name of y seen at fit (a pandas Series'
    ``name``), else "y"."""
    name = getattr(estimator, "_target_name", None)
    return "y" if name is None else name


def target_name(y):
    """The name of a target given to ``fit``: a Series' ``name``, a one-column
    DataFrame's column, else None (a NumPy or Dask array, a list, an unnamed Series;
    a Dask array's ``name`` is its graph key, not a variable's name)."""
    if is_dask_collection(y) and not hasattr(y, "divisions"):  # a Dask array
        return None
    if getattr(y, "ndim", None) == 1:
        name = getattr(y, "name", None)
    else:
        columns = getattr(y, "columns", None)
        name = columns[0] if columns is not None and len(columns) == 1 else None
    return None if name is None else str(name)
