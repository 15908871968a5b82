"""
=======================================
Inference: summary() beside statsmodels
=======================================

The log-likelihood is not only something to maximise. Its curvature at the maximum —
the observed Fisher information — measures how sharply the data pin each parameter
down. Its inverse is the asymptotic covariance of the estimates, which gives standard
errors, Wald :math:`z` statistics, :math:`p`-values and confidence intervals.

With ``inference=True`` both estimators compute these at fit time and ``summary()``
prints them in one table, under the header statsmodels users know — observations,
degrees of freedom, convergence, log-likelihood, the intercept-only log-likelihood and
the likelihood-ratio test, pseudo-R² or R², AIC and BIC — from an estimator that also
works in a scikit-learn pipeline.
Here we put it beside statsmodels for two classic data sets that ship with statsmodels.
"""

# %%
# Logistic regression: the Spector & Mazzeo data
# ----------------------------------------------
# 32 students; does a new teaching method (``PSI``) improve grades (``GRADE``), given the
# grade point average (``GPA``) and a pre-test score (``TUCE``)?
import matplotlib.pyplot as plt
import numpy as np
import statsmodels.api as sm

from sklearn_mle import MLEClassifier, MLERegressor

spector = sm.datasets.spector.load_pandas()
X, y = spector.exog, spector.endog

clf = MLEClassifier(alpha=0.0, inference=True).fit(X, y)
print(clf.summary())

# %%
# statsmodels, same model:
logit = sm.Logit(y, sm.add_constant(X)).fit(disp=0)
print(logit.summary())

# %%
# The numbers agree: estimates, standard errors and the log-likelihood.
ours_est = np.r_[np.ravel(clf.intercept_), np.ravel(clf.coef_)]
ours_se = np.r_[np.ravel(clf.intercept_se_), np.ravel(clf.coef_se_)]
print("largest relative difference, estimates      : %.1e"
      % np.max(np.abs(ours_est - logit.params.values) / np.abs(logit.params.values)))
print("largest relative difference, standard errors: %.1e"
      % np.max(np.abs(ours_se - logit.bse.values) / logit.bse.values))
print("log-likelihood: sklearn_mle %.6f, statsmodels %.6f" % (clf.loglik_, logit.llf))
print("AIC           : sklearn_mle %.6f, statsmodels %.6f" % (clf.aic_, logit.aic))
print("LL-null       : sklearn_mle %.6f, statsmodels %.6f" % (clf.loglik_null_, logit.llnull))
print("pseudo-R²     : sklearn_mle %.6f, statsmodels %.6f"
      % (clf.summary().statistics["Pseudo R-squ."], logit.prsquared))


def plot_intervals(ax, names, est_a, se_a, est_b, se_b, labels):
    """Estimates with 95 % Wald intervals for two fits, side by side."""
    pos = np.arange(len(names))
    for offset, est, se, label, color in [(-0.12, est_a, se_a, labels[0], "C0"),
                                          (0.12, est_b, se_b, labels[1], "C1")]:
        ax.errorbar(est, pos + offset, xerr=1.959964 * se, fmt="o", color=color,
                    capsize=4, label=label)
    ax.axvline(0, color="k", lw=0.8)
    ax.set_yticks(pos, names)
    ax.invert_yaxis()
    ax.set_xlabel("estimate with 95 % confidence interval")
    ax.legend()


# %%
# Both fits, estimate by estimate (the intervals are :math:`\pm 1.96` standard errors):
fig, ax = plt.subplots(figsize=(7, 3.8))
plot_intervals(ax, ["intercept", *X.columns], ours_est, ours_se,
               logit.params.values, logit.bse.values,
               ["MLEClassifier(inference=True)", "statsmodels Logit"])
ax.set_title("Spector & Mazzeo: logistic regression, GRADE ~ GPA + TUCE + PSI")
fig.tight_layout()

