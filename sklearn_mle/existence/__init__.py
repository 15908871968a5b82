"""Does the maximum-likelihood estimate exist?  The checks behind mle_exists_.

``_separation.py``: separated classes (the existence certificate and the linear
program) for the Bernoulli and softmax likelihoods of a linear model; ``_check.py``:
the regression families (a dispersion collapsing to zero, a direction of recession);
``_unbounded.py``: :class:`UnboundedLikelihoodWarning` and the variance-collapse test.
"""
