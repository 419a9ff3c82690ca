"""Noise-aware ranking, the measuring half: after the exploration, the leading candidates and the
default are re-measured as replicate runs at their best level (the ``--repeat`` machinery of
profile: each run a fresh profile with its own warm-up and stability windows, pooled by
``combine_runs``, saved in the ``--repeat`` export format), each run's point judged as ``-f``
judges it. :mod:`.ranking` turns the runs into intervals."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TextIO

from ..config import RunConfig
from ..errors import PerfAnalyzerError
from ..profile.flow import Files, save_run_files
from ..results import LoadMode, RunResult
from ..results.combine import combine_runs
from .control import Loader
from .objective import Objective
from .space import Candidate
from .store import FINAL_EXPORT, CandidateResult, Final, PointFigures, Store

Measure = Callable[[RunConfig, asyncio.Event, TextIO], Awaitable[RunResult]]


def finalists(results: Sequence[CandidateResult], default: Candidate, objective: Objective,
              count: int) -> list[tuple[Candidate, float]]:
    """The ``count`` best explored candidates and the default, each with the load level its runs
    measure: its best level; the default without a counted point (it did not stabilize, or broke
    a limit) is measured at the best candidate's level, as the reference the change is
    measured against."""
    scored = sorted((r for r in results if r.best is not None),
                    key=lambda r: -objective.score(r.best))  # type: ignore[arg-type]
    chosen = [(r.candidate, r.best.level) for r in scored[:count] if r.best is not None]
    if chosen and default.key not in {c.key for c, _ in chosen}:
        mine = next((r for r in scored if r.candidate.key == default.key), None)
        level = mine.best.level if mine is not None and mine.best is not None else chosen[0][1]
        if any(r.candidate.key == default.key and not r.error for r in results):
            chosen.append((default, level))
    return chosen


def level_config(cfg: RunConfig, level: float, runs: int) -> RunConfig:
    """``cfg`` measuring only ``level``, ``runs`` times over."""
    if cfg.load.mode is LoadMode.CONCURRENCY:
        return cfg.replace(concurrency_range=(int(level), int(level), 1), repeat=runs)
    return cfg.replace(request_rate_range=(level, level, 1.0), repeat=runs)


def judge_runs(objective: Objective, c: Candidate, level: float, measured: Sequence[RunResult],
               runs: int) -> Final:
    """Each replicate run's point at ``level``, judged as ``-f`` judges it (None for a run that
    measured nothing there, or was not made after a failure)."""
    points: list[PointFigures | None] = []
    for r in measured:
        judged = objective.judge(c, r).points
        points.append(next((p for p in judged if p.level == level), None))
    points += [None] * (runs - len(points))
    return Final(key=c.key, level=level, points=tuple(points))


async def remeasure(results: Sequence[CandidateResult], default: Candidate, objective: Objective,
                    *, count: int, runs: int, cfg_of: Callable[[Candidate], RunConfig],
                    control: Loader, store: Store, stop: asyncio.Event, out: TextIO,
                    measure: Measure) -> tuple[dict[str, Final], bool]:
    """Re-measure the finalists (an earlier run's saved replicates are kept); returns the finals
    by candidate key and whether the search was stopped before they were all measured.

    The runs are interleaved (round k measures every finalist once), so a drift of the machine's
    load while they run spreads over all of them instead of favouring the ones measured when it
    was quiet; the price is a model load per run."""
    finals: dict[str, Final] = {}
    todo = []
    for c, level in finalists(results, default, objective, count):
        saved = store.final(c, level, runs)
        if saved is not None:
            finals[c.key] = saved
        else:
            todo.append((c, level))
    if not todo:
        return finals, False
    out.write(f"\n== Re-measuring {len(todo)} candidate(s), {runs} runs each, interleaved, at "
              f"their best level (replicate runs: the ranking accounts for run-to-run noise)\n")
    measured: dict[str, list[RunResult]] = {c.key: [] for c, _ in todo}
    try:
        stopped = await _rounds(todo, runs, measured, cfg_of=cfg_of, control=control, stop=stop,
                                out=out, measure=measure)
    finally:  # what was measured is kept, even when the search stops here
        for c, _ in todo:
            if measured[c.key]:
                folder = store.prepare_final(c)
                done = measured[c.key]
                for run in done:  # each run's settings say how many runs it belongs to
                    run.record(repeat=len(done))
                save_run_files(combine_runs(done), Files(export=str(folder / FINAL_EXPORT)))
    if stopped:
        return finals, True  # the unfinished finalists are measured again on resume
    for c, level in todo:
        final = judge_runs(objective, c, level, measured[c.key], runs)
        store.save_final(c, final)
        finals[c.key] = final
    return finals, False


async def _rounds(todo: Sequence[tuple[Candidate, float]], runs: int,
                  measured: dict[str, list[RunResult]], *,
                  cfg_of: Callable[[Candidate], RunConfig], control: Loader,
                  stop: asyncio.Event, out: TextIO, measure: Measure) -> bool:
    """Measure ``runs`` rounds of every finalist into ``measured``; True when stopped."""
    dropped: set[str] = set()  # not loadable, or a run failed: no more runs of it
    loaded = ""
    for k in range(1, runs + 1):
        for c, level in todo:
            if c.key in dropped:
                continue
            if stop.is_set():
                return True
            out.write(f"\n== Replicate {k} of {runs}: {c.key} at {level:g}\n")
            out.flush()
            if loaded != c.key:
                try:
                    await control.apply(c)
                except PerfAnalyzerError as exc:
                    out.write(f"   not loaded: {exc}\n")
                    dropped.add(c.key)
                    loaded = ""
                    continue
                loaded = c.key
            run = await measure(level_config(cfg_of(c), level, 1), stop, out)
            await control.verify()
            if run.points:
                measured[c.key].append(run)
            if run.interrupted or stop.is_set():
                return True
            if run.failure:
                dropped.add(c.key)
    return False
