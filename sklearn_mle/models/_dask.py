r"""The linear model on Dask data: the rows live on the workers, the solver on the client.

:class:`DaskLinearModel` is the linear model
(:class:`~sklearn_mle.models._linear.LinearModel`) whose design is a :class:`DaskDesign`: the row chunks of X, persisted once on the
workers of the current Dask scheduler (a ``distributed.Client``, or the threaded or
synchronous scheduler).  Every pass over X is a map-reduce:

* **map**: on each row chunk, the in-memory ``LinearModel`` method (so the same Cython
  kernels) computes that chunk's partial sum: the weighted NLL and its gradient
  (``nll_gradient``, a float and an ``n_params`` vector), the Hessian or Fisher
  information (an ``n_params x n_params`` matrix), the Gram matrix of ``[X, 1]``
  (``(d+1) x (d+1)``) or the column moments (two ``d`` vectors);
* **reduce**: the partial sums are added in chunk order, by a tree of fixed shape
  (:func:`ordered_sum`), whatever order the chunks finish in, so a result depends on
  the chunking and never on the scheduling.  On a ``distributed.Client`` the chunk
  tasks are submitted on the persisted chunks' futures and the parts gathered and
  added on the client by that tree (:func:`_tree_combine`, bit for bit the graph's
  sum, without the graph's conversion and the reduction's hop between workers);
  the threaded and synchronous schedulers run it as one graph.

Per evaluation the client sends ``theta`` (and the model's layout: a few
``n_params`` vectors) with each chunk task, and receives partial sums only.  The
targets and weights, ``O(n)`` numbers, are held by the client for the estimators'
bookkeeping (validation, the null model); on the workers a vector of one value (the
weights of a fit without sample weights) is made from that value, a y given as a
Dask collection is read where it was persisted, and any other vector is sent once,
chunked as X.  X itself, ``O(n d)``, never travels to the client.  A fit's round
trips are the passes it needs: y to the client (with the Gram matrix of a fit
without sample weights started beside it, :meth:`DaskDesign.start_gram`), the Gram
matrix, one per evaluation, the Hessian refreshes, the existence check; the check
that X is finite runs in the first pass's chunk tasks.  Once per fit two queries to
the scheduler (who holds X's chunks, each worker's threads) spread the chunk tasks
evenly over the workers, and a chunk in unaligned memory is copied once, not in
every task (:func:`_placed_chunks`).  Dask is imported here
only, when such a model is made: ``import sklearn_mle`` does not import it.
"""

import functools
import sys
import warnings
import weakref

import numpy as np
import scipy.sparse as sp

from ._linear import LinearModel
from ._model import RowLimitExceeded, combine_parts, offset_indices

#: Partial sums added by one reduction task (the fan-in of the fixed-shape tree).
_REDUCTION_FAN_IN = 8
#: Most rows of X a check brings to the client in one request (the separation LP's
#: constrained rows, the exact fits of a collapse): 20 000 rows, e.g. 8 MB at 50
#: features.  A check that needs more is undecided (:class:`RowLimitExceeded`).
MAX_CLIENT_ROWS = 20_000


def is_dask_collection(obj):
    """Whether ``obj`` is a Dask collection (array, DataFrame, Series), decided without
    importing Dask: only an object of a module Dask (or dask-expr) defines can be."""
    root = type(obj).__module__.partition(".")[0]
    return root in ("dask", "dask_expr") and "dask" in sys.modules


def ordered_sum(parts):
    """The sum of ``parts`` (floats, arrays or tuples of them), added in list order."""
    return combine_parts(parts, "sum")


def _tree_combine(parts, combine="sum"):
    """``combine_parts`` of computed ``parts`` by the tree of :func:`_tree_sum` (the
    same groups, level by level), on the client: bit for bit the graph's result."""
    while len(parts) > 1:
        parts = [combine_parts(parts[start:start + _REDUCTION_FAN_IN], combine)
                 for start in range(0, len(parts), _REDUCTION_FAN_IN)]
    return parts[0]


def _distributed_client():
    """The ``distributed.Client`` the current scheduler is, or None: the threaded or
    synchronous scheduler, or code running in a task on a worker (which keeps to
    ``dask.compute``)."""
    if "distributed" not in sys.modules:
        return None
    import dask.base
    from distributed import Client
    from distributed.worker import get_worker

    client = getattr(dask.base.get_scheduler(), "__self__", None)
    if not isinstance(client, Client) or client.status != "running":
        return None
    try:
        get_worker()
    except ValueError:
        return client
    return None


def _block_futures(array, blocks, client):
    """The futures of the persisted chunks ``blocks`` (Delayed, of ``array``) held by
    ``client``, in order; None unless every chunk has one (an array persisted on
    another scheduler or client)."""
    from distributed import futures_of

    held = {future.key: future for future in futures_of(array)
            if future.client is client}
    futures = [held.get(block.key) for block in blocks]
    return None if any(future is None for future in futures) else futures


def _tree_sum(parts, combine="sum"):
    """``combine_parts`` of delayed ``parts`` (``"sum"``: :func:`ordered_sum`) as a
    tree of fixed shape: groups of ``_REDUCTION_FAN_IN`` consecutive parts, level by
    level (a delayed result)."""
    from dask import delayed

    reduce = delayed(combine_parts, pure=True)
    while len(parts) > 1:
        parts = [reduce(parts[start:start + _REDUCTION_FAN_IN], combine)
                 for start in range(0, len(parts), _REDUCTION_FAN_IN)]
    return parts[0]


