"""Progress reports: what verbose=0, 1 and 2 print during a fit."""

import doctest
import re
import time
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning

from sklearn_mle import MLEClassifier, MLERegressor
from sklearn_mle.models._linear_layouts import classification_model
from sklearn_mle.solver import _progress
from sklearn_mle.solver._fit import fit_model
from sklearn_mle.solver._progress import Progress

ITERATION = re.compile(r"iteration +(\d+) +objective \S+ +max \|preconditioned gradient\| "
                       r"\S+ +phase (\d+)$")


def test_progress_docstring_examples():
    result = doctest.testmod(_progress, raise_on_error=False, verbose=False)
    assert result.attempted > 0
    assert result.failed == 0


@pytest.mark.parametrize("verbose", [0, 1, 2])
def test_levels_and_prefix(verbose, capsys):
    progress = Progress(verbose, "Est")
    progress.line("main")
    progress.detail("more")
    expected = ["[Est] main", "[Est] more"][:verbose]
    assert capsys.readouterr().out.splitlines() == expected
    assert progress.enabled == (verbose >= 1)
    assert progress.detailed == (verbose >= 2)


def test_timed_section_reports_its_outcome_and_time(capsys):
    progress = Progress(True, "Est")
    with progress.timed("existence check") as section:
        time.sleep(0.01)
        section.outcome = "no separation"
    out = capsys.readouterr().out
    match = re.fullmatch(r"\[Est\] existence check: no separation \((\S+) s\)\n", out)
    assert match
    assert float(match.group(1)) == pytest.approx(section.seconds, rel=1e-2)
    assert section.seconds >= 0.01
    assert progress.elapsed() >= section.seconds


def test_timed_section_level_two_and_errors(capsys):
    with Progress(1, "Est").timed("hidden at verbose=1", level=2):
        pass
    assert capsys.readouterr().out == ""
    with pytest.raises(RuntimeError):
        with Progress(1, "Est").timed("failing step"):
            raise RuntimeError("boom")
    assert re.fullmatch(r"\[Est\] failing step \(\S+ s\)\n", capsys.readouterr().out)


def regression_data(sparse):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(300, 4)) * np.array([1.0, 100.0, 0.01, 3.0]) + 2.0
    raw = X @ np.array([0.5, 0.01, 30.0, -0.2])
    y = raw + rng.normal(size=300) * np.exp(0.1 * X[:, 0])
    return (sp.csr_matrix(X) if sparse else X), y, raw


def classification_data(sparse, n_classes):
    X, _, raw = regression_data(sparse)
    rng = np.random.default_rng(4)
    y = np.digitize(raw - raw.mean() + rng.logistic(size=raw.size) * raw.std(),
                    np.linspace(-0.5, 0.5, n_classes - 1) * raw.std())
    return X, y


ESTIMATORS = {
    "binary": lambda v: MLEClassifier(verbose=v),
    "softmax": lambda v: MLEClassifier(verbose=v),
    "fixed": lambda v: MLERegressor(variance="fixed", verbose=v),
    "constant": lambda v: MLERegressor(variance="constant", verbose=v),
    "heteroscedastic": lambda v: MLERegressor(variance="heteroscedastic", verbose=v),
}


