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

Family cases (issue 11; alpha = 0, the unpenalised fit, ``kind`` the
distribution):

* sklearn_mle      MLERegressor(distribution=kind), every other parameter at
                   its default (dispersion, shape, scale, df learned).
* sklearn_mle[tol=1e-10]
                   MLERegressor(distribution=kind, tol=1e-10,
                   max_iter=10000): the reference optimum, in no ratio.
* sk-newton-cholesky, sk-lbfgs, sk-lbfgs-long
                   PoissonRegressor / GammaRegressor(alpha=0, solver=...),
                   defaults otherwise (max_iter=100, tol=1e-4); sk-lbfgs-long
                   has max_iter=10000 (only with --long-lbfgs: on these
                   unscaled data lbfgs does not reach the optimum either way).
* glum             GeneralizedLinearRegressor(family="poisson"|"gamma",
                   alpha=0), defaults otherwise.  Negative binomial: skipped
                   (glum's NB family takes a fixed theta); Student-t: no family.
* sm-glm           statsmodels GLM(y, [1, X], family=Poisson() | Gamma(link=
                   Log())).fit() (IRLS, defaults).
* sm-newton        statsmodels discrete NegativeBinomial(y, [1, X],
                   loglike_method="nb2").fit(method="newton", maxiter=100,
                   disp=0): analytic Hessian, reaches the optimum in a few
                   iterations (its default, bfgs with maxiter=35, does not).
* sm-bfgs          NegativeBinomial(...).fit(method="bfgs", maxiter=1000,
                   disp=0); TLinearModel(y, [1, X]).fit(method="bfgs",
                   maxiter=1000, disp=0) (numerical gradients; scipy's default
                   gtol=1e-5 stops at a relative gap of about 1e-6).
* sm-bfgs-tight    TLinearModel(...).fit(method="bfgs", maxiter=1000,
                   gtol=1e-9, disp=0), which reaches the optimum.
                   TLinearModel with method="newton" (numerical Hessian) ends
                   in NaN on these data, and "nm" / "lbfgs" take minutes; not
                   run.
The statsmodels fits keep their defaults otherwise (so they also compute the
covariance of the estimates, which sklearn_mle does not by default; measured
on these cases it changes their time by a few per cent at most).
"""

import numpy as np
import scipy.sparse as sp

from objective import FAMILY_PARAMETERS

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
    "sklearn_mle[tol=1e-10]",
    "sm-glm",
    "sm-newton",
    "sm-bfgs",
    "sm-bfgs-tight",
]
SKLEARN_PEERS = {"sk-lbfgs", "sk-lbfgs-long", "sk-newton-cholesky", "sk-newton-cg",
                 "sk-ridge-cholesky", "sk-linreg"}

REFERENCE_SOLVER = "sklearn_mle[tol=1e-10]"
FAMILY_SOLVERS = {
    "poisson": ["sklearn_mle", REFERENCE_SOLVER, "sk-newton-cholesky", "sk-lbfgs",
                "sk-lbfgs-long", "glum", "sm-glm"],
    "gamma": ["sklearn_mle", REFERENCE_SOLVER, "sk-newton-cholesky", "sk-lbfgs",
              "sk-lbfgs-long", "glum", "sm-glm"],
    "negative_binomial": ["sklearn_mle", REFERENCE_SOLVER, "sm-newton", "sm-bfgs"],
    "student_t": ["sklearn_mle", REFERENCE_SOLVER, "sm-bfgs", "sm-bfgs-tight"],
}
#: peers whose peak extra memory is measured next to sklearn_mle's on a family case
FAMILY_MEM_PEERS = {"poisson": ["sk-newton-cholesky", "glum"],
                    "gamma": ["sk-newton-cholesky", "glum"],
                    "negative_binomial": ["sm-newton"],
                    "student_t": ["sm-bfgs-tight"]}
FAMILY_SKIPS = {("negative_binomial", "glum"): "glum's negative binomial has a fixed theta",
                ("student_t", "glum"): "glum has no Student-t family"}

# skip reasons that are not worth a table row
NOT_APPLICABLE = {"regression only", "classification only", "sparse case only",
                  "not a family case", "another family"}


def skip_reason(solver, case, n, d, long_lbfgs=False):
    """None if the solver runs on this case, else a short reason."""
    kind = case.kind
    is_sparse = case.name.startswith("sparse")
    if case.is_family:
        if (kind, solver) in FAMILY_SKIPS:
            return FAMILY_SKIPS[kind, solver]
        if solver not in FAMILY_SOLVERS[kind]:
            return "another family"
        if solver == "sk-lbfgs-long" and not long_lbfgs:
            return "only with --long-lbfgs"
        if is_sparse and solver.startswith("sm-"):
            return f"no sparse support (dense X = {n * d * 8 / 1e9:.0f} GB)"
        return None
    if solver == REFERENCE_SOLVER or solver.startswith("sm-"):
        return "not a family case"
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
    if case.is_family:
        return _make_family(solver, kind, X, y)

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


def _make_family(solver, kind, X, y):
    """(fit, extract) of a family case; extract also gives ``params``, the
    family's other parameters as objective.py names them."""
    if solver.startswith("sklearn_mle"):
        from sklearn_mle import MLERegressor

        params = dict(tol=1e-10, max_iter=10000) if solver == REFERENCE_SOLVER else {}

        def fit():
            return MLERegressor(distribution=kind, **params).fit(X, y)

        def extract(est):
            return dict(coef=est.coef_, intercept=est.intercept_,
                        params={p: float(getattr(est, p + "_"))
                                for p in FAMILY_PARAMETERS[kind]},
                        n_iter=_iters(getattr(est, "n_iter_", None)),
                        extra=dict(loglik_=float(est.loglik_)))
        return fit, extract

    if solver.startswith("sk-"):
        from sklearn.linear_model import GammaRegressor, PoissonRegressor

        cls = PoissonRegressor if kind == "poisson" else GammaRegressor
        params = dict(alpha=0.0, solver="lbfgs" if "lbfgs" in solver else solver[3:])
        if solver == "sk-lbfgs-long":
            params["max_iter"] = 10000

        def fit():
            return cls(**params).fit(X, y)

        def extract(est):
            return dict(coef=est.coef_, intercept=est.intercept_, params={},
                        n_iter=_iters(est.n_iter_), extra={})
        return fit, extract

    if solver == "glum":
        from glum import GeneralizedLinearRegressor

        def fit():
            return GeneralizedLinearRegressor(family=kind, alpha=0.0).fit(X, y)

        def extract(est):
            return dict(coef=est.coef_, intercept=est.intercept_, params={},
                        n_iter=_iters(getattr(est, "n_iter_", None)), extra={})
        return fit, extract

    import statsmodels.api as sm

    Xc = sm.add_constant(np.asarray(X, dtype=np.float64), prepend=True, has_constant="add")
    if solver == "sm-glm":
        family = (sm.families.Poisson() if kind == "poisson"
                  else sm.families.Gamma(link=sm.families.links.Log()))

        def fit():
            return sm.GLM(y, Xc, family=family).fit()
    elif kind == "negative_binomial":
        from statsmodels.discrete.discrete_model import NegativeBinomial

        method, maxiter = ("newton", 100) if solver == "sm-newton" else ("bfgs", 1000)

        def fit():
            return NegativeBinomial(y, Xc, loglike_method="nb2").fit(
                method=method, maxiter=maxiter, disp=0)
    else:
        from statsmodels.miscmodels.tmodel import TLinearModel

        options = dict(gtol=1e-9) if solver == "sm-bfgs-tight" else {}

        def fit():
            return TLinearModel(y, Xc).fit(method="bfgs", maxiter=1000, disp=0, **options)

    n_extra = len(FAMILY_PARAMETERS[kind])

    def extract(res):
        p = np.asarray(res.params, dtype=np.float64)
        coef_end = p.size - n_extra
        if kind == "negative_binomial":
            params = dict(alpha=p[-1])
        elif kind == "student_t":
            params = dict(df=p[-2], scale=abs(p[-1]))  # TLinearModel uses |scale|
        else:
            params = {}
        rv = getattr(res, "mle_retvals", None) or {}
        it = rv.get("iterations", getattr(res, "fit_history", {}).get("iteration"))
        extra = {}
        if "converged" in rv:
            extra["converged"] = bool(rv["converged"])
        elif hasattr(res, "converged"):
            extra["converged"] = bool(res.converged)
        return dict(coef=p[1:coef_end], intercept=p[0], params=params,
                    n_iter=None if it is None else int(it), extra=extra)
    return fit, extract


def _iters(n_iter):
    if n_iter is None:
        return None
    a = np.asarray(n_iter)
    if a.size == 0:
        return None
    return int(a.max())