class DaskDesign:
    """X as persisted row chunks on the Dask workers (what a :class:`DaskLinearModel`
    takes for X).

    Parameters
    ----------
    array : dask.array.Array of shape (n_samples, n_features)
        Float32 or float64, dense or with scipy.sparse chunks, row chunks of known
        sizes and one chunk of columns (see :func:`dask_design`).

    Attributes
    ----------
    shape : tuple of int
    dtype : numpy dtype
    row_chunks : tuple of int
        Rows of each chunk, in order.
    blocks : list of dask.delayed.Delayed
        The persisted chunks, in row order.
    sparse : bool
        Whether the chunks are scipy.sparse matrices (converted to CSR on use).
    """

    def __init__(self, array):
        self.array = array.persist()
        self.shape = tuple(int(size) for size in array.shape)
        self.dtype = array.dtype
        self.row_chunks = tuple(int(size) for size in array.chunks[0])
        self.blocks = list(self.array.to_delayed().ravel())
        self.sparse = sp.issparse(getattr(array, "_meta", None))
        self._head = None
        self._copies = []
        #: Whether no pass has yet checked that every chunk is finite: the first
        #: pass's chunk tasks do (see :meth:`checked_parts`).
        self.unchecked = True
        self._gram = None   # (weight, client, futures) of :meth:`start_gram`
        self._placed = None   # (client, chunks) of :meth:`futures`

    def start_gram(self, weight):
        """Start the Gram matrix of ``[X, 1]`` with every weight ``weight`` (a fit
        without sample weights: ``1/n``) on the workers, before the fit asks for it
        (:meth:`take_gram`): it runs while y comes to the client and the fit is set
        up, where it would have been a round trip of its own after that.  Only on a
        distributed client, and where the preconditioner can be dense (``d + 1``
        parameters fit a dense matrix); the tasks check their chunks (the fit's
        first pass, see :func:`_on_chunk`)."""
        from ..solver._lbfgs import DENSE_PRECONDITIONER_MAX_PARAMS
        from ._linear import SPARSE_DENSE_PRECONDITIONER_MAX_PARAMS

        limit = (SPARSE_DENSE_PRECONDITIONER_MAX_PARAMS if self.sparse
                 else DENSE_PRECONDITIONER_MAX_PARAMS)
        client = _distributed_client()
        if client is None or not self.shape[0] or self.shape[1] + 1 > limit:
            return
        blocks = self.futures(client)
        if blocks is None:
            return
        weight = np.float64(weight)
        starts = self.row_starts
        self._gram = (weight, client, [
            client.submit(_on_chunk, "design_gram", None, (), block,
                          [_Constant(weight, (int(stop - start),))], {},
                          (int(start), int(stop)), "sum", True, pure=False)
            for block, start, stop in zip(blocks, starts[:-1], starts[1:])])

    def take_gram(self, weights):
        """The Gram matrix :meth:`start_gram` started, if ``weights`` are its weights
        bit for bit and the same client runs the passes (chunk by chunk the pass
        ``design_gram`` would make: the same sum); else None (and the started tasks
        dropped)."""
        started, self._gram = self._gram, None
        if started is None:
            return None
        weight, client, futures = started
        weights = np.asarray(weights)
        constant = (_constant_chunks(weights, self.row_chunks)
                    if weights.shape == (self.shape[0],) else None)
        if (constant is None or _distributed_client() is not client
                or np.float64(constant[0].value).tobytes() != weight.tobytes()):
            client.cancel(futures)
            return None
        return _tree_combine(self.checked_parts(client.gather(futures)), "sum")

    def drop_gram(self):
        """Drop the Gram matrix :meth:`start_gram` started (a pass came first)."""
        if self._gram is not None:
            self._gram[1].cancel(self._gram[2])
            self._gram = None

    def checked_parts(self, parts):
        """The results of the first pass's chunk tasks, ``(problem, result)`` each
        (see :func:`_on_chunk`), as their results; a ValueError naming the rows of the
        first chunk that holds NaN or infinity."""
        problems = [problem for problem, _ in parts]
        if any(problems):
            index = int(np.argmax(problems))
            start = int(np.sum(self.row_chunks[:index]))
            raise ValueError(f"Input X contains NaN or infinity: row chunk {index} "
                             f"(rows {start} to {start + self.row_chunks[index] - 1}).")
        self.unchecked = False
        return [result for _, result in parts]

    def keep_worker_copy(self, values, array):
        """Record that ``array`` (a persisted one-dimensional Dask array, chunked as
        X) holds ``values`` (its values on the client, e.g. y): a pass given a vector
        equal to them reads ``array``'s chunks (:meth:`worker_copy`) instead of
        sending it."""
        if array.ndim == 1 and tuple(array.chunks[0]) == self.row_chunks:
            self._copies.append((np.asarray(values), array))

    def worker_copy(self, vector):
        """A persisted Dask array chunked as X holding ``vector`` bit for bit (a
        recorded copy, converted on the workers to ``vector``'s dtype), or None."""
        for values, array in self._copies:
            if values.shape != vector.shape or vector.dtype.kind not in "fiub":
                continue
            try:
                converted = np.asarray(values, dtype=vector.dtype)
            except (TypeError, ValueError):
                continue
            bits = f"u{vector.dtype.itemsize}"
            if np.array_equal(np.ascontiguousarray(converted).view(bits),
                              np.ascontiguousarray(vector).view(bits)):
                return (array if array.dtype == vector.dtype
                        else array.astype(vector.dtype).persist())
        return None

    def futures(self, client):
        """What a chunk task on ``client`` (a ``distributed.Client``) takes for each
        chunk, in row order (see :func:`_placed_chunks`), or None where X was
        persisted elsewhere.  Placed once per design (so once per fit), in the
        round trip of its first pass; the design holds the copies until it is
        dropped."""
        blocks = _block_futures(self.array, self.blocks, client)
        if blocks is None:
            return None
        if self._placed is None or self._placed[0] is not client:
            self._placed = (client, _placed_chunks(client, blocks, self.row_chunks))
        return self._placed[1]

    @property
    def ndim(self):
        return 2

    def __len__(self):
        return self.shape[0]

    @property
    def row_starts(self):
        """The first row of each chunk, and the number of rows last (n_chunks + 1)."""
        return np.concatenate([[0], np.cumsum(self.row_chunks)]).astype(np.intp)

    def head(self, n_rows=1):
        """The first ``n_rows`` rows (of the first chunk) as an in-memory array."""
        if self._head is None or self._head.shape[0] < n_rows:
            self._head = _as_rows(self.array[:max(n_rows, 1)].compute())
        return self._head[:n_rows]

    def __getitem__(self, rows):
        """A leading block of rows, ``X[:k]`` (what the model's shared-Fisher Hessian
        reads); any other indexing would bring X to the client and is refused."""
        leading = (isinstance(rows, slice) and rows.start in (None, 0)
                   and rows.step in (None, 1) and rows.stop is not None)
        if leading and rows.stop <= self.row_chunks[0]:
            return self.head(rows.stop)
        raise TypeError("a DaskDesign gives only its leading rows (X[:k] within the "
                        "first chunk); passes over X run chunkwise on the workers")


