"""Networks: the same likelihoods on f(x; theta), against scikit-learn's MLP.

    python benchmarks/bench_network.py [--rows 100000] [--output benchmarks/RESULTS_network.md]

Writes ``RESULTS_network.md`` (and ``.json``) with four parts, all measured in this
one run:

1. **Speed, regression and 10 classes.**  The same architecture (hidden (64, 64),
   relu), data, start budget and mapped penalty (our ``alpha`` = MLP's ``alpha / n``,
   the objective of both is then the mean NLL plus ``alpha / 2 * sum ||W||^2`` up to a
   constant) on 100 000 x 20: ``MLERegressor(dispersion=1.0)`` against
   ``MLPRegressor(solver="lbfgs")`` and ``MLEClassifier`` against
   ``MLPClassifier(solver="lbfgs")``.  A network has local optima, and the two start
   from different random weights, so both run the same number of L-BFGS iterations
   (``max_iter``) and the table gives the time per fit, the number of objective and
   gradient evaluations, the time per evaluation (the fair comparison of the passes)
   and the objective each reached, and our float32 fit beside our float64 one.  Peak
   memory: tracemalloc's peak during a second fit of each.
2. **Heteroscedastic regression.**  y = sin(2 x0) + x1^2 / 2 + sigma(x) e with sigma
   rising tenfold across x0: our network with ``dispersion="linear"`` (a mean and a
   log sigma from the same hidden layers; once more with the log sigma output's
   weights decayed ten times as strongly, ``dispersion_alpha``) against
   ``MLPRegressor`` plus a constant
   sigma from its training residuals: held-out log-likelihood, held-out MSE of the
   mean, and the coverage of 90 % intervals within each quintile of the true sigma.
3. **Counts.**  Poisson and negative binomial networks against
   ``MLPRegressor(loss="poisson")`` on overdispersed counts with a non-linear log
   mean: held-out log-likelihood (the MLP's means scored under the Poisson).
"""

import argparse
import json
import os
import platform
import time
import tracemalloc
import warnings

import numpy as np
from scipy import stats
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier, MLPRegressor

from sklearn_mle import MLEClassifier, MLERegressor
from sklearn_mle.models import _network

HIDDEN = (64, 64)


class EvaluationCounter:
    """Counts the objective-and-gradient evaluations of our network fits and of the
    MLP's L-BFGS (by wrapping the method each solver calls)."""

    def __init__(self):
        self.count = 0
        self._patches = []

    def wrap(self, cls, name):
        original = getattr(cls, name)
        counter = self

        def counted(*args, **kwargs):
            counter.count += 1
            return original(*args, **kwargs)

        setattr(cls, name, counted)
        self._patches.append((cls, name, original))

    def restore(self):
        for cls, name, original in self._patches:
            setattr(cls, name, original)


def counted_fit(estimator, X, y, cls, name):
    """Fit, returning (seconds, evaluations)."""
    counter = EvaluationCounter()
    counter.wrap(cls, name)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            start = time.perf_counter()
            estimator.fit(X, y)
            seconds = time.perf_counter() - start
    finally:
        counter.restore()
    return seconds, counter.count


