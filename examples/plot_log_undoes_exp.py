"""
=====================================================
The log undoes the exp: why the NLL does not saturate
=====================================================

A sigmoid output :math:`\\sigma(z) = 1/(1 + e^{-z})` *saturates*: for large :math:`|z|`
its slope :math:`\\sigma'(z) = \\sigma(z)(1 - \\sigma(z))` is nearly zero. Whether that
hurts learning depends on the cost put on top of it.

* The **Bernoulli negative log-likelihood**
  :math:`J = -y \\log \\sigma(z) - (1 - y) \\log(1 - \\sigma(z)) = \\log(1 + e^{z}) - yz`
  has gradient :math:`\\partial J / \\partial z = \\sigma(z) - y`: the log cancels the
  exponential and the :math:`\\sigma'` factor is gone.
* A **squared error on the sigmoid**, :math:`\\tfrac12 (\\sigma(z) - y)^2`, has gradient
  :math:`(\\sigma(z) - y)\\,\\sigma'(z)`, which vanishes precisely when the unit is
  confidently wrong.

This example needs only NumPy: it draws both losses and gradients against the raw
prediction :math:`z`, then trains a logistic unit from a confidently wrong start with
each of them. (:class:`~sklearn_mle.MLEClassifier` minimises the first, in the stable
form :math:`\\log(1 + e^{z}) - yz`.)
"""

# %%
# Loss and gradient against the raw prediction
# --------------------------------------------
# Take a positive example, :math:`y = 1`. Large negative :math:`z` means the unit is
# confidently wrong.
import matplotlib.pyplot as plt
import numpy as np


def sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # overflow-free form of 1 / (1 + exp(-z))


def bernoulli_nll(y, z):
    # log(1 + exp(z)) - y z, written so that exp never overflows
    return np.logaddexp(0.0, z) - y * z


def bernoulli_nll_grad(y, z):
    return sigmoid(z) - y


def squared_error(y, z):
    return 0.5 * (sigmoid(z) - y) ** 2


def squared_error_grad(y, z):
    p = sigmoid(z)
    return (p - y) * p * (1.0 - p)


z = np.linspace(-10, 10, 801)
fig, (ax_loss, ax_grad) = plt.subplots(1, 2, figsize=(10, 4))
ax_loss.plot(z, bernoulli_nll(1, z), lw=2, label=r"Bernoulli NLL $\log(1+e^{z}) - z$")
ax_loss.plot(z, squared_error(1, z), lw=2, label=r"squared error $\frac{1}{2}(\sigma(z)-1)^2$")
ax_loss.set_xlabel("raw prediction $z$ (target $y = 1$)")
ax_loss.set_ylabel("loss")
ax_loss.set_title("Loss")
ax_loss.legend()

ax_grad.plot(z, bernoulli_nll_grad(1, z), lw=2, label=r"NLL: $\sigma(z) - y$")
ax_grad.plot(z, squared_error_grad(1, z), lw=2,
             label=r"squared error: $(\sigma(z) - y)\,\sigma'(z)$")
ax_grad.axhline(0, color="k", lw=0.8)
ax_grad.axvspan(-10, -4, color="C3", alpha=0.1, label="confidently wrong")
ax_grad.set_xlabel("raw prediction $z$ (target $y = 1$)")
ax_grad.set_ylabel(r"gradient $\partial J / \partial z$")
ax_grad.set_title("Gradient")
ax_grad.legend(loc="lower right", fontsize="small")
fig.suptitle("A sigmoid unit under two costs")
fig.tight_layout()

# %%
# At :math:`z = -10` the two gradients differ by more than four orders of magnitude:
for z0 in (-10.0, -5.0, 0.0):
    print(f"z = {z0:6.1f}:  NLL gradient {bernoulli_nll_grad(1, z0):+.2e}   "
          f"squared-error gradient {squared_error_grad(1, z0):+.2e}")

# %%
# Learning from a confidently wrong start
# ---------------------------------------
# One feature, labels that follow its sign (with a little noise), and a logistic unit
# :math:`p(y=1 \mid x) = \sigma(wx + b)` started at :math:`w = -6`: it is sure of the
# wrong answer for almost every sample. Plain gradient descent with the same step size
# on each cost:
rng = np.random.default_rng(0)
x = rng.normal(size=400)
y = (x + 0.3 * rng.normal(size=x.size) > 0).astype(float)


def train(gradient, n_steps=300, learning_rate=1.0, w=-6.0, b=0.0):
    history = {"w": [], "cross-entropy": [], "accuracy": []}
    for _ in range(n_steps):
        z = w * x + b
        history["w"].append(w)
        history["cross-entropy"].append(np.mean(bernoulli_nll(y, z)))
        history["accuracy"].append(np.mean((z > 0) == (y == 1)))
        g = gradient(y, z)  # dJ/dz per sample
        w -= learning_rate * np.mean(g * x)
        b -= learning_rate * np.mean(g)
    return history


runs = {
    "Bernoulli NLL": train(bernoulli_nll_grad),
    "squared error on sigmoid": train(squared_error_grad),
}

fig, axes = plt.subplots(1, 3, figsize=(13, 4))
for label, history in runs.items():
    axes[0].plot(history["cross-entropy"], lw=2, label=label)
    axes[1].plot(history["accuracy"], lw=2, label=label)
    axes[2].plot(history["w"], lw=2, label=label)
axes[0].set_yscale("log")
axes[0].set_ylabel("cross-entropy on the training data")
axes[0].set_title("Fit (lower is better)")
axes[1].set_ylabel("training accuracy")
axes[1].set_title("Accuracy")
axes[2].set_ylabel("weight $w$")
axes[2].set_title("Weight (starts at $-6$: confidently wrong)")
for ax in axes:
    ax.set_xlabel("gradient-descent step")
    ax.legend(title="cost minimised")
fig.suptitle("Training a logistic unit from a confidently wrong start, step size 1")
fig.tight_layout()
plt.show()

for label, history in runs.items():
    first = int(np.argmax(np.array(history["accuracy"]) > 0.8))
    print(f"{label:25s} steps until training accuracy > 80 %: {first:3d}; "
          f"accuracy after 300 steps: {history['accuracy'][-1]:.2f}")

# %%
# With the negative log-likelihood the unit escapes its wrong start in a few steps: the
# gradient is largest where it is most wrong. The squared error sees almost no gradient
# on the confidently wrong samples and creeps; the further into saturation it starts,
# the longer it waits (its gradient shrinks like :math:`e^{-|z|}`).
