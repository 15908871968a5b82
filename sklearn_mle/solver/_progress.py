"""Progress reports of a fit, printed to stdout when ``verbose`` is positive.

One reporter object serves a whole fit: the solver, the fit machinery and the
estimators' existence checks all write through it, so every line has the same prefix
and the same two levels.

Interface::

    progress = Progress(verbose, "MLEClassifier")
    progress.line("...")                  # printed when verbose >= 1
    progress.detail("...")                # printed when verbose >= 2
    with progress.timed("existence check") as section:
        ...                               # the section's work
        section.outcome = "no separation"  # optional, shown in the closing line
    # prints "[MLEClassifier] existence check: no separation (0.012 s)" at verbose >= 1

``progress.enabled`` and ``progress.detailed`` say whether level-1 and level-2 lines are
printed, so that a caller can skip computing what only a report would show;
``progress.elapsed()`` is the time since the reporter was made.  With ``verbose=0``
nothing is printed.  ``timed(name, level=2)`` reports a section only at verbose >= 2.

What the solver reports (:func:`sklearn_mle.solver._lbfgs.minimize_lbfgs` and
:func:`sklearn_mle.solver._fit.fit_model`):

* verbose=1: a header (number of parameters, preconditioner and the flat directions
  it dropped, tol, max_iter); one line per L-BFGS iteration (iteration, objective,
  largest component of the preconditioned gradient, phase); a line for each Hessian
  refresh, Newton polish and Newton step with its refinements; a final line with the
  reason the solver stopped, the number of iterations and the time.
* verbose=2 adds the preconditioner's build time, the number of OpenMP threads, the
  kernel used for the passes over X (fused one-pass kernel or BLAS/SciPy products),
  whether BLAS is held to one thread, the time of each Hessian, and per L-BFGS phase
  its iterations, function evaluations, step scale and time.
"""

import time


class Progress:
    """Reporter of a fit's progress.

    Parameters
    ----------
    verbose : int or bool
        0 prints nothing; 1 prints one line per iteration and the main events; 2 adds
        the detail that helps diagnose a slow fit.
    estimator_name : str
        Prefix of every line, in brackets.

    Examples
    --------
    >>> progress = Progress(1, "MLERegressor")
    >>> progress.line("fit: 3 parameters")
    [MLERegressor] fit: 3 parameters
    >>> progress.detail("not shown at verbose=1")
    >>> Progress(0, "MLERegressor").line("not shown at verbose=0")
    """

    def __init__(self, verbose, estimator_name):
        self.verbose = int(verbose)
        self.estimator_name = estimator_name
        self.enabled = self.verbose >= 1
        self.detailed = self.verbose >= 2
        self._start = time.perf_counter()

    def _print(self, message):
        print(f"[{self.estimator_name}] {message}", flush=True)

    def line(self, message):
        """Print ``message`` at verbose >= 1."""
        if self.enabled:
            self._print(message)

    def detail(self, message):
        """Print ``message`` at verbose >= 2."""
        if self.detailed:
            self._print(message)

    def elapsed(self):
        """Seconds since the reporter was made."""
        return time.perf_counter() - self._start

    def timed(self, name, level=1):
        """Time the enclosed work; at the end print ``name: outcome (t s)``.

        The yielded section's ``outcome`` attribute (a string, empty by default) is
        shown in the closing line; ``section.seconds`` holds the time afterwards.
        The line is printed when ``verbose >= level``, also if the work raised.
        """
        return _Section(self, name, level)


class _Section:
    """What :meth:`Progress.timed` yields: the outcome to report and the time taken.
    (A class, not a generator context manager: a fit enters a few of them whatever
    its verbosity, and a small fit takes a millisecond.)"""

    def __init__(self, progress, name, level):
        self._progress, self._name, self._level = progress, name, level
        self.outcome = ""
        self.seconds = None

    def __enter__(self):
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc_info):
        self.seconds = time.perf_counter() - self._start
        if self._progress.verbose >= self._level:
            outcome = f": {self.outcome}" if self.outcome else ""
            self._progress._print(f"{self._name}{outcome} ({self.seconds:.3g} s)")
        return False


def as_progress(progress, verbose, estimator_name):
    """``progress`` if given, else a new :class:`Progress` for ``verbose``."""
    return progress if progress is not None else Progress(verbose, estimator_name)
