"""
==================================
When the likelihood has no maximum
==================================

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

# sphinx_gallery_thumbnail_number = 3

iris = load_iris()
X = iris.data[:, 2:4]  # petal length, petal width (cm)
y = (iris.target == 0).astype(int)  # 1 = setosa

with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    clf = MLEClassifier(alpha=0.0).fit(X, y)

for w in caught:
    print(f"{w.category.__name__}: {w.message}")
print("mle_exists_:", clf.mle_exists_)  # the fitted estimator records it too
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
# --------------------------------------------------
# Move along the direction of the returned coefficients (and intercept), with any
# length :math:`r = \|w\|`: the decision boundary stays where it is, but the sigmoid
# gets steeper and every training sample's probability moves closer to its label. The
# negative log-likelihood falls towards its infimum 0 and never reaches it — there is no
# "best" length. The coefficients ``sklearn_mle`` returns after the warning are finite
# and classify the training set perfectly, but their length is arbitrary (a separating
# direction scaled to a logit margin of at least 20 on every separated sample); only
# their direction means something.
w, b = clf.coef_.ravel(), float(np.ravel(clf.intercept_)[0])
direction = np.r_[w, b] / np.linalg.norm(w)
lengths = np.logspace(-1, 2.5, 200)
z = np.outer(lengths, X @ direction[:-1] + direction[-1])  # one row per length
nll_along_ray = (np.logaddexp(0, z) - y * z).sum(axis=1)
visible = nll_along_ray > 1e-30  # the curve goes on, towards 0, for ever

fig, ax = plt.subplots(figsize=(7, 4))
ax.loglog(lengths[visible], nll_along_ray[visible], lw=2,
          label="training NLL along the direction of the fit")
ax.axvline(np.linalg.norm(w), color="C3", ls="--",
           label=f"length of the returned coef_ ({np.linalg.norm(w):.3g})")
ax.set_xlabel(r"length of the coefficient vector $\|w\|$")
ax.set_ylabel(r"negative log-likelihood ($-$loglik)")
ax.set_title("Separable data: the NLL decreases for ever as $\\|w\\|$ grows")
ax.legend(loc="lower left")
fig.tight_layout()

# %%
# Regularisation bounds the problem
# ---------------------------------
# With ``alpha > 0`` the penalty :math:`\tfrac{\alpha}{2}\|w\|^2` eventually grows
# faster than the log-likelihood can improve, so a unique optimum exists and no warning
# is raised. As ``alpha`` shrinks the optimal weights grow (roughly like
# :math:`\log(1/\alpha)`) and the fit tends to the unbounded one.
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
ax_norm.axhline(np.linalg.norm(w), color="C3", ls="--", label="alpha = 0 (returned with the warning)")
ax_norm.set_xscale("log")
ax_norm.set_yscale("log")
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
# The second case: a Gaussian regressor that learns its variance. Three groups of
# measurements, the third with a single observation; the heteroscedastic model gives
# each group its own mean and its own noise level (through two indicator features). The
# lone observation is fitted exactly by its group's mean, and the likelihood then
# rewards shrinking that group's :math:`\sigma` without limit: the density at the
# observed target, :math:`1/(\sigma\sqrt{2\pi})`, is unbounded.
rng = np.random.default_rng(0)
group_sizes = {"A": 40, "B": 40, "C": 1}
groups = np.repeat(list(group_sizes), list(group_sizes.values()))
Xg = np.c_[groups == "B", groups == "C"].astype(float)
yg = 10.0 + 2.0 * Xg[:, 0] - 1.0 * Xg[:, 1] + rng.normal(size=len(groups))


def group_sigmas(model):
    """Fitted noise level of groups A, B, C."""
    log_sigma = model.scale_intercept_ + np.r_[0.0, np.ravel(model.scale_coef_)]
    return np.exp(log_sigma)


with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    reg = MLERegressor(variance="heteroscedastic", alpha=0.0).fit(Xg, yg)
for w_ in caught:
    print(f"{w_.category.__name__}: {w_.message}")
print("sigma of groups A, B, C:", group_sigmas(reg))
print("loglik_ :", reg.loglik_)

# %%
# Here the penalty does bound the problem: it acts on ``scale_coef_``, the coefficients
# of :math:`\log\sigma(x)`, so driving the lone group's :math:`\log\sigma` to
# :math:`-\infty` costs more than it gains. The smaller ``alpha``, the smaller the
# optimal :math:`\sigma_C` — it collapses as the penalty vanishes, while the two real
# groups keep their noise level of about 1.
alphas = np.logspace(-3, 1, 17)
sigmas = np.array([group_sigmas(MLERegressor(variance="heteroscedastic", alpha=a).fit(Xg, yg))
                   for a in alphas])

fig, ax = plt.subplots(figsize=(7, 4))
for k, name in enumerate(group_sizes):
    ax.loglog(alphas, sigmas[:, k], "o-", label=f"group {name} ({group_sizes[name]} obs.)")
ax.axhline(1.0, color="k", ls=":", label="true noise level")
ax.set_xlabel("alpha")
ax.set_ylabel(r"fitted noise level $\hat\sigma$")
ax.set_title(r"A group of one: $\hat\sigma \to 0$ as the penalty vanishes")
ax.legend()
fig.tight_layout()
plt.show()

# %%
# A penalty must reach the parameters that diverge. With ``variance="constant"`` and
# fewer samples than parameters (below: the first 8 patients of the diabetes data, 10
# features), the *mean* interpolates the targets and the single :math:`\sigma`
# collapses. An interpolating mean has finite coefficients, so a penalty on them alone
# could not stop :math:`\log\sigma \to -\infty`; the regressor's penalty therefore
# also pulls the mean of :math:`\log\sigma` towards the log of the spread
# :math:`s_0` of ``y``. Any ``alpha > 0`` then gives a finite fit without a warning,
# with :math:`\sigma^2 = (\mathrm{RSS}/n + \alpha s_0^2)/(1 + \alpha)`, at least
# :math:`\alpha s_0^2/(1 + \alpha)`.
Xd, yd = load_diabetes(return_X_y=True)
for alpha in [0.0, 1e-6, 1e-2]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fitted = MLERegressor(variance="constant", alpha=alpha).fit(Xd[:8], yd[:8])
    print(f"alpha={alpha:g}: scale_ = {fitted.scale_:.3g} (s0 = {np.std(yd[:8]):.3g}), "
          f"mle_exists_ = {fitted.mle_exists_}, "
          f"warnings: {[w_.category.__name__ for w_ in caught]}")

# %%
# In both cases the fix is the same: do not trust an ``alpha=0`` fit that warns; choose
# ``alpha > 0`` on held-out data (see
# :ref:`sphx_glr_auto_examples_plot_pipeline_gridsearch.py`), or collect data that pin
# the parameters down.
