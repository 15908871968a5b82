"""Values as messages print them: NumPy scalars as the Python values they hold."""


def plain(value):
    """``value`` as a Python value if it is a NumPy scalar or 0-d array, else as it is.

    Under NumPy 2 the repr of a NumPy scalar names its type (``np.float64(0.5)``), so
    an error message written ``f"{value!r}"`` would print that; ``f"{plain(value)!r}"``
    prints ``0.5`` (and ``'a'`` for a string label).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_mle._plain import plain
    >>> f"{plain(np.float64(0.5))!r}, {plain(np.str_('a'))!r}, {plain([1, 2])!r}"
    "0.5, 'a', [1, 2]"
    """
    if getattr(value, "ndim", None) == 0 and hasattr(value, "item"):
        return value.item()
    return value
