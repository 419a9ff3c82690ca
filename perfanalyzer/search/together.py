"""Several models searched together (``search -m a,b``): the models are loaded side by side on the
server and measured under simultaneous load, one load per model in the same event loop, each at
its own load level of the sweep.

The loads meet as perf_analyzer's MPI ranks do (:class:`TogetherSync`, the
:class:`~perfanalyzer.measure.sync.RunSync` hook, in-process): every model starts each load level
together, cuts its windows at the same edges, and no model stops measuring a level before every
model is stable (or out of trials); a model whose sweep ended (over the budget) or failed leaves,
and the others go on without its load. Each meeting has a deadline.

A candidate's point at a level is the set's: throughput (and goodput) summed over the models, the
latency the worst model's; a point counts only when every model's point is stable, and every
limit (the budget, ``--constraint``) holds for every model: the limits are checked on the worst
model's figure (``perf_throughput`` the lowest, a latency or memory the highest). Each model's
own figures are kept in the point's metrics as ``MODEL/NAME`` for the per-model reports.
"""

from __future__ import annotations

import asyncio
import dataclasses
import io
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import TextIO, cast

from ..config import RunConfig
from ..errors import OptionError, PerfAnalyzerError
from ..load.base import LoadManager
from ..measure.window import ADAPTIVE_MAX_FACTOR, COUNT_WINDOW_CAP_S, PointResult, WindowPlan
from ..profile.flow import Files, save_run_files
from ..profile.run import profile
from ..report.outfile import write_output
from ..results import RunResult
from .composite import CompositeCandidate
from .control import Loader, apply_candidate
from .limits import higher_better
from .objective import Objective
from .space import Candidate
from .store import CSV_FILE, EXPORT_FILE, FLAG, CandidateResult, PointFigures, Store

#: Longest a meeting waits beyond the longest window: a model's setup, warm-up, point report.
START_GRACE_S = 120.0
THROUGHPUT, LATENCY = "perf_throughput", "latency_ms"

#: (each model's run config, stop event, console) -> each model's measured run.
MeasureMany = Callable[[dict[str, RunConfig], asyncio.Event, TextIO],
                       Awaitable[dict[str, RunResult]]]


class TogetherError(PerfAnalyzerError):
    """A model's load did not reach a meeting in time."""


class Rendezvous:
    """A barrier for the models' loads: each meeting returns every present model's row and
    whether the search was stopped, the same for all; a model that left is not waited for."""

    def __init__(self, parties: int, timeout_s: float, stop: asyncio.Event) -> None:
        self.parties, self.timeout_s, self.stop = parties, timeout_s, stop
        self.cond = asyncio.Condition()
        self.waiting: dict[int, float] = {}
        self.left: set[int] = set()
        self.generation = 0
        self.rows: dict[int, float] = {}
        self.stopped = False

    def _complete(self) -> None:
        if self.waiting and len(self.waiting) + len(self.left) >= self.parties:
            self.rows, self.stopped = dict(self.waiting), self.stop.is_set()
            self.waiting = {}
            self.generation += 1
            self.cond.notify_all()

    async def meet(self, me: int, row: float) -> tuple[dict[int, float], bool]:
        async with self.cond:
            gen = self.generation
            self.waiting[me] = row
            self._complete()
            if self.generation == gen:
                try:
                    await asyncio.wait_for(self.cond.wait_for(lambda: self.generation != gen),
                                           self.timeout_s)
                except asyncio.TimeoutError:
                    raise TogetherError(f"the models' loads did not meet within "
                                        f"{self.timeout_s:g} s") from None
            return self.rows, self.stopped

    async def leave(self, me: int) -> None:
        async with self.cond:
            self.left.add(me)
            self.waiting.pop(me, None)
            self._complete()


