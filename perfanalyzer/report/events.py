"""``--events FILE``: the run as JSON lines while it goes, for a dashboard or a CI log to follow.

One ``{"type": "window", ...}`` line per finished measurement window (its load point and level,
index, length, throughput, latency figures in µs, errors, client load, and the stabilizer's answer
so far), one ``{"type": "point", ...}`` per finished load point (its status and reported figures),
and one ``{"type": "end", ...}`` with the exit code and the files written. Each line is written and
flushed as it happens. Only figures are written: no header, no URL (a URL may hold a password),
and every line is scrubbed of the run's registered secrets.

A write that fails (disk full, a reader gone) is said once on stderr; the run goes on and ends
with exit 99, as for any file it could not write.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from collections.abc import Sequence
from typing import Any, BinaryIO

from ..measure.metrics import LatencyStats, Summary
from ..measure.stabilizer import Verdict
from ..measure.window import PointResult, Window
from ..results import RunResult
from .outfile import open_stream, scrubbed_line

FLAG = "--events"


def _num(x: float) -> float | None:
    return x if math.isfinite(x) else None


def _latency(lat: LatencyStats) -> dict[str, Any]:
    out: dict[str, Any] = {"avg": round(lat.avg_ns / 1e3, 3) if lat.count else None}
    out.update({f"p{p}": v / 1e3 for p, v in sorted(lat.percentiles.items())})
    return out


def _figures(s: Summary) -> dict[str, Any]:
    return {"duration_s": round(s.duration_s, 6), "throughput": _num(round(s.throughput, 3)),
            "completed": s.completed, "errors": s.errors, "latency_us": _latency(s.latency),
            "client_cpu": round(s.client_cpu_util, 4),
            "max_loop_lag_ms": round(s.client.max_loop_lag_ns / 1e6, 3)}


class EventLog:
    """The open --events file; its methods are the run's hooks."""

    def __init__(self, fh: BinaryIO) -> None:
        self.fh = fh
        self.points = 0
        self.failed = False
        self.ended = False
        self._t0 = time.perf_counter_ns()

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> EventLog:
        """Raises OptionError (before any load) when ``path`` cannot be opened."""
        return cls(open_stream(path, FLAG))

    def _emit(self, event: dict[str, Any]) -> None:
        if self.failed:
            return
        event["time_s"] = round((time.perf_counter_ns() - self._t0) / 1e9, 3)
        try:
            self.fh.write(scrubbed_line(json.dumps(event, allow_nan=False)))
            self.fh.flush()
        except OSError as exc:
            self.failed = True
            print(f"warning: {FLAG}: cannot write: {exc.strerror or exc}; no more events are "
                  "written (exit 99 at the end)", file=sys.stderr, flush=True)

    def window(self, level: float, window: Window, verdict: Verdict) -> None:
        self._emit({"type": "window", "point": self.points, "level": level,
                    "index": window.index, **_figures(window.summary),
                    "stable_so_far": verdict.stable, "done": verdict.done,
                    "reason": verdict.reason,
                    "throughput_spread": _num(verdict.throughput_spread),
                    "latency_spread": _num(verdict.latency_spread)})

    def point(self, run: RunResult, point: PointResult) -> None:
        status = run.status(point)
        self._emit({"type": "point", "point": self.points, "level": point.level,
                    "status": status, "stable": point.stable, "reason": point.verdict.reason,
                    "windows": len(point.windows), **_figures(point.merged)})
        self.points += 1

    def end(self, exit_code: int, files: Sequence[str], error: str = "") -> None:
        """The last event (written once: later calls are ignored)."""
        if self.ended:
            return
        self.ended = True
        event: dict[str, Any] = {"type": "end", "exit_code": exit_code, "files": list(files)}
        if error:
            event["error"] = error
        self._emit(event)

    def close(self) -> None:
        if self.fh.closed:
            return
        try:
            self.fh.close()
        except OSError:
            self.failed = True


__all__ = ["FLAG", "EventLog"]