def _aligned(array):
    """``array`` with its values in aligned memory (a copy only where they are not).

    A chunk a worker received over the network can be a view of the message's bytes,
    not aligned for doubles; NumPy then sums it in its own loop rather than with BLAS,
    in another order, and a partial sum would depend on whether the chunk was moved.
    """
    array = np.asarray(array)
    return array if array.flags.aligned else np.array(array)


def _as_rows(block):
    """A chunk as the in-memory LinearModel reads it: CSR if sparse, else an array,
    in aligned memory (see :func:`_aligned`)."""
    if sp.issparse(block):
        block = sp.csr_matrix(block)
        if not all(part.flags.aligned for part in (block.data, block.indices,
                                                   block.indptr)):
            block = block.copy()
        return block
    return _aligned(block)


def _realigned(block):
    """The chunk as :func:`_as_rows` reads it, or None where that is the chunk itself
    (run once per fit on the worker holding the chunk, see :meth:`DaskDesign.futures`).

    A chunk that came to its worker over the network (moved there by another
    computation on the cluster, or by the worker's memory manager) sits unaligned in
    the message's bytes, and :func:`_as_rows` copied it in every task of every pass:
    measured on 2 000 000 x 50 in chunks of 250 000 rows after dask-ml's solvers had
    moved one chunk to each worker, the Poisson fit's chunk tasks took 50 % more
    CPU time (2.0 s against 1.33 s per worker), a 100 MB copy in each 25 ms task.
    Made once, the copy is held for the fit (the persisted chunk stays the user's).
    A sparse chunk in another format is likewise converted to CSR once.
    """
    rows = _as_rows(block)
    return None if rows is block else rows


def _balanced_targets(holders, row_chunks, threads):
    """The worker whose tasks read each chunk: a worker holding it while that keeps
    the worker within its share of the rows (in proportion to its threads), the
    rest to the worker with the fewest rows for its threads (its holder on a tie);
    None for a chunk no live worker holds (one still being computed: left to Dask).

    A pass lasts as long as its busiest worker: measured on a fresh LocalCluster of
    2 workers, X's 8 chunks persisted 5 and 3, the busier worker's chunk tasks took
    2.2 s of CPU time in a Poisson fit against the other's 1.3 s."""
    total = float(sum(row_chunks))
    all_threads = float(sum(threads.values())) or 1.0
    share = {worker: total * count / all_threads for worker, count in threads.items()}
    load = dict.fromkeys(threads, 0.0)
    targets = [None] * len(row_chunks)
    for i, rows in enumerate(row_chunks):
        live = sorted((load[w] / threads[w], w) for w in holders[i] if w in load)
        if live and load[live[0][1]] + rows <= share[live[0][1]]:
            targets[i] = live[0][1]
            load[targets[i]] += rows
    for i, rows in enumerate(row_chunks):
        if targets[i] is None and any(w in load for w in holders[i]):
            targets[i] = min(load, key=lambda w: ((load[w] + rows) / threads[w],
                                                  w not in holders[i], w))
            load[targets[i]] += rows
    return targets


