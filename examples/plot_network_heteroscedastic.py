"""
====================================================================
A network that learns its own noise: intervals right in every region
====================================================================

:ref:`Heteroscedastic regression <sphx_glr_auto_examples_plot_heteroscedastic.py>`
let a *linear* :math:`\\log \\sigma(x)` follow noise that grows with x. Here both the
mean and the noise are non-linear in x, so both come from a network
:math:`f(x; \\theta)`: with ``hidden_layer_sizes`` and ``dispersion="linear"`` the
last layer of ``MLERegressor``'s network has two outputs, the mean
:math:`\\mu(x)` and :math:`\\log \\sigma(x)`, read from the same hidden units, and the
fit minimises the Gaussian negative log-likelihood

.. math::

   \\frac{(y_i - \\mu(x_i))^2}{2 \\sigma(x_i)^2} + \\log \\sigma(x_i)
   + \\tfrac12 \\log 2\\pi .

Networks that learn a mean and a variance this way can fall into a known trap: early
on the variance absorbs the residuals and the mean stops learning (Nix & Weigend,
1994; Seitzer et al., 2022). The fit avoids it as Nix and Weigend recommended: it first
fits the mean with :math:`\\sigma` held at its null value (least squares), then
releases :math:`\\log \\sigma(x)`.

The alternative a scikit-learn user has today is ``MLPRegressor`` (squared error,
which is this likelihood with one constant :math:`\\sigma`) plus a :math:`\\sigma`
estimated from its training residuals. Its mean is as good; its intervals are not:
one width for all x is too wide where the noise is small and too narrow where it is
large. We check the 90 % intervals of both on fresh data, within each fifth of the
true :math:`\\sigma`.
"""

# %%
# Noise that grows tenfold across the inputs
# ------------------------------------------
import warnings

import matplotlib.pyplot as plt
import numpy as np
from scipy import stats
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPRegressor

from sklearn_mle import MLERegressor

rng = np.random.default_rng(3)
n_train, n_test = 2000, 4000
X = rng.uniform(-3, 3, size=(n_train + n_test, 2))
true_sigma = 0.2 * 10 ** ((X[:, 0] + 3) / 6)          # 0.2 at x1 = -3, 2 at x1 = 3
true_mean = np.sin(2 * X[:, 0]) + X[:, 1] ** 2 / 2
y = true_mean + true_sigma * rng.normal(size=len(X))
X_train, y_train = X[:n_train], y[:n_train]
X_test, y_test, sigma_test = X[n_train:], y[n_train:], true_sigma[n_train:]

# %%
# Both networks, the same architecture and weight decay
# -----------------------------------------------------
# ``alpha`` is weight decay on every weight matrix in the normalisation of the mean
# negative log-likelihood: scikit-learn's ``alpha`` is ours times the number of
# samples. Both run at most 300 L-BFGS iterations; the print says whether ours met its
# gradient tolerance within them (a network rarely reaches ``tol=1e-7``; the held-out
# figures below are what matter here).
hidden, decay, budget = (32,), 1e-4, 300
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    net = MLERegressor(dispersion="linear", hidden_layer_sizes=hidden,
                       activation="tanh", alpha=decay, max_iter=budget,
                       random_state=0).fit(X_train, y_train)
    mlp = MLPRegressor(hidden_layer_sizes=hidden, activation="tanh", solver="lbfgs",
                       alpha=decay * n_train, max_iter=budget,
                       random_state=0).fit(X_train, y_train)
print(f"sklearn_mle: {net.n_iter_} iterations, converged_ = {net.converged_}")
residual_sigma = float(np.std(y_train - mlp.predict(X_train)))
print(f"MLPRegressor's one sigma, from its training residuals: {residual_sigma:.3f}")

# %%
# Held-out likelihood and the mean's error
# ----------------------------------------
# The log-likelihood per test point scores the whole predictive distribution; the mean
# squared error scores the mean alone (no variance trap: it should match the MLP's).
mean_net, sigma_net = net.predict(X_test, return_std=True)
mean_mlp = mlp.predict(X_test)
print(f"held-out log-likelihood: network with sigma(x) "
      f"{net.log_likelihood(X_test, y_test):.4f}, MLP + one sigma "
      f"{np.mean(stats.norm.logpdf(y_test, mean_mlp, residual_sigma)):.4f} per point")
print(f"held-out MSE of the mean: network {np.mean((y_test - mean_net) ** 2):.4f}, "
      f"MLP {np.mean((y_test - mean_mlp) ** 2):.4f}, the true mean "
      f"{np.mean((y_test - true_mean[n_train:]) ** 2):.4f}")

# %%
# 90 % intervals within each fifth of the true sigma
# --------------------------------------------------
# ``predict_interval`` gives each test point's central 90 % interval under its own
# fitted :math:`\\mathcal N(\\mu(x), \\sigma(x)^2)`. An interval method is only right
# if it holds about 90 % of the points in every region, not just on average.
low, high = net.predict_interval(X_test, coverage=0.9).T
inside_net = (low <= y_test) & (y_test <= high)
half_width = stats.norm.ppf(0.95) * residual_sigma
inside_mlp = np.abs(y_test - mean_mlp) <= half_width
fifth = np.digitize(sigma_test, np.quantile(sigma_test, [0.2, 0.4, 0.6, 0.8]))
coverage = np.array([[inside_net[fifth == k].mean(), inside_mlp[fifth == k].mean()]
                     for k in range(5)])
print("fifth of true sigma | network sigma(x) | MLP + one sigma")
for k, (ours, theirs) in enumerate(coverage):
    print(f"{k + 1:>19} | {ours:16.3f} | {theirs:15.3f}")
print(f"{'all':>19} | {inside_net.mean():16.3f} | {inside_mlp.mean():15.3f}")

# %%
# The fitted noise against the truth
# ----------------------------------
order = np.argsort(X_test[:, 0])
fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
left.plot(X_test[order, 0], sigma_test[order], color="k", label="true sigma(x)")
left.plot(X_test[order, 0], sigma_net[order], ".", ms=2,
          label="network's sigma(x)")
left.axhline(residual_sigma, color="C1", ls="--", label="MLP's one sigma")
left.set_xlabel("$x_1$")
left.set_ylabel("sigma")
left.legend()
positions = np.arange(5)
right.bar(positions - 0.2, coverage[:, 0], width=0.4, label="network sigma(x)")
right.bar(positions + 0.2, coverage[:, 1], width=0.4, label="MLP + one sigma")
right.axhline(0.9, color="k", lw=1)
right.set_xticks(positions, [f"{k + 1}" for k in positions])
right.set_xlabel("fifth of the true sigma (smallest to largest)")
right.set_ylabel("coverage of the 90 % intervals")
right.set_ylim(0.5, 1.02)
right.legend(loc="lower left")
fig.tight_layout()
plt.show()
