"""The evaluation's statistics, defined once: percentiles (numpy) and bootstrap intervals of a
mean (scipy).

- **Percentiles** are ``numpy.percentile`` with ``method="linear"`` (numpy's default, Hyndman
  & Fan's type 7: linear interpolation between the two nearest order statistics, so the 50th
  percentile is the median). Every percentile, median and latency p95 of the evaluation and
  the benchmarks uses ``percentile`` here.
- **Bootstrap intervals** are ``scipy.stats.bootstrap`` of the mean, percentile method: the
  2.5th and 97.5th percentiles (for 95%) of the means of resamples drawn with replacement, from
  a seeded ``numpy`` generator so that a run is reproducible. For a paired comparison, pass the
  per-item differences. scipy refuses a single value and the interval of identical values is
  that value, so both are answered without resampling.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import numpy as np

PERCENTILE_METHOD: Final = "linear"
"""numpy's default percentile definition (Hyndman & Fan type 7), used everywhere."""

BOOTSTRAP_METHOD: Final = "percentile"


def percentile(values: Sequence[float] | np.ndarray, q: float) -> float | None:
    """The ``q``-th percentile (0-100) of ``values``; None when there are none."""
    data = np.asarray(values, dtype=float)
    if data.size == 0:
        return None
    return float(np.percentile(data, q, method=PERCENTILE_METHOD))


def median(values: Sequence[float] | np.ndarray) -> float | None:
    """The 50th percentile (the mean of the two middle values for an even count)."""
    return percentile(values, 50)


def bootstrap_mean_interval(
    values: Sequence[float] | np.ndarray,
    *,
    rng: np.random.Generator,
    resamples: int,
    level: float = 0.95,
) -> tuple[float, float]:
    """A percentile bootstrap interval at ``level`` of the mean of ``values`` (raises
    ValueError when there are none)."""
    data = np.asarray(values, dtype=float)
    if data.size == 0:
        raise ValueError("no values to resample")
    if data.size == 1 or np.all(data == data[0]):
        # Every resample has this mean; scipy rejects one value and warns on no spread.
        return float(data[0]), float(data[0])
    from scipy.stats import bootstrap  # type: ignore[import-untyped]  # heavy: load on use

    result = bootstrap(
        (data,),
        np.mean,
        n_resamples=resamples,
        confidence_level=level,
        method=BOOTSTRAP_METHOD,
        vectorized=True,
        rng=rng,
    )
    interval = result.confidence_interval
    return float(interval.low), float(interval.high)