def peak_mb(make, X, y):
    """tracemalloc peak (MB) of a fit."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        tracemalloc.start()
        make().fit(X, y)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak / 2**20


def mlp_penalised_objective(mlp, X, y, alpha, classification):
    """Mean NLL (up to our Gaussian's constant) plus alpha/2 ||W||^2 of a fitted MLP."""
    squares = sum(float(np.sum(W * W)) for W in mlp.coefs_)
    if classification:
        proba = np.clip(mlp.predict_proba(X), 1e-300, None)
        index = np.searchsorted(mlp.classes_, y)
        nll = -float(np.mean(np.log(proba[np.arange(y.size), index])))
    else:
        nll = 0.5 * float(np.mean((y - mlp.predict(X)) ** 2)) + 0.5 * np.log(2 * np.pi)
    return nll + 0.5 * alpha * squares


def ours_penalised_objective(estimator, X, y, alpha):
    """Our objective at the fit: mean NLL plus alpha/2 ||W||^2 (biases free)."""
    squares = sum(float(np.sum(W * W)) for W in estimator.coefs_)
    return -estimator.log_likelihood(X, y) + 0.5 * alpha * squares


def speed_data(rows, seed, classes=None):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, 20)) * np.geomspace(0.1, 10, 20)
    z = X / np.geomspace(0.1, 10, 20)
    signal = np.sin(z[:, 0]) + z[:, 1] * z[:, 2] / 2 + np.tanh(z[:, 3:8].sum(axis=1))
    if classes is None:
        return X, signal + 0.5 * rng.normal(size=rows)
    scores = np.column_stack([np.sin(z[:, k] + k) + z[:, (k + 1) % 20] * z[:, 2] / 3
                              for k in range(classes)])
    scores += rng.gumbel(size=scores.shape)
    return X, scores.argmax(axis=1)


def speed_part(rows, max_iter):
    results = []
    for task in ("regression", "classification (10 classes)"):
        classification = task != "regression"
        X, y = speed_data(rows, 1 if classification else 0,
                          classes=10 if classification else None)
        alpha = 1e-4
        common = dict(hidden_layer_sizes=HIDDEN, activation="relu", random_state=0,
                      max_iter=max_iter)
        if classification:
            ours = lambda: MLEClassifier(alpha=alpha, tol=1e-12, **common)  # noqa: E731
            mlp = lambda: MLPClassifier(solver="lbfgs", alpha=alpha * rows,  # noqa: E731
                                        tol=0.0, max_fun=10 * max_iter, **common)
        else:
            ours = lambda: MLERegressor(dispersion=1.0, alpha=alpha,  # noqa: E731
                                        tol=1e-12, **common)
            mlp = lambda: MLPRegressor(solver="lbfgs", alpha=alpha * rows,  # noqa: E731
                                       tol=0.0, max_fun=10 * max_iter, **common)
        mlp_class = MLPClassifier if classification else MLPRegressor
        row = {"task": task, "rows": rows, "alpha": alpha, "max_iter": max_iter}
        for label, make, data, cls, name in [
            ("ours float64", ours, X, _network.NetworkModel, "objective_gradient"),
            ("ours float32", ours, X.astype(np.float32), _network.NetworkModel,
             "objective_gradient"),
            ("MLP lbfgs", mlp, X, mlp_class, "_loss_grad_lbfgs"),
        ]:
            estimator = make()
            seconds, evaluations = counted_fit(estimator, data, y, cls, name)
            objective = (mlp_penalised_objective(estimator, X, y, alpha, classification)
                         if label.startswith("MLP")
                         else ours_penalised_objective(estimator, X, y, alpha))
            row[label] = {"seconds": seconds, "evaluations": evaluations,
                          "per_evaluation": seconds / max(evaluations, 1),
                          "iterations": int(estimator.n_iter_),
                          "objective": objective,
                          "peak_mb": peak_mb(make, data, y)}
            print(task, label, {k: round(v, 4) if isinstance(v, float) else v
                                for k, v in row[label].items()}, flush=True)
        row["X_mb"] = X.nbytes / 2**20
        results.append(row)
    return results