def _placed_chunks(client, blocks, row_chunks):
    """For each chunk's future in ``blocks``, what a chunk task takes for it
    (:func:`_placed_rows`): ``[chunk, realigned]`` for a chunk whose tasks stay
    where it is (:func:`_realigned`), or the future of its copy on the worker
    :func:`_balanced_targets` moves it to.  Two scheduler queries (who holds the
    chunks, the workers' threads) and one task per chunk, submitted at once: the
    copies are made before the first pass's tasks, in their round trip.  Where
    the chunks are changes no result: the parts are added on the client in chunk
    order (:func:`_tree_combine`), and a copy holds the same values.
    """
    holders = client.who_has(blocks)
    targets = _balanced_targets([tuple(holders.get(block.key, ())) for block in blocks],
                                row_chunks, dict(client.nthreads()))
    placed = []
    for block, target in zip(blocks, targets):
        where = {} if target is None else dict(workers=[target],
                                               allow_other_workers=True)
        if target is None or target in holders.get(block.key, ()):
            placed.append([block, client.submit(_realigned, block, pure=False,
                                                **where)])
        else:   # (allowed elsewhere should the target die: never a stuck task)
            placed.append(client.submit(_as_rows, block, pure=False, **where))
    return placed


def _placed_rows(block):
    """A chunk task's X: ``block`` is a chunk, or ``[chunk, realigned]`` (see
    :meth:`DaskDesign.futures`), read as :func:`_as_rows` reads it."""
    if isinstance(block, list):
        chunk, realigned = block
        block = chunk if realigned is None else realigned
    return _as_rows(block)


def _on_chunk(method, model, args, block, vectors, kwargs, rows=(0, None),
              combine="sum", check=False):
    """``method(model, *args, X_chunk, *vector_chunks, **kwargs)`` on one chunk (run on
    a worker): ``method`` a LinearModel method's name or a function; ``block`` the
    chunk (see :func:`_placed_rows`); ``rows`` the
    chunk's training rows (start, stop), for the model's per-sample parts and the
    ``"indices"`` results of ``combine`` (see :meth:`DaskLinearModel.reduce_rows`).

    ``check`` (the design's first pass): the chunk is checked for NaN and infinity
    and the result is ``(problem, result)``, ``problem`` 1 (and no result) for a
    chunk that holds one, else 0.  A Gram matrix's pass reads the answer from its
    diagonal, ``sum_i w_i x_ij**2``, finite only if every positively weighted row is
    (weights are non-negative), and checks only rows of weight 0 or a diagonal that
    is not finite; any other pass reads the chunk once more."""
    X = _placed_rows(block)
    vectors = [_vector_chunk(vector) for vector in vectors]
    if check and method != "design_gram" and _chunk_problem(X):
        return 1, None
    function = method if callable(method) else getattr(LinearModel, method)
    part = None if model is None else model.for_rows(*rows)  # (None: the Gram's)
    result = offset_indices(function(part, *args, X, *vectors, **kwargs), combine,
                            rows[0])
    if not check:
        return result
    if method == "design_gram":
        with np.errstate(invalid="ignore"):
            unweighted = vectors[0] <= 0 if vectors else np.zeros(X.shape[0], bool)
        if not np.all(np.isfinite(np.diag(result)[:X.shape[1]])):
            unweighted = slice(None)
        elif not unweighted.any():
            return 0, result
        if _chunk_problem(X[unweighted]):
            return 1, None
    return 0, result


class _Constant:
    """The chunk of a per-sample vector whose entries are all one number (the weights
    of a fit without sample weights): made on the worker, not sent."""

    __slots__ = ("value", "shape")

    def __init__(self, value, shape):
        self.value, self.shape = value, shape

    def values(self):
        return np.full(self.shape, self.value)


def _constant_chunks(vector, row_chunks):
    """The chunks of ``vector`` as :class:`_Constant`, if every entry has the same
    bits (a one-dimensional float or integer vector), else None."""
    if vector.ndim != 1 or vector.size == 0 or vector.dtype.kind not in "fiu":
        return None
    bits = np.ascontiguousarray(vector).view(f"u{vector.dtype.itemsize}")
    if not np.all(bits == bits[0]):
        return None
    return [_Constant(vector[0], (rows,)) for rows in row_chunks]


def _vector_chunk(vector):
    """A vector's chunk as the in-memory model reads it (run on a worker)."""
    if vector is None:
        return None
    if isinstance(vector, _Constant):
        return vector.values()
    return _aligned(vector)


def _chunk_rows(block, indices):
    """Rows ``indices`` of one chunk (run on a worker)."""
    return _as_rows(block)[indices]


