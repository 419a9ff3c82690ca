"""Figures of streamed requests, from records: every inter-response gap, each request's own
average gap, and which requests meet the goodput limits.

A record keeps its first and last response time and its response count; a streamed request with
more than two responses also keeps every response time (``RecordSlice.times``). A request with two
responses has one gap (last - first). A request with more than two whose times were not kept (a
load that does not ship them) adds no gap: its gaps are unknown, never interpolated.
"""

from __future__ import annotations

import numpy as np

from ..config.goodput import GoodputLimits
from ..records import RecordSlice

_EMPTY = np.zeros(0, dtype=np.int64)


def response_gaps(records: RecordSlice, ok: np.ndarray) -> np.ndarray:
    """Every gap between consecutive responses of the ``ok`` records (ns)."""
    multi = ok & (records.responses > 1)
    if not multi.any():  # unary and single-response loads stop here
        return _EMPTY
    two = multi & (records.responses == 2)
    parts = [(records.last[two] - records.first[two]).astype(np.int64)]
    kept = records.times
    for i in np.flatnonzero(multi & (records.responses > 2)).tolist():
        t = kept.get(i)
        if t is not None:
            parts.append(np.diff(np.asarray(t, dtype=np.int64)))
    return np.concatenate(parts)


def average_gaps(records: RecordSlice) -> np.ndarray:
    """Each request's own average gap ((last - first) / (responses - 1), ns); NaN where a
    request had fewer than two responses."""
    n = records.responses.astype(np.float64) - 1.0
    span = (records.last - records.first).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(n > 0, span / np.where(n > 0, n, 1.0), np.nan)


def within_limits(records: RecordSlice, ok: np.ndarray, limits: GoodputLimits) -> np.ndarray:
    """Which records succeeded and meet every limit. A request without a second response has no
    gap: an ``itl`` limit does not hold it back."""
    good = ok.copy()
    if limits.latency_ns is not None:
        good &= (records.last - records.sent) <= limits.latency_ns
    if limits.ttfr_ns is not None:
        good &= (records.first - records.sent) <= limits.ttfr_ns
    if limits.itl_ns is not None:
        gaps = average_gaps(records)
        good &= np.isnan(gaps) | (gaps <= limits.itl_ns)
    return good


__all__ = ["average_gaps", "response_gaps", "within_limits"]
