"""
Quickstart: a classifier and a regressor fitted by maximum likelihood
=====================================================================

The README's demo.  Both estimators minimise the exact negative log-likelihood of the
distribution they model, on raw, unscaled data shipped with scikit-learn.
"""

# %%
# Classification: breast cancer, 30 raw features spanning four decades of scale.
import numpy as np
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.metrics import log_loss
from sklearn.model_selection import train_test_split

from sklearn_mle import MLEClassifier, MLERegressor

X, y = load_breast_cancer(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0, stratify=y)
clf = MLEClassifier(alpha=1e-3).fit(X_train, y_train)
print("MLEClassifier on breast_cancer (raw features)")
print(f"  L-BFGS iterations: {clf.n_iter_}")
print(f"  training log-likelihood: {clf.loglik_:.3f}")
print(f"  test accuracy: {clf.score(X_test, y_test):.3f}")
print(f"  test log-loss: {log_loss(y_test, clf.predict_proba(X_test)):.4f}")

# %%
# Regression: diabetes progression, Gaussian with a learned noise level.
X, y = load_diabetes(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
reg = MLERegressor(variance="constant").fit(X_train, y_train)
mean, std = reg.predict(X_test, return_std=True)
print("MLERegressor(variance='constant') on diabetes")
print(f"  L-BFGS iterations: {reg.n_iter_}")
print(f"  estimated noise sigma: {reg.scale_:.2f}")
print(f"  test R^2: {reg.score(X_test, y_test):.3f}")
inside = np.abs(y_test - mean) <= 1.6449 * std
print(f"  share of test targets inside the 90% predictive interval: {inside.mean():.2f}")

# %%
# Predicted mean with 90 % intervals against the observed targets.  The figure needs
# matplotlib, which the package itself does not depend on (``pip install ".[examples]"``
# adds it); the script saves it as a PNG in the temporary directory and prints the path.
import tempfile
from pathlib import Path

try:
    import matplotlib.pyplot as plt
except ImportError:
    plt = None
    print('No figure: matplotlib is not installed (pip install ".[examples]" adds it).')

if plt is not None:
    order = np.argsort(mean)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.errorbar(np.arange(order.size), mean[order], yerr=1.6449 * std[order], fmt="none",
                ecolor="lightgray", label="90% predictive interval")
    ax.plot(np.arange(order.size), mean[order], color="C0", label="predicted mean")
    ax.scatter(np.arange(order.size), y_test[order], s=8, color="C1", label="observed")
    ax.set_xlabel("test sample (sorted by predicted mean)")
    ax.set_ylabel("disease progression")
    ax.set_title("MLERegressor on diabetes: mean and 90% interval")
    ax.legend()
    fig.tight_layout()
    figure_path = Path(tempfile.gettempdir()) / "sklearn_mle_quickstart.png"
    fig.savefig(figure_path, dpi=100)
    print(f"Figure (predicted mean, 90% intervals, observed targets) saved to {figure_path}")
