"""From the estimator's parameters to a family and its column modes.

``MLERegressor(distribution, dispersion, variance)`` names a family and says how its
dispersion is treated; :func:`configure_family` turns that into the family object and
one mode per raw column (see :meth:`Family.specialise`): ``"x"`` (linear in x),
``"constant"`` (one learned value) or a number (a fixed raw value).
"""

import copy

import numpy as np

from .._plain import plain
from . import DISTRIBUTIONS

#: variance= of the Gaussian, as dispersion=
_VARIANCE_AS_DISPERSION = {"fixed": 1.0, "constant": "constant",
                           "heteroscedastic": "linear"}
#: dispersion= -> column mode
_DISPERSION_MODES = {"constant": "constant", "linear": "x"}


def configure_family(distribution, dispersion=None, variance=None):
    """The family to fit and its column modes.

    Parameters
    ----------
    distribution : str or Family
        A name in ``DISTRIBUTIONS`` or a family object (copied, never modified).
    dispersion : {"constant", "linear"}, float or None
        How the dispersion column is treated; None: the family's default.
    variance : {"fixed", "constant", "heteroscedastic"} or None
        The Gaussian's own name for the same choice.

    Returns
    -------
    family : Family
        The family, specialised to the modes (e.g. the unit-variance Gaussian).
    modes : tuple
        One mode per raw column; the mean's (column 0) is always "x".

    Examples
    --------
    >>> from sklearn_mle.families._config import configure_family
    >>> family, modes = configure_family("gaussian", variance="fixed")
    >>> type(family).__name__, modes
    ('GaussianFixedScaleLoss', ('x',))
    """
    if isinstance(distribution, str):
        family = DISTRIBUTIONS[distribution]()
    else:
        family = copy.deepcopy(distribution)
    modes = list(family.column_modes)
    modes[0] = "x"
    if variance is not None:
        if not family.variance_option:
            raise ValueError(
                f"variance={plain(variance)!r} is an option of the Gaussian distribution; the "
                f"{family.name} distribution takes dispersion= ('constant', 'linear' or "
                "a fixed positive value).")
        if dispersion is not None:
            raise ValueError(
                f"Set either variance= or dispersion=, not both (got "
                f"variance={plain(variance)!r}, dispersion={plain(dispersion)!r}).")
        dispersion = _VARIANCE_AS_DISPERSION[variance]
    if dispersion is not None:
        j = family.dispersion_column
        if j is None:
            raise ValueError(
                f"The {family.name} distribution has no dispersion parameter, so "
                f"dispersion must be None; got dispersion={plain(dispersion)!r}.")
        modes[j] = (_DISPERSION_MODES.get(dispersion) if isinstance(dispersion, str)
                    else float(np.log(dispersion)))
    return family.specialise(modes)


def configuration_label(distribution, dispersion, family, modes):
    """How the estimator was configured, for titles and warnings."""
    if family.variance_option and dispersion is None:
        return f"variance={family.variance_label(modes)!r}"
    name = distribution if isinstance(distribution, str) else family.name
    label = f"distribution={name!r}"
    if dispersion is not None:
        label += f", dispersion={plain(dispersion)!r}"
    return label


def dispersion_penalty_weight(family, modes, alpha, dispersion_alpha, label):
    """``dispersion_alpha / alpha`` (1.0 for None), the weight of the penalty on the
    coefficients of a dispersion that depends on x, checked against ``alpha``; and the
    warning to give where the configuration ``label`` has no such coefficients (None
    otherwise).  A ValueError where the two leave no objective to minimise."""
    if dispersion_alpha is None or dispersion_alpha == alpha:
        return 1.0, None
    j = family.dispersion_column
    if j is None or modes[j] != "x":
        return 1.0, (f"dispersion_alpha={dispersion_alpha!r} is ignored: in {label} the "
                     "dispersion does not depend on x (it applies with "
                     "dispersion='linear' or variance='heteroscedastic').")
    if alpha == 0:
        raise ValueError(f"dispersion_alpha={dispersion_alpha!r} needs alpha > 0: alpha=0 "
                         "asks for the unpenalised maximum likelihood (with its existence "
                         "check); penalise both or neither.")
    if dispersion_alpha == 0:
        raise ValueError(f"dispersion_alpha=0 with alpha={alpha!r} leaves the coefficients "
                         "of the log dispersion unpenalised, and the dispersion can "
                         "collapse on samples the mean fits exactly: the objective then "
                         "has no minimum. Give it a positive value.")
    return float(dispersion_alpha) / float(alpha), None
