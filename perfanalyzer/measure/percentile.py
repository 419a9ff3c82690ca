"""perf_analyzer's nearest-rank percentile over latency samples (pure)."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

__all__ = ["merge_percentile", "percentile_index", "percentiles"]


def percentile_index(p: float, n: int) -> int:
    """Index into ``n`` sorted samples: ``int((p/100)·(n−1) + 0.5)`` (perf_analyzer's rule).

    ValueError for ``n < 1`` or ``p`` outside [0, 100].
    """
    if n < 1:
        raise ValueError("percentile of no samples")
    if not (math.isfinite(p) and 0 <= p <= 100):
        raise ValueError(f"percentile must be within [0, 100], got {p!r}")
    return int((p / 100.0) * (n - 1) + 0.5)


def merge_percentile(latencies_ns: npt.ArrayLike, p: float) -> int:
    """The p-th percentile (nearest rank, as perf_analyzer) of the pooled latency samples, in ns.

    The samples need not be sorted; pool the windows' samples first (perf_analyzer concatenates the
    last windows' latencies and re-sorts them before taking percentiles).
    """
    samples = np.asarray(latencies_ns).ravel()
    index = percentile_index(p, samples.size)
    return int(np.partition(samples, index)[index])


def percentiles(latencies_ns: npt.ArrayLike, ps: Iterable[float]) -> dict[float, int]:
    """Several percentiles of the same samples with one sort: ``{p: value_ns}``."""
    ordered = np.sort(np.asarray(latencies_ns).ravel())
    return {p: int(ordered[percentile_index(p, ordered.size)]) for p in ps}
