"""
=======================================================
Choosing alpha by held-out log-likelihood in a Pipeline
=======================================================

``MLEClassifier`` and ``MLERegressor`` are ordinary scikit-learn estimators, so they work
inside a :class:`~sklearn.pipeline.Pipeline` and can be tuned with
:class:`~sklearn.model_selection.GridSearchCV`.

The natural score for a probabilistic model is the one it was fitted with: the
log-likelihood, here of *held-out* data. Both estimators have a
``log_likelihood(X, y)`` method returning the mean per-sample log-likelihood; wrapped in a
small scorer it works for any pipeline. For a classifier it equals scikit-learn's
``scoring="neg_log_loss"``; for a regressor with a learned variance there is no
built-in scorer that measures it.
"""

# %%
# A scorer: the mean log-likelihood of the validation fold
# --------------------------------------------------------
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.model_selection import GridSearchCV, KFold, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_mle import MLEClassifier, MLERegressor


def held_out_log_likelihood(estimator, X, y):
    """Mean per-sample log-likelihood of ``y`` given ``X`` under a fitted pipeline."""
    if hasattr(estimator, "steps"):
        X = estimator[:-1].transform(X)
        estimator = estimator[-1]
    return estimator.log_likelihood(X, y)


# %%
# Classifier: the breast-cancer data
# ----------------------------------
# Standardising first makes one penalty strength treat all features alike.
X, y = load_breast_cancer(return_X_y=True)
pipe = make_pipeline(StandardScaler(), MLEClassifier())
alphas = np.logspace(-5, 0, 11)
cv = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
search = GridSearchCV(
    pipe,
    {"mleclassifier__alpha": alphas},
    scoring={"log_likelihood": held_out_log_likelihood, "neg_log_loss": "neg_log_loss",
             "accuracy": "accuracy"},
    refit="log_likelihood",
    cv=cv,
)
search.fit(X, y)
res = search.cv_results_
print("best alpha:", search.best_params_["mleclassifier__alpha"])
print("best held-out mean log-likelihood: %.4f" % search.best_score_)
print("largest |log_likelihood - neg_log_loss| over the grid: %.1e"
      % np.max(np.abs(res["mean_test_log_likelihood"] - res["mean_test_neg_log_loss"])))

# %%
fig, ax = plt.subplots(figsize=(7, 4.5))
mean, std = res["mean_test_log_likelihood"], res["std_test_log_likelihood"]
ax.plot(alphas, mean, "o-", label="held-out mean log-likelihood (5-fold CV)")
ax.fill_between(alphas, mean - std, mean + std, alpha=0.2, label="± 1 std over folds")
ax.plot(alphas, res["mean_test_neg_log_loss"], "k:", label='scoring="neg_log_loss" (same)')
best = search.best_params_["mleclassifier__alpha"]
ax.axvline(best, color="C3", ls="--", label=f"best alpha = {best:.1e}")
ax.set_xscale("log")
ax.set_xlabel("alpha (after StandardScaler)")
ax.set_ylabel("mean log-likelihood per sample")
ax.set_title("Breast cancer: choosing alpha by held-out log-likelihood")
ax.legend(fontsize="small")
fig.tight_layout()

# %%
# Regressor: the penalty and the noise model together
# ---------------------------------------------------
# For the diabetes data we search over ``alpha`` and the variance model at once. Only a
# likelihood can compare ``variance="constant"`` with ``variance="heteroscedastic"``:
# their predicted means may be almost the same, their predictive distributions are not.
Xd, yd = load_diabetes(return_X_y=True)
reg_search = GridSearchCV(
    make_pipeline(StandardScaler(), MLERegressor()),
    {"mleregressor__alpha": np.logspace(-6, 0, 13),
     "mleregressor__variance": ["constant", "heteroscedastic"]},
    scoring=held_out_log_likelihood,
    cv=KFold(n_splits=5, shuffle=True, random_state=0),
)
reg_search.fit(Xd, yd)
print("best parameters:", reg_search.best_params_)
print("best held-out mean log-likelihood: %.4f" % reg_search.best_score_)

fig, ax = plt.subplots(figsize=(7, 4.5))
rres = reg_search.cv_results_
for k, variance in enumerate(["constant", "heteroscedastic"]):
    mask = np.asarray(rres["param_mleregressor__variance"]) == variance
    a = np.asarray(rres["param_mleregressor__alpha"][mask], dtype=float)
    order = np.argsort(a)
    m = rres["mean_test_score"][mask][order]
    s = rres["std_test_score"][mask][order]
    ax.plot(a[order], m, "o-", color=f"C{k}", label=f'variance="{variance}"')
    ax.fill_between(a[order], m - s, m + s, color=f"C{k}", alpha=0.15)
ax.set_xscale("log")
ax.set_xlabel("alpha (after StandardScaler)")
ax.set_ylabel("held-out mean log-likelihood per sample")
ax.set_title("Diabetes: noise model and penalty, chosen by the likelihood")
ax.legend(title="MLERegressor", fontsize="small")
fig.tight_layout()
plt.show()
