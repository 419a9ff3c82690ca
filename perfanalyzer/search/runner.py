"""The search loop: for each candidate, load its configuration, run the ordinary profile sweep
(the same code as ``perfanalyzer profile``; -l is the latency budget, so a sweep stops there),
write its CSV, export and state, and put the original configuration back however the loop ends."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import io
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from .. import cleanup
from ..config import RunConfig
from ..errors import OptionError
from ..measure.prometheus import (
    CPU_MEM_USED,
    GPU_FAMILIES,
    GPU_MEM_USED,
    SCRAPE_TIMEOUT_CAP_S,
    Scraper,
    ScrapeSettings,
    default_metrics_url,
    scraper_for,
)
from ..profile.flow import Files, save_run_files
from ..profile.repeat import profile_runs
from ..profile.settings import scrape_settings
from ..profile.setup import connect
from ..results import RunResult
from .composite import CompositeCandidate, CompositeQuickSearch, composite_grid
from .composite_setup import (
    check_marks,
    default_of,
    fixed_dimensions,
    is_ensemble,
    searched_models,
    settle_group,
)
from .control import Loader, ModelControl, apply_candidate, busy
from .finals import remeasure
from .group import GroupControl
from .guard import Lock, lock_folder, lock_model
from .limits import CPU_MEMORY, GPU_MEMORY, MEMORY
from .modelconfig import default_candidate, kind_of, marker_of, plain, same
from .objective import Objective
from .space import Candidate, QuickSearch, Space, grid
from .store import CSV_FILE, EXPORT_FILE, ORIGINAL_FILE, CandidateResult, Final, Store
from .together import MeasureMany, check_together, measure_candidate, measure_models
from .tpe import TpeSearch

#: (candidate's run config, stop event, console) -> the measured run. Tests swap it.
Measure = Callable[[RunConfig, asyncio.Event, TextIO], Awaitable[RunResult]]
#: (control, store, candidate, stop event, console) -> the candidate's result (None: stopped).
MeasureOne = Callable[[Loader, Store, Candidate, asyncio.Event, TextIO],
                      Awaitable["CandidateResult | None"]]


def models_of(cfg: RunConfig) -> tuple[str, ...]:
    """The models of ``-m`` (``a,b``: several, searched together)."""
    return tuple(dict.fromkeys(m.strip() for m in cfg.server.model.split(",") if m.strip()))


async def _profile(cfg: RunConfig, stop: asyncio.Event, out: TextIO) -> RunResult:
    return await profile_runs(cfg, out=out, stop_event=stop)  # --repeat: the finalists' runs


@dataclass(frozen=True, kw_only=True)
class SearchConfig:
    output_dir: str
    mode: str = "quick"  # "quick" | "full" | "tpe"
    objective: Objective = field(default_factory=Objective)
    space: Space = field(default_factory=Space)
    top: int = 5
    replicates: int = 3  # runs of each finalist after the exploration (0: none)
    finalists: int = 3  # the best explored candidates re-measured (the default too)
    trials: int = 0  # --mode tpe: the most candidates measured

    def plan(self, cfg: RunConfig) -> dict[str, Any]:
        """What must match for a rerun to resume this search (a setting added later is left
        out while unused, so an earlier search's folder still resumes)."""
        space = dataclasses.asdict(self.space)
        if not space["instance_kind"]:
            space.pop("instance_kind")
        extra = {"trials": self.trials} if self.mode == "tpe" else {}
        return {"model": cfg.server.model, "mode": self.mode, **extra,
                "objective": dataclasses.asdict(self.objective),
                "space": space, "replicates": self.replicates,
                "finalists": self.finalists, "load_mode": cfg.load.mode.value,
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
    finals: dict[str, Final] = field(default_factory=dict)  # replicate runs by candidate key
    #: every searched model's configuration before the search (an ensemble's composing models,
    #: a BLS model and the models it calls); empty when one model is searched
    originals: dict[str, dict[str, Any]] = field(default_factory=dict)


def candidate_config(cfg: RunConfig, sc: SearchConfig, c: Candidate) -> RunConfig:
    return cfg.replace(batch_size=c.client_batch, repeat=1,
                       latency_threshold_ms=sc.objective.latency_budget_ms,
                       percentile=sc.objective.percentile, filename=None,
                       profile_export_file=None)


async def run_search(sc: SearchConfig, cfg: RunConfig, *, stop: asyncio.Event,
                     out: TextIO | None = None, measure: Measure = _profile,
                     measure_many: MeasureMany = measure_models) -> SearchOutcome:
    """Measure candidates until the search is done or ``stop`` is set; the model's original
    configuration is loaded again before returning or raising."""
    out = out or sys.stdout
    store = Store(sc.output_dir)
    store.check()  # a planted link is refused before anything is created or changed
    Path(sc.output_dir).mkdir(parents=True, exist_ok=True)
    locks = [lock_folder(Path(sc.output_dir))]
    try:
        locks.append(lock_model(cfg.server.server_url, cfg.server.model, Path(sc.output_dir)))
        return await _locked(sc, cfg, store, stop, out, measure, measure_many)
    finally:
        for lock in reversed(locks):
            lock.release()


async def _locked(sc: SearchConfig, cfg: RunConfig, store: Store, stop: asyncio.Event,
                  out: TextIO, measure: Measure, measure_many: MeasureMany) -> SearchOutcome:
    client = await connect(cfg)
    control = ModelControl(client, cfg.server.model, cfg.server.server_url, cfg.server.protocol)
    restore_hook = cleanup.register(control.restore_now)  # a second Ctrl-C
    try:
        several = models_of(cfg)
        if len(several) > 1:  # -m a,b: the models loaded together, measured under one load each
            return await _group(sc, cfg, client, store, {"name": cfg.server.model}, several,
                                False, stop, out, measure, measure_many=measure_many)
        loaded = await control.fetch()
        models, top_searched = await searched_models(client, cfg, loaded)
        if models:  # an ensemble's composing models, or a BLS model and the models it calls
            return await _group(sc, cfg, client, store, loaded, models, top_searched, stop, out,
                                measure)
        batches = sc.space.client_batch or (cfg.inputs.batch_size,)
        mark, rec = marker_of(loaded), store.recorded()
        if mark is not None and (rec is None or mark["id"] != rec.search_id):
            raise busy(cfg.server.model, mark)  # before this search writes anything
        await check_memory(sc.objective, cfg)  # before this search writes or changes anything
        await check_kinds(sc.space, cfg, {cfg.server.model: loaded})
        store.open(sc.plan(cfg))
        done = store.finished(warn=lambda line: out.write(f"warning: {line}\n"))
        await settle(store, control, loaded, batches[0], out)
        default = with_kind(default_candidate(control.original, batches[0]), sc.space,
                            control.original)
        outcome = SearchOutcome(original=control.original, default=default, results=list(done),
                                resumed=len(done))
        if done:
            out.write(f"Resuming: {len(done)} candidate(s) already measured in "
                      f"{sc.output_dir}\n")
        try:
            await _explore(sc, cfg, control, store, outcome, stop, out, measure)
        finally:
            changed = control.changed
            await control.restore()
            if changed:
                out.write(f"Restored the model's configuration from before the search "
                          f"({default.key})\n")
        return outcome
    finally:
        cleanup.unregister(restore_hook)
        await client.close()


async def _explore(sc: SearchConfig, cfg: RunConfig, control: Loader, store: Store,
                   outcome: SearchOutcome, stop: asyncio.Event, out: TextIO, measure: Measure,
                   one: MeasureOne | None = None) -> None:
    """The exploration, then (``--replicates`` 2 or more, not stopped) the finalists and the
    default re-measured as replicate runs."""
    await _loop(sc, cfg, control, store, outcome, stop, out, measure, one)
    if sc.replicates >= 2 and not outcome.interrupted and not stop.is_set():
        outcome.finals, outcome.interrupted = await remeasure(
            outcome.results, outcome.default, sc.objective, count=sc.finalists,
            runs=sc.replicates, cfg_of=lambda c: candidate_config(cfg, sc, c),
            control=control, store=store, stop=stop, out=out, measure=measure)
    elif stop.is_set():
        outcome.interrupted = True


async def _group(sc: SearchConfig, cfg: RunConfig, client: Any, store: Store,
                 top: dict[str, Any], models: tuple[str, ...], top_searched: bool,
                 stop: asyncio.Event, out: TextIO, measure: Measure,
                 measure_many: MeasureMany | None = None) -> SearchOutcome:
    """The search of several models' settings measured through ``-m`` (or, with
    ``measure_many``, each model under its own load, together): every searched model is locked,
    recorded before the first change and restored like the single model."""
    together = measure_many is not None
    if together:
        check_together(sc.replicates, cfg)
    locks: list[Lock] = []
    group = GroupControl(client, models, cfg.server.server_url, cfg.server.protocol)
    restore_hook = cleanup.register(group.restore_now)  # a second Ctrl-C
    try:
        for m in models:
            if m != cfg.server.model:  # -m is locked already
                locks.append(lock_model(cfg.server.server_url, m, Path(sc.output_dir)))
        loaded = await group.fetch_all()
        if together and any(is_ensemble(c) for c in loaded.values()):
            raise OptionError(f"-m {cfg.server.model}: an ensemble is searched alone (its "
                              f"composing models are searched through it)")
        check_marks(loaded, store)  # before this search writes anything
        await check_memory(sc.objective, cfg)
        await check_kinds(sc.space, cfg, loaded)
        store.open({**sc.plan(cfg), "searched_models": list(models)})
        done = store.finished(warn=lambda line: out.write(f"warning: {line}\n"))
        batches = sc.space.client_batch or (cfg.inputs.batch_size,)
        try:
            originals = await settle_group(store, group, top, loaded, out)
            default = default_of(models, originals, top, top_searched, batches[0], together)
            default = dataclasses.replace(default, parts=tuple(
                (m, with_kind(p, sc.space, originals[m])) for m, p in default.parts))
            outcome = SearchOutcome(original=top, default=default, results=list(done),
                                    resumed=len(done), originals=originals)
            out.write(f"Searching the settings of {', '.join(models)} "
                      + ("measured together, one load each\n" if together
                         else f"through -m {cfg.server.model}\n"))
            if done:
                out.write(f"Resuming: {len(done)} candidate(s) already measured in "
                          f"{sc.output_dir}\n")
            one: MeasureOne | None = None
            if measure_many is not None:
                one = functools.partial(measure_candidate, models,
                                        lambda c: candidate_config(cfg, sc, c), measure_many,
                                        sc.objective)
            await _explore(sc, cfg, group, store, outcome, stop, out, measure, one)
        finally:
            changed = group.changed
            await group.restore()
            if changed:
                out.write(f"Restored the configurations of {', '.join(models)} from before the "
                          f"search\n")
        return outcome
    finally:
        cleanup.unregister(restore_hook)
        for lock in reversed(locks):
            lock.release()


async def check_kinds(space: Space, cfg: RunConfig, loaded: dict[str, dict[str, Any]]) -> None:
    """Refuse an instance kind the server cannot run (GPU instances on a server whose metrics
    report no GPU), or a model whose kind is not one to vary; before anything changes."""
    if not space.instance_kind:
        return
    for model, config in loaded.items():
        if not kind_of(config):
            groups = config.get("instance_group") or [{}]
            raise OptionError(f"--instance-kinds: {model}'s instance kind "
                              f"({groups[0].get('kind') or 'none'}) is not KIND_CPU or KIND_GPU")
    if "gpu" not in space.instance_kind:
        return
    url = cfg.output.metrics_url or default_metrics_url(cfg.server.server_url)
    scraper = Scraper(ScrapeSettings(url=url, interval_s=1.0), warn=io.StringIO())
    scrape = await scraper.scrape_once(SCRAPE_TIMEOUT_CAP_S)
    if scrape is None:
        raise OptionError(f"--instance-kinds gpu: whether the server has a GPU is read from its "
                          f"metrics, and {url} could not be read (--metrics-url)")
    if not any(scrape.values.get(f) for f in GPU_FAMILIES):
        raise OptionError(f"--instance-kinds gpu: the server has no GPU (its metrics at {url} "
                          f"report none): search KIND_CPU only")


def with_kind(c: Candidate, space: Space, config: dict[str, Any]) -> Candidate:
    """The default candidate naming its instance kind when the search varies kinds."""
    return dataclasses.replace(c, instance_kind=kind_of(config)) if space.instance_kind else c


async def check_memory(obj: Objective, cfg: RunConfig) -> None:
    """Refuse a limit or objective on the server's memory that its metrics do not carry (no GPU
    family without GPUs; no CPU family on a server built without CPU metrics)."""
    wanted = {lim.metric for lim in obj.constraints} | {n for n, _ in obj.weights}
    wanted &= set(MEMORY)
    scraper = scraper_for(scrape_settings(cfg), io.StringIO()) if wanted else None
    if scraper is None:
        return
    scrape = await scraper.scrape_once(SCRAPE_TIMEOUT_CAP_S)
    if scrape is None:
        raise OptionError(f"--constraint/--objectives {min(wanted)}: the server's metrics could "
                          f"not be read (--collect-metrics, --metrics-url)")
    for name, family in ((GPU_MEMORY, GPU_MEM_USED), (CPU_MEMORY, CPU_MEM_USED)):
        if name in wanted and not scrape.values.get(family):
            why = "the server reports no GPU (use cpu_used_ram)" if name == GPU_MEMORY \
                else "the server does not export its CPU memory (--allow-cpu-metrics)"
            raise OptionError(f"--constraint/--objectives {name}: its metrics have no {family}: "
                              f"{why}")


async def settle(store: Store, control: ModelControl, loaded: dict[str, Any], batch: int,
                 out: TextIO) -> None:
    """Decide what the configuration before the search is: the one recorded by an earlier run of
    this search (a candidate of that run left loaded is replaced by it now), else the loaded one,
    recorded before the first change. Raises when another search's candidate is loaded, or when
    the model was changed outside the search since it was recorded."""
    model = control.model
    mark = marker_of(loaded)
    rec = store.recorded()
    if mark is not None and (rec is None or mark["id"] != rec.search_id):
        raise busy(model, mark)
    if rec is None:
        rec = store.record(plain(loaded))
    control.adopt(rec.config, rec.search_id, str(Path(store.root).resolve()))
    key = default_candidate(rec.config, batch).key
    if same(loaded, rec.config):
        return
    if mark is None:
        raise OptionError(f"-m {model}: the loaded configuration "
                          f"({default_candidate(loaded, batch).key}) is not the one this search "
                          f"recorded before its first change ({key}, in "
                          f"{store.root / ORIGINAL_FILE}): it was changed since; use a new "
                          f"--output-dir")
    control.changed = True
    await control.restore()
    out.write(f"Resuming: found {default_candidate(loaded, batch).key} loaded (a candidate of "
              f"this search whose run did not finish); restored the configuration recorded "
              f"before the search ({key})\n")


async def _loop(sc: SearchConfig, cfg: RunConfig, control: Loader, store: Store,
                outcome: SearchOutcome, stop: asyncio.Event, out: TextIO,
                measure: Measure, one: MeasureOne | None = None) -> None:
    quick: QuickSearch | CompositeQuickSearch | TpeSearch
    listed = sc.mode in ("full", "tpe")  # both draw from every valid combination
    if isinstance(outcome.default, CompositeCandidate):
        fixed = fixed_dimensions(outcome.originals)
        quick = CompositeQuickSearch(sc.space, outcome.default, fixed)
        full: list[Candidate] = list(composite_grid(sc.space, outcome.default, fixed)) \
            if listed else []
    else:
        quick = QuickSearch(sc.space, outcome.default)
        full = grid(sc.space, outcome.default) if listed else []
    if sc.mode == "tpe":
        quick = TpeSearch(full, outcome.default, sc.trials)
    for r in outcome.results:
        quick.record(r.candidate, r.score)
    todo = iter(full) if sc.mode == "full" else None
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
        result = (await one(control, store, c, stop, out) if one is not None
                  else await _measure_one(sc, cfg, control, store, c, stop, out, measure))
        if result is None:  # interrupted: not finished, measured again on resume
            outcome.interrupted = True
            return
        store.save(result)
        outcome.results.append(result)
        done.add(c.key)
        quick.record(c, result.score)


async def _measure_one(sc: SearchConfig, cfg: RunConfig, control: Loader, store: Store,
                       c: Candidate, stop: asyncio.Event, out: TextIO,
                       measure: Measure) -> CandidateResult | None:
    refused = await apply_candidate(control, c, out)
    if refused is not None:
        return refused
    if stop.is_set():
        return None
    folder = store.prepare(c)  # an unfinished attempt's files go; this one replaces them
    run = await measure(candidate_config(cfg, sc, c), stop, out)
    await control.verify()  # what was measured is this candidate, not another search's
    if run.points:  # the profile's sinks: a file that cannot be written keeps its data
        save_run_files(run, Files(csv=str(folder / CSV_FILE), export=str(folder / EXPORT_FILE)))
    if run.interrupted or stop.is_set():  # a sweep cut short is measured again on resume
        return None
    result = sc.objective.judge(c, run)
    best = (f"{result.best.throughput:.1f} infer/s at {sc.objective.latency_label} "
            f"{result.best.latency_ms:.2f} ms" if result.best else "no point met the constraints")
    out.write(f"   best: {best}\n")
    return result