# %%
# Linear regression: the stack-loss data
# --------------------------------------
# 21 days of a chemical plant: stack loss of ammonia against air flow, cooling-water
# temperature and acid concentration. ``variance="constant"`` learns the noise level by
# maximum likelihood, :math:`\hat\sigma^2 = \mathrm{RSS}/n`. statsmodels' OLS reports
# standard errors with the unbiased :math:`\mathrm{RSS}/(n - p)` instead, so we ask it for
# the covariance at the maximum-likelihood scale to compare like with like.
stackloss = sm.datasets.stackloss.load_pandas()
Xs, ys = stackloss.exog, stackloss.endog

reg = MLERegressor(variance="constant", alpha=0.0, inference=True).fit(Xs, ys)
print(reg.summary())

# %%
ols = sm.OLS(ys, sm.add_constant(Xs)).fit()
print(ols.summary())
n = len(ys)
ols_se_mle_scale = np.sqrt(np.diag(ols.cov_params(scale=ols.ssr / n)))

reg_est = np.r_[np.ravel(reg.intercept_), np.ravel(reg.coef_)]
reg_se = np.r_[np.ravel(reg.intercept_se_), np.ravel(reg.coef_se_)]
print("largest relative difference, estimates      : %.1e"
      % np.max(np.abs(reg_est - ols.params.values) / np.abs(ols.params.values)))
print("largest relative difference, standard errors (MLE scale): %.1e"
      % np.max(np.abs(reg_se - ols_se_mle_scale) / ols_se_mle_scale))
print("log-likelihood: sklearn_mle %.6f, statsmodels %.6f" % (reg.loglik_, ols.llf))
print("ratio of OLS to MLE standard errors: %.4f = sqrt(n / (n - p)) = %.4f"
      % (np.mean(ols.bse.values / reg_se), np.sqrt(n / (n - Xs.shape[1] - 1))))

# %%
# The AICs differ by exactly 2 (one parameter): ``sklearn_mle`` counts the noise level
# :math:`\sigma` — the ``scale`` row of its table — as a parameter, as it is one of
# the likelihood; statsmodels' OLS counts only the coefficients.
print("AIC: sklearn_mle %.4f, statsmodels %.4f, difference %.4f"
      % (reg.aic_, ols.aic, reg.aic_ - ols.aic))

# %%
# statsmodels' own OLS inference — :math:`\hat\sigma^2 = \mathrm{RSS}/(n - p)`, t tests
# with :math:`n - p` degrees of freedom, exact t prediction intervals — is
# ``inference="ols"``; then the standard errors, t values and p-values are statsmodels'.
# (With ``variance="fixed"`` and ``inference=True`` the tests would instead assume
# :math:`\sigma = 1`: the summary says so, and ``predict_interval`` warns when the
# residuals disagree.)
reg_ols = MLERegressor(inference="ols").fit(Xs, ys)
print(reg_ols.summary())
ols_table = reg_ols.summary()
order = np.r_[len(Xs.columns), np.arange(len(Xs.columns))]  # statsmodels: const first
print("largest relative difference, OLS standard errors: %.1e"
      % np.max(np.abs(ols_table.std_err[order] - ols.bse.values) / ols.bse.values))
print("largest relative difference, p-values           : %.1e"
      % np.max(np.abs(ols_table.p_value[order] - ols.pvalues.values) / ols.pvalues.values))

# %%
fig, ax = plt.subplots(figsize=(7, 3.8))
plot_intervals(ax, ["intercept", *Xs.columns], reg_est, reg_se,
               ols.params.values, ols_se_mle_scale,
               ['MLERegressor(variance="constant", inference=True)',
                "statsmodels OLS (MLE scale)"])
ax.set_title("Stack loss: STACKLOSS ~ AIRFLOW + WATERTEMP + ACIDCONC")
fig.tight_layout()
plt.show()

# %%
# With ``alpha > 0`` the same table is available, but it describes the *penalised*
# estimate: Wald intervals for a shrunken coefficient are not intervals for the
# unpenalised one, and ``summary()`` says so.