def fit_and_capture(name, sparse, verbose, capsys):
    if name in ("binary", "softmax"):
        X, y = classification_data(sparse, 2 if name == "binary" else 3)
    else:
        X, y, _ = regression_data(sparse)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a clean fit: no fallback refit in the report
        estimator = ESTIMATORS[name](verbose).fit(X, y)
    return estimator, capsys.readouterr().out.splitlines()


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
def test_verbose_zero_prints_nothing(name, sparse, capsys):
    fit_and_capture(name, sparse, 0, capsys)
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
def test_verbose_one_reports_each_iteration_and_the_stop(name, sparse, capsys):
    estimator, lines = fit_and_capture(name, sparse, 1, capsys)
    prefix = f"[{type(estimator).__name__}] "
    assert lines and all(line.startswith(prefix) for line in lines)
    messages = [line[len(prefix):] for line in lines]
    assert re.match(r"fit: \d+ parameters, .*preconditioner, \d+ flat "
                    r"directions? dropped", messages[0])
    iterations = [ITERATION.match(m) for m in messages if m.startswith("iteration")]
    assert all(iterations)
    assert [int(m.group(1)) for m in iterations] == list(
        range(1, len(iterations) + 1))
    phases = [int(m.group(2)) for m in iterations]
    assert phases == sorted(phases)
    # each new phase is announced as a named Hessian refresh
    for phase in set(phases) - {1}:
        assert any(m.startswith(f"phase {phase}: Hessian refreshed") for m in messages)
    stop = [m for m in messages if m.startswith("stopped: ")][-1]
    assert stop.startswith("stopped: converged")
    if isinstance(estimator, MLEClassifier):
        # at alpha=0 the existence of the MLE is checked after the solver stopped
        assert re.match(r"existence check: MLE exists \(certified\) \(\S+ s\)$",
                        messages[-1])
    if name == "fixed":
        assert not iterations
        assert any(m.startswith("Newton step on the quadratic objective") for m in messages)
        assert "Newton step on a quadratic objective" in stop
        assert re.search(r"; 1 iteration, \S+ s$", stop)
    else:
        assert len(iterations) == estimator.n_iter_
        assert re.search(rf"; {estimator.n_iter_} iterations, \S+ s$", stop)


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
def test_verbose_two_adds_diagnostics(name, sparse, capsys):
    silent, _ = fit_and_capture(name, sparse, 0, capsys)
    _, brief = fit_and_capture(name, sparse, 1, capsys)
    loud, detailed = fit_and_capture(name, sparse, 2, capsys)
    # reporting changes nothing in the fit
    np.testing.assert_array_equal(loud.coef_, silent.coef_)
    np.testing.assert_array_equal(loud.intercept_, silent.intercept_)
    assert loud.n_iter_ == silent.n_iter_

    def untimed(lines):
        return {re.sub(r"\(?\S+ s\)?$", "", line) for line in lines}

    assert untimed(brief) <= untimed(detailed)
    extra = [line for line in detailed if line not in brief]
    assert len(detailed) > len(brief)
    text = "\n".join(extra)
    kernel = "fused one-pass kernel on CSR X" if sparse else "fused one-pass kernel"
    assert f"passes over X by the {kernel}" in text
    assert re.search(r"\d+ OpenMP threads?; BLAS (held to one thread|not held)", text)
    assert re.search(r"preconditioner .* built in \S+ s", text)
    assert re.search(r"function evaluations: \d+", text)
    if name != "fixed":
        assert re.search(r"phase 1: \d+ iterations, \d+ function evaluations, step scale "
                         r"\S+, \S+ s", text)


def test_max_iter_reached_is_the_stop_reason(capsys):
    X, y = classification_data(False, 3)
    with pytest.warns(ConvergenceWarning):
        MLEClassifier(max_iter=2, verbose=1).fit(X, y)
    stop = [line for line in capsys.readouterr().out.splitlines()
            if "stopped:" in line][-1]
    assert stop.startswith("[MLEClassifier] stopped: max_iter reached (2)")


def test_fit_model_reports_through_the_given_progress(capsys):
    X, y = classification_data(False, 2)
    y = y.astype(np.float64)
    estimator = MLEClassifier()
    model = classification_model(X.shape[1], 2, True, 0.0)
    weights = np.full(y.size, 1.0 / y.size)
    theta0, start_raw = estimator._start(model, y, weights)
    progress = Progress(1, "Shared")
    with progress.timed("whole fit"):
        result = fit_model(model, X, y, weights, 0.0, theta0, start_raw, tol=1e-8,
                           max_iter=100, verbose=0, estimator_name="ignored",
                           progress=progress)
    lines = capsys.readouterr().out.splitlines()
    assert all(line.startswith("[Shared] ") for line in lines)
    assert lines[-2].startswith(f"[Shared] stopped: {result.stop_reason}")
    assert lines[-1].startswith("[Shared] whole fit (")
