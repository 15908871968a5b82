"""Solvers compared by the benchmark and how each is mapped onto the objective

    (1/n) sum_i NLL_i + alpha/2 ||coef||^2        (intercept unpenalised)

Mappings (n = number of samples):

* sklearn_mle      MLEClassifier(alpha=alpha) / MLERegressor(variance="fixed",
                   alpha=alpha); defaults otherwise.  At alpha = 0 the
                   classifier is built as MLEClassifier(), every parameter at
                   its default (the "default" cases of cases.py).
* sk-lbfgs, sk-newton-cholesky
                   LogisticRegression(C=1/(alpha n), solver=...); defaults
                   otherwise (so max_iter=100, tol=1e-4).  At alpha = 0,
                   C=np.inf (no penalty; scikit-learn >= 1.8 accepts it with no
                   warning and no penalty argument).  sk-lbfgs-long is
                   the same with max_iter=10000, to show what reaching the
                   optimum costs (small cases only unless --long-lbfgs).
* sk-ridge-cholesky Ridge(alpha=alpha n, solver="cholesky")  (sum of squares/2
                   + alpha_ridge/2 ||w||^2 = n * our objective + const).
* sk-linreg        LinearRegression()  (alpha = 0 only).
* glum             GeneralizedLinearRegressor(family="binomial"|"normal",
                   alpha=alpha): glum minimises 1/(2 sum s) deviance +
                   alpha/2 ||w||^2, and deviance/2 is the NLL up to a constant
                   (binomial: exactly the NLL; normal: 0.5 r^2).  No
                   multinomial family -> skipped.  Sparse case: solver="lbfgs"
                   because the default IRLS solvers form a dense d x d Hessian
                   (50001^2 doubles = 20 GB).
* statsmodels      binary: Logit with statsmodels' PenalizedMixin and an L2
                   penalty, pen_weight=n and weights alpha/2 (0 on the
                   constant), fit(method="newton") (defaults otherwise);
                   binary at alpha = 0: Logit(...).fit(method="newton");
                   gaussian: OLS(...).fit() (alpha = 0).  The constant column
                   is added outside the timed region.  Multinomial at alpha =
                   0: MNLogit(...).fit(method="newton"); its K-1 coefficient
                   vectors (class 0 is the reference) are mapped to K rows with
                   row 0 = 0, which leaves every softmax probability, hence the
                   unpenalised objective, unchanged.  Multinomial at alpha > 0:
                   skipped, since penalising K-1 vectors is a different problem
                   than the symmetric K-vector penalty.  Sparse: skipped (no sparse support; dense X would
                   be 40 GB).  float32 case: skipped (statsmodels computes in
                   float64; see the float64 case).
"""

import numpy as np
import scipy.sparse as sp

ALL_SOLVERS = [
    "sklearn_mle",
    "sklearn_mle[variance=constant]",
    "sk-lbfgs",
    "sk-lbfgs-long",
    "sk-newton-cholesky",
    "sk-newton-cg",
    "sk-ridge-cholesky",
    "sk-linreg",
    "glum",
    "statsmodels",
]
SKLEARN_PEERS = {"sk-lbfgs", "sk-lbfgs-long", "sk-newton-cholesky", "sk-newton-cg",
                 "sk-ridge-cholesky", "sk-linreg"}

# skip reasons that are not worth a table row
NOT_APPLICABLE = {"regression only", "classification only", "sparse case only"}


def skip_reason(solver, case, n, d, long_lbfgs=False):
    """None if the solver runs on this case, else a short reason."""
    kind = case.kind
    is_sparse = case.name.startswith("sparse")
    if solver == "sklearn_mle":
        return None
    if solver == "sklearn_mle[variance=constant]":
        if kind != "gaussian":
            return "regression only"
        return None
    if solver in ("sk-lbfgs", "sk-newton-cholesky", "sk-lbfgs-long", "sk-newton-cg"):
        if kind == "gaussian":
            return "classification only"
        if solver == "sk-newton-cg" and not is_sparse:
            return "sparse case only"
        if solver == "sk-newton-cholesky" and d > 5000:
            return (f"Hessian would be {d + 1}^2 doubles = "
                    f"{(d + 1) ** 2 * 8 / 1e9:.0f} GB")
        if solver == "sk-lbfgs-long" and not (case.quick or is_sparse or long_lbfgs):
            return "large cases only with --long-lbfgs"
        return None
    if solver in ("sk-ridge-cholesky", "sk-linreg"):
        if kind != "gaussian":
            return "regression only"
        if solver == "sk-linreg" and case.alpha_rule != "0":
            return "alpha > 0"
        return None
    if solver == "glum":
        if kind == "multinomial":
            return "glum has no multinomial family"
        return None
    if solver == "statsmodels":
        if kind == "multinomial" and case.alpha_rule != "0":
            return "MNLogit's K-1 parametrisation: penalised problem differs"
        if is_sparse:
            return "no sparse support (dense X = 40 GB)"
        if case.dtype == "float32":
            return "computes in float64; see the float64 case"
        return None
    return "unknown solver"