class TogetherSync:
    """One model's side of the meetings (the calls every load makes, in the same order)."""

    def __init__(self, rendezvous: Rendezvous, me: int) -> None:
        self.rv, self.me = rendezvous, me

    async def next_level(self, proposed: float | None) -> float | None:
        _, stopped = await self.rv.meet(self.me, 0.0)
        return None if stopped else proposed

    async def edge(self, interrupted: bool) -> bool:
        rows, stopped = await self.rv.meet(self.me, 1.0 if interrupted else 0.0)
        return stopped or any(v == 1.0 for v in rows.values())

    async def decide(self, done: bool, interrupted: bool) -> bool:
        if interrupted:  # agreed at the edge: every load leaves the level now
            return True
        rows, stopped = await self.rv.meet(self.me, 1.0 if done else 0.0)
        return stopped or all(v == 1.0 for v in rows.values())

    async def finish(self) -> None:
        await self.rv.leave(self.me)

    def wrap_load(self, load: LoadManager) -> LoadManager:
        return load

    def plan(self, plan: WindowPlan) -> WindowPlan:
        return plan

    def report(self, point: PointResult) -> PointResult:
        if self.rv.stopped and not point.interrupted:
            return dataclasses.replace(point, interrupted=True)
        return point


class _Tagged(io.TextIOBase):
    """A model's console lines, each prefixed with its name."""

    def __init__(self, out: TextIO, tag: str) -> None:
        super().__init__()
        self.out, self.tag, self.pending = out, tag, ""

    def write(self, text: str) -> int:
        self.pending += text
        *lines, self.pending = self.pending.split("\n")
        for line in lines:
            self.out.write(f"[{self.tag}] {line}\n")
        return len(text)

    def flush(self) -> None:
        self.out.flush()


def _timeout(cfgs: Mapping[str, RunConfig]) -> float:
    longest = max(c.measurement.measurement_interval_ms for c in cfgs.values()) / 1000.0
    return max(longest * ADAPTIVE_MAX_FACTOR, COUNT_WINDOW_CAP_S) + START_GRACE_S


async def measure_models(cfgs: dict[str, RunConfig], stop: asyncio.Event,
                         out: TextIO) -> dict[str, RunResult]:
    """Every model's sweep at once, one load per model, meeting at levels and window edges."""
    rv = Rendezvous(len(cfgs), _timeout(cfgs), stop)

    async def one(i: int, model: str, cfg: RunConfig) -> RunResult:
        try:
            return await profile(cfg, out=cast(TextIO, _Tagged(out, model)), stop_event=stop,
                                 sync=TogetherSync(rv, i))
        finally:
            await rv.leave(i)  # also after a failure: the others are not kept waiting

    tasks = [asyncio.ensure_future(one(i, m, c)) for i, (m, c) in enumerate(cfgs.items())]
    try:
        runs = await asyncio.gather(*tasks)
    except BaseException:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
    return dict(zip(cfgs, runs, strict=True))


def combine(objective: Objective, per_model: Mapping[str, Sequence[PointFigures]]
            ) -> tuple[PointFigures, ...]:
    """The set's point at every level each model measured (see the module's description)."""
    models = list(per_model)
    by_level = [{p.level: p for p in per_model[m]} for m in models]
    out = []
    for level in (p.level for p in per_model[models[0]]):
        points = [b.get(level) for b in by_level]
        if any(p is None for p in points):
            continue
        ps = [p for p in points if p is not None]
        names = set.intersection(*(set(p.metrics) for p in ps))
        metrics = {n: (min if higher_better(n) else max)(p.metrics[n] for p in ps)
                   for n in sorted(names)}
        for m, p in zip(models, ps, strict=True):
            metrics[f"{m}/{THROUGHPUT}"] = p.throughput
            metrics[f"{m}/{LATENCY}"] = p.latency_ms
        goodputs = [p.goodput for p in ps]
        out.append(PointFigures(
            level=level, throughput=sum(p.throughput for p in ps),
            latency_ms=max(p.latency_ms for p in ps), stable=all(p.stable for p in ps),
            goodput=None if any(g is None for g in goodputs) else sum(g or 0.0 for g in goodputs),
            metrics=metrics))
    return tuple(out)


