"""Existence of the classifier's MLE: the Newton certificate, the separation LP, the
diagnosis and the fallback model (issue: fast, exact existence check on the default
path; right diagnosis and useful fallback)."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_breast_cancer, load_iris
from threadpoolctl import threadpool_limits

from sklearn_mle import MLEClassifier, UnboundedLikelihoodWarning
from sklearn_mle.estimators._classifier import encode_labels
from sklearn_mle.existence import _separation
from sklearn_mle.families import _kernels
from sklearn_mle.models._linear_layouts import classification_model


def fit_silently(estimator, X, y, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return estimator.fit(X, y, **kwargs)


def fit_separated(estimator, X, y):
    with pytest.warns(UnboundedLikelihoodWarning) as record:
        estimator.fit(X, y)
    return str(record[0].message)


def tall_overlapping(n, d, n_classes, seed=0):
    """Unscaled, non-separable data: a softmax model with Gumbel noise."""
    rng = np.random.default_rng(seed)
    scales = np.logspace(-2, 2, d)
    X = rng.normal(size=(n, d)) * scales
    W = rng.normal(size=(d, n_classes)) / scales[:, None]
    y = np.argmax(X @ W + rng.gumbel(size=(n, n_classes)), axis=1)
    return X, y


# ------------------------------------------------------------------ the kernel
def margin_growth_reference(X, y, coef, intercept, ref_coef, ref_intercept, step_coef,
                            step_intercept):
    """Independent NumPy formula: max_{k != y} (q_k / p_k) (t_k - sum_l q_l t_l)."""
    def scores(c, b):
        raw = X @ c.T + b
        return np.column_stack([np.zeros(len(X)), raw[:, 0]]) if raw.shape[1] == 1 else raw

    def softmax(s):
        e = np.exp(s - s.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    p, q = softmax(scores(coef, intercept)), softmax(scores(ref_coef, ref_intercept))
    step = scores(step_coef, step_intercept)
    growth = q / p * (step - (q * step).sum(axis=1, keepdims=True))
    growth[np.arange(len(y)), y] = -np.inf
    return growth.max(axis=1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_classes", [2, 4])
@pytest.mark.parametrize("same_reference", [True, False])
def test_margin_growth_kernel_matches_numpy_and_is_thread_independent(
        dtype, n_classes, same_reference):
    rng = np.random.default_rng(1)
    n, d = 5000, 7
    X = rng.normal(size=(n, d)).astype(dtype)
    y = rng.integers(0, n_classes, size=n)
    m = 1 if n_classes == 2 else n_classes
    coef, step_coef = rng.normal(size=(m, d)), rng.normal(size=(m, d))
    intercept, step_intercept = rng.normal(size=m), rng.normal(size=m)
    ref_coef, ref_intercept = (coef, intercept) if same_reference else (
        coef + 0.1 * rng.normal(size=(m, d)), intercept + 0.1 * rng.normal(size=m))
    weights = np.where(rng.random(n) < 0.1, 0.0, 1.0 / n)
    X64 = X.astype(float)
    expected = margin_growth_reference(X64, y, coef, intercept, ref_coef, ref_intercept,
                                       step_coef, step_intercept)[weights > 0].max()
    results = []
    for threads in (1, 2):
        blocks = np.empty(-(-n // _kernels.FUSED_BLOCK_ROWS))
        _kernels.margin_growth_max(X, y.astype(float), weights, coef, intercept,
                                   ref_coef, ref_intercept, step_coef, step_intercept,
                                   np.arange(m, dtype=np.intp), 0 if n_classes == 2 else 1,
                                   blocks, threads)
        results.append(blocks.max())
    assert results[0] == results[1]
    np.testing.assert_allclose(results[0], expected, rtol=1e-12)
    per_sample = _separation.margin_growth_per_sample(
        X64 @ coef.T + intercept, X64 @ step_coef.T + step_intercept, y,
        reference=X64 @ ref_coef.T + ref_intercept)
    np.testing.assert_allclose(per_sample[weights > 0].max(), expected, rtol=1e-12)


def test_margin_growth_kernel_refuses_unknown_family_and_bad_shapes():
    X = np.ones((3, 2))
    args = (np.zeros(3), np.ones(3), np.zeros((1, 2)), np.zeros(1), np.zeros((1, 2)),
            np.zeros(1), np.zeros((1, 2)), np.zeros(1), np.arange(1, dtype=np.intp))
    with pytest.raises(ValueError, match="not a classifier family"):
        _kernels.margin_growth_max(X, *args, 3, np.empty(1))
    with pytest.raises(ValueError, match="inconsistent shapes"):
        _kernels.margin_growth_max(X, *args, 0, np.empty(5))


# ------------------------------------------------------------ the certificate
@pytest.mark.parametrize("n_classes", [2, 3, 6])
def test_default_fit_of_tall_overlapping_data_is_certified_without_the_lp(
        n_classes, monkeypatch):
    X, y = tall_overlapping(20_000, 8, n_classes)

    def no_lp(*args, **kwargs):
        raise AssertionError("the separation LP ran on data whose MLE exists")

    monkeypatch.setattr(_separation, "linprog", no_lp)
    clf = fit_silently(MLEClassifier(), X, y)
    assert clf.mle_exists_
    assert clf.separated_samples_.size == 0 and clf.separated_class_pairs_ == []
    # the same optimum as a penalised fit whose penalty is below rounding
    reference = fit_silently(MLEClassifier(alpha=1e-14), X, y)
    np.testing.assert_allclose(clf.predict_proba(X), reference.predict_proba(X),
                               atol=1e-7)


@pytest.mark.parametrize("make_sparse", [False, True])
def test_certificate_on_sparse_and_fortran_data(make_sparse):
    X, y = tall_overlapping(3000, 5, 3, seed=2)
    X = sp.csr_matrix(X) if make_sparse else np.asfortranarray(X)
    assert fit_silently(MLEClassifier(), X, y).mle_exists_


def test_certificate_never_passes_on_separated_data():
    # Stiemke: a certificate is a proof that no separating direction exists, so on
    # separated data it must fail at every parameter value, not only at the fit.
    rng = np.random.default_rng(3)
    X = rng.normal(size=(300, 4))
    y = (X @ [1.0, -2.0, 0.5, 0.0] > 0).astype(int)
    clf = MLEClassifier()
    model = classification_model(4, 2, clf.fit_intercept, clf.alpha)
    weights = np.full(300, 1 / 300)
    for scale in (0.0, 0.1, 1.0, 10.0, 100.0):
        theta = scale * rng.normal(size=model.n_params)
        assert not _separation.certify_existence(model, X, y.astype(float), weights,
                                                 theta, 1)


def test_collinear_columns_do_not_defeat_the_certificate():
    X, y = tall_overlapping(4000, 4, 2, seed=4)
    X = np.column_stack([X, X[:, 0] - 2 * X[:, 1], np.ones(len(X))])  # aliased columns
    assert fit_silently(MLEClassifier(), X, y).mle_exists_


# -------------------------------------------------- diagnosis and fallback model
def test_breast_cancer_is_completely_separated_and_every_sample_is_classified():
    X, y = load_breast_cancer(return_X_y=True)
    clf = MLEClassifier()
    message = fit_separated(clf, X, y)
    assert "completely separated" in message and "quasi" not in message
    assert not clf.mle_exists_
    assert clf.separated_samples_.size == len(y)
    assert clf.score(X, y) == 1.0
    assert sorted(clf.separated_class_pairs_) == [(0, 1), (1, 0)]


def test_separable_by_construction_is_complete():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 5))
    y = (X @ rng.normal(size=5) > 0).astype(int)
    clf = MLEClassifier()
    assert "completely separated" in fit_separated(clf, X, y)
    assert clf.score(X, y) == 1.0
    assert np.array_equal(clf.separated_samples_, np.arange(200))


def test_quasi_complete_separation_names_the_separated_samples_and_fits_the_rest():
    rng = np.random.default_rng(5)
    n = 400
    X = rng.normal(size=(n, 3))
    # an indicator column: the samples it marks are all of class 1; the others overlap
    X[:, 0] = rng.random(n) < 0.15
    y = (X[:, 1] + rng.logistic(size=n) > 0).astype(int)
    y[X[:, 0] == 1] = 1
    middle = X[:, 0] == 0
    clf = MLEClassifier(tol=1e-10)
    message = fit_separated(clf, X, y)
    assert "quasi-completely separated" in message
    separated = np.zeros(n, dtype=bool)
    separated[clf.separated_samples_] = True
    # exactly the marked samples are separated, and classified correctly
    assert np.array_equal(separated, ~middle)
    assert np.all(clf.predict(X[separated]) == y[separated])
    # the rest: the MLE of the remaining samples
    rest = fit_silently(MLEClassifier(tol=1e-10), X[~separated], y[~separated])
    np.testing.assert_allclose(clf.predict_proba(X[~separated]),
                               rest.predict_proba(X[~separated]), atol=1e-6)


def test_iris_setosa_is_separated_from_the_others_and_the_rest_is_binary_mle():
    X, y = load_iris(return_X_y=True)
    clf = MLEClassifier(tol=1e-10)
    message = fit_separated(clf, X, y)
    assert "quasi-completely separated" in message
    assert "class 0 from class 1; class 0 from class 2" in message
    assert sorted(clf.separated_class_pairs_) == [(0, 1), (0, 2), (1, 0), (2, 0)]
    proba = clf.predict_proba(X)
    setosa = y == 0
    assert proba[setosa, 0].min() > 1 - 1e-8 and proba[~setosa, 0].max() < 1e-8
    # versicolor against virginica: the binary MLE of those samples
    binary = fit_silently(MLEClassifier(tol=1e-10), X[~setosa], y[~setosa])
    conditional = proba[~setosa, 2] / proba[~setosa, 1:].sum(axis=1)
    np.testing.assert_allclose(conditional, binary.predict_proba(X[~setosa])[:, 1],
                               atol=1e-7)


def test_the_remaining_likelihood_of_tall_partly_separated_data_is_fitted_blockwise():
    """Iris repeated 30 times (4 500 rows: more than one block of a pass): the fit of
    what the separated pairs leave masks each sample's dead classes block by block
    (it failed with a broadcast error when the mask had all rows and a block 4 096),
    and gives the probabilities of the fit of iris itself (repeated rows = weights)."""
    X, y = load_iris(return_X_y=True)
    once = MLEClassifier(tol=1e-10)
    fit_separated(once, X, y)
    tall = MLEClassifier(tol=1e-10)
    message = fit_separated(tall, np.tile(X, (30, 1)), np.tile(y, 30))
    assert "quasi-completely separated" in message
    np.testing.assert_allclose(tall.predict_proba(X), once.predict_proba(X), atol=1e-8)


@pytest.mark.parametrize("max_iter", [1, 5, 30])
def test_the_separated_fit_spends_max_iter_once_and_says_when_it_ran_out(max_iter):
    """The fit, the fits of the remaining likelihood and the final refit share one
    budget: n_iter_ never exceeds max_iter, and a fit stopped by it is not converged."""
    X, y = load_iris(return_X_y=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = MLEClassifier(max_iter=max_iter).fit(X, y)
        full = MLEClassifier().fit(X, y)
    assert clf.mle_exists_ is False and full.mle_exists_ is False
    assert full.converged_ and max_iter < full.n_iter_
    assert clf.n_iter_ == max_iter and not clf.converged_


def test_weighted_and_repeated_separated_data_give_the_same_model():
    X, y = load_breast_cancer(return_X_y=True)
    X, y = X[:120, :6], y[:120]
    weights = np.arange(120) % 3
    weighted = MLEClassifier()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnboundedLikelihoodWarning)
        weighted.fit(X, y, sample_weight=weights)
        repeated = MLEClassifier().fit(np.repeat(X, weights, axis=0),
                                       np.repeat(y, weights))
    np.testing.assert_allclose(weighted.predict_proba(X), repeated.predict_proba(X),
                               atol=1e-7)


def test_the_lp_stays_small_on_tall_data_with_a_few_separated_samples(monkeypatch):
    X, y = tall_overlapping(30_000, 4, 2, seed=6)
    marker = np.zeros(len(y))
    marker[:5], marker[5:10] = 1e3, -1e3  # ten samples marked, each side one class
    X = np.column_stack([X, marker])
    y[:5], y[5:10] = 1, 0
    shapes = []
    real_linprog = _separation.linprog

    def recording_linprog(c, A_ub=None, **kwargs):
        shapes.append(A_ub.shape)
        assert sp.issparse(A_ub)
        return real_linprog(c, A_ub=A_ub, **kwargs)

    monkeypatch.setattr(_separation, "linprog", recording_linprog)
    clf = MLEClassifier()
    fit_separated(clf, X, y)
    assert shapes and max(rows for rows, _ in shapes) < 0.2 * len(y)
    assert np.all(clf.predict(X[:10]) == y[:10])


def test_penalised_fits_do_not_check_existence(monkeypatch):
    monkeypatch.setattr(_separation, "certify_existence", None)
    X, y = load_breast_cancer(return_X_y=True)
    clf = fit_silently(MLEClassifier(alpha=1e-3), X, y)
    assert clf.mle_exists_ and clf.separated_samples_.size == 0


def test_verbose_reports_the_existence_check_and_its_time(capsys):
    X, y = tall_overlapping(2000, 3, 2)
    MLEClassifier(verbose=1).fit(X, y)
    lines = [line for line in capsys.readouterr().out.splitlines()
             if "existence check" in line]
    assert len(lines) == 1 and "MLE exists (certified)" in lines[0] and " s)" in lines[0]


def test_encode_labels_roundtrip_for_the_lp_labels():
    classes = np.array(["a", "b", "c"])
    assert np.array_equal(encode_labels(np.array(["c", "a", "b"]), classes), [2, 0, 1])


@pytest.mark.parametrize("threads", [1, 2])
def test_certificate_is_the_same_for_one_and_two_threads(threads):
    X, y = tall_overlapping(60_000, 5, 3, seed=7)
    with threadpool_limits(threads, user_api="openmp"):
        clf = fit_silently(MLEClassifier(), X, y)
    assert clf.mle_exists_


@pytest.mark.parametrize("n_classes", [3, 8])
def test_the_warning_names_a_few_separated_pairs_and_where_all_of_them_are(n_classes):
    # every class in its own corner: all n (n - 1) / 2 pairs are separated
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(n_classes), 12)
    X = 10.0 * np.eye(n_classes)[y] + rng.normal(scale=0.1, size=(y.size, n_classes))
    classifier = MLEClassifier()
    message = fit_separated(classifier, X, y)
    n_pairs = n_classes * (n_classes - 1) // 2
    named = message.count(" from class ")
    assert len(classifier.separated_class_pairs_) == 2 * n_pairs   # each way round
    if n_pairs <= _separation._PAIRS_SHOWN:
        assert named == n_pairs and "more" not in message
    else:
        assert named == _separation._PAIRS_SHOWN
        assert (f"every one of the {n_pairs} pairs of the {n_classes} classes: class 0 "
                f"from class 1;" in message)
        assert (f"; and {n_pairs - _separation._PAIRS_SHOWN} more, all in "
                "separated_class_pairs_" in message)
        assert len(message) < 1000