def make(solver, case, X, y, alpha):
    """Return (fit, extract).

    fit() builds a fresh estimator, fits it and returns the fitted object;
    extract(fitted) -> dict(coef, intercept, n_iter, extra).
    """
    n = X.shape[0]
    kind = case.kind

    if solver.startswith("sklearn_mle"):
        from sklearn_mle import MLEClassifier, MLERegressor

        if kind == "gaussian":
            variance = "constant" if "constant" in solver else "fixed"

            def fit():
                return MLERegressor(variance=variance, alpha=alpha).fit(X, y)
        else:
            # alpha = 0 is the default: build MLEClassifier() untouched
            params = dict(alpha=alpha) if alpha else {}

            def fit():
                return MLEClassifier(**params).fit(X, y)

        def extract(est):
            extra = {}
            if hasattr(est, "loglik_"):
                extra["loglik_"] = float(est.loglik_)
            return dict(coef=est.coef_, intercept=est.intercept_,
                        n_iter=_iters(getattr(est, "n_iter_", None)), extra=extra)
        return fit, extract

    if solver in ("sk-lbfgs", "sk-newton-cholesky", "sk-lbfgs-long", "sk-newton-cg"):
        from sklearn.linear_model import LogisticRegression

        params = dict(C=1.0 / (alpha * n) if alpha else np.inf)
        params["solver"] = "lbfgs" if "lbfgs" in solver else solver[3:]
        if solver == "sk-lbfgs-long":
            params["max_iter"] = 10000

        def fit():
            return LogisticRegression(**params).fit(X, y)

        def extract(est):
            return dict(coef=est.coef_, intercept=est.intercept_,
                        n_iter=_iters(est.n_iter_), extra={})
        return fit, extract

    if solver == "sk-ridge-cholesky":
        from sklearn.linear_model import Ridge

        def fit():
            return Ridge(alpha=alpha * n, solver="cholesky").fit(X, y)

        def extract(est):
            return dict(coef=est.coef_, intercept=est.intercept_,
                        n_iter=None, extra={})
        return fit, extract

    if solver == "sk-linreg":
        from sklearn.linear_model import LinearRegression

        def fit():
            return LinearRegression().fit(X, y)

        def extract(est):
            return dict(coef=est.coef_, intercept=est.intercept_,
                        n_iter=None, extra={})
        return fit, extract

    if solver == "glum":
        from glum import GeneralizedLinearRegressor

        params = dict(family="binomial" if kind == "binary" else "normal",
                      alpha=alpha)
        if sp.issparse(X) and X.shape[1] > 5000:
            params["solver"] = "lbfgs"

        def fit():
            return GeneralizedLinearRegressor(**params).fit(X, y)

        def extract(est):
            return dict(coef=est.coef_, intercept=est.intercept_,
                        n_iter=_iters(getattr(est, "n_iter_", None)), extra={})
        return fit, extract

    if solver == "statsmodels":
        import statsmodels.api as sm

        Xc = sm.add_constant(np.asarray(X, dtype=np.float64), prepend=True,
                             has_constant="add")
        if kind == "binary":
            from statsmodels.base._penalized import PenalizedMixin
            from statsmodels.base._penalties import L2
            from statsmodels.discrete.discrete_model import Logit

            class LogitL2(PenalizedMixin, Logit):
                pass

            w = np.full(Xc.shape[1], alpha / 2.0)
            w[0] = 0.0

            def fit():
                if alpha == 0:
                    model = Logit(y, Xc)
                else:
                    model = LogitL2(y, Xc, penal=L2(weights=w), pen_weight=n)
                return model.fit(method="newton", disp=0)
        elif kind == "multinomial":
            from statsmodels.discrete.discrete_model import MNLogit

            y_int = y.astype(np.intp)

            def fit():
                return MNLogit(y_int, Xc).fit(method="newton", disp=0)
        else:
            def fit():
                return sm.OLS(y, Xc).fit()

        def extract(res):
            p = np.asarray(res.params, dtype=np.float64)
            if p.ndim == 2:
                # MNLogit: (1 + d, K - 1), class 0 the reference -> (K, 1 + d)
                p = np.vstack([np.zeros(p.shape[0]), p.T])
            it = None
            extra = {}
            rv = getattr(res, "mle_retvals", None)
            if rv:
                it = rv.get("iterations")
                extra["converged"] = bool(rv.get("converged", True))
            return dict(coef=p[..., 1:], intercept=p[..., 0], n_iter=it, extra=extra)
        return fit, extract

    raise ValueError(solver)


def _iters(n_iter):
    if n_iter is None:
        return None
    a = np.asarray(n_iter)
    if a.size == 0:
        return None
    return int(a.max())
