"""Threads: how many OpenMP threads the kernels use, and BLAS held to one thread while
the kernels own the cores; the memory layout the kernels read X in."""

import contextlib
import threading

import numpy as np
import scipy.sparse as sp

try:  # respects OMP_NUM_THREADS and threadpoolctl limits
    from sklearn.utils._openmp_helpers import _openmp_effective_n_threads
except ImportError:  # pragma: no cover - private helper moved
    def _openmp_effective_n_threads():
        return 1



#: Below this many kernel evaluations per call, threads cost more than they save
#: (and on a loaded machine, spinning OpenMP threads cost far more).
_MIN_WORK_PER_THREADED_CALL = 50_000


def n_threads(n_work=None):
    """Number of OpenMP threads the kernels use for ``n_work`` per-sample evaluations."""
    if n_work is not None and n_work < _MIN_WORK_PER_THREADED_CALL:
        return 1
    return max(int(_openmp_effective_n_threads()), 1)


#: Size of X (rows x columns) from which BLAS is held to one thread during a fit (see
#: kernels_own_the_cores).  Measured: digits (1797 x 64, 640 parameters) fits in
#: 0.27 s held against 0.62 s with BLAS on 2 threads, whose wake-ups on each 640 x 640
#: matrix-vector product cost more than they save.
_BLAS_HOLD_MIN_CELLS = 50_000

#: The process-wide BLAS hold: how many fits hold it, the threadpoolctl controller
#: (made on first use) and, while held, the limiter to restore.
_BLAS_HOLD = {"count": 0, "controller": None}
_BLAS_HOLD_LOCK = threading.Lock()


@contextlib.contextmanager
def kernels_own_the_cores(X):
    """Hold BLAS to one thread during a fit on X, unless BLAS carries it (dense X in
    neither row- nor column-major layout, which the fused kernels do not read).

    Two thread pools that each spin while idle (the kernels' OpenMP threads and
    OpenBLAS's) take turns on the same cores: measured on 2 cores, a 100000 x 50 fit
    ran 2x slower with BLAS threads awake (after a single threaded BLAS call such as a
    long dot product) than with BLAS on one thread.  The kernels do the passes over X
    (row-major dense or sparse) and call BLAS from inside their own threads for the
    Gram matrices, so BLAS has nothing to parallelise.  The hold is for speed only:
    results do not depend on it beyond the last bits that BLAS's own rounding may
    change (its thread count and CPU kernels are not ours to fix: OpenBLAS ignores a
    limit set from a worker thread), see the user guide's "How the fit is computed".

    On small X (below ``_BLAS_HOLD_MIN_CELLS`` entries, where the kernels run on one
    thread) BLAS is left alone: no threadpoolctl scan of the loaded libraries (~10 ms
    on a first fit) nor ~50 us per fit.  The choice depends on X only, never on the
    OpenMP thread count.
    """
    if X.shape[0] * X.shape[1] < _BLAS_HOLD_MIN_CELLS or not (
            sp.issparse(X) or isinstance(X, np.ndarray) and fused_layout(X)):
        yield
        return
    _hold_blas()
    try:
        yield
    finally:
        _release_blas()


def _hold_blas():
    """Limit BLAS to one thread; holds nest and overlap across Python threads.

    The limit is process-wide, so fits running at the same time in several Python
    threads share one hold: the first applies it and the last restores the original
    thread counts (a plain context manager per fit would restore them while other fits
    are still running).  The hold is for speed only; no result depends on it: the fit
    makes no BLAS reduction over the samples (OpenBLAS 0.3.31 ignored a limit set from
    a thread other than the main one, so it cannot be relied on for results).
    """
    with _BLAS_HOLD_LOCK:
        if _BLAS_HOLD["count"] == 0:
            if _BLAS_HOLD["controller"] is None:
                from threadpoolctl import ThreadpoolController

                _BLAS_HOLD["controller"] = ThreadpoolController()
            _BLAS_HOLD["limiter"] = _BLAS_HOLD["controller"].limit(limits=1,
                                                                   user_api="blas")
        _BLAS_HOLD["count"] += 1


def _release_blas():
    with _BLAS_HOLD_LOCK:
        _BLAS_HOLD["count"] -= 1
        if _BLAS_HOLD["count"] == 0:
            _BLAS_HOLD.pop("limiter").restore_original_limits()


def ensure_layout(X):
    """Keep C- or F-contiguous dense X and CSR X as they are (no copy); copy strided
    views, and CSC X to CSR once: every pass reads X a block of rows at a time, and a
    block of CSC rows is a copy of the block (500 000 x 3 000 one-hot: 20 ms a pass
    for the blocks of CSC X against 0.2 ms for CSR's, where one conversion costs
    about 50 ms)."""
    if sp.issparse(X):
        return X if X.format == "csr" else X.tocsr()
    if not (X.flags.c_contiguous or X.flags.f_contiguous):
        X = np.ascontiguousarray(X)
    return X


def fused_layout(X):
    """Whether the fused kernels read X: dense float32/64, row-major (read in place) or
    column-major (a pandas DataFrame's layout: read a block of rows at a time, copied
    row-major, see :func:`fused_row_blocks`)."""
    if sp.issparse(X):
        return False
    flags = X.flags
    dtype = X.dtype
    return ((flags.c_contiguous or flags.f_contiguous) and dtype.char in "fd"
            and dtype.isnative)


#: Most bytes of the row-major buffer that column-major X's rows are copied into.
_ROW_BLOCK_COPY_BYTES = 2 << 20
#: Most kernel blocks (``block_rows`` rows each) per copied block.
_MAX_KERNEL_BLOCKS_PER_COPY = 4


def fused_row_blocks(X, block_rows):
    """``(start, stop, rows)`` for the fused kernels: row-major X whole, in place;
    column-major X a block of rows at a time, copied row-major.

    Each copied block is a whole number of the kernels' blocks of ``block_rows`` rows
    (only the last may be shorter), so the per-block sums the kernels write are the
    ones they write for the row-major array: the result is the same bit for bit in
    either layout.  The copies share one buffer of at most ``_ROW_BLOCK_COPY_BYTES``
    (unless one kernel block of rows is larger): a block is valid until the next one
    is drawn, which is all a kernel called on it in the loop needs.
    """
    n = X.shape[0]
    if X.flags.c_contiguous:
        yield 0, n, X
        return
    row_bytes = max(X.shape[1] * X.itemsize, 1)
    per_copy = max(1, min(_MAX_KERNEL_BLOCKS_PER_COPY,
                          _ROW_BLOCK_COPY_BYTES // (block_rows * row_bytes)))
    step = min(block_rows * per_copy, n)
    buffer = np.empty((step, X.shape[1]), dtype=X.dtype)
    for start in range(0, n, step):
        stop = min(start + step, n)
        rows = buffer[:stop - start]
        np.copyto(rows, X[start:stop])
        yield start, stop, rows
