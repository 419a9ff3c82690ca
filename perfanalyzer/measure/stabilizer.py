"""When to stop measuring a load point: perf_analyzer's stability rule, as pure functions.

After each window the caller appends that window's figures (throughput and stabilizing latency —
the average, or pXX with ``--percentile``) and asks :func:`judge` whether to stop.

The rule (perf_analyzer ``DetermineStability`` / ``IsDoneProfiling``), with ``w = window_count``
(3) and ``s = stability_pct / 100``:

* **stable** when there are at least ``w`` windows, none of the last ``w`` has zero throughput, and
  over the last ``w`` both ``max/min <= 1 + s`` for throughput and for latency;
* ``over_threshold`` when ``latency_threshold_ns > 0``, at least ``w`` windows exist, and one of
  the last ``w`` (that recorded requests) has latency ``>= latency_threshold_ns``. It always ends
  the load point: **latency_threshold** (done, not stable) unless the rule above holds, in which
  case the verdict stays **stable** with ``over_threshold`` set. Either way perf_analyzer does not
  report such a point: it prints "Measured latency went over the set limit", leaves the point out
  of its CSV and stops the sweep (perfanalyzer shows it, flagged, everywhere but the default CSV:
  :mod:`perfanalyzer.measure.status`);
* after ``max_trials`` windows: in perf_analyzer's async mode (``Criteria.async_mode``: ``-a``,
  ``--streaming`` or a sequence model) throughput-only stability is accepted
  (**throughput_only**, stable); otherwise done and not stable (**max_trials**): perf_analyzer
  prints "Failed to obtain stable measurement..." and does not report (nor write) that point;
* **no_requests** when one of the last ``w`` windows recorded no request (perf_analyzer: "No valid
  requests recorded within time interval. Please use a larger time window."); done only once
  ``max_trials`` windows have been taken. Otherwise **measuring**.

The verdict depends only on the last ``w`` windows (as a set) and on the number of windows.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from perfanalyzer.measure.percentile import merge_percentile

from ..config.defaults import DEFAULT_MAX_TRIALS, DEFAULT_STABILITY_PCT, DEFAULT_STABILITY_WINDOWS
from ..errors import OptionError

__all__ = [
    "NO_REQUESTS_MESSAGE",
    "REASONS",
    "Criteria",
    "Verdict",
    "WindowFigures",
    "adaptive_scale",
    "distance_from_stable",
    "judge",
    "merge_percentile",
]

#: adaptive_scale never lengthens the next window by more than this factor.
MAX_SCALE = 2.0

STABLE = "stable"
THROUGHPUT_ONLY = "throughput_only"
LATENCY_THRESHOLD = "latency_threshold"
MAX_TRIALS = "max_trials"
MEASURING = "measuring"
NO_REQUESTS = "no_requests"
REASONS = (STABLE, THROUGHPUT_ONLY, LATENCY_THRESHOLD, MAX_TRIALS, MEASURING, NO_REQUESTS)

#: perf_analyzer's text for a window without valid requests (Model Analyzer greps for it).
NO_REQUESTS_MESSAGE = (
    "No valid requests recorded within time interval. Please use a larger time window."
)


@dataclass(frozen=True, slots=True)
class WindowFigures:
    """One window's figures: throughput (infer/s), stabilizing latency (ns), completed requests."""

    throughput: float
    latency_ns: float
    count: int


@dataclass(frozen=True, kw_only=True)
class Criteria:
    """When a load point is stable or done (perf_analyzer's ``-s``, ``-r``, ``-l``, async mode)."""

    stability_pct: float = DEFAULT_STABILITY_PCT
    max_trials: int = DEFAULT_MAX_TRIALS
    latency_threshold_ns: int = 0
    #: perf_analyzer's async mode, where a point stable in throughput only is kept (see
    #: window.throughput_only_accepted).
    async_mode: bool = True
    window_count: int = DEFAULT_STABILITY_WINDOWS

    def __post_init__(self) -> None:
        if not (math.isfinite(self.stability_pct) and self.stability_pct >= 0):
            raise OptionError(f"-s/--stability-percentage must be >= 0, got {self.stability_pct!r}")
        if self.max_trials < 1:
            raise OptionError(f"-r/--max-trials must be >= 1, got {self.max_trials!r}")
        if self.latency_threshold_ns < 0:
            raise OptionError(
                f"-l/--latency-threshold must be >= 0, got {self.latency_threshold_ns!r} ns"
            )
        if self.window_count < 1:
            raise OptionError(f"stability window count must be >= 1, got {self.window_count!r}")

    @property
    def threshold(self) -> float:
        """The allowed max/min − 1 (``stability_pct / 100``)."""
        return self.stability_pct / 100.0


