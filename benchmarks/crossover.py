"""Where the dense preconditioner stops paying: dense vs scaling on wide sparse designs.

The solver whitens the objective with the Cholesky factor of the start Hessian
(``kind="dense"``: a p x p Gram matrix, its factor, and Hessian refreshes) up to a
limit on the number of parameters and with a diagonal scaling of the columns beyond
(``kind="scaling"``); for sparse X the limit is
``SPARSE_DENSE_PRECONDITIONER_MAX_PARAMS``, set from this measurement.  This script measures both on the case where the
choice matters most, one-hot CSR designs (three categorical features of ``levels``
levels each, aliased with the intercept), for Poisson counts and binary labels, at
several widths, and writes ``benchmarks/CROSSOVER.md``:

    python benchmarks/crossover.py [--rows 200000] [--levels 100 300 600 1000 1500]

Each fit is the default ``MLERegressor(distribution="poisson")`` /
``MLEClassifier()`` (alpha = 0, existence check included), once with the limit raised
above p (dense) and once lowered below it (scaling), interleaved, best of
``--repeats``; the table gives the time, iterations and the objective each reached
(relative to the better of the two).
"""

import argparse
import os
import platform
import sys
import time
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from cases import _make_onehot  # noqa: E402

import sklearn_mle.models._linear as linear_module  # noqa: E402
from sklearn_mle import MLEClassifier, MLERegressor  # noqa: E402


def set_dense_limit(limit):
    """The largest parameter count a sparse X gets the dense preconditioner for."""
    linear_module.SPARSE_DENSE_PRECONDITIONER_MAX_PARAMS = limit


def timed_fit(make, X, y, limit):
    set_dense_limit(limit)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        estimator = make().fit(X, y)
        seconds = time.perf_counter() - start
    return seconds, estimator


def objective(estimator):
    """The mean NLL at the fit (what both fits minimise, alpha = 0)."""
    return -estimator.loglik_ / estimator._n_obs


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--levels", type=int, nargs="+", default=[100, 300, 600, 1000,
                                                                    1500])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--output", default=os.path.join(os.path.dirname(__file__),
                                                          "CROSSOVER.md"))
    args = parser.parse_args()
    original = linear_module.SPARSE_DENSE_PRECONDITIONER_MAX_PARAMS
    makers = {"poisson": lambda: MLERegressor(distribution="poisson"),
              "binary": lambda: MLEClassifier()}
    rows = []
    for kind, make in makers.items():
        for levels in args.levels:
            X, y = _make_onehot(40 + levels, args.rows, kind, levels=levels)
            n_params = X.shape[1] + 1
            best = {}
            for _ in range(args.repeats):
                for label, limit in (("dense", n_params + 1), ("scaling", n_params - 1)):
                    seconds, estimator = timed_fit(make, X, y, limit)
                    if label not in best or seconds < best[label][0]:
                        best[label] = (seconds, estimator.n_iter_, objective(estimator))
            floor = min(best["dense"][2], best["scaling"][2])
            gaps = {label: (value[2] - floor) / abs(floor) for label, value in best.items()}
            rows.append((kind, levels, n_params, best, gaps))
            print(kind, n_params, {k: round(v[0], 3) for k, v in best.items()},
                  flush=True)
    set_dense_limit(original)
    lines = [
        "# Dense vs scaling preconditioner on one-hot CSR designs",
        "",
        f"`python benchmarks/crossover.py --rows {args.rows}` on {platform.node()} "
        f"({os.cpu_count()} cores), {time.strftime('%Y-%m-%d %H:%M')}; best of "
        f"{args.repeats}, interleaved. The package's limit is {original} parameters "
        "for sparse X (dense at or below, scaling above).",
        "",
        "| target | levels × 3 | parameters | dense s | scaling s | scaling / dense "
        "| dense iter | scaling iter | dense gap | scaling gap |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for kind, levels, n_params, best, gaps in rows:
        dense, scaling = best["dense"], best["scaling"]
        lines.append(f"| {kind} | {levels} | {n_params} | {dense[0]:.3f} | "
                     f"{scaling[0]:.3f} | {scaling[0] / dense[0]:.2f} | {dense[1]} | "
                     f"{scaling[1]} | {gaps['dense']:.1e} | {gaps['scaling']:.1e} |")
    with open(args.output, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("wrote", args.output)


if __name__ == "__main__":
    main()
