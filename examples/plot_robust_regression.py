"""
=====================================================
Robust regression: Student-t against the Gaussian
=====================================================

Least squares is maximum likelihood under Gaussian noise, and the Gaussian has thin
tails: a point ten standard deviations away is so improbable that the fit moves the
line a long way to make it less so. Outliers therefore drag the least-squares line.

The Student-t distribution has polynomial tails, and its negative log-likelihood grows
only logarithmically in the residual:

.. math::

   \\mathrm{NLL} = \\log\\sigma + \\tfrac{\\nu + 1}{2}
       \\log\\Bigl(1 + \\frac{z^2}{\\nu}\\Bigr)
       + \\log\\Gamma\\bigl(\\tfrac{\\nu}{2}\\bigr)
       - \\log\\Gamma\\bigl(\\tfrac{\\nu + 1}{2}\\bigr) + \\tfrac12 \\log(\\nu\\pi),
   \\qquad z = \\frac{y - \\mu}{\\sigma},

so a far-away point costs little more than a moderately distant one and pulls the
line hardly at all. Nobody has to choose a robust loss or its tuning constant: the
degrees of freedom :math:`\\nu`, which set how heavy the tails are, are learned with
the line and the scale by maximum likelihood.
"""

# %%
# Data with outliers
# ------------------
# A line with Gaussian noise (standard deviation 0.5); where x > 4, one point in ten is
# a gross error 5 to 15 above the line (a faulty sensor, a unit mix-up).
import matplotlib.pyplot as plt
import numpy as np

from sklearn_mle import MLERegressor, StudentT

rng = np.random.default_rng(1)


def simulate(n):
    x = rng.uniform(0, 10, size=n)
    y = 1.0 + 0.5 * x + 0.5 * rng.normal(size=n)
    outlier = (rng.uniform(size=n) < 0.1) & (x > 4)
    y[outlier] += rng.uniform(5, 15, size=outlier.sum())
    return x.reshape(-1, 1), y, outlier


X_train, y_train, outlier_train = simulate(300)
X_test, y_test, _ = simulate(5000)

gaussian = MLERegressor(distribution="gaussian").fit(X_train, y_train)
student = MLERegressor(distribution="student_t").fit(X_train, y_train)
print("true line     : slope 0.500, intercept 1.000")
for name, model in [("Gaussian", gaussian), ("Student-t", student)]:
    print(f"{name:14s}: slope {model.coef_[0]:.3f}, intercept {model.intercept_:.3f}, "
          f"scale {model.scale_:.3f}")
print(f"learned degrees of freedom of the Student-t: {student.df_:.2f}")

# %%
# The fitted lines
# ----------------
grid = np.linspace(0, 10, 100).reshape(-1, 1)
fig, ax = plt.subplots(figsize=(8, 5))
ax.scatter(X_train[~outlier_train, 0], y_train[~outlier_train], s=10, color="0.5",
           label="data")
ax.scatter(X_train[outlier_train, 0], y_train[outlier_train], s=18, color="C3",
           marker="x", label="gross errors")
ax.plot(grid[:, 0], 1.0 + 0.5 * grid[:, 0], "k:", lw=1.5, label="true line")
ax.plot(grid[:, 0], gaussian.predict(grid), color="C1", lw=2,
        label='distribution="gaussian" (least squares)')
ax.plot(grid[:, 0], student.predict(grid), color="C0", lw=2,
        label=f'distribution="student_t" (ν = {student.df_:.1f})')
ax.set_xlabel("x")
ax.set_ylabel("y")
ax.set_title("Gross errors drag the Gaussian fit, not the Student-t")
ax.legend(loc="upper left")
fig.tight_layout()
plt.show()

# %%
# The Student-t line stays on the bulk of the data: with :math:`\nu` near 1 its tails
# are heavy enough to take the gross errors as what they are, and its scale describes
# the clean noise (for :math:`\nu` this small :math:`\sigma` is a half-width, not a
# standard deviation). The Gaussian can only tilt its line towards the outliers and
# widen its :math:`\sigma` five-fold to cover them.
#
# Which model predicts new data better?
# -------------------------------------
# The held-out log-likelihood scores the whole predictive distribution. Both
# families report it with all constants, so the numbers compare directly.
for name, model in [("Gaussian", gaussian), ("Student-t", student)]:
    print(f"{name:10s} held-out mean log-likelihood {model.log_likelihood(X_test, y_test):7.4f}"
          f"   AIC {model.aic_:7.1f}")

# %%
# The degrees of freedom can also be fixed, e.g. at the Cauchy's :math:`\nu = 1` or the
# often-recommended :math:`\nu = 4`, with the public family class :class:`StudentT`:
# ``log_df`` is then not a parameter, and the held-out likelihood says how much the
# learned value gains.
for df in (1.0, 4.0):
    fixed = MLERegressor(distribution=StudentT(df=df)).fit(X_train, y_train)
    print(f"Student-t, df fixed at {df:g}: slope {fixed.coef_[0]:.4f}, held-out mean "
          f"log-likelihood {fixed.log_likelihood(X_test, y_test):7.4f}")

# %%
# The Gaussian has to choose between a narrow distribution that makes the outliers
# astronomically improbable and a wide one that wastes probability on the bulk; it
# loses on both. The Student-t keeps a narrow core and puts just enough probability in
# its tails.
#
# Clean data: the degrees of freedom run to the Gaussian
# ------------------------------------------------------
# Without outliers the likelihood prefers ever thinner tails, and :math:`\nu \to
# \infty` is the Gaussian itself: a *boundary* of the Student-t family, not a failure.
# The fit says so in ``boundary_note_`` (and, with ``verbose=1``, on its progress
# lines), does not warn, and its line and scale are the Gaussian fit's.
clean_y = 1.0 + 0.5 * X_train[:, 0] + 0.5 * rng.normal(size=len(X_train))
clean_t = MLERegressor(distribution="student_t").fit(X_train, clean_y)
clean_gauss = MLERegressor(distribution="gaussian").fit(X_train, clean_y)
print(f"degrees of freedom: {clean_t.df_:.3g}")
print("boundary note:", clean_t.boundary_note_)
print(f"slope  Student-t {clean_t.coef_[0]:.6f}, Gaussian {clean_gauss.coef_[0]:.6f}")
print(f"log-likelihood  Student-t {clean_t.loglik_:.4f}, Gaussian {clean_gauss.loglik_:.4f}")