@dataclass(frozen=True)
class Verdict:
    """The stabilizer's answer after a window.

    ``throughput_spread`` / ``latency_spread`` are max/min − 1 over the last ``window_count``
    windows (``inf`` with fewer windows, or when one of them is zero or not finite).
    """

    done: bool
    stable: bool
    reason: str
    throughput_spread: float
    latency_spread: float
    over_threshold: bool


def _ratio(values: Sequence[float]) -> float:
    """max/min of positive finite values; ``inf`` if empty or any value is <= 0 or not finite."""
    if not values or not all(math.isfinite(v) and v > 0 for v in values):
        return math.inf
    return max(values) / min(values)


def _within(ratio: float, criteria: Criteria) -> bool:
    # Compare max/min with 1 + s exactly as perf_analyzer does: (max/min − 1) <= s differs by an
    # ulp at the boundary (110/100 passes at s = 0.1, 110/100 − 1 > 0.1 would not).
    return ratio <= 1.0 + criteria.threshold


def judge(windows: Sequence[WindowFigures], criteria: Criteria) -> Verdict:
    """Apply perf_analyzer's stability rule to the windows measured so far (oldest first)."""
    w = criteria.window_count
    tail = list(windows[-w:]) if len(windows) >= w else []
    tp_ratio = _ratio([x.throughput for x in tail])
    lat_ratio = _ratio([x.latency_ns for x in tail])
    limit = criteria.latency_threshold_ns
    over = limit > 0 and any(x.count > 0 and x.latency_ns >= limit for x in tail)
    no_requests = any(x.count == 0 for x in windows[-w:])
    at_max = len(windows) >= criteria.max_trials

    def verdict(done: bool, stable: bool, reason: str) -> Verdict:
        return Verdict(done, stable, reason, tp_ratio - 1.0, lat_ratio - 1.0, over)

    throughput_ok = bool(tail) and not no_requests and _within(tp_ratio, criteria)
    if throughput_ok and _within(lat_ratio, criteria):
        return verdict(True, True, STABLE)
    if over:
        return verdict(True, False, LATENCY_THRESHOLD)
    if no_requests:
        return verdict(at_max, False, NO_REQUESTS)
    if at_max:
        if criteria.async_mode and throughput_ok:
            return verdict(True, True, THROUGHPUT_ONLY)
        return verdict(True, False, MAX_TRIALS)
    return verdict(False, False, MEASURING)


def adaptive_scale(windows: Sequence[WindowFigures], criteria: Criteria) -> float:
    """Factor (1 … ``MAX_SCALE``) by which to lengthen the next window in adaptive mode.

    Uses the last ``window_count`` windows (at least 2 needed to see a spread). 1.0 while the
    worse of the throughput and latency spreads is within target; above it, ``(spread/target)²``
    (the noise of a mean shrinks with √duration), capped at ``MAX_SCALE``. A window without
    requests (or a zero target that is missed) gives ``MAX_SCALE``.
    """
    tail = list(windows[-criteria.window_count :])
    if any(x.count == 0 for x in tail):
        return MAX_SCALE
    if len(tail) < 2:
        return 1.0
    tp_ratio = _ratio([x.throughput for x in tail])
    lat_ratio = _ratio([x.latency_ns for x in tail])
    if _within(tp_ratio, criteria) and _within(lat_ratio, criteria):
        return 1.0
    spread = max(tp_ratio, lat_ratio) - 1.0
    target = criteria.threshold
    if target <= 0 or not math.isfinite(spread):
        return MAX_SCALE
    return min(MAX_SCALE, max(1.0, (spread / target) ** 2))


def _pct(spread: float) -> str:
    return f"{spread * 100:.1f}%" if math.isfinite(spread) else "n/a"


def distance_from_stable(verdict: Verdict, criteria: Criteria) -> str:
    """One human line, e.g. ``throughput spread 14.2% (target 10%), latency spread 3.1%``.

    A spread that cannot be computed yet (fewer than ``window_count`` windows, or a zero) is "n/a".
    """
    line = (
        f"throughput spread {_pct(verdict.throughput_spread)} "
        f"(target {criteria.stability_pct:g}%), latency spread {_pct(verdict.latency_spread)}"
    )
    if verdict.over_threshold:
        line += f", latency at or over the {criteria.latency_threshold_ns / 1e6:g} ms limit"
    if verdict.reason == NO_REQUESTS:
        line += ", a window recorded no requests"
    return line