def check_together(replicates: int, cfg: RunConfig) -> None:
    """What several models measured together (``-m a,b``) cannot do yet, refused before load
    (``replicates``: the search's --replicates)."""
    if replicates >= 2:
        raise OptionError("--replicates: several models measured together (-m a,b) are not "
                          "re-measured yet: leave it out or give --replicates 0")
    if cfg.server.bls_composing_models:
        raise OptionError("--bls-composing-models: search a BLS model alone (-m with one model)")
    if any(d not in ("random", "zero") for d in cfg.inputs.input_data):
        raise OptionError("--input-data: a data file holds one model's inputs: with several "
                          "models use random or zero")


async def measure_candidate(models: tuple[str, ...], cfg_of: Callable[[Candidate], RunConfig],
                            measure_many: MeasureMany, objective: Objective, control: Loader,
                            store: Store, c: Candidate, stop: asyncio.Event,
                            out: TextIO) -> CandidateResult | None:
    """Load the candidate's configurations, measure the models together, keep each model's CSV
    and export in ``candidates/KEY/MODEL/``; None when the search was stopped meanwhile."""
    refused = await apply_candidate(control, c, out)
    if refused is not None:
        return refused
    if stop.is_set():
        return None
    store.prepare(c)
    runs = await measure_many({m: cfg_of(c).replace(model=m) for m in models}, stop, out)
    await control.verify()
    for m, run in runs.items():
        if run.points:
            folder = store.model_dir(c, m)
            save_run_files(run, Files(csv=str(folder / CSV_FILE),
                                      export=str(folder / EXPORT_FILE)))
    if any(r.interrupted for r in runs.values()) or stop.is_set():
        return None
    per = {m: objective.judge(c, run).points for m, run in runs.items()}
    points = combine(objective, per)
    ok = [p for p in points if objective.feasible(p)]
    best = max(ok, key=objective.score) if ok else None
    failure = "; ".join(f"{m}: {r.failure}" for m, r in runs.items() if r.failure)
    out.write("   best: " + (f"{best.throughput:.1f} infer/s in all at {objective.latency_label} "
                             f"{best.latency_ms:.2f} ms (the slowest model)" if best
                             else "no point met the constraints") + "\n")
    return CandidateResult(candidate=c, points=points, best=best,
                           score=objective.score(best) if best else None, error=failure)


def model_reports(root: Path, models: tuple[str, ...], results: Sequence[CandidateResult],
                  objective: Objective, level_name: str) -> list[Path]:
    """``models/MODEL.md``: each model's own figures at every candidate's best level (the
    combination's ranking is ``summary.md``)."""
    ranked = sorted((r for r in results if r.best is not None), key=lambda r: -(r.score or 0.0))
    written = []
    for m in models:
        lines = [f"# {m}, measured together with {', '.join(x for x in models if x != m)}", "",
                 f"Each candidate at its best {level_name.lower()} for the set (summary.md ranks "
                 f"the set by its {objective.figure_label}).", "",
                 f"| rank | candidate | {m} settings | {level_name.lower()} | {m} throughput "
                 f"(infer/s) | {m} {objective.latency_label} (ms) | set throughput (infer/s) |",
                 "|---|---|---|---|---|---|---|"]
        for i, r in enumerate(ranked, 1):
            b = r.best
            assert b is not None and isinstance(r.candidate, CompositeCandidate)
            own = r.candidate.part(m).settings()
            settings = ", ".join(f"{k} {v}" for k, v in own.items() if v and k != "client batch")
            thr, lat = b.metrics.get(f"{m}/{THROUGHPUT}"), b.metrics.get(f"{m}/{LATENCY}")
            lines.append(f"| {i} | `{r.candidate.key}` | {settings} | {b.level:g} | "
                         f"{'' if thr is None else f'{thr:.1f}'} | "
                         f"{'' if lat is None else f'{lat:.2f}'} | {b.throughput:.1f} |")
        if not ranked:
            lines.append("")
            lines.append("No candidate met the constraints.")
        path = Store(root).models_dir() / f"{m}.md"
        write_output(path, "\n".join(lines) + "\n", FLAG)
        written.append(path)
    return written
