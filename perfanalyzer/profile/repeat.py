"""``--repeat N``: the whole sweep measured N times, run after run (run 1 all points, run 2 all
points...), each run a complete, independent :func:`perfanalyzer.profile.run.profile` (new
connection, new load, each point warmed up by its own stabilizing windows). The result is the pooled
run (:func:`perfanalyzer.results.combine.combine_runs`) holding the N runs as ``replicates``.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from typing import TextIO

from ..config import RunConfig
from ..measure.stabilizer import Verdict
from ..measure.window import PointResult, Window
from ..report.repeat import intervals_text, run_header
from ..results import RunResult
from ..results.combine import combine_runs
from .run import profile

OnPoint = Callable[[RunResult, PointResult], None]
OnWindow = Callable[[float, Window, Verdict], None]


async def profile_runs(cfg: RunConfig, *, out: TextIO | None = None,
                       stop_event: asyncio.Event | None = None,
                       on_point: OnPoint | None = None,
                       on_window: OnWindow | None = None) -> RunResult:
    """One run (``cfg.repeat`` 1) or the pooled run of ``cfg.repeat`` runs. Stops early (keeping
    what was measured) on Ctrl-C, a failure, or a run that measured nothing. ``on_point`` gets the
    pooled run of everything measured so far."""
    n = cfg.measurement.repeat
    if n <= 1:
        return await profile(cfg, out=out, stop_event=stop_event, on_point=on_point,
                             on_window=on_window)
    out = out or sys.stdout
    stop_event = stop_event or asyncio.Event()
    runs: list[RunResult] = []

    def each(run: RunResult, point: PointResult) -> None:
        if on_point is not None:
            on_point(combine_runs([*runs, run]), point)

    for k in range(1, n + 1):
        out.write(run_header(k, n))
        run = await profile(cfg, out=out, stop_event=stop_event, on_point=each,
                            on_window=on_window)
        runs.append(run)
        if run.failure or run.interrupted or stop_event.is_set() or not run.points:
            break
    pooled = combine_runs(runs)
    if pooled.replicates:
        out.write(intervals_text(pooled))
        out.flush()
    return pooled


__all__ = ["profile_runs"]
