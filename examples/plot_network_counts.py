"""
===========================================================================
Counts from a network: Poisson or negative binomial, by held-out likelihood
===========================================================================

A network :math:`f(x; \\theta)` can give the log of a count's mean as well as a
linear predictor can, and ``MLERegressor(hidden_layer_sizes=...)`` puts either count
family on top of it: the Poisson, or the negative binomial (NB2,
:math:`\\mathrm{Var} = \\mu + \\alpha \\mu^2`) with its dispersion :math:`\\alpha`
learned. Which one, and whether the network is needed at all, is a question for the
held-out log-likelihood: ``log_likelihood_scorer`` scores each candidate by the mean
log-probability it gives to counts it has not seen, constants included, so families
compare.

The counts here have a mean that is not log-linear in x and more spread than a
Poisson's. We let ``GridSearchCV`` choose among the linear and the network model under
each family, then compare with scikit-learn's ``MLPRegressor(loss="poisson")``, whose
mean we score under the Poisson (it fits no dispersion).
"""

# %%
# Overdispersed counts with a non-linear mean
# -------------------------------------------
import warnings

import matplotlib.pyplot as plt
import numpy as np
from scipy import stats
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.neural_network import MLPRegressor

from sklearn_mle import MLERegressor, log_likelihood_scorer

rng = np.random.default_rng(0)
n = 2400
X = rng.uniform(-2, 2, size=(n, 2))
log_mean = 1.0 + np.sin(2 * X[:, 0]) + 0.5 * X[:, 1] ** 2
alpha = 0.5  # NB2 dispersion: Var = mu + alpha mu^2
mean = np.exp(log_mean)
y = rng.negative_binomial(1 / alpha, 1 / (1 + alpha * mean)).astype(float)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.5,
                                                    random_state=0)

# %%
# Family and model chosen by held-out likelihood
# ----------------------------------------------
grid = GridSearchCV(
    MLERegressor(activation="tanh", alpha=1e-4, max_iter=300, random_state=0),
    {"distribution": ["poisson", "negative_binomial"],
     "hidden_layer_sizes": [(), (16,)]},
    scoring=log_likelihood_scorer, cv=3)
with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # (networks stopped by max_iter, if any)
    grid.fit(X_train, y_train)
for params, score in zip(grid.cv_results_["params"],
                         grid.cv_results_["mean_test_score"]):
    print(f"{params['distribution']:>17} {str(params['hidden_layer_sizes']):>6}: "
          f"cross-validated log-likelihood {score:.4f} per count")
best = grid.best_estimator_
print("chosen:", grid.best_params_, f"alpha_ = {best.alpha_:.3f} (true {alpha})"
      if hasattr(best, "alpha_") else "")

# %%
# Against scikit-learn's Poisson MLP
# ----------------------------------
# The same architecture and weight decay (scikit-learn's ``alpha`` is ours times n),
# fitted by its L-BFGS; its predicted means scored under the Poisson.
mlp = MLPRegressor(hidden_layer_sizes=(16,), activation="tanh", loss="poisson",
                   solver="lbfgs", alpha=1e-4 * len(y_train), max_iter=300,
                   random_state=0)
poisson_net = MLERegressor(distribution="poisson", hidden_layer_sizes=(16,),
                           activation="tanh", alpha=1e-4, max_iter=300, random_state=0)
with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # (both stopped by max_iter)
    mlp.fit(X_train, y_train)
    poisson_net.fit(X_train, y_train)
true_mean_test = np.exp(1.0 + np.sin(2 * X_test[:, 0]) + 0.5 * X_test[:, 1] ** 2)
held_out = {
    "sklearn_mle, chosen": best.log_likelihood(X_test, y_test),
    "sklearn_mle, Poisson network": poisson_net.log_likelihood(X_test, y_test),
    "MLPRegressor(loss='poisson')": float(np.mean(stats.poisson.logpmf(
        y_test, np.maximum(mlp.predict(X_test), 1e-12)))),
    "true model": float(np.mean(stats.nbinom.logpmf(
        y_test, 1 / alpha, 1 / (1 + alpha * true_mean_test)))),
}
for name, value in held_out.items():
    print(f"{name:>30}: held-out log-likelihood {value:.4f} per count")

# %%
# The chosen model's predictive distribution
# ------------------------------------------
# ``predict_dist`` gives each test point's fitted negative binomial; its central 90 %
# interval should hold at least 90 % of the held-out counts: its ends are the 5 % and
# 95 % quantiles, which for a discrete distribution are counts with some probability
# of their own, and the interval includes both, so it holds a little more than asked.
low, high = best.predict_interval(X_test, coverage=0.9).T
inside = (low <= y_test) & (y_test <= high)
print(f"90 % predictive intervals hold {inside.mean():.3f} of the held-out counts")

order = np.argsort(X_test[:, 0])
fig, ax = plt.subplots(figsize=(8, 4))
ax.scatter(X_test[:, 0], y_test, s=4, color="0.6", label="held-out counts")
ax.plot(X_test[order, 0], best.predict(X_test)[order], ".", ms=2,
        label="fitted mean (network)")
ax.set_yscale("symlog", linthresh=1)
ax.set_xlabel("$x_1$")
ax.set_ylabel("count")
ax.legend()
fig.tight_layout()
plt.show()
