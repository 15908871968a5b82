"""
================================================
The negative log-likelihood is the cross-entropy
================================================

Maximum likelihood fits a classifier by making the observed labels as probable as
possible. Its cost, the mean negative log-likelihood

.. math::

   J(\\theta) = -\\frac{1}{n} \\sum_{i=1}^n \\log p(y_i \\mid x_i; \\theta),

is the cross-entropy between the training labels and the model's predicted
distribution — what scikit-learn calls :func:`sklearn.metrics.log_loss`.

:class:`~sklearn_mle.MLEClassifier` stores the *total* log-likelihood of the training
data in ``loglik_``. This example checks, on two data sets that ship with scikit-learn,
that

``loglik_ == -n * log_loss(y, predict_proba(X))``

for every amount of regularisation, with two classes (sigmoid) and with three (softmax).
"""

# %%
# Two classes: the breast-cancer data
# -----------------------------------
# We fit on the raw, unscaled features; ``alpha`` is a small L2 penalty on the
# coefficients (the data are nearly separable, see
# :ref:`sphx_glr_auto_examples_plot_no_minimum.py`).
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_breast_cancer, load_wine
from sklearn.metrics import log_loss

from sklearn_mle import MLEClassifier

# sphinx_gallery_thumbnail_number = 2

X, y = load_breast_cancer(return_X_y=True)
n = len(y)
clf = MLEClassifier(alpha=1e-3).fit(X, y)

proba = clf.predict_proba(X)
print(f"loglik_                      = {clf.loglik_:.8f}")
print(f"-n * log_loss(y, proba)      = {-n * log_loss(y, proba):.8f}")

# %%
# The same number written as a cross-entropy by hand: the log of the probability the
# model gives to each sample's *observed* class, summed over the samples.
observed = np.searchsorted(clf.classes_, y)
log_p_observed = np.log(proba[np.arange(n), observed])
print(f"sum_i log p(y_i | x_i)       = {log_p_observed.sum():.8f}")
print(f"mean log-likelihood (method) = {clf.log_likelihood(X, y):.8f}")

# %%
# The per-sample terms are what the estimator averages: most samples are classified
# confidently and cost almost nothing, a few misclassified ones dominate the sum.
fig, ax = plt.subplots(figsize=(7, 4))
ax.hist(-log_p_observed, bins=np.logspace(-8, 1.5, 40), color="C0", alpha=0.8,
        label=r"$-\log p(y_i \mid x_i)$ per sample")
ax.axvline(log_loss(y, proba), color="C3", lw=2,
           label=f"mean = log_loss = {log_loss(y, proba):.4f}")
ax.set_xscale("log")
ax.set_xlabel(r"per-sample negative log-likelihood $-\log p(y_i \mid x_i)$")
ax.set_ylabel("number of samples")
ax.set_title("Breast cancer, MLEClassifier(alpha=1e-3): where the cross-entropy comes from")
ax.legend()
fig.tight_layout()

# %%
# Every amount of regularisation, two and three classes
# -----------------------------------------------------
# ``loglik_`` is the log-likelihood *without* the penalty term, so the identity holds
# for every ``alpha``. The wine data have three classes, so the classifier uses the
# softmax model there.
Xw, yw = load_wine(return_X_y=True)
alphas = np.logspace(-4, 1, 11)
rows = []
for name, (Xd, yd) in {"breast cancer (2 classes)": (X, y), "wine (3 classes)": (Xw, yw)}.items():
    loglik, minus_n_log_loss = [], []
    for alpha in alphas:
        fitted = MLEClassifier(alpha=alpha).fit(Xd, yd)
        loglik.append(fitted.loglik_)
        minus_n_log_loss.append(-len(yd) * log_loss(yd, fitted.predict_proba(Xd)))
    loglik, minus_n_log_loss = np.array(loglik), np.array(minus_n_log_loss)
    rows.append((name, loglik, minus_n_log_loss))
    rel = np.max(np.abs(loglik - minus_n_log_loss) / np.abs(minus_n_log_loss))
    print(f"{name:27s} largest relative difference over {len(alphas)} alphas: {rel:.1e}")

fig, ax = plt.subplots(figsize=(7, 4.5))
for k, (name, loglik, minus_n_log_loss) in enumerate(rows):
    ax.plot(alphas, minus_n_log_loss, "-", color=f"C{k}", lw=2,
            label=f"{name}: $-n\\cdot$log_loss")
    ax.plot(alphas, loglik, "o", color=f"C{k}", mfc="none", ms=9,
            label=f"{name}: loglik_")
ax.set_xscale("log")
ax.set_xlabel("alpha (L2 penalty strength)")
ax.set_ylabel("training log-likelihood")
ax.set_title("loglik_ equals $-n\\,\\cdot$ log_loss at every penalty")
ax.legend(fontsize="small")
fig.tight_layout()
plt.show()

# %%
# The curves fall as ``alpha`` grows: the penalty pulls the coefficients towards zero,
# the predicted probabilities towards the class frequencies, and the fit on the
# training data gets worse. Choosing ``alpha`` is a question for held-out data; see
# :ref:`sphx_glr_auto_examples_plot_pipeline_gridsearch.py`.
