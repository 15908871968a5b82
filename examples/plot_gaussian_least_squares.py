"""
============================================
Gaussian maximum likelihood is least squares
============================================

With a unit-variance Gaussian model, :math:`p(y \\mid x) = \\mathcal N(y; f(x), 1)`, the
negative log-likelihood of one sample is

.. math::

   -\\log p(y_i \\mid x_i) = \\tfrac12 \\bigl(y_i - f(x_i)\\bigr)^2 + \\tfrac12 \\log 2\\pi .

The :math:`\\tfrac12` and the constant do not depend on the parameters, so maximising the
likelihood *is* minimising the squared error. ``MLERegressor(variance="fixed")`` should
therefore return

* the ordinary least-squares coefficients (:class:`~sklearn.linear_model.LinearRegression`)
  at ``alpha=0``, and
* the :class:`~sklearn.linear_model.Ridge` coefficients at ``alpha > 0``, with
  ``Ridge(alpha=alpha * n)`` because ``sklearn_mle`` averages the loss over the samples
  while ``Ridge`` sums it.

We check both on the diabetes data that ship with scikit-learn.
"""

# %%
# Unpenalised: the same coefficients as ordinary least squares
# ------------------------------------------------------------
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.linear_model import LinearRegression, Ridge

from sklearn_mle import MLERegressor

data = load_diabetes()
X, y, names = data.data, data.target, data.feature_names
n = len(y)

mle = MLERegressor(variance="fixed", alpha=0.0).fit(X, y)
ols = LinearRegression().fit(X, y)
print("largest |coef difference| :", np.max(np.abs(mle.coef_ - ols.coef_)))
print("intercepts (MLE, OLS)      :", mle.intercept_, ols.intercept_)

# %%
# The coefficients, side by side:
x_pos = np.arange(len(names))
fig, ax = plt.subplots(figsize=(8, 4))
ax.bar(x_pos - 0.2, ols.coef_, width=0.4, label="LinearRegression (least squares)")
ax.bar(x_pos + 0.2, mle.coef_, width=0.4, label='MLERegressor(variance="fixed")')
ax.axhline(0, color="k", lw=0.8)
ax.set_xticks(x_pos, names)
ax.set_xlabel("feature")
ax.set_ylabel("coefficient")
ax.set_title("Diabetes: Gaussian maximum likelihood = ordinary least squares")
ax.legend()
fig.tight_layout()

# %%
# The objective, evaluated: least squares up to constants
# -------------------------------------------------------
# The mean Gaussian negative log-likelihood with :math:`\sigma = 1` is the mean squared
# error halved plus :math:`\tfrac12 \log 2\pi`. ``log_likelihood`` returns the mean
# per-sample log-likelihood, so:
mse = np.mean((y - mle.predict(X)) ** 2)
print("-log_likelihood(X, y)      :", -mle.log_likelihood(X, y))
print("MSE / 2 + log(2 pi) / 2    :", mse / 2 + 0.5 * np.log(2 * np.pi))

# %%
# Penalised: the Ridge path, with ``alpha_ridge = alpha * n``
# -----------------------------------------------------------
# Along a path of penalties the two estimators trace exactly the same coefficients.
alphas = np.logspace(-5, 1, 13)
mle_path = np.array([MLERegressor(variance="fixed", alpha=a).fit(X, y).coef_ for a in alphas])
ridge_path = np.array([Ridge(alpha=a * n).fit(X, y).coef_ for a in alphas])
print("largest |coef difference| along the path:", np.max(np.abs(mle_path - ridge_path)))

fig, ax = plt.subplots(figsize=(8, 5))
for j, name in enumerate(names):
    ax.plot(alphas, ridge_path[:, j], "-", color=f"C{j}", lw=1.5)
    ax.plot(alphas, mle_path[:, j], "o", color=f"C{j}", mfc="none", label=name)
ax.set_xscale("log")
ax.set_xlabel("alpha  (MLERegressor; Ridge uses alpha * n)")
ax.set_ylabel("coefficient")
ax.set_title('Regularisation path: Ridge (lines) and MLERegressor(variance="fixed") (circles)')
ax.legend(title="feature", ncol=2, fontsize="small")
fig.tight_layout()
plt.show()

# %%
# The same holds for *any* model of the mean: a unit-variance Gaussian turns maximum
# likelihood into least squares whatever :math:`f` is. What the likelihood adds over
# plain least squares is the ability to model the noise too — a learned constant
# variance (``variance="constant"``) or one that depends on :math:`x`; see
# :ref:`sphx_glr_auto_examples_plot_heteroscedastic.py`.
