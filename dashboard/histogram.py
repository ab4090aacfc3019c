"""Fire-lag histograms: log-spaced buckets that add up, and percentiles read from them.

Bucket 0 holds lags under 1 ms (and negative ones: clocks of two hosts); bucket i >= 1
holds [R**(i-1), R**i) ms with R = 2**(1/4), up to LAST (about 12 days). A percentile is
reported as the geometric middle of its bucket: within 9 % of the true value, whatever
the lag, in at most LAST + 1 integers per bucket of time.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping

STEPS_PER_DOUBLING = 4
LAST = 120


def index_of(lag_ms: float) -> int:
    """The bucket of a lag in milliseconds. The SQL of dashboard.rollup says the same."""
    if lag_ms < 1:
        return 0
    return min(1 + math.floor(math.log2(lag_ms) * STEPS_PER_DOUBLING), LAST)


def value_of(index: int) -> float:
    """The lag (ms) a bucket stands for: the geometric middle of its bounds."""
    if index <= 0:
        return 0.5
    return 2 ** ((index - 0.5) / STEPS_PER_DOUBLING)


def merge(histograms: Iterable[Mapping]) -> Counter:
    """The sum of histograms, keys as ints (JSON gives strings)."""
    total: Counter = Counter()
    for histogram in histograms:
        for key, count in histogram.items():
            total[int(key)] += count
    return total


def percentile(histogram: Mapping[int, int], q: float) -> float | None:
    """The q-quantile (0 < q <= 1) of the lags counted in `histogram`, in ms; None if empty."""
    n = sum(histogram.values())
    if n == 0:
        return None
    rank = max(1, math.ceil(q * n))  # the rank-th smallest lag, as numpy's "inverted_cdf"
    seen = 0
    for index in sorted(histogram):
        seen += histogram[index]
        if seen >= rank:
            return value_of(index)
    return value_of(max(histogram))


def as_json(histogram: Mapping[int, int]) -> dict[str, int]:
    return {str(key): count for key, count in sorted(histogram.items()) if count}