class DaskLinearModel(LinearModel):
    """A :class:`LinearModel` whose passes run chunkwise on Dask workers.

    Made from a built in-memory model with :meth:`placed`; the layout, penalty and
    everything that needs no pass over X are the linear model's.  The existence check
    (``supports_existence_check``) runs as on the in-memory model: its sums, maxima and
    flagged samples are passes over the chunks (:meth:`reduce_rows`), and the rows of
    X it needs on the client (the separation LP's constrained rows, the exact fits of
    a collapse) are brought there by :meth:`take_rows`, at most
    :data:`MAX_CLIENT_ROWS` at a time; a check that needs more is undecided
    (``mle_exists_`` None, with a warning that says so).

    Examples
    --------
    On the synchronous scheduler (a ``distributed.Client``, when one is current, runs
    the same graph on its workers):

    >>> import dask
    >>> import dask.array as da
    >>> import numpy as np
    >>> from sklearn_mle.families import PoissonLoss
    >>> from sklearn_mle.models._dask import DaskDesign, DaskLinearModel
    >>> from sklearn_mle.models._linear import LinearModel
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(1000, 3))
    >>> y = rng.poisson(np.exp(0.3 * X[:, 0])).astype(float)
    >>> w = np.full(1000, 1e-3)
    >>> local = LinearModel(PoissonLoss(), 3, [True], [True])
    >>> theta = np.array([0.3, 0.0, 0.0, 0.0])
    >>> with dask.config.set(scheduler="synchronous"):
    ...     design = DaskDesign(da.from_array(X, chunks=(250, 3)))
    ...     model = DaskLinearModel.placed(local, design)
    ...     nll, grad = model.nll_gradient(theta, design, y, w)
    >>> expected = local.nll_gradient(theta, X, y, w)
    >>> bool(np.isclose(nll, expected[0], rtol=1e-14)), len(design.blocks)
    (True, 4)
    """

    supports_existence_check = True
    #: Attributes that belong to the client-side object, never sent to the workers.
    _client_only = ("_vectors", "_design_gram")

    @classmethod
    def placed(cls, model, design):
        """The model ``model`` (a LinearModel) with its passes over ``design`` (a
        :class:`DaskDesign`) run on the workers."""
        if type(model) is not LinearModel:
            raise TypeError(f"only the linear model runs on Dask data, not "
                            f"{type(model).__name__}")
        placed = cls.__new__(cls)
        placed.__dict__.update(model.__dict__)
        placed._vectors = {}
        return placed

    def with_offset(self, offset):
        """The linear model with another per-sample offset, its passes still on the
        workers (each chunk task gets its rows' part, see ``LinearModel.for_rows``;
        the whole offset travels with the model to every evaluation, which only the
        fallback fit of separated classes asks for)."""
        return DaskLinearModel.placed(super().with_offset(offset), None)

    def local_model(self):
        """The in-memory LinearModel with this model's layout and penalty (what each
        chunk task runs)."""
        local = LinearModel.__new__(LinearModel)
        local.__dict__.update({key: value for key, value in self.__dict__.items()
                               if key not in self._client_only})
        return local

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("_vectors", None)
        return state

    # ------------------------------------------------------------ map-reduce
    def _chunked(self, vector, design, client=None):
        """The delayed chunks of an (n, ...) client array, split along its rows as X,
        persisted on the workers once per distinct array (held by a weak reference:
        the model keeps no data alive); None gives None for each chunk.  With
        ``client``: their futures on it instead (None if it does not hold them)."""
        if vector is None:
            return [None] * len(design.blocks)
        key = id(vector)
        cached = self._vectors.get(key)
        if cached is None or cached[0]() is not vector:
            cached = self._persisted(vector, design)
        if client is None or cached[2] is None:
            return cached[1]
        return _block_futures(cached[2], cached[1], client)

    def _persisted(self, vector, design):
        """``vector`` chunked as X on the workers: (weak reference, chunks, the
        persisted Dask array), cached by the vector's identity.  A vector of one
        value is sent as that value (:class:`_Constant` chunks, no array); one equal
        bit for bit to a vector the fit's input left on the workers
        (:meth:`DaskDesign.worker_copy`) is taken from there; any other is sent."""
        import dask.array as da

        vector_array = np.asarray(vector)
        constant = _constant_chunks(vector_array, design.row_chunks)
        if constant is not None:
            cached = self._vectors[id(vector)] = (weakref.ref(vector), constant, None)
            return cached
        chunks = design.worker_copy(vector_array)
        if chunks is not None:
            blocks = list(chunks.to_delayed().ravel())
            cached = self._vectors[id(vector)] = (weakref.ref(vector), blocks, chunks)
            return cached
        with warnings.catch_warnings():
            # The chunks travel in the graph, once per fit, so that a lost worker's
            # part can be made again (scattered data could not): the size Dask warns
            # about ("Sending large graph", n floats) is by design, not a mistake.
            warnings.filterwarnings("ignore", message="Sending large graph",
                                    category=UserWarning)
            chunks = da.from_array(vector_array, chunks=(design.row_chunks,)
                                   + vector_array.shape[1:]).persist()
        blocks = list(chunks.to_delayed().ravel())
        cached = self._vectors[id(vector)] = (weakref.ref(vector), blocks, chunks)
        return cached

    def map_reduce(self, method, design, vectors=(), args=(), combine="sum", **kwargs):
        """``LinearModel.<method>`` (or a function taking the model first) on each chunk
        of ``design`` with the matching chunks of ``vectors`` (client (n, ...) arrays),
        the partial results combined in chunk order (``combine``, see
        :meth:`reduce_rows`; ``"sum"``: :func:`ordered_sum`) and computed on the
        current scheduler."""
        import dask
        from dask import delayed

        if not isinstance(design, DaskDesign):
            raise TypeError(f"{type(self).__name__} passes over a DaskDesign, got "
                            f"{type(design).__name__}")
        design.drop_gram()
        starts = design.row_starts
        check = design.unchecked
        client = _distributed_client() if self.offset is None else None
        blocks = None if client is None else design.futures(client)
        chunked = (None if blocks is None else
                   [self._chunked(vector, design, client) for vector in vectors])
        if chunked is not None and all(part is not None for part in chunked):
            # On a distributed client: one task per chunk submitted on the persisted
            # chunks' futures and the parts gathered, then added on the client by the
            # same tree as the graph's (bit for bit its result).  A graph's round
            # trip cost about 20 ms more (40 against 18 ms for 4 chunks on 2 workers):
            # its conversion and the reduction tasks' hop between the workers.
            local = self.local_model()
            parts = [client.submit(_on_chunk, method, local, tuple(args), block,
                                   [vector_blocks[i] for vector_blocks in chunked],
                                   kwargs, (int(starts[i]), int(starts[i + 1])),
                                   combine, check, pure=False)
                     for i, block in enumerate(blocks)]
            parts = client.gather(parts)
            if check:
                parts = design.checked_parts(parts)
            return _tree_combine(parts, combine)
        chunked = [self._chunked(vector, design) for vector in vectors]
        # one key each for the layout and theta, shared by every chunk task
        shared = delayed(self.local_model(), pure=False), delayed(tuple(args), pure=False)
        run = delayed(_on_chunk, pure=True)
        parts = [run(method, shared[0], shared[1], block,
                     [blocks[i] for blocks in chunked], kwargs,
                     (int(starts[i]), int(starts[i + 1])), combine, check)
                 for i, block in enumerate(design.blocks)]
        if check:   # the parts to the client, to be checked before they are added
            return _tree_combine(design.checked_parts(list(dask.compute(*parts))),
                                 combine)
        return dask.compute(_tree_sum(parts, combine))[0]

    # ------------------------------------------------------ the existence check
    def reduce_rows(self, function, X, vectors=(), args=(), combine="sum"):
        """``function(model, *args, X_chunk, *vector_chunks)`` on each chunk on the
        workers, the parts combined in chunk order (see
        :meth:`~sklearn_mle.models._model.RowAccess.reduce_rows`)."""
        if not isinstance(X, DaskDesign):
            return super().reduce_rows(function, X, vectors, args, combine)
        return self.map_reduce(function, X, vectors, args, combine=combine)

    def take_rows(self, X, indices):
        """Rows ``indices`` (integers or a boolean mask) of the design, brought to the
        client in the order given; a :class:`RowLimitExceeded` for more than
        :data:`MAX_CLIENT_ROWS`."""
        if not isinstance(X, DaskDesign):
            return super().take_rows(X, indices)
        import dask
        from dask import delayed

        indices = np.asarray(indices)
        if indices.dtype == bool:
            indices = np.flatnonzero(indices)
        indices = indices.astype(np.intp).ravel()
        if indices.size > MAX_CLIENT_ROWS:
            raise RowLimitExceeded(
                f"the check needs {indices.size} rows of X on the client, more than "
                f"the {MAX_CLIENT_ROWS} a Dask fit brings there")
        order = np.argsort(indices, kind="stable")
        ordered = indices[order]
        starts = X.row_starts
        chunk_of = np.searchsorted(starts, ordered, side="right") - 1
        take = delayed(_chunk_rows, pure=True)
        parts = [take(block, ordered[chunk_of == i] - starts[i])
                 for i, block in enumerate(X.blocks) if np.any(chunk_of == i)]
        parts = dask.compute(*parts)
        if not parts:
            rows = X.head(1)[:0]
        elif X.sparse:
            rows = sp.vstack(parts, format="csr")
        else:
            rows = np.concatenate(parts, axis=0)
        unsorted = np.empty_like(order)
        unsorted[order] = np.arange(order.size)
        return rows[unsorted]

    # -------------------------------------------------------------- passes
    def nll_gradient(self, theta, X, y, weights, n_threads=1):
        """Weighted NLL and gradient: chunk sums of ``LinearModel.nll_gradient``."""
        return self.map_reduce("nll_gradient", X, (y, weights), (theta,))

    def total_nll(self, theta, X, y, weights, n_threads=1):
        """``sum_i weights_i NLL_i``: chunk sums of ``LinearModel.total_nll``."""
        return self.map_reduce("total_nll", X, (y, weights), (theta,))

    def hessian(self, theta, X, y, sample_weight, alpha, n_threads=1, expected=False):
        """The Hessian (or Fisher information) of the objective: chunk sums of the
        unpenalised ``LinearModel.hessian``, plus the penalty's on the client; with
        one Fisher information shared by every sample, from the preconditioner's Gram
        matrix (no pass)."""
        if expected and self.fisher_is_shared:
            return self._shared_fisher_hessian(theta, X, y, sample_weight, alpha)
        total = self.map_reduce("hessian", X, (y, sample_weight), (theta,), alpha=0.0,
                                expected=expected)
        return self._add_penalty_hessian(total, alpha, theta)

    def raw_vjp(self, theta, X, raw_gradient):
        """``sum_i J_i^T g_i``: chunk sums of ``LinearModel.raw_vjp`` (``raw_gradient``
        (n, n_raw) on the client, sent chunked as X)."""
        if not isinstance(X, DaskDesign):
            return super().raw_vjp(theta, X, raw_gradient)
        return self.map_reduce("raw_vjp", X, (raw_gradient,), (theta,))

    def design_gram(self, X, weights, n_threads=1):
        """Weighted Gram matrix of ``[X, 1]``: chunk sums (the one the input
        started, :meth:`DaskDesign.start_gram`, where it has these weights)."""
        gram = X.take_gram(weights) if isinstance(X, DaskDesign) else None
        return gram if gram is not None else self.map_reduce("design_gram", X,
                                                             (weights,))

    def column_moments(self, X, weights):
        """Weighted column means and mean squares: chunk sums."""
        return self.map_reduce("column_moments", X, (weights,))

    def linear_predictor(self, X, coef, intercept, offset=None):
        """Raw predictions: of in-memory rows as the linear model's; of a
        :class:`DaskDesign`, computed chunkwise and gathered on the client (an
        (n, n_raw) array, for the report's residual statistics)."""
        if not isinstance(X, DaskDesign):
            return super().linear_predictor(X, coef, intercept, offset)
        import dask
        from dask import delayed

        run = delayed(_on_chunk, pure=True)
        local = delayed(self.local_model(), pure=False)
        parts = [run("linear_predictor", local, (), block, [],
                     dict(coef=coef, intercept=intercept),
                     (int(start), int(stop)))
                 for block, start, stop in zip(X.blocks, X.row_starts[:-1],
                                               X.row_starts[1:])]
        return np.concatenate(dask.compute(*parts), axis=0)

    # ------------------------------------------------------------------ facts
    def work_per_pass(self, X):
        """None of a pass's per-sample work runs in this (the client's) process, so
        its kernels get one OpenMP thread, and so do the chunk tasks that a check
        hands its thread count to (``reduce_rows``), as those of the solver's passes
        run: the cluster's parallelism is its tasks.  A count chosen for the client's
        cores would put that many spinning threads on each worker's core (measured on
        2 workers on 2 cores: the existence check's pass ran up to 15 times slower)."""
        return 0

    def uses_fused_pass(self, X):
        """Passes over a DaskDesign are chunk tasks (each chunk takes the in-memory
        model's path: fused for dense row-major chunks)."""
        if isinstance(X, DaskDesign):
            return False
        return super().uses_fused_pass(X)

    def pass_description(self, X):
        return f"Dask map-reduce over {len(X.blocks)} row chunks"


