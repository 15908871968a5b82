"""Benchmark cases: data sets, penalty strengths, and an on-disk cache.

Every case is deterministic (fixed seeds) so that each fresh worker process
sees exactly the same data.  Generated arrays are cached as .npy/.npz files in
``$SKLEARN_MLE_BENCH_CACHE`` (default ``~/.cache/sklearn_mle_bench``) so that
workers only pay for a load, not for the generation.

Penalty convention (shared by every solver, see ``objective.py``)::

    objective(coef, b) = (1/n) * sum_i NLL_i + alpha/2 * ||coef||^2

with an unpenalised intercept.  Classification cases use ``alpha = 1/n``,
i.e. scikit-learn's default ``C = 1.0`` (``C = 1/(alpha*n)``), so that the
penalised optimum exists even on separable data (digits).  The Gaussian
regression cases use ``alpha = 0`` (ordinary least squares), which is the one
penalty for which LinearRegression, statsmodels OLS and the learned-variance
MLE all share the coefficient optimum.

The "default" cases (``Case.is_default``: classification with ``alpha = 0``)
measure what a user meets first: ``MLEClassifier()`` with its default
parameters, i.e. the unpenalised maximum-likelihood fit, against the
unpenalised fits of the peers (scikit-learn ``C = np.inf``, statsmodels
Logit/MNLogit, glum ``alpha = 0``).  One of them is completely separable
(``Case.separable``): there the objective has no minimum (its infimum is 0).

The "family" cases (``Case.is_family``, issue 11) fit
``MLERegressor(distribution=kind)`` with its defaults (``alpha = 0``) on
counts (Poisson, negative binomial with a learned dispersion), positive
skewed targets (Gamma with a learned shape) and heavy-tailed noise
(Student-t with learned scale and degrees of freedom), every one generated
from the same unscaled correlated features.  ``objective.py`` says what each
family's gap is measured on.

``SKLEARN_MLE_BENCH_MAX_ROWS=N`` keeps only the first N rows of every case
(the cache still holds the full data).  It exists to check quickly that the
harness runs on a loaded machine; the report states it in a banner, and its
times are not benchmark results.
"""

import os
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

CACHE_VERSION = "v1"


@dataclass
class Case:
    name: str
    kind: str  # "binary", "multinomial", "gaussian", or one of FAMILY_KINDS
    description: str
    quick: bool = False
    dtype: str = "float64"
    base: str = None  # case whose data this one is a copy of (float32 copy)
    layout: str = "C"  # "F": column-major copy, the layout of a pandas DataFrame's values
    alpha_rule: str = "1/n"  # "1/n" or "0"
    separable: bool = False  # the unpenalised objective has no minimum
    notes: list = field(default_factory=list)

    def alpha(self, n):
        return 1.0 / n if self.alpha_rule == "1/n" else 0.0

    @property
    def is_default(self):
        """Classification at alpha = 0: the default MLEClassifier() fit."""
        return self.kind in ("binary", "multinomial") and self.alpha_rule == "0"

    @property
    def is_family(self):
        """A regression family of issue 11, fitted with MLERegressor(distribution=kind)."""
        return self.kind in FAMILY_KINDS

    @property
    def group(self):
        """The report section (and ``--only`` group) the case belongs to."""
        if self.is_family:
            return "families"
        return "defaults" if self.is_default else "issue3"


#: ``MLERegressor(distribution=...)`` values with a benchmark case (issue 11)
FAMILY_KINDS = ("poisson", "gamma", "negative_binomial", "student_t")
GROUPS = ("issue3", "defaults", "families")


