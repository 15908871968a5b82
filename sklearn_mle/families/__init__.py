"""Families: one class per conditional distribution p(y | raw prediction).

The :class:`Family` base (``_base.py``) says what a family must give; each built-in
family is one Python module here (its class: columns, link, y-domain, start values,
predictive distribution, existence hooks) and one ``.pxi`` file of the same name
holding its scalar Cython formulas, which ``_kernels.pyx`` includes into the loops
written once for all families.  A user's family is one subclass of :class:`Family`
written in NumPy, passed as ``MLERegressor(distribution=...)``.
"""

from ._base import Family
from ._bernoulli import BernoulliLoss, BinomialLoss
from ._categorical import CategoricalLoss
from ._gamma import GammaLoss
from ._gaussian import GaussianFixedScaleLoss, GaussianLoss
from ._negative_binomial import NegativeBinomialLoss
from ._poisson import PoissonLoss
from ._student_t import StudentT, StudentTLoss

#: The built-in distributions, by the name ``MLERegressor(distribution=...)`` takes.
DISTRIBUTIONS = {"gaussian": GaussianLoss, "poisson": PoissonLoss,
                 "negative_binomial": NegativeBinomialLoss, "gamma": GammaLoss,
                 "student_t": StudentTLoss, "binomial": BinomialLoss}

__all__ = ["DISTRIBUTIONS", "BernoulliLoss", "BinomialLoss", "CategoricalLoss", "Family",
           "GammaLoss", "GaussianFixedScaleLoss", "GaussianLoss", "NegativeBinomialLoss",
           "PoissonLoss", "StudentT", "StudentTLoss"]
