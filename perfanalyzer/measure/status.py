"""A load point's status, and which latency judges it (pure).

perf_analyzer writes a point to its CSV only when it is stable and under ``-l`` (failed
binary-search probes, unstable points and points over the limit are printed as failures and left
out); Model Analyzer keeps the last row it reads and spreadsheets plot every row, so perfanalyzer's
``-f`` does the same. Every point is still shown elsewhere (console, JSON, plots) with its status.

``latency_from`` chooses the latency that the CSV, the stabilizer and ``-l`` use in rate modes:
``sent`` (perf_analyzer's meaning: from the actual send) or ``scheduled`` (from the intended send
time, corrected for coordinated omission). Closed loops have one latency.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..config import LatencySource
from ..config.choices import StrChoice
from .metrics import LatencyStats, Summary


class PointStatus(StrChoice):
    """A load point's status (str-valued: the saved run and the event stream hold the value)."""

    STABLE = "stable"
    UNSTABLE = "unstable"
    OVER_LIMIT = "over_limit"
    NO_REQUESTS = "no_requests"
    INTERRUPTED = "interrupted"


STABLE = PointStatus.STABLE
UNSTABLE = PointStatus.UNSTABLE
OVER_LIMIT = PointStatus.OVER_LIMIT
NO_REQUESTS = PointStatus.NO_REQUESTS
INTERRUPTED = PointStatus.INTERRUPTED
STATUSES = tuple(PointStatus)
LATENCY_FROM = tuple(LatencySource)


@dataclass(frozen=True, kw_only=True)
class Judging:
    """What decides a point's status: stabilizing percentile, -l, and which latency."""

    percentile: int = -1
    latency_threshold_ns: int = 0
    #: a :class:`LatencySource` (the measurement loop's window plan holds its value)
    latency_from: str = LatencySource.SENT

    def __post_init__(self) -> None:
        object.__setattr__(self, "latency_from", LatencySource(self.latency_from))


def judged_stats(summary: Summary, latency_from: str) -> LatencyStats:
    """The latency distribution that is reported and judged (``corrected`` when scheduled)."""
    return summary.corrected if latency_from == LatencySource.SCHEDULED else summary.latency


def judged_latency(summary: Summary, judging: Judging) -> float:
    """The stabilizing latency in ns: the average, or pXX with --percentile."""
    lat = judged_stats(summary, judging.latency_from)
    return float(lat.p(judging.percentile)) if judging.percentile > 0 else lat.avg_ns


def point_status(point: Any, judging: Judging) -> PointStatus:
    """``stable`` (what -f writes), ``over_limit``, ``no_requests``, ``interrupted`` or
    ``unstable``. ``point`` is a :class:`~perfanalyzer.measure.window.PointResult`."""
    v = point.verdict
    limit = judging.latency_threshold_ns
    over = v.over_threshold or (
        limit > 0 and point.merged.completed > 0 and judged_latency(point.merged, judging) >= limit)
    if point.merged.completed == 0:  # a single empty window makes the point unstable only
        return NO_REQUESTS
    if over:
        return OVER_LIMIT
    if v.stable:
        return STABLE
    return INTERRUPTED if point.interrupted else UNSTABLE


def did_not_stabilize(points: Iterable[Any], judging: Judging) -> bool:
    """Exit code 2: some point did not stabilize. A point over ``-l`` is a finding, not
    instability (perf_analyzer's binary search ends on it and exits 0), whether or not its windows
    had settled when the limit ended it."""
    return any(point_status(p, judging) not in (STABLE, OVER_LIMIT) for p in points)


__all__ = ["INTERRUPTED", "LATENCY_FROM", "NO_REQUESTS", "OVER_LIMIT", "STABLE", "STATUSES",
           "UNSTABLE", "Judging", "PointStatus", "did_not_stabilize", "judged_latency", "judged_stats",
           "point_status"]