def heteroscedastic_part(seed=3, n_train=20_000, n_test=20_000):
    rng = np.random.default_rng(seed)
    n = n_train + n_test
    X = rng.uniform(-3, 3, size=(n, 3))
    sigma = 0.2 * 10 ** ((X[:, 0] + 3) / 6)          # 0.2 .. 2: tenfold
    mean = np.sin(2 * X[:, 0]) + X[:, 1] ** 2 / 2
    y = mean + sigma * rng.normal(size=n)
    train, test = slice(0, n_train), slice(n_train, n)
    alpha = 1e-4
    common = dict(hidden_layer_sizes=(32, 32), activation="tanh", random_state=0,
                  max_iter=2000)
    quintile = np.digitize(sigma[test], np.quantile(sigma[test], [0.2, 0.4, 0.6, 0.8]))

    def scored(seconds, iterations, mean_test, low, high, loglik):
        inside = (low <= y[test]) & (y[test] <= high)
        return {"seconds": seconds, "heldout_loglik": loglik,
                "heldout_mse": float(np.mean((y[test] - mean_test) ** 2)),
                "coverage_by_sigma_quintile": [float(inside[quintile == q].mean())
                                               for q in range(5)],
                "iterations": int(iterations)}

    result = {"n_train": n_train, "n_test": n_test,
              "true_mean_mse": float(np.mean(sigma[test] ** 2))}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        # the mean's and the log-scale's weights: one decay, and the log scale's ten
        # times stronger (dispersion_alpha)
        for label, dispersion_alpha in (("ours", None),
                                        ("ours, dispersion_alpha = 10 alpha",
                                         10 * alpha)):
            ours = MLERegressor(dispersion="linear", alpha=alpha,
                                dispersion_alpha=dispersion_alpha, **common)
            start = time.perf_counter()
            ours.fit(X[train], y[train])
            seconds = time.perf_counter() - start
            low, high = ours.predict_interval(X[test], 0.9).T
            result[label] = scored(seconds, ours.n_iter_, ours.predict(X[test]), low,
                                   high, float(ours.log_likelihood(X[test], y[test])))
        mlp = MLPRegressor(solver="lbfgs", alpha=alpha * n_train, tol=1e-8,
                           max_fun=20000, **common)
        start = time.perf_counter()
        mlp.fit(X[train], y[train])
        seconds = time.perf_counter() - start
    residual_sd = float(np.std(y[train] - mlp.predict(X[train])))
    mlp_mean = mlp.predict(X[test])
    z = stats.norm.ppf(0.95)
    result["MLP + constant sigma"] = scored(
        seconds, mlp.n_iter_, mlp_mean, mlp_mean - z * residual_sd,
        mlp_mean + z * residual_sd,
        float(np.mean(stats.norm.logpdf(y[test], mlp_mean, residual_sd))))
    print("heteroscedastic", json.dumps(result), flush=True)
    return result


def counts_part(seed=4, n_train=20_000, n_test=20_000):
    rng = np.random.default_rng(seed)
    n = n_train + n_test
    X = rng.uniform(-2, 2, size=(n, 4))
    log_mean = 0.5 + np.sin(1.5 * X[:, 0]) + 0.4 * X[:, 1] * X[:, 2]
    dispersion = 0.5                                  # NB2: Var = mu + 0.5 mu^2
    mu = np.exp(log_mean)
    y = rng.negative_binomial(1 / dispersion, 1 / (1 + dispersion * mu)).astype(float)
    train, test = slice(0, n_train), slice(n_train, n)
    alpha = 1e-4
    common = dict(hidden_layer_sizes=(32, 32), activation="tanh", random_state=0,
                  max_iter=1000)
    result = {"n_train": n_train, "n_test": n_test,
              "true_heldout_loglik": float(np.mean(stats.nbinom.logpmf(
                  y[test], 1 / dispersion, 1 / (1 + dispersion * mu[test]))))}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for label, distribution in (("ours poisson", "poisson"),
                                    ("ours negative_binomial", "negative_binomial")):
            start = time.perf_counter()
            model = MLERegressor(distribution=distribution, alpha=alpha,
                                 **common).fit(X[train], y[train])
            result[label] = {"seconds": time.perf_counter() - start,
                             "heldout_loglik": float(model.log_likelihood(X[test],
                                                                          y[test]))}
        start = time.perf_counter()
        mlp = MLPRegressor(loss="poisson", solver="lbfgs", alpha=alpha * n_train,
                           tol=1e-8, max_fun=20000, **common).fit(X[train], y[train])
        seconds = time.perf_counter() - start
    mlp_mean = np.clip(mlp.predict(X[test]), 1e-300, None)
    result["MLP poisson"] = {"seconds": seconds, "heldout_loglik": float(np.mean(
        stats.poisson.logpmf(y[test], mlp_mean)))}
    print("counts", json.dumps(result), flush=True)
    return result


