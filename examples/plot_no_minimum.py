"""
==============================================
When the likelihood has no maximum
==============================================

Maximum likelihood assumes there is a maximum. Often there is not:

* a logistic model can only *approach* probabilities 0 and 1, so on **linearly
  separable** data every increase of the weights along the separating direction makes
  the likelihood larger — the "optimum" is at infinity;
* a Gaussian model that **learns its variance** can put arbitrarily high density on
  training targets that its mean fits exactly, so :math:`\\sigma \\to 0` and the
  log-likelihood goes to :math:`+\\infty`.

An optimiser run on such a problem stops wherever its tolerance happens to cut it off.
``sklearn_mle`` recognises the situation at ``alpha=0`` and emits
:class:`~sklearn_mle.UnboundedLikelihoodWarning`; an L2 penalty (``alpha > 0``) makes
the problem bounded again. This example shows both cases on data that ship with
scikit-learn.
"""

# %%
# Separable classes: setosa against the other irises
# --------------------------------------------------
# On petal length and width, *Iris setosa* is separated from the other two species by a
# wide margin.
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_diabetes, load_iris

from sklearn_mle import MLEClassifier, MLERegressor, UnboundedLikelihoodWarning

iris = load_iris()
X = iris.data[:, 2:4]  # petal length, petal width (cm)
y = (iris.target == 0).astype(int)  # 1 = setosa

with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    clf = MLEClassifier(alpha=0.0).fit(X, y)

for w in caught:
    print(f"{w.category.__name__}: {w.message}")
print("coef_      :", clf.coef_, " intercept_:", clf.intercept_)
print("loglik_    :", clf.loglik_)
print("training accuracy:", clf.score(X, y))

# %%
# The warning is an ordinary Python warning, so it can be turned into an error where a
# silent non-existent estimate would be dangerous:
with warnings.catch_warnings():
    warnings.simplefilter("error", UnboundedLikelihoodWarning)
    try:
        MLEClassifier(alpha=0.0).fit(X, y)
    except UnboundedLikelihoodWarning as exc:
        print("raised:", type(exc).__name__)

# %%
# The likelihood keeps improving as the weights grow
# ---------------------------------------------------
# Scale the returned coefficients (and intercept) by a factor :math:`t`: the decision
# boundary does not move, but the sigmoid gets steeper and every training sample's
# probability moves closer to its label, so the log-likelihood climbs towards its
# supremum 0 without ever reaching it. The fitted values (:math:`t = 1`) are just where
# the solver stopped.
w, b = clf.coef_.ravel(), float(np.ravel(clf.intercept_)[0])
scales = np.logspace(-1, 1.5, 60)
z = np.outer(scales, X @ w + b)  # raw predictions along the ray, one row per t
loglik_along_ray = -(np.logaddexp(0, z) - y * z).sum(axis=1)

fig, ax = plt.subplots(figsize=(7, 4))
ax.plot(scales * np.linalg.norm(w), loglik_along_ray, lw=2,
        label=r"log-likelihood at $t \cdot$(coef_, intercept_)")
ax.axvline(np.linalg.norm(w), color="C3", ls="--", label="where the solver stopped ($t = 1$)")
ax.axhline(0, color="k", lw=0.8)
ax.set_xscale("log")
ax.set_yscale("symlog", linthresh=1e-3)
ax.set_xlabel(r"$\|$coef$\|$")
ax.set_ylabel("training log-likelihood")
ax.set_title("Separable data: the likelihood increases without bound in $\\|w\\|$")
ax.legend()
fig.tight_layout()

# %%
# Regularisation bounds the problem
# ---------------------------------
# With ``alpha > 0`` the penalty :math:`\\tfrac{\\alpha}{2}\\|w\\|^2` eventually grows
# faster than the log-likelihood can improve, so a unique optimum exists and no warning
# is raised. As ``alpha`` shrinks the optimal weights grow (roughly like
# :math:`\\log(1/\\alpha)`) and the fit tends to the unbounded one.
alphas = np.logspace(-7, 0, 15)
path = []
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always", UnboundedLikelihoodWarning)
    for alpha in alphas:
        fitted = MLEClassifier(alpha=alpha).fit(X, y)
        path.append((np.linalg.norm(fitted.coef_), fitted.loglik_))
n_unbounded = sum(issubclass(w.category, UnboundedLikelihoodWarning) for w in caught)
print(f"UnboundedLikelihoodWarnings raised for alpha > 0: {n_unbounded}")
norms, logliks = np.array(path).T

