"""The search loop: for each candidate, load its configuration, run the ordinary profile sweep
(the same code as ``perfanalyzer profile``; -l is the latency budget, so a sweep stops there),
write its CSV, export and state, and put the original configuration back however the loop ends."""

from __future__ import annotations

import asyncio
import dataclasses
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

from .. import cleanup
from ..config import RunConfig
from ..errors import OptionError, PerfAnalyzerError
from ..measure.result import RunResult
from ..profile.run import profile
from ..profile.setup import connect
from ..report.csv import write_csv
from ..report.export import write_export
from .control import ModelControl, ModelControlError
from .modelconfig import default_candidate
from .objective import Objective
from .space import Candidate, QuickSearch, Space, grid
from .store import CandidateResult, Store

#: (candidate's run config, stop event, console) -> the measured run. Tests swap it.
Measure = Callable[[RunConfig, asyncio.Event, TextIO], Awaitable[RunResult]]


async def _profile(cfg: RunConfig, stop: asyncio.Event, out: TextIO) -> RunResult:
    return await profile(cfg, out=out, stop_event=stop)


@dataclass(frozen=True, kw_only=True)
class SearchConfig:
    output_dir: str
    mode: str = "quick"  # "quick" | "full"
    objective: Objective = field(default_factory=Objective)
    space: Space = field(default_factory=Space)
    top: int = 5

    def plan(self, cfg: RunConfig) -> dict[str, Any]:
        """What must match for a rerun to resume this search."""
        return {"model": cfg.server.model, "mode": self.mode,
                "objective": dataclasses.asdict(self.objective),
                "space": dataclasses.asdict(self.space), "load_mode": cfg.load.mode.value,
                "concurrency_range": list(cfg.load.concurrency_range),
                "request_rate_range": list(cfg.load.request_rate_range),
                "measurement_interval_ms": cfg.measurement.measurement_interval_ms}


@dataclass(kw_only=True)
class SearchOutcome:
    original: dict[str, Any]
    default: Candidate
    results: list[CandidateResult]
    interrupted: bool = False
    resumed: int = 0


def candidate_config(cfg: RunConfig, sc: SearchConfig, c: Candidate) -> RunConfig:
    return cfg.replace(batch_size=c.client_batch,
                       latency_threshold_ms=sc.objective.latency_budget_ms,
                       percentile=sc.objective.percentile, filename=None,
                       profile_export_file=None)


async def run_search(sc: SearchConfig, cfg: RunConfig, *, stop: asyncio.Event,
                     out: TextIO | None = None, measure: Measure = _profile) -> SearchOutcome:
    """Measure candidates until the search is done or ``stop`` is set; the model's original
    configuration is loaded again before returning or raising."""
    out = out or sys.stdout
    store = Store(sc.output_dir)
    client = await connect(cfg)
    control = ModelControl(client, cfg.server.model, cfg.server.server_url, cfg.server.protocol)
    restore_hook = cleanup.register(control.restore_now)  # a second Ctrl-C
    try:
        original = await control.fetch()
        if original.get("platform") == "ensemble" or original.get("backend") == "ensemble":
            raise OptionError(f"-m {cfg.server.model}: an ensemble has no instances or batcher of its "
                              f"own: search its composing models")
        batches = sc.space.client_batch or (cfg.inputs.batch_size,)
        default = default_candidate(original, batches[0])
        store.open(sc.plan(cfg))
        done = store.finished()
        outcome = SearchOutcome(original=original, default=default, results=list(done),
                                resumed=len(done))
        if done:
            out.write(f"Resuming: {len(done)} candidate(s) already measured in "
                      f"{sc.output_dir}\n")
        try:
            await _loop(sc, cfg, control, store, outcome, stop, out, measure)
        finally:
            await control.restore()
        return outcome
    finally:
        cleanup.unregister(restore_hook)
        await client.close()


async def _loop(sc: SearchConfig, cfg: RunConfig, control: ModelControl, store: Store,
                outcome: SearchOutcome, stop: asyncio.Event, out: TextIO,
                measure: Measure) -> None:
    quick = QuickSearch(sc.space, outcome.default)
    for r in outcome.results:
        quick.record(r.candidate, r.score)
    todo = iter(grid(sc.space, outcome.default)) if sc.mode == "full" else None
    done = {r.candidate.key for r in outcome.results}
    while not stop.is_set():
        c = next(todo, None) if todo is not None else quick.next()
        if c is None:
            return
        if c.key in done:
            continue
        if c.dynamic_batching and "sequence_batching" in outcome.original:
            continue  # a sequence model's batcher is the sequence batcher
        out.write(f"\n== Candidate {len(outcome.results) + 1}: {c.key}\n")
        out.flush()
        result = await _measure_one(sc, cfg, control, store, c, stop, out, measure)
        if result is None:  # interrupted: not finished, measured again on resume
            outcome.interrupted = True
            return
        store.save(result)
        outcome.results.append(result)
        done.add(c.key)
        quick.record(c, result.score)


async def _measure_one(sc: SearchConfig, cfg: RunConfig, control: ModelControl, store: Store,
                       c: Candidate, stop: asyncio.Event, out: TextIO,
                       measure: Measure) -> CandidateResult | None:
    try:
        await control.apply(c)
    except ModelControlError:
        raise
    except PerfAnalyzerError as exc:  # the server refused this configuration: data, not a crash
        out.write(f"   not loaded: {exc}\n")
        return CandidateResult(candidate=c, error=f"load failed: {exc}")
    if stop.is_set():
        return None
    run = await measure(candidate_config(cfg, sc, c), stop, out)
    folder = store.candidate_dir(c)
    if run.points:
        write_csv(run, folder / "profile.csv")
        write_export(run, folder / "export.json")
    if run.interrupted or stop.is_set():  # a sweep cut short is measured again on resume
        return None
    result = sc.objective.judge(c, run)
    best = (f"{result.best.throughput:.1f} infer/s at {sc.objective.latency_label} "
            f"{result.best.latency_ms:.2f} ms" if result.best else "no point met the constraints")
    out.write(f"   best: {best}\n")
    return result
