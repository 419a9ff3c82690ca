"""``-v`` / ``-v -v``: perf_analyzer's per-pass lines, and perfanalyzer's extra per-window detail.

``-v`` prints, after every measurement window (perf_analyzer's "pass"), exactly perf_analyzer's line::

      Pass [3] throughput: 1234.5 infer/sec. Avg latency: 810 usec (std 95 usec)

(with ``--percentile=P``: ``... infer/sec. pP latency: N usec``). ``-v -v`` adds one detail line per
window: its length, completed/failed/sent requests, percentiles, server success count, the metrics
scrapes it holds, and the stabilizer's spreads so far.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TextIO

from .. import columns as C
from ..measure.stabilizer import Verdict
from ..measure.window import Window
from .figures import std_text, us
from .live import LiveStatus


def pass_line(window: Window, percentile: int) -> str:
    """perf_analyzer's ``-v`` line for one window (throughput printed as its ostream does)."""
    s = window.summary
    head = f"  Pass [{window.index + 1}] throughput: {s.throughput:g} infer/sec. "
    if percentile > 0:
        return head + f"{C.percentile_name(percentile)}: {us(s.latency.p(percentile))} usec"
    return head + f"{C.AVG_LATENCY.name}: {us(s.latency.avg_ns)} usec (std {std_text(s.latency)} usec)"


def detail_line(window: Window, verdict: Verdict) -> str:
    """``-v -v``: what the window holds."""
    s = window.summary
    lat = s.latency
    server = ""
    if s.server is not None:
        server = f", server success {s.server.model.get('success').count}"
    spread = ("" if verdict.throughput_spread == float("inf") else
              f", spread {verdict.throughput_spread:.1%} throughput / "
              f"{verdict.latency_spread:.1%} latency")
    return (f"    Window [{window.index + 1}]: {s.duration_s:.3f} s, {s.completed} completed, "
            f"{s.errors} failed, {s.sent} sent ({s.late_sends} late), p50 {us(lat.p(50))} / p99 "
            f"{us(lat.p(99))} usec, client CPU {s.client_cpu_util:.2f} cores{server}, "
            f"{len(window.metrics)} metrics scrapes{spread}")


def window_callback(cfg: Any, out: TextIO,
                    status: LiveStatus) -> Callable[[float, Window, Verdict], None]:
    """The measurer's per-window hook: the live status line, or with -v the pass lines."""
    level_verbose = int(cfg.output.verbose or 0)
    percentile = cfg.measurement.percentile

    def on_window(level: float, window: Window, verdict: Verdict) -> None:
        if level_verbose <= 0:
            status.window(level, window, verdict)
            return
        out.write(pass_line(window, percentile) + "\n")
        if level_verbose >= 2:
            out.write(detail_line(window, verdict) + "\n")
        out.flush()

    return on_window
