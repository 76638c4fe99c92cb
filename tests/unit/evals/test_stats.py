"""The one percentile definition and the bootstrap interval (``evals/stats.py``)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from evals.stats import bootstrap_mean_interval, median, percentile


def test_percentiles_interpolate_linearly_between_order_statistics() -> None:
    values = [4.0, 1.0, 3.0, 2.0]
    assert median(values) == 2.5  # the mean of the two middle values, as statistics.median
    assert percentile(values, 95) == pytest.approx(3.85)  # 3 + 0.85 * (4 - 3)
    assert percentile(values, 0) == 1.0 and percentile(values, 100) == 4.0
    assert percentile([], 50) is None and median([7.0]) == 7.0


def test_the_bootstrap_is_scipys_percentile_interval_and_reproducible() -> None:
    values = np.random.default_rng(1).normal(size=40)
    low, high = bootstrap_mean_interval(values, rng=np.random.default_rng(7), resamples=2000)
    assert low < float(values.mean()) < high
    again = bootstrap_mean_interval(values, rng=np.random.default_rng(7), resamples=2000)
    assert again == (low, high)
    # The hand-written percentile bootstrap it replaced, on the same generator, agrees.
    picks = np.random.default_rng(7).integers(0, values.size, size=(2000, values.size))
    old = np.percentile(values[picks].mean(axis=1), [2.5, 97.5])
    assert (low, high) == pytest.approx(tuple(old), abs=1e-12)


def test_degenerate_samples_need_no_resampling() -> None:
    rng = np.random.default_rng(0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # scipy would reject one value, warn on no spread
        assert bootstrap_mean_interval([0.25], rng=rng, resamples=100) == (0.25, 0.25)
        assert bootstrap_mean_interval([0.0] * 9, rng=rng, resamples=100) == (0.0, 0.0)
    with pytest.raises(ValueError, match="no values"):
        bootstrap_mean_interval([], rng=rng, resamples=100)