CASES = [
    Case("breast_cancer", "binary",
         "load_breast_cancer, raw (unscaled) features, 569 x 30", quick=True),
    Case("digits", "multinomial",
         "load_digits, 10 classes, 1797 x 64 (pixel values 0..16)", quick=True),
    Case("diabetes_ols", "gaussian",
         "load_diabetes, 442 x 10, Gaussian fixed sigma, alpha = 0", quick=True,
         alpha_rule="0"),
    Case("binary_100k_50", "binary",
         "synthetic correlated unscaled binary, 100000 x 50, column scales over "
         "4 decades, non-zero means"),
    Case("binary_100k_50_f32", "binary",
         "float32 copy of binary_100k_50 (objective evaluated on the float32 "
         "values promoted to float64)", dtype="float32", base="binary_100k_50"),
    Case("binary_100k_300", "binary",
         "synthetic correlated unscaled binary, 100000 x 300"),
    Case("multi5_50k_60", "multinomial",
         "synthetic correlated unscaled 5-class, 50000 x 60"),
    Case("sparse_100k_50k", "binary",
         "sparse text-like CSR, 100000 x 50000, 50 Zipf-distributed term draws "
         "a row (~45 distinct non-zeros), raw term counts"),
    Case("gauss_100k_100", "gaussian",
         "synthetic correlated unscaled Gaussian regression, 100000 x 100, "
         "fixed sigma, alpha = 0", alpha_rule="0"),
    # default parameters (alpha = 0): the cases of issue 10
    Case("default_binary_300k_40", "binary",
         "synthetic correlated unscaled binary, 300000 x 40, alpha = 0; linear "
         "predictor scaled to standard deviation 2.5, so most probabilities are "
         "moderate and a few hundredths of a per cent of them exceed 1 - 1e-4; "
         "not separable", alpha_rule="0"),
    Case("default_binary_800k_20", "binary",
         "synthetic correlated unscaled binary, 800000 x 20, alpha = 0, same "
         "generator as default_binary_300k_40", alpha_rule="0"),
    Case("default_multi6_100k_30", "multinomial",
         "synthetic correlated unscaled 6-class, 100000 x 30, alpha = 0; class "
         "scores scaled to standard deviation 2; not separable", alpha_rule="0"),
    Case("default_multi6_100k_30_F", "multinomial",
         "column-major copy of default_multi6_100k_30 (the layout of a pandas "
         "DataFrame's values, what most users pass)", alpha_rule="0",
         base="default_multi6_100k_30", layout="F"),
    Case("sparse_onehot_binary_500k_3000", "binary",
         "one-hot CSR, 500000 x 3000: three categorical features of 1000 levels each "
         "(every block sums to 1, so with the intercept two columns are aliased), "
         "logit of standard deviation 0.5; alpha = 0, the default fit", alpha_rule="0"),
    Case("default_breast_cancer_separable", "binary",
         "load_breast_cancer, raw features, 569 x 30, alpha = 0: completely "
         "separable, so the MLE does not exist", quick=True, base="breast_cancer",
         alpha_rule="0", separable=True),
    # families (issue 11), default parameters (alpha = 0)
    Case("poisson_200k_50", "poisson",
         "synthetic correlated unscaled Poisson counts, 200000 x 50, log link, "
         "log mean of standard deviation 0.8 around log 3 (mean count 4.1, "
         "12 % zeros, largest 206)", alpha_rule="0"),
    Case("sparse_onehot_poisson_500k_3000", "poisson",
         "one-hot CSR, 500000 x 3000 (three categorical features of 1000 levels, "
         "aliased with the intercept), Poisson counts, log mean of standard deviation "
         "0.5 around log 1.6; the default MLERegressor(distribution='poisson')",
         alpha_rule="0"),
    Case("gamma_200k_30", "gamma",
         "synthetic correlated unscaled Gamma targets, 200000 x 30, log link, "
         "log mean of standard deviation 0.6 around log 10, shape 2 (y from "
         "0.009 to 382)", alpha_rule="0"),
    Case("negbin_50k_20", "negative_binomial",
         "synthetic correlated unscaled NB2 counts, 50000 x 20, log link, log "
         "mean of standard deviation 0.7 around log 2, alpha = 0.5 (learned); mean "
         "count 2.6, variance 11.8, 27 % zeros, largest 63",
         alpha_rule="0"),
    Case("student_t_100k_20", "student_t",
         "synthetic correlated unscaled linear regression with Student-t noise, "
         "100000 x 20, scale 2, 4 degrees of freedom (both learned); a size where "
         "statsmodels' TLinearModel (numerical gradients) takes seconds to tens of "
         "seconds", alpha_rule="0"),
]
CASES_BY_NAME = {c.name: c for c in CASES}


def cache_dir():
    d = os.environ.get(
        "SKLEARN_MLE_BENCH_CACHE",
        os.path.join(os.path.expanduser("~"), ".cache", "sklearn_mle_bench"))
    d = os.path.join(d, CACHE_VERSION)
    os.makedirs(d, exist_ok=True)
    return d


# --------------------------------------------------------------------------
# generators
# --------------------------------------------------------------------------

def _correlated_unscaled(rng, n, d, rho=0.9):
    """AR(1)-correlated columns plus a common factor, then rescaled.

    Column scales are 10**U(-2, 2) (four decades) and the columns get non-zero
    means of a few standard deviations, as in raw tabular data.
    """
    X = np.empty((n, d))
    f = rng.standard_normal(n)
    prev = rng.standard_normal(n)
    s = np.sqrt(1 - rho ** 2)
    for j in range(d):
        col = rho * prev + s * rng.standard_normal(n)
        prev = col
        X[:, j] = col + 0.5 * f
    scales = 10.0 ** rng.uniform(-2, 2, size=d)
    means = rng.uniform(-3, 3, size=d) * scales
    X *= scales
    X += means
    return X, scales, means


