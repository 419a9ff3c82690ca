"""The live status line: one line on a terminal's stderr, redrawn in place while a run goes.

    c=4 (level 4 of 5) · window 2 (1.4 s) · 4512.3 infer/s · p99 1.23 ms · client CPU 0.15 · 0 errors

The figures are the last finished window's (throughput, p99, client CPU) and the point's errors so
far; the elapsed time of the window in progress shows the run is alive. A background task redraws
it at most :data:`REDRAW_HZ` times a second: nothing is done per request, and a window's end only
stores a few numbers. Shown only when stderr is a terminal and -q is not given: logs and pipes get
nothing extra. Plain ``\\r`` and an ANSI erase-line, so any terminal draws it.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from typing import TextIO

from ..measure.background import Background
from ..measure.stabilizer import Verdict
from ..measure.window import Window
from ..results import LoadMode
from .figures import fmt_rate

REDRAW_HZ = 4
#: Erase the line and return to its start (ANSI EL2 after a carriage return).
ERASE = "\r\x1b[2K"


class LiveStatus(Background):
    """The status line of one run (a no-op when disabled)."""

    def __init__(self, mode: str, stream: TextIO | None = None, *, quiet: bool = False) -> None:
        self.stream = stream or sys.stderr
        self.mode = mode
        try:
            tty = self.stream.isatty()
        except (AttributeError, ValueError):
            tty = False
        self.enabled = tty and not quiet
        self.levels: int | None = None
        self._level: float | None = None
        self._k = 0
        self._window = 0
        self._window_start_ns = 0
        self._figures = ""
        self._errors = 0
        self._shown = False

    task_name = "pa-live-status"

    def start(self) -> None:
        if self.enabled:
            super().start()

    async def stop(self) -> None:
        await super().stop()
        self.clear()

    def point(self, level: float, k: int) -> None:
        """Load point ``k`` (1-based) at ``level`` starts."""
        self._level, self._k = level, k
        self._window, self._errors, self._figures = 1, 0, ""
        self._window_start_ns = time.perf_counter_ns()

    def window(self, level: float, window: Window, verdict: Verdict) -> None:
        """A window finished: keep its figures for the next redraw."""
        s = window.summary
        self._level = level
        self._errors += s.errors
        p99 = s.latency.p(99) / 1e6
        self._figures = (f"{fmt_rate(round(s.throughput, 1))} infer/s · p99 {p99:.3g} ms · "
                         f"client CPU {s.client_cpu_util:.2f}")
        if verdict.stable:
            self._figures += " · stable"
        self._window = window.index + 2  # the one now being measured
        self._window_start_ns = time.perf_counter_ns()

    def line(self) -> str:
        if self._level is None:
            return "starting..."
        level = (f"c={self._level:g}" if self.mode == LoadMode.CONCURRENCY
                 else f"{fmt_rate(self._level)} req/s")
        of = f" of {self.levels}" if self.levels else ""
        elapsed = (time.perf_counter_ns() - self._window_start_ns) / 1e9
        parts = [f"{level} (level {self._k}{of})", f"window {self._window} ({elapsed:.1f} s)"]
        if self._figures:
            parts.append(self._figures)
        parts.append(f"{self._errors} errors")
        return " · ".join(parts)

    def draw(self) -> None:
        if not self.enabled:
            return
        width = _columns(self.stream)
        self.stream.write(ERASE + self.line()[:max(width - 1, 10)])
        self.stream.flush()
        self._shown = True

    def clear(self) -> None:
        """Erase the line (before a point's block is printed, and at the end)."""
        if self.enabled and self._shown:
            self.stream.write(ERASE)
            self.stream.flush()
            self._shown = False

    async def _run(self) -> None:
        while not self.stopping:
            await asyncio.sleep(1.0 / REDRAW_HZ)
            try:
                self.draw()
            except (OSError, ValueError):  # the terminal went away: stop drawing
                self.enabled = False
                return


def _columns(stream: TextIO) -> int:
    """The terminal's width (a line longer than it would wrap and not be erased); a terminal
    that reports none (0) gets $COLUMNS or 120."""
    try:
        width = os.get_terminal_size(stream.fileno()).columns
    except (OSError, ValueError, AttributeError):
        width = 0
    if width > 0:
        return width
    try:
        return int(os.environ.get("COLUMNS", "")) or 120
    except ValueError:
        return 120


__all__ = ["ERASE", "REDRAW_HZ", "LiveStatus"]