# ---------------------------------------------------------------- placement and input
def place_model(model, X):
    """The model whose passes run where X lives: ``model`` itself for in-memory X, its
    :class:`DaskLinearModel` for a :class:`DaskDesign` (the one place that chooses
    the model from the kind of X)."""
    if isinstance(X, DaskDesign):
        return DaskLinearModel.placed(model, X)
    return model


def _as_dask_array(data, name):
    """A Dask array from a Dask array, DataFrame or Series (row chunks counted)."""
    if hasattr(data, "to_dask_array"):
        return data.to_dask_array(lengths=True)
    return data


def _check_row_chunks(array, name):
    """Known row-chunk sizes, or a ValueError that says how to get them."""
    if any(np.isnan(size) for size in array.chunks[0]):
        raise ValueError(
            f"{name} has unknown chunk sizes (NaN in {name}.chunks, e.g. after boolean "
            f"indexing): call {name}.compute_chunk_sizes() first (for a Dask DataFrame, "
            "to_dask_array(lengths=True) is done for you)")


def _chunk_problem(block):
    """0 for a chunk of finite values, 1 if it holds NaN or infinity (run on a worker)."""
    values = block.data if sp.issparse(block) else np.asarray(block)
    return 0 if np.all(np.isfinite(values)) else 1