def _make_binary(seed, n, d, eta_sd=None):
    """Bernoulli labels from a linear predictor; eta_sd rescales its spread."""
    rng = np.random.default_rng(seed)
    X, scales, means = _correlated_unscaled(rng, n, d)
    beta_std = rng.standard_normal(d) / np.sqrt(d) * 1.5
    beta = beta_std / scales
    eta = (X - means) @ beta
    if eta_sd is not None:
        eta *= eta_sd / eta.std()
    eta += 0.3
    y = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(np.float64)
    return X, y


def _make_multinomial(seed, n, d, k, eta_sd=None):
    """Gumbel-max class labels; eta_sd rescales the spread of the scores."""
    rng = np.random.default_rng(seed)
    X, scales, means = _correlated_unscaled(rng, n, d)
    B = rng.standard_normal((d, k)) / np.sqrt(d) * 1.5 / scales[:, None]
    eta = (X - means) @ B
    if eta_sd is not None:
        eta *= eta_sd / eta.std()
    eta += rng.standard_normal(k) * 0.3
    y = np.argmax(eta + rng.gumbel(size=(n, k)), axis=1).astype(np.float64)
    return X, y


def _make_gaussian(seed, n, d):
    rng = np.random.default_rng(seed)
    X, scales, means = _correlated_unscaled(rng, n, d)
    beta = rng.standard_normal(d) / scales
    y = X @ beta + 5.0 + rng.standard_normal(n) * 2.0
    return X, y


def _family_predictor(rng, n, d, eta_sd, centre):
    """Unscaled correlated X and a linear predictor of standard deviation eta_sd
    around ``centre`` (the true coefficients are 1/scale-sized, as for the
    other generated cases)."""
    X, scales, means = _correlated_unscaled(rng, n, d)
    beta = rng.standard_normal(d) / scales
    eta = (X - means) @ beta
    eta *= eta_sd / eta.std()
    return X, eta - eta.mean() + centre


def _make_poisson(seed, n, d):
    rng = np.random.default_rng(seed)
    X, eta = _family_predictor(rng, n, d, 0.8, np.log(3.0))
    return X, rng.poisson(np.exp(eta)).astype(np.float64)


def _make_gamma(seed, n, d, shape=2.0):
    rng = np.random.default_rng(seed)
    X, eta = _family_predictor(rng, n, d, 0.6, np.log(10.0))
    return X, rng.gamma(shape, np.exp(eta) / shape)


def _make_negative_binomial(seed, n, d, alpha=0.5):
    """NB2: Var = mu + alpha mu^2, drawn as numpy's negative_binomial(1/alpha, p)
    with p = 1 / (1 + alpha mu)."""
    rng = np.random.default_rng(seed)
    X, eta = _family_predictor(rng, n, d, 0.7, np.log(2.0))
    mu = np.exp(eta)
    return X, rng.negative_binomial(1.0 / alpha, 1.0 / (1.0 + alpha * mu)).astype(np.float64)


def _make_student_t(seed, n, d, scale=2.0, df=4.0):
    rng = np.random.default_rng(seed)
    X, scales, means = _correlated_unscaled(rng, n, d)
    beta = rng.standard_normal(d) / scales
    return X, X @ beta + 5.0 + scale * rng.standard_t(df, size=n)


def _make_sparse_text(seed, n, d, draws=50):
    rng = np.random.default_rng(seed)
    ranks = np.arange(d)
    p = 1.0 / (ranks + 10.0) ** 1.1
    p /= p.sum()
    cols = rng.choice(d, size=n * draws, p=p)
    rows = np.repeat(np.arange(n), draws)
    X = sp.csr_matrix((np.ones(n * draws), (rows, cols)), shape=(n, d))
    X.sum_duplicates()
    X.sort_indices()
    beta = rng.standard_normal(d) * 0.4
    eta = X @ beta - 0.2
    eta = eta - eta.mean()
    y = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(np.float64)
    return X, y


