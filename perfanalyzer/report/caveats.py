"""What a reader must know before believing a point's figures: stalls, spreads far outside -s, rate
points whose latency from the scheduled send never settled, and the run's one-line verdict.

Pure functions of a :class:`RunResult` (so a re-report prints the same lines as the live run).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ..measure.window import PointResult
from ..results import LatencySource, LoadMode, PointStatus, RunResult

#: A window that lasted more than this many times the asked interval is reported as a stall.
STALL_WINDOW_FACTOR = 2.0
#: A request whose latency exceeds this many times the point's p50 (and STALL_MIN_NS) is a stall.
STALL_LATENCY_FACTOR = 10.0
STALL_MIN_NS = 250_000_000
#: A spread this many times -s (or more) is "far outside" it.
FAR_SPREAD_FACTOR = 5.0
#: Fewer completed requests than this per window make a window too short to judge stability.
SHORT_WINDOW_REQUESTS = 30

CLIENT_SATURATED = "client saturated"
MACHINE_OVERLOADED = "machine overloaded"
WINDOW_TOO_SHORT = "window too short"
SERVER_NOISY = "server noisy"


def _rate_mode(run: RunResult) -> bool:
    return run.mode is not LoadMode.CONCURRENCY


def _threshold(run: RunResult) -> float:
    return run.settings.stability_fraction


def _spread(values: Sequence[float]) -> float:
    vals = [v for v in values if math.isfinite(v)]
    if len(vals) < 2 or min(vals) <= 0:
        return math.inf
    return max(vals) / min(vals) - 1.0


def stall_lines(run: RunResult, point: PointResult) -> list[str]:
    """Windows far longer than asked, and requests that waited far longer than the point's p50."""
    out: list[str] = []
    settings = run.settings
    interval_s = settings.measurement_interval_ms / 1000.0
    timed = (settings.measurement_mode == "time_windows" and not settings.adaptive
             and not settings.request_count)
    rate = _rate_mode(run)
    p50 = (point.merged.corrected if rate else point.merged.latency).p(50)
    limit = max(STALL_LATENCY_FACTOR * p50, STALL_MIN_NS)
    for w in point.windows:
        s = w.summary
        if timed and s.duration_s > STALL_WINDOW_FACTOR * interval_s:
            out.append(f"    [WARNING] Stall: window {w.index + 1} lasted {s.duration_s:.2f} s, "
                       f"{interval_s:g} s asked (the client or the machine stalled)")
        worst = (s.corrected if rate else s.latency).max_ns
        if s.completed and worst >= limit:
            what = "from its scheduled send" if rate else "from its send"
            out.append(f"    [WARNING] Stall: in window {w.index + 1} a request waited "
                       f"{worst / 1e6:.0f} ms {what} ({worst / max(p50, 1):.0f}x the point's "
                       f"p50 of {p50 / 1e6:.1f} ms); the server or the client stalled")
    return out


def spread_lines(run: RunResult, point: PointResult) -> list[str]:
    """Spreads far outside -s, and (rate modes) the latency not used for stability not settling."""
    s = _threshold(run)
    out: list[str] = []
    v = point.verdict
    if s > 0 and math.isfinite(v.latency_spread) and v.latency_spread > FAR_SPREAD_FACTOR * s:
        out.append(f"    [WARNING] Latency spread {v.latency_spread:.0%} over the last windows, "
                   f"far outside -s {100 * s:g}%")
    if _rate_mode(run) and point.windows:
        other = (LatencySource.SENT if run.settings.latency_source is LatencySource.SCHEDULED
                 else LatencySource.SCHEDULED)
        k = run.settings.stability_windows
        tail = [w.summary for w in point.windows[-k:]]
        lat = [(x.latency if other is LatencySource.SENT else x.corrected).avg_ns for x in tail]
        spread = _spread(lat)
        if len(tail) >= k and spread > s:
            text = ("from the actual send" if other is LatencySource.SENT
                    else "from the scheduled send")
            out.append(f"    [WARNING] Latency {text} is not stable (spread "
                       f"{'n/a' if not math.isfinite(spread) else f'{spread:.0%}'}, target "
                       f"{100 * s:g}%): this rate point is unstable in latency")
    return out


def trust_lines(run: RunResult, point: PointResult) -> list[str]:
    return stall_lines(run, point) + spread_lines(run, point)


def likely_cause(run: RunResult, point: PointResult) -> str:
    """Why a point did not stabilize, judged from what was measured."""
    windows = [w.summary for w in point.windows]
    if any(w.client_cpu_saturated for w in windows):
        return CLIENT_SATURATED
    if any(w.client_saturated for w in windows) or any(
            "lasted" in line for line in stall_lines(run, point)):
        return MACHINE_OVERLOADED
    counts = [w.completed for w in windows]
    if not counts or int(np.median(counts)) < SHORT_WINDOW_REQUESTS:
        return WINDOW_TOO_SHORT
    return SERVER_NOISY


def advice(cause: str) -> str:
    """perf_analyzer's advice only when a longer window is what helps."""
    return {
        WINDOW_TOO_SHORT: "Please try to increase the --measurement-interval.",
        CLIENT_SATURATED: "The client was CPU-saturated: use --workers or a lower load; a longer "
                          "window will not help.",
        MACHINE_OVERLOADED: "The machine was overloaded (the client woke up late): free the "
                            "machine or lower the load; a longer window will not help.",
        SERVER_NOISY: "The measured throughput or latency varied between windows: raise -s or "
                      "look at the server; a longer window may help (--measurement-interval).",
    }[cause]


def verdict_line(run: RunResult, written: Sequence[str] | None) -> str:
    """The run's last line: files written (left out when ``written`` is None), points stable /
    unstable, and the likely cause."""
    statuses = [run.status(p) for p in run.points]
    stable = statuses.count(PointStatus.STABLE)
    others: dict[str, int] = {st: statuses.count(st) for st in dict.fromkeys(statuses)
                              if st is not PointStatus.STABLE}
    wrote = "" if written is None else f"wrote {', '.join(written) or 'no files'}; "
    text = f"Verdict: {wrote}{stable} of {len(statuses)} points stable"
    if run.periodic is not None:  # one window, nothing judged: say so instead
        sent = run.periodic.get("requests_sent", 0)
        done = sum(p.merged.completed for p in run.points)
        return (f"Verdict: {wrote}periodic concurrency run, {done} of {sent} requests "
                "completed (one window, no stability check, as perf_analyzer)")
    shaky = sum(1 for p, st in zip(run.points, statuses, strict=True)
                if st is PointStatus.STABLE and (p.verdict.reason == "throughput_only"
                                     or spread_lines(run, p)))
    if shaky:
        others = {**others, "stable in throughput only, latency not stable": shaky}
    if others:
        text += " (" + ", ".join(f"{n} {st.replace('_', ' ')}" for st, n in others.items()) + ")"
        causes = [likely_cause(run, p) for p, st in zip(run.points, statuses, strict=True)
                  if st in (PointStatus.UNSTABLE, PointStatus.NO_REQUESTS)]
        if causes:
            cause = max(dict.fromkeys(causes), key=causes.count)
            text += f"; likely cause: {cause}. {advice(cause)}"
        text += ("" if text.endswith(".") else ".") + (" Only stable points under -l are in -f "
                                                       "(--csv-all-points writes every point).")
    stalled = sum(1 for p in run.points if stall_lines(run, p))
    if stalled:
        text += f" Stalls at {stalled} point(s): see the [WARNING] Stall lines."
    return text


__all__ = ["advice", "likely_cause", "spread_lines", "stall_lines", "trust_lines",
           "verdict_line"]
