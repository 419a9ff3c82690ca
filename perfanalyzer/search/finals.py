"""Noise-aware ranking, the measuring half: after the exploration, the leading candidates and the
default are re-measured as replicate runs at their best level (the ``--repeat`` machinery of
profile: each run a fresh profile with its own warm-up and stability windows), each run's point
judged as ``-f`` judges it. :mod:`.ranking` turns the runs into intervals."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TextIO

from ..config import RunConfig
from ..errors import PerfAnalyzerError
from ..measure.result import RunResult
from ..report.export import write_export
from .control import ModelControl
from .objective import Objective
from .space import Candidate
from .store import FINAL_EXPORT, CandidateResult, Final, PointFigures, Store

Measure = Callable[[RunConfig, asyncio.Event, TextIO], Awaitable[RunResult]]


def finalists(results: Sequence[CandidateResult], default: Candidate, objective: Objective,
              count: int) -> list[CandidateResult]:
    """The ``count`` best explored candidates, and the default when it has a best point."""
    scored = sorted((r for r in results if r.best is not None),
                    key=lambda r: -objective.score(r.best))  # type: ignore[arg-type]
    chosen = scored[:count]
    chosen += [r for r in scored[count:] if r.candidate.key == default.key]
    return chosen


def level_config(cfg: RunConfig, level: float, runs: int) -> RunConfig:
    """``cfg`` measuring only ``level``, ``runs`` times over."""
    if cfg.load.mode.value == "concurrency":
        return cfg.replace(concurrency_range=(int(level), int(level), 1), repeat=runs)
    return cfg.replace(request_rate_range=(level, level, 1.0), repeat=runs)


def judge_runs(objective: Objective, c: Candidate, level: float, run: RunResult,
               runs: int) -> Final:
    """Each replicate run's point at ``level``, judged as ``-f`` judges it (None for a run that
    measured nothing there, or was not made after a failure)."""
    points: list[PointFigures | None] = []
    for r in run.replicates or [run]:
        judged = objective.judge(c, r).points
        points.append(next((p for p in judged if p.level == level), None))
    points += [None] * (runs - len(points))
    return Final(key=c.key, level=level, points=tuple(points))


async def remeasure(results: Sequence[CandidateResult], default: Candidate, objective: Objective,
                    *, count: int, runs: int, cfg_of: Callable[[Candidate], RunConfig],
                    control: ModelControl, store: Store, stop: asyncio.Event, out: TextIO,
                    measure: Measure) -> tuple[dict[str, Final], bool]:
    """Re-measure the finalists (an earlier run's saved replicates are kept); returns the finals
    by candidate key and whether the search was stopped before they were all measured."""
    finals: dict[str, Final] = {}
    chosen = finalists(results, default, objective, count)
    if chosen:
        out.write(f"\n== Re-measuring {len(chosen)} candidate(s), {runs} runs each, at their "
                  f"best level (replicate runs: the ranking accounts for run-to-run noise)\n")
    for r in chosen:
        assert r.best is not None
        c, level = r.candidate, r.best.level
        saved = store.final(c, level, runs)
        if saved is not None:
            finals[c.key] = saved
            continue
        if stop.is_set():
            return finals, True
        out.write(f"\n== Replicates of {c.key} at {level:g}\n")
        try:
            await control.apply(c)
        except PerfAnalyzerError as exc:
            out.write(f"   not loaded: {exc}\n")
            continue
        folder = store.prepare_final(c)
        run = await measure(level_config(cfg_of(c), level, runs), stop, out)
        await control.verify()
        if run.points:
            write_export(run, folder / FINAL_EXPORT)
        if run.interrupted or stop.is_set():
            return finals, True  # cut short: measured again on resume
        final = judge_runs(objective, c, level, run, runs)
        store.save_final(c, final)
        finals[c.key] = final
    return finals, False
