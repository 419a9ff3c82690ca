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
from ..measure.combine import combine_runs
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
                    control: ModelControl, store: Store, stop: asyncio.Event, out: TextIO,
                    measure: Measure) -> tuple[dict[str, Final], bool]:
    """Re-measure the finalists (an earlier run's saved replicates are kept); returns the finals
    by candidate key and whether the search was stopped before they were all measured.

    The runs are interleaved (round k measures every finalist once), so a drift of the machine's
    load while they run spreads over all of them instead of favouring the ones measured when it
    was quiet; the price is a model load per run."""
    finals: dict[str, Final] = {}
    todo = []
    for r in finalists(results, default, objective, count):
        assert r.best is not None
        saved = store.final(r.candidate, r.best.level, runs)
        if saved is not None:
            finals[r.candidate.key] = saved
        else:
            todo.append(r)
    if not todo:
        return finals, False
    out.write(f"\n== Re-measuring {len(todo)} candidate(s), {runs} runs each, interleaved, at "
              f"their best level (replicate runs: the ranking accounts for run-to-run noise)\n")
    measured: dict[str, list[RunResult]] = {r.candidate.key: [] for r in todo}
    try:
        stopped = await _rounds(todo, runs, measured, cfg_of=cfg_of, control=control, stop=stop,
                                out=out, measure=measure)
    finally:  # what was measured is kept, even when the search stops here
        for r in todo:
            if measured[r.candidate.key]:
                folder = store.prepare_final(r.candidate)
                done = measured[r.candidate.key]
                for run in done:  # each run's settings say how many runs it belongs to
                    run.config["repeat"] = len(done)
                write_export(combine_runs(done), folder / FINAL_EXPORT)
    if stopped:
        return finals, True  # the unfinished finalists are measured again on resume
    for r in todo:
        assert r.best is not None
        c = r.candidate
        final = judge_runs(objective, c, r.best.level, measured[c.key], runs)
        store.save_final(c, final)
        finals[c.key] = final
    return finals, False


async def _rounds(todo: Sequence[CandidateResult], runs: int,
                  measured: dict[str, list[RunResult]], *,
                  cfg_of: Callable[[Candidate], RunConfig], control: ModelControl,
                  stop: asyncio.Event, out: TextIO, measure: Measure) -> bool:
    """Measure ``runs`` rounds of every finalist into ``measured``; True when stopped."""
    dropped: set[str] = set()  # not loadable, or a run failed: no more runs of it
    loaded = ""
    for k in range(1, runs + 1):
        for r in todo:
            c, best = r.candidate, r.best
            assert best is not None
            if c.key in dropped:
                continue
            if stop.is_set():
                return True
            out.write(f"\n== Replicate {k} of {runs}: {c.key} at {best.level:g}\n")
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
            run = await measure(level_config(cfg_of(c), best.level, 1), stop, out)
            await control.verify()
            if run.points:
                measured[c.key].append(run)
            if run.interrupted or stop.is_set():
                return True
            if run.failure:
                dropped.add(c.key)
    return False
