"""Models f(x; theta): parameters to raw predictions, and the gradient back.

:class:`Model` (``_model.py``) is the contract the solver fits; the linear model
(``_linear.py``) and its diagonal preconditioner (``_linear_preconditioner.py``) are
its first implementation.  A non-linear f or a model whose data live elsewhere is one
new module here.
"""

from ._linear import LinearModel
from ._model import Model

__all__ = ["LinearModel", "Model"]