def _design_array(X):
    """X as the Dask array a :class:`DaskDesign` persists (see :func:`dask_design`)."""
    array = _as_dask_array(X, "X")
    if array.ndim != 2:
        raise ValueError(f"X must be 2-dimensional, got a Dask array of shape "
                         f"{array.shape}")
    _check_row_chunks(array, "X")
    if len(array.chunks[1]) > 1:
        array = array.rechunk({1: -1})
    if array.dtype not in (np.float32, np.float64):
        array = array.astype(np.float64)
    return array


def dask_design(X, vectors=(), unit_weights=False):
    """X (a Dask array or DataFrame) persisted as a :class:`DaskDesign`, and
    ``vectors`` (Dask collections, in-memory arrays or None) brought to the client
    (one round trip if any is a Dask collection, none otherwise).

    Row chunks must have known sizes (a ValueError otherwise); columns split into
    several chunks are rechunked to one (each row's raw prediction needs all of its
    features in one task: the rechunk is a one-off, done as X is persisted); integer
    or boolean X becomes float64.  A chunk holding NaN or infinity raises a
    ValueError naming its rows from the fit's first pass over X, whose chunk tasks
    check their chunk before they use it (:meth:`DaskDesign.checked_parts`).
    ``unit_weights`` (a fit without sample weights): the Gram matrix of ``[X, 1]``
    with weights ``1/n`` is started at once (:meth:`DaskDesign.start_gram`).
    Returns the design and the tuple of the vectors' values.
    """
    import dask

    design = DaskDesign(_design_array(X))
    if unit_weights:
        design.start_gram(1.0 / design.shape[0] if design.shape[0] else 0.0)
    lazy = [i for i, vector in enumerate(vectors) if is_dask_collection(vector)]
    values = list(vectors)
    if lazy:
        # persisted first, so that the passes read them on the workers rather than
        # have the client's copies sent back (16 MB each at 2 000 000 rows)
        persisted = [vectors[i].persist() for i in lazy]
        for i, array, value in zip(lazy, persisted, dask.compute(*persisted)):
            values[i] = value
            design.keep_worker_copy(value, array)
    return design, tuple(values)