def report(speed, hetero, counts, args, started):
    lines = ["# Networks against scikit-learn's MLP", "",
             f"`python benchmarks/bench_network.py --rows {args.rows}` on "
             f"{platform.node()} ({os.cpu_count()} cores), started {started}; every "
             "figure from this one run. See the script's docstring for what is compared.",
             "", "## Speed at the same architecture, data and penalty", "",
             "| task | fit | iterations | evaluations | time s | s / evaluation | "
             "objective | peak MB (X MB) |", "|---|---|---:|---:|---:|---:|---:|---:|"]
    for row in speed:
        for label in ("ours float64", "ours float32", "MLP lbfgs"):
            r = row[label]
            lines.append(f"| {row['task']} | {label} | {r['iterations']} | "
                         f"{r['evaluations']} | {r['seconds']:.2f} | "
                         f"{r['per_evaluation']:.4f} | {r['objective']:.6f} | "
                         f"{r['peak_mb']:.0f} ({row['X_mb']:.0f}) |")
    lines.append("")
    for row in speed:
        ours, ours32, mlp = row["ours float64"], row["ours float32"], row["MLP lbfgs"]
        lines.append(
            f"- {row['task']}: per evaluation ours / MLP = "
            f"**{ours['per_evaluation'] / mlp['per_evaluation']:.2f}** (target <= 0.5), "
            f"per fit of {row['max_iter']} iterations "
            f"**{ours['seconds'] / mlp['seconds']:.2f}**; float32 / float64 per "
            f"evaluation **{ours32['per_evaluation'] / ours['per_evaluation']:.2f}** "
            "(target <= 0.6).")
    ours, mlp = hetero["ours"], hetero["MLP + constant sigma"]
    lines += ["", "## Heteroscedastic regression (sigma(x) rising tenfold)", "",
              "| fit | held-out log-lik | held-out MSE | 90 % coverage by quintile of "
              "true sigma | time s |", "|---|---:|---:|---|---:|"]
    for label, r in (("ours, dispersion='linear'", ours),
                     ("ours, dispersion='linear', dispersion_alpha = 10 alpha",
                      hetero["ours, dispersion_alpha = 10 alpha"]),
                     ("MLPRegressor + constant sigma", mlp)):
        coverage = ", ".join(f"{c:.3f}" for c in r["coverage_by_sigma_quintile"])
        lines.append(f"| {label} | {r['heldout_loglik']:.4f} | {r['heldout_mse']:.4f} | "
                     f"{coverage} | {r['seconds']:.1f} |")
    lines += ["", f"Mean MSE ratio ours / MLP: "
              f"**{ours['heldout_mse'] / mlp['heldout_mse']:.3f}** (target within 5 %); "
              f"the noise alone gives {hetero['true_mean_mse']:.4f}.", "",
              "## Counts (NB2 data, non-linear log mean)", "",
              "| fit | held-out log-lik | time s |", "|---|---:|---:|"]
    for label in ("ours poisson", "ours negative_binomial", "MLP poisson"):
        lines.append(f"| {label} | {counts[label]['heldout_loglik']:.4f} | "
                     f"{counts[label]['seconds']:.1f} |")
    lines.append(f"| the true distribution | {counts['true_heldout_loglik']:.4f} | |")
    with open(args.output, "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(os.path.splitext(args.output)[0] + ".json", "w") as f:
        json.dump({"speed": speed, "heteroscedastic": hetero, "counts": counts,
                   "started": started}, f, indent=1)
    print("wrote", args.output)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--max-iter", type=int, default=100)
    parser.add_argument("--output", default=os.path.join(os.path.dirname(__file__),
                                                          "RESULTS_network.md"))
    args = parser.parse_args()
    started = time.strftime("%Y-%m-%d %H:%M")
    speed = speed_part(args.rows, args.max_iter)
    hetero = heteroscedastic_part()
    counts = counts_part()
    report(speed, hetero, counts, args, started)


if __name__ == "__main__":
    main()
