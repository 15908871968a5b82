"""Binomial predictions over a number of trials (issue 19, item 2).

A binomial fit takes proportions and their trials (``sample_weight``); predictions of
one trial are ``binom(1, p)``, whose 90 % interval is [0, 1] on every row.  With
``trials=`` they are those of the proportion of successes in that many trials.
"""

import numpy as np
import pytest
from scipy.special import expit

from sklearn_mle import MLERegressor


@pytest.fixture(scope="module")
def ten_trials():
    rng = np.random.default_rng(0)
    n = 20_000
    X = rng.normal(size=(2 * n, 3))
    successes = rng.binomial(10, expit(X @ [0.8, -0.5, 0.3] + 0.2))
    reg = MLERegressor(distribution="binomial").fit(
        X[:n], successes[:n] / 10, sample_weight=np.full(n, 10.0))
    return reg, X[n:], successes[n:] / 10


def test_held_out_intervals_over_ten_trials_cover_what_the_model_says(ten_trials):
    reg, X, proportions = ten_trials
    low, high = reg.predict_interval(X, 0.9, trials=10).T
    covered = (low <= proportions) & (proportions <= high)
    # a central interval of a discrete distribution covers at least 90 %; the
    # fitted model says how much more (0.956 here; the held-out rate is 0.960)
    counts = reg.predict_dist(X, trials=10)
    expected = np.mean(counts.cdf(10 * high) - counts.cdf(10 * low - 1))
    assert 0.9 <= expected < 0.97
    standard_error = np.sqrt(expected * (1 - expected) / X.shape[0])
    assert abs(covered.mean() - expected) < 4 * standard_error
    # one trial: bounds of 0 or 1 only, mostly [0, 1] (what the issue found); over
    # ten trials the intervals are a fraction of that
    one_low, one_high = reg.predict_interval(X, 0.9).T
    assert set(np.unique([one_low, one_high])) <= {0.0, 1.0}
    assert np.mean(one_high - one_low) > 0.9
    assert np.mean(high - low) < 0.6


def test_trials_give_the_binomial_of_the_successes(ten_trials):
    reg, X, _ = ten_trials
    mean, std = reg.predict(X[:50], return_std=True, trials=10)
    np.testing.assert_allclose(std, np.sqrt(mean * (1 - mean) / 10), rtol=1e-12)
    counts = reg.predict_dist(X[:50], trials=10)
    np.testing.assert_allclose(counts.mean(), 10 * mean, rtol=1e-12)
    np.testing.assert_allclose(counts.pmf(np.arange(11)[:, None]).sum(axis=0), 1.0,
                               rtol=1e-12)
    # one number of trials per row; the mean proportion does not depend on it
    trials = np.arange(1, 51)
    np.testing.assert_array_equal(reg.predict(X[:50], trials=trials), mean)
    per_row = reg.predict_dist(X[:50], trials=trials)
    np.testing.assert_allclose(per_row.mean(), trials * mean, rtol=1e-12)
    low, high = reg.predict_interval(X[:50], 0.5, trials=trials).T
    np.testing.assert_allclose(low * trials, per_row.ppf(0.25))
    np.testing.assert_allclose(high * trials, per_row.ppf(0.75))


@pytest.mark.parametrize("trials, message", [
    (0, r"trials must be whole numbers >= 1, got 0 at sample 0"),
    (2.5, r"trials must be whole numbers >= 1, got 2.5 at sample 0"),
    (np.ones(3), r"trials must have one value per sample, shape \(5,\)"),
])
def test_bad_trials_get_clear_errors(ten_trials, trials, message):
    reg, X, _ = ten_trials
    with pytest.raises(ValueError, match=message):
        reg.predict_dist(X[:5], trials=trials)


def test_trials_belong_to_the_binomial():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(50, 2)), rng.poisson(2.0, size=50)
    reg = MLERegressor(distribution="poisson").fit(X, y)
    with pytest.raises(ValueError, match="the Poisson distribution has none"):
        reg.predict_interval(X, trials=10)
