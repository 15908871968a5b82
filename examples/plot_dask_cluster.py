"""
=============================================
Beyond one machine: a fit on a Dask cluster
=============================================

``fit`` takes Dask arrays as it takes NumPy ones. The data stay where they are, on
the cluster's workers, in row chunks; each pass of the solver sends the parameters
out, runs the same compiled kernels on every chunk, and brings back only partial sums
(a number, a gradient, a p x p matrix for the preconditioner), which are added in a
fixed order. The solver itself runs here, on the client. So the fit is the in-memory
fit: the same optimum, standard errors and summary, whatever the scheduling.

This example starts a :class:`distributed.LocalCluster` of two workers (threads in
this process, to keep the gallery light: ``processes=True`` gives worker processes,
and a real cluster's address works the same way), generates Poisson counts **on the
workers**, fits them, and compares with the fit of the same numbers in memory. It
needs the ``dask`` extra: ``pip install ".[dask]"``.
"""

# %%
# A cluster and data that live on it
# -----------------------------------
import warnings

import dask.array as da
import matplotlib.pyplot as plt
import numpy as np
from distributed import Client, LocalCluster

from sklearn_mle import MLERegressor

cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                       dashboard_address=":0")
client = Client(cluster)

n, d = 400_000, 6
rng = da.random.default_rng(0)
X = rng.normal(size=(n, d), chunks=(50_000, d))
true_coef = np.array([0.4, -0.3, 0.2, 0.0, 0.1, -0.2])
counts = rng.poisson(da.exp(X @ true_coef + 0.5)).astype(float)
X, counts = X.persist(), counts.rechunk((X.chunks[0],)).persist()
print(f"X: {X.shape}, {X.npartitions} chunks of {X.chunks[0][0]} rows, on "
      f"{len(client.scheduler_info()['workers'])} workers")

# %%
# The fit: every pass a map over the chunks and a fixed-order sum
# ---------------------------------------------------------------
distributed_fit = MLERegressor(distribution="poisson", inference=True).fit(X, counts)
print(distributed_fit.summary())

# %%
# The same numbers in memory
# --------------------------
# Bringing X to the client is what the cluster is there to avoid; here it is small
# enough, and shows that the two fits agree.
X_local, counts_local = X.compute(), counts.compute()
local_fit = MLERegressor(distribution="poisson", inference=True).fit(X_local,
                                                                     counts_local)
difference = np.max(np.abs(distributed_fit.coef_ - local_fit.coef_)) / np.max(
    np.abs(local_fit.coef_))
print(f"largest coefficient difference, relative: {difference:.1e}")
print(f"loglik_: {distributed_fit.loglik_:.6f} on the cluster, "
      f"{local_fit.loglik_:.6f} in memory")
print(f"standard errors: largest relative difference "
      f"{np.max(np.abs(distributed_fit.coef_se_ / local_fit.coef_se_ - 1)):.1e}")

# %%
# Predictions stay lazy
# ---------------------
# On Dask input, ``predict`` (and ``predict_proba``, ``predict_interval``,
# ``log_likelihood(per_sample=True)``) return Dask arrays, computed chunk by chunk
# when asked for.
mean = distributed_fit.predict(X)
print(type(mean).__name__, mean.chunks[0][:3], "...")
print(f"mean predicted count {float(mean.mean().compute()):.4f}, mean count "
      f"{float(counts.mean().compute()):.4f}")

client.close()
cluster.close()

# %%
# The estimates and their 95 % intervals
# --------------------------------------
table = distributed_fit.summary().to_frame()
rows = [name for name in table.index if name.startswith("x")]
fig, ax = plt.subplots(figsize=(7, 3.5))
positions = np.arange(len(rows))
estimate = table.loc[rows].iloc[:, 0].to_numpy()
low, high = table.loc[rows].iloc[:, -2].to_numpy(), table.loc[rows].iloc[:, -1].to_numpy()
ax.errorbar(positions, estimate, yerr=[estimate - low, high - estimate], fmt="o",
            capsize=4, label="fitted on the cluster, 95 % interval")
ax.plot(positions, true_coef, "x", color="k", label="true coefficient")
ax.axhline(0.0, color="0.8", lw=1)
ax.set_xticks(positions, rows)
ax.set_ylabel("log rate ratio")
ax.legend()
fig.tight_layout()
plt.show()