def _make_onehot(seed, n, kind, levels=1000, blocks=3):
    """Three one-hot blocks of ``levels`` columns (CSR), effects of standard deviation
    0.5 / sqrt(3) per block; binary labels or Poisson counts."""
    rng = np.random.default_rng(seed)
    columns = np.column_stack([rng.integers(0, levels, size=n) + b * levels
                               for b in range(blocks)])
    X = sp.csr_matrix((np.ones(n * blocks), (np.repeat(np.arange(n), blocks),
                                             columns.ravel())),
                      shape=(n, levels * blocks))
    X.sort_indices()
    eta = np.asarray(X @ (rng.standard_normal(levels * blocks) * 0.5 / np.sqrt(blocks)))
    if kind == "binary":
        y = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(np.float64)
    else:
        y = rng.poisson(np.exp(np.log(1.6) + eta)).astype(np.float64)
    return X, y


def _generate(name):
    if name == "breast_cancer":
        from sklearn.datasets import load_breast_cancer
        X, y = load_breast_cancer(return_X_y=True)
        return np.ascontiguousarray(X, dtype=np.float64), y.astype(np.float64)
    if name == "digits":
        from sklearn.datasets import load_digits
        X, y = load_digits(return_X_y=True)
        return np.ascontiguousarray(X, dtype=np.float64), y.astype(np.float64)
    if name == "diabetes_ols":
        from sklearn.datasets import load_diabetes
        X, y = load_diabetes(return_X_y=True, scaled=False)
        return np.ascontiguousarray(X, dtype=np.float64), y.astype(np.float64)
    if name == "binary_100k_50":
        return _make_binary(1, 100_000, 50)
    if name == "binary_100k_300":
        return _make_binary(2, 100_000, 300)
    if name == "multi5_50k_60":
        return _make_multinomial(3, 50_000, 60, 5)
    if name == "sparse_100k_50k":
        return _make_sparse_text(4, 100_000, 50_000)
    if name == "sparse_onehot_binary_500k_3000":
        return _make_onehot(21, 500_000, "binary")
    if name == "sparse_onehot_poisson_500k_3000":
        return _make_onehot(22, 500_000, "poisson")
    if name == "gauss_100k_100":
        return _make_gaussian(5, 100_000, 100)
    if name == "default_binary_300k_40":
        return _make_binary(11, 300_000, 40, eta_sd=2.5)
    if name == "default_binary_800k_20":
        return _make_binary(12, 800_000, 20, eta_sd=2.5)
    if name == "default_multi6_100k_30":
        return _make_multinomial(13, 100_000, 30, 6, eta_sd=2.0)
    if name == "poisson_200k_50":
        return _make_poisson(21, 200_000, 50)
    if name == "gamma_200k_30":
        return _make_gamma(22, 200_000, 30)
    if name == "negbin_50k_20":
        return _make_negative_binomial(23, 50_000, 20)
    if name == "student_t_100k_20":
        return _make_student_t(24, 100_000, 20)
    raise KeyError(name)


def max_rows():
    """Row limit from $SKLEARN_MLE_BENCH_MAX_ROWS (None: all rows)."""
    v = os.environ.get("SKLEARN_MLE_BENCH_MAX_ROWS")
    if not v:
        return None
    try:
        limit = int(v)
    except ValueError:
        raise ValueError(
            f"SKLEARN_MLE_BENCH_MAX_ROWS must be a positive integer, got {v!r}") from None
    if limit < 1:
        raise ValueError(f"SKLEARN_MLE_BENCH_MAX_ROWS must be >= 1, got {limit}")
    return limit


def load(name):
    """Return (X, y) for a case, X in the case's dtype, y float64 labels.

    Only the first ``max_rows()`` rows when $SKLEARN_MLE_BENCH_MAX_ROWS is set.
    """
    case = CASES_BY_NAME[name]
    src = case.base or name
    d = cache_dir()
    xs, xd, yp = (os.path.join(d, src + s) for s in ("_X.npz", "_X.npy", "_y.npy"))
    if os.path.exists(yp) and (os.path.exists(xs) or os.path.exists(xd)):
        X = sp.load_npz(xs).tocsr() if os.path.exists(xs) else np.load(xd)
        y = np.load(yp)
    else:
        X, y = _generate(src)
        tmp = yp + ".tmp.npy"
        if sp.issparse(X):
            sp.save_npz(xs + ".tmp.npz", X, compressed=False)
            os.replace(xs + ".tmp.npz", xs)
        else:
            np.save(xd + ".tmp.npy", X)
            os.replace(xd + ".tmp.npy", xd)
        np.save(tmp, y)
        os.replace(tmp, yp)
    limit = max_rows()
    if limit is not None:
        X, y = X[:limit], y[:limit]
    if case.dtype == "float32":
        X = X.astype(np.float32)
    if not sp.issparse(X):
        X = np.asfortranarray(X) if case.layout == "F" else np.ascontiguousarray(X)
    return X, y