fig, (ax_norm, ax_ll) = plt.subplots(1, 2, figsize=(11, 4))
ax_norm.plot(alphas, norms, "o-", label="penalised fit")
ax_norm.axhline(np.linalg.norm(w), color="C3", ls="--", label="alpha = 0 (solver stopped)")
ax_norm.set_xscale("log")
ax_norm.set_xlabel("alpha")
ax_norm.set_ylabel(r"$\|$coef_$\|$")
ax_norm.set_title("Weights grow as the penalty vanishes")
ax_norm.legend()
ax_ll.plot(alphas, -logliks, "o-", label="penalised fit")
ax_ll.set_xscale("log")
ax_ll.set_yscale("log")
ax_ll.set_xlabel("alpha")
ax_ll.set_ylabel("training negative log-likelihood ($-$loglik_)")
ax_ll.set_title("... and the training NLL goes to 0")
ax_ll.legend()
fig.suptitle("Setosa vs. rest: regularisation path")
fig.tight_layout()

# %%
# The predicted probabilities tell the same story: the boundary hardly moves, but the
# transition from 0 to 1 gets sharper as ``alpha`` decreases.
xx, yy = np.meshgrid(np.linspace(0.5, 7.2, 300), np.linspace(-0.3, 2.7, 300))
grid = np.c_[xx.ravel(), yy.ravel()]
fig, axes = plt.subplots(1, 3, figsize=(13, 4), sharey=True)
for ax, alpha in zip(axes, [1e-1, 1e-3, 1e-5]):
    p = MLEClassifier(alpha=alpha).fit(X, y).predict_proba(grid)[:, 1].reshape(xx.shape)
    cs = ax.contourf(xx, yy, p, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.8)
    ax.scatter(X[y == 1, 0], X[y == 1, 1], c="C3", edgecolor="k", s=20, label="setosa")
    ax.scatter(X[y == 0, 0], X[y == 0, 1], c="C0", edgecolor="k", s=20, label="other")
    ax.set_title(f"alpha = {alpha:g}")
    ax.set_xlabel("petal length (cm)")
axes[0].set_ylabel("petal width (cm)")
axes[0].legend(loc="upper left")
fig.colorbar(cs, ax=axes, label="P(setosa | x)")
fig.suptitle("Predicted probability of setosa")

# %%
# A collapsing variance
# ---------------------
# The second case: a Gaussian regressor that learns its variance, on fewer samples than
# parameters. With the first 8 patients of the diabetes data and all 10 features (11
# parameters for the mean), the mean can fit every target exactly; the likelihood then
# rewards shrinking :math:`\\sigma` without limit.
Xd, yd = load_diabetes(return_X_y=True)
Xd, yd = Xd[:8], yd[:8]

with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    reg = MLERegressor(variance="constant", alpha=0.0).fit(Xd, yd)
for w_ in caught:
    print(f"{w_.category.__name__}: {w_.message}")
print("scale_  :", reg.scale_)
print("loglik_ :", reg.loglik_)

# %%
# A penalty on the coefficients stops the mean from interpolating, so residuals stay
# away from zero and so does the learned scale. As ``alpha`` shrinks, the scale
# collapses and the log-likelihood grows without bound.
alphas = np.logspace(-8, 0, 17)
scales_, logliks_ = [], []
for alpha in alphas:
    fitted = MLERegressor(variance="constant", alpha=alpha).fit(Xd, yd)
    scales_.append(fitted.scale_)
    logliks_.append(fitted.loglik_)

fig, (ax_s, ax_l) = plt.subplots(1, 2, figsize=(11, 4))
ax_s.loglog(alphas, scales_, "o-")
ax_s.set_xlabel("alpha")
ax_s.set_ylabel(r"learned noise level scale_ ($\hat\sigma$)")
ax_s.set_title(r"$\hat\sigma \to 0$ as the penalty vanishes")
ax_l.semilogx(alphas, logliks_, "o-", color="C1")
ax_l.set_xlabel("alpha")
ax_l.set_ylabel("training log-likelihood (loglik_)")
ax_l.set_title("... and the log-likelihood diverges")
fig.suptitle("8 samples, 11 mean parameters: a collapsing variance")
fig.tight_layout()
plt.show()

# %%
# In both cases the fix is the same: do not trust an ``alpha=0`` fit that warns; choose
# ``alpha > 0`` on held-out data (see
# :ref:`sphx_glr_auto_examples_plot_pipeline_gridsearch.py`), or collect data that pin
# the parameters down.
