"""
===========================================================
A saturated network: the log undoes the exp, on a real net
===========================================================

:ref:`The log undoes the exp <sphx_glr_auto_examples_plot_log_undoes_exp.py>` showed
the seed's point on one logistic unit. Here the unit is the output of a network
:math:`f(x; \\theta)` with a hidden layer, fitted by ``MLERegressor`` with
``hidden_layer_sizes``, and the two costs are two choices of :math:`p(y \\mid x)`
written as :class:`~sklearn_mle.Family` subclasses in a few lines of NumPy:

* **Bernoulli** with :math:`p = \\sigma(z)`: the cross-entropy
  :math:`\\log(1 + e^{z}) - yz`, whose gradient at the output unit is
  :math:`\\sigma(z) - y`;
* **Gaussian with mean** :math:`\\sigma(z)` (unit variance): the squared error
  :math:`\\tfrac12 (y - \\sigma(z))^2` plus a constant, whose gradient
  :math:`(\\sigma(z) - y)\\,\\sigma(z)(1 - \\sigma(z))` vanishes where the unit is
  confidently wrong.

Both start from the same **saturated, confidently wrong** network: one fitted to the
flipped labels, so that its output logits are around :math:`\\pm 9` on the wrong side
(as after a shift in the data, or a bad initialisation). From there each cost is
minimised by the same L-BFGS, and we watch training accuracy and the mean gradient
that reaches the output unit as the iterations go.
"""

# %%
# Two families on a sigmoid output
# --------------------------------
import copy
import warnings

import matplotlib.pyplot as plt
import numpy as np
from scipy import stats
from sklearn.datasets import make_moons

from sklearn_mle import Family, MLERegressor


def sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # overflow-free 1 / (1 + exp(-z))


class SigmoidCrossEntropy(Family):
    """y ~ Bernoulli(sigmoid(z)): the cross-entropy."""

    name = "Bernoulli on a sigmoid output"
    raw_columns = ("logit",)

    def loss_gradient(self, y, raw, sample_weight, n_threads=1):
        z = raw[:, 0]
        loss = np.logaddexp(0.0, z) - y * z
        return sample_weight * loss, (sample_weight * (sigmoid(z) - y))[:, None]

    def initial_raw_prediction(self, y, sample_weight):
        p = np.clip(np.average(y, weights=sample_weight), 1e-3, 1 - 1e-3)
        return np.array([np.log(p / (1 - p))])

    def mean(self, raw):
        return sigmoid(raw[:, 0])

    def distribution(self, raw):
        return stats.bernoulli(sigmoid(raw[:, 0]))


class SigmoidSquaredError(SigmoidCrossEntropy):
    """y ~ Normal(sigmoid(z), 1): the squared error on the sigmoid."""

    name = "Gaussian on a sigmoid output"

    def loss_gradient(self, y, raw, sample_weight, n_threads=1):
        p = sigmoid(raw[:, 0])
        loss = 0.5 * (y - p) ** 2 + 0.5 * np.log(2 * np.pi)
        return sample_weight * loss, (sample_weight * (p - y) * p * (1 - p))[:, None]

    def distribution(self, raw):
        return stats.norm(loc=sigmoid(raw[:, 0]), scale=1.0)


def output_gradient(family, p, y):
    """Median |dJ/dz| over the samples: the gradient reaching the output unit."""
    if isinstance(family, SigmoidSquaredError):
        return np.median(np.abs((p - y) * p * (1 - p)))
    return np.median(np.abs(p - y))


# %%
# A confidently wrong start
# -------------------------
# Two interleaved half-moons, fitted with a (16,) tanh network to the *flipped* labels.
X, y = make_moons(n_samples=600, noise=0.15, random_state=0)
y = y.astype(float)
network = dict(hidden_layer_sizes=(16,), activation="tanh", alpha=1e-4, random_state=0)
with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # (it may stop short: any saturated start will do)
    wrong = MLERegressor(distribution=SigmoidCrossEntropy(), max_iter=500,
                         **network).fit(X, 1 - y)
p0 = wrong.predict(X)
print(f"start: training accuracy {np.mean((p0 > 0.5) == y):.3f}, median |logit| "
      f"{np.median(np.abs(np.log(p0 / (1 - p0)))):.1f}")

# %%
# The same solver from there, under each cost
# -------------------------------------------
# ``warm_start`` continues from the network's parameters; ``max_iter`` stops it after
# k iterations, so each k is one point of the training curve.
iterations = [1, 2, 3, 5, 8, 13, 20, 30, 50, 80, 130, 200]
curves = {}
for family in (SigmoidCrossEntropy(), SigmoidSquaredError()):
    accuracy, gradient = [np.mean((p0 > 0.5) == y)], [output_gradient(family, p0, y)]
    for k in iterations:
        fit = copy.deepcopy(wrong).set_params(distribution=family, warm_start=True,
                                              max_iter=k)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # (stopped by max_iter on purpose)
            fit.fit(X, y)
        p = fit.predict(X)
        accuracy.append(np.mean((p > 0.5) == y))
        gradient.append(output_gradient(family, p, y))
    curves[family.name] = accuracy, gradient
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fresh = MLERegressor(distribution=family, max_iter=500, **network).fit(X, y)
    fresh_accuracy = np.mean((fresh.predict(X) > 0.5) == y)
    print(f"{family.name}: from the saturated start accuracy {accuracy[-1]:.3f} "
          f"after {fit.n_iter_} iterations (median start gradient {gradient[0]:.1e}); "
          f"from a fresh start {fresh_accuracy:.3f}")

fig, (ax_acc, ax_grad) = plt.subplots(1, 2, figsize=(10, 4))
steps = [0, *iterations]
for name, (accuracy, gradient) in curves.items():
    ax_acc.plot(steps, accuracy, marker="o", lw=2, label=name)
    ax_grad.plot(steps, gradient, marker="o", lw=2, label=name)
ax_acc.set_xscale("symlog", linthresh=1)
ax_acc.set_xlabel("L-BFGS iterations from the saturated start")
ax_acc.set_ylabel("training accuracy")
ax_acc.legend()
ax_grad.set_xscale("symlog", linthresh=1)
ax_grad.set_yscale("log")
ax_grad.set_xlabel("L-BFGS iterations from the saturated start")
ax_grad.set_ylabel(r"median $|\partial J / \partial z|$ at the output unit")
fig.tight_layout()
plt.show()

# %%
# What it shows
# -------------
# At the saturated start the squared error passes to the output unit a gradient
# thousands of times smaller than the cross-entropy does (the median ratio is about
# 7 000 here), for the same wrong predictions: :math:`\sigma'(z)` multiplies it. A
# quasi-Newton method rescales a small gradient, so the squared-error fit is not
# frozen, but it climbs out along directions the saturated units barely feel and
# stops at a worse stationary point (0.892 training accuracy), although from a fresh
# start the same network and cost reach 0.995. The cross-entropy, whose log undoes
# the sigmoid's exp, pulls hardest on the samples that are most wrong and fits the
# moons from either start. Choosing ``p(y | x)`` chose the cost, and with it whether
# the network can learn from its worst mistakes.