def _vector_array(vector, name, row_chunks):
    """A Dask per-sample vector (an in-memory one as it is), its row chunks checked
    against X's."""
    if vector is None or not is_dask_collection(vector):
        return vector
    array = _as_dask_array(vector, name)
    _check_row_chunks(array, name)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if tuple(array.chunks[0]) != tuple(row_chunks):
        raise ValueError(
            f"X and {name} have different row chunks (X: {tuple(row_chunks)}, {name}: "
            f"{tuple(array.chunks[0])}): chunk them alike, e.g. "
            f"{name}.rechunk((X.chunks[0],))")
    return array


def dask_fit_input(X, y, sample_weight):
    """Fit's inputs when X is a Dask collection: the :class:`DaskDesign` of X, y and
    ``sample_weight`` as client vectors (their chunks checked against X's), and X's
    feature names (a DataFrame's string columns, else None)."""
    columns = getattr(X, "columns", None)
    names = (np.asarray(list(columns), dtype=object) if columns is not None
             and len(columns) and all(isinstance(c, str) for c in columns) else None)
    array = _design_array(X)  # (counts a DataFrame's rows once)
    y = _vector_array(y, "y", array.chunks[0])
    sample_weight = _vector_array(sample_weight, "sample_weight", array.chunks[0])
    design, (y, sample_weight) = dask_design(array, (y, sample_weight),
                                             unit_weights=sample_weight is None)
    if np.shape(y)[0] != design.shape[0]:
        raise ValueError(f"X has {design.shape[0]} rows, y has {np.shape(y)[0]}")
    return design, y, sample_weight, names


# ------------------------------------------------------------------------- prediction
def _prediction_array(X):
    """X for chunkwise prediction: a Dask array with known row chunks, one chunk of
    columns."""
    array = _as_dask_array(X, "X")
    _check_row_chunks(array, "X")
    if array.ndim == 2 and len(array.chunks[1]) > 1:
        array = array.rechunk({1: -1})
    return array


def _outputs(result, n_rows):
    """A method's result with a frozen scipy.stats distribution replaced by its
    parameters, a dict of (n_rows,) arrays."""
    if hasattr(result, "kwds") and hasattr(result, "dist"):
        if result.args:
            raise TypeError("a predictive distribution with positional parameters")
        return {name: np.broadcast_to(np.asarray(value, dtype=np.float64), (n_rows,))
                for name, value in result.kwds.items()}
    return result


def _named_rows(block, columns):
    """A chunk as the estimator reads it: a pandas DataFrame with ``columns`` where X
    was a Dask DataFrame (so its feature names are checked as in memory), else rows."""
    rows = _as_rows(block)
    if columns is None:
        return rows
    import pandas as pd

    return pd.DataFrame(rows, columns=columns)


def _predict_block(method, estimator, args, kwargs, output, columns, block, *vectors):
    """One output of ``method(estimator, block, *vectors, *args, **kwargs)`` on a
    chunk (a DataFrame with ``columns``, if not None)."""
    result = _outputs(method(estimator, _named_rows(block, columns), *vectors, *args,
                             **kwargs), block.shape[0])
    return result if output is None else result[output]


def map_rows(method, estimator, X, vectors=(), args=(), kwargs=None):
    """``method(estimator, X, *vectors, *args, **kwargs)`` as lazy Dask arrays, chunk
    by chunk over the rows of X (``vectors``: per-sample Dask arrays, chunked as X).

    The shape and dtype of the output are read from the method on X's first row
    (one small computation); a tuple output gives a tuple of arrays, a dict (the
    parameters of a predictive distribution) a dict of them.
    """
    import dask.array as da

    columns = getattr(X, "columns", None)   # a Dask DataFrame's feature names
    columns = None if columns is None else list(columns)
    array = _prediction_array(X)
    vectors = [_as_dask_array(v, "y") for v in vectors]
    for vector in vectors:
        _check_row_chunks(vector, "y")
        if tuple(vector.chunks[0]) != tuple(array.chunks[0]):
            raise ValueError(f"X and y have different row chunks (X: {array.chunks[0]}, "
                             f"y: {vector.chunks[0]}): chunk them alike")
    kwargs = kwargs or {}
    probe = _outputs(method(estimator, _named_rows(array[:1].compute(), columns),
                            *[np.asarray(v[:1].compute()) for v in vectors], *args,
                            **kwargs), 1)
    if np.ndim(probe) == 0 and not isinstance(probe, (tuple, dict)):
        raise ValueError(f"{method.__name__} gives one number, not one per sample: on "
                         "Dask input ask for the per-sample values (per_sample=True) "
                         "and reduce them with Dask")

    def lazy(output, sample):
        sample = np.asarray(sample)
        task = functools.partial(_predict_block, method, estimator, args, kwargs, output,
                                 columns)
        pairs = [array, "ik"] + [part for vector in vectors for part in (vector, "i")]
        return da.blockwise(task, "i" if sample.ndim == 1 else "ij", *pairs,
                            dtype=sample.dtype, concatenate=True,
                            new_axes={} if sample.ndim == 1 else {"j": sample.shape[1]})

    if isinstance(probe, tuple):
        return tuple(lazy(i, part) for i, part in enumerate(probe))
    if isinstance(probe, dict):
        return {key: lazy(key, part) for key, part in probe.items()}
    return lazy(None, probe)
