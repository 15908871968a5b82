"""Wald inference at the fitted parameters: covariance, standard errors, summary table."""

import numpy as np
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


class InferenceSummary:
    """Table of estimates with Wald standard errors, z, p-values and intervals.

    Print it for a text table; ``to_frame()`` gives a pandas DataFrame and notebooks
    render it as HTML.

    Attributes
    ----------
    names : list of str
        Parameter names.
    estimate, std_err, z, p_value, ci_lower, ci_upper : ndarray
        One value per parameter; NaN for aliased parameters.
    statistics : dict
        Log-likelihood, AIC, BIC, number of observations, parameter count.
    notes : list of str
        Caveats (penalised estimate, aliased directions, non-existent MLE).
    """

    columns = ("coef", "std err", "z", "P>|z|", "ci lower", "ci upper")

    def __init__(self, title, names, estimate, std_err, statistics, notes, coverage=0.95):
        self.title = title
        self.names = list(names)
        self.estimate = np.asarray(estimate, dtype=float)
        self.std_err = np.asarray(std_err, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            self.z = self.estimate / self.std_err
        self.p_value = 2.0 * stats.norm.sf(np.abs(self.z))
        half_width = stats.norm.ppf(0.5 + coverage / 2.0) * self.std_err
        self.ci_lower = self.estimate - half_width
        self.ci_upper = self.estimate + half_width
        self.coverage = coverage
        self.statistics = dict(statistics)
        self.notes = list(notes)

    def _rows(self):
        return np.column_stack([self.estimate, self.std_err, self.z, self.p_value,
                                self.ci_lower, self.ci_upper])

    def to_frame(self):
        """The table as a pandas DataFrame (pandas must be installed)."""
        import pandas as pd

        return pd.DataFrame(self._rows(), index=self.names, columns=list(self.columns))

    def __str__(self):
        width = max([len(name) for name in self.names] + [10])
        lines = [self.title, "=" * (width + 6 * 12)]
        stats_line = "  ".join(f"{key}: {value:.6g}" if isinstance(value, float)
                               else f"{key}: {value}" for key, value in self.statistics.items())
        lines += [stats_line, "-" * (width + 6 * 12)]
        lines.append(" " * width + "".join(f"{c:>12}" for c in self.columns))
        for name, row in zip(self.names, self._rows()):
            lines.append(f"{name:<{width}}" + "".join(f"{v:>12.4g}" for v in row))
        lines.append("=" * (width + 6 * 12))
        lines += [f"Note: {note}" for note in self.notes]
        return "\n".join(lines)

    __repr__ = __str__

    def _repr_html_(self):
        header = "".join(f"<th>{c}</th>" for c in ("", *self.columns))
        body = "".join(
            "<tr><th>" + name + "</th>" + "".join(f"<td>{v:.4g}</td>" for v in row) + "</tr>"
            for name, row in zip(self.names, self._rows()))
        stats_html = ", ".join(f"{k}: {v:.6g}" if isinstance(v, float) else f"{k}: {v}"
                               for k, v in self.statistics.items())
        notes = "".join(f"<p>Note: {note}</p>" for note in self.notes)
        return (f"<div><p><b>{self.title}</b></p><p>{stats_html}</p><table>"
                f"<thead><tr>{header}</tr></thead><tbody>{body}</tbody></table>{notes}</div>")


def penalised_note(alpha):
    return (f"alpha={alpha:g} > 0: Wald inference is for the penalised estimate (inverse "
            "penalised information); estimates are shrunk towards 0.")


ALIASED_NOTE = ("some parameters are aliased (collinear or constant columns): the data do "
                "not identify them, and their standard errors are NaN.")


def require_covariance(estimator):
    """Raise a clear error when ``summary()`` is called without ``inference=True``."""
    if not hasattr(estimator, "covariance_"):
        raise AttributeError(
            "summary() needs the covariance of the estimates: fit with inference=True.")


def common_notes_and_statistics(estimator, unbounded_cause):
    """Notes (penalty, aliasing, non-existent MLE) and fit statistics of a summary."""
    notes = []
    if estimator.alpha > 0:
        notes.append(penalised_note(estimator.alpha))
    if estimator._aliased:
        notes.append(ALIASED_NOTE)
    if not estimator.mle_exists_:
        notes.append(f"the MLE does not exist ({unbounded_cause}): the estimates and "
                     "standard errors are not meaningful.")
    statistics = {"n": estimator._n_obs, "log-likelihood": estimator.loglik_,
                  "AIC": estimator.aic_, "BIC": estimator.bic_,
                  "parameters": estimator._n_params}
    return notes, statistics


def title_kind(alpha):
    """What a summary reports: penalised estimates when alpha > 0."""
    return "penalised maximum-likelihood estimates" if alpha > 0 else \
        "maximum-likelihood estimates"
