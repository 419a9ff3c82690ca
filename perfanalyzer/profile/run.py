"""Run a profile: connect, prepare, sweep the load levels, measure, print as we go."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from ..client import InferenceClient
from ..client.errors import PerfAnalyzerError
from ..config import LoadMode, RunConfig
from ..load import factory as load_factory
from ..load import workers
from ..load.base import LoadManager
from ..load.concurrency import ConcurrencyManager
from ..measure.records import RecordBuffer
from ..measure.result import RunResult
from ..measure.server_stats import ServerStatsReader, composing_models
from ..measure.stabilizer import Criteria
from ..measure.window import Measurer, PointResult, WindowPlan
from ..redact import redact_config
from ..report import console
from .failures import check_ceiling, check_failures
from .setup import ModelSetup, connect, prepare_model, requests_for, within_startup
from .sweep import BinarySearch, Outcome, linear

#: Hook for load modes beyond closed-loop concurrency (request rate, sequences, streaming):
#: (cfg, client, setup, prepared payloads, buffer) -> LoadManager, or None to use the default.
LoadFactory = Callable[[RunConfig, InferenceClient, ModelSetup, Sequence[Any], RecordBuffer],
                       LoadManager | None]
LOAD_FACTORIES: list[LoadFactory] = [workers.build_workers, load_factory.build_load]


def window_plan(cfg: RunConfig) -> WindowPlan:
    count = cfg.measurement_mode == "count_windows" or cfg.request_count > 0
    return WindowPlan(
        count_windows=count,
        interval_s=cfg.measurement_interval_ms / 1000.0,
        request_count=cfg.request_count or cfg.measurement_request_count,
        criteria=Criteria(stability_pct=cfg.stability_percentage, max_trials=cfg.max_trials,
                          window_count=cfg.stability_windows,
                          latency_threshold_ns=cfg.latency_threshold_ns,
                          async_mode=cfg.async_mode),
        percentile=cfg.percentile, adaptive=cfg.adaptive, single_window=cfg.request_count > 0,
        batch_size=cfg.batch_size, warmup_requests=cfg.warmup_request_count,
        cores=workers.worker_count(cfg))


def over_limit(point: PointResult, cfg: RunConfig) -> bool:
    """The point's latency (average, or pXX) reached -l."""
    if point.verdict.over_threshold:
        return True
    if cfg.latency_threshold_ms <= 0:
        return False
    lat = (point.merged.latency.p(cfg.percentile) if cfg.percentile > 0
           else point.merged.latency.avg_ns)
    return lat >= cfg.latency_threshold_ns


def meets(point: PointResult, cfg: RunConfig) -> bool:
    """Stable and under -l (perf_analyzer's ``meets_threshold``)."""
    return point.stable and not over_limit(point, cfg)


def provenance() -> dict[str, Any]:
    from .. import __version__
    from ..load.uvloop_policy import loop_name

    return {"perfanalyzer": __version__, "python": platform.python_version(),
            "event_loop": loop_name(),
            "platform": platform.platform(), "machine": platform.machine(),
            "hostname": platform.node(), "cpus": os.cpu_count()}


async def _server_identity(client: InferenceClient) -> dict[str, Any]:
    """The server's name and version (they matter when comparing runs)."""
    try:
        meta = await client.server_metadata()
    except PerfAnalyzerError:
        return {}
    return {"name": meta.get("name", ""), "version": meta.get("version", "")}


def build_load(cfg: RunConfig, client: InferenceClient, setup: ModelSetup,
               payloads: Sequence[Any], buffer: RecordBuffer) -> LoadManager:
    for factory in LOAD_FACTORIES:
        load = factory(cfg, client, setup, payloads, buffer)
        if load is not None:
            return load
    return ConcurrencyManager(client, payloads, buffer)


async def profile(cfg: RunConfig, *, out: TextIO | None = None,
                  stop_event: asyncio.Event | None = None,
                  on_point: Callable[[RunResult, PointResult], None] | None = None) -> RunResult:
    """Measure every load level of ``cfg``; returns what was measured (also when interrupted)."""
    out = out or sys.stdout
    stop_event = stop_event or asyncio.Event()
    client = await connect(cfg)
    shm: Any = None  # perfanalyzer.shm.plan.ShmPlan with --shared-memory system|cuda
    try:
        setup = await within_startup(cfg, prepare_model(client, cfg))  # issue 13: deadlines
        if setup.traits.ensemble:  # nested ensembles: every composing model, depth first
            composing = tuple(await within_startup(cfg, composing_models(client, setup.config)))
            setup = dataclasses.replace(
                setup, traits=dataclasses.replace(setup.traits, composing=composing))
        stats = ServerStatsReader(client, cfg.model, cfg.model_version,
                                  composing=setup.traits.composing)
        await within_startup(cfg, stats.probe())
        run = RunResult(mode=cfg.mode.value, model=setup.traits, batch_size=cfg.batch_size,
                        percentile=cfg.percentile, server_stats=stats.available,
                        server_stats_reason=stats.reason, config=_config_dict(cfg),
                        provenance={**provenance(),
                                    "server": await within_startup(cfg, _server_identity(client))})
        if not stats.available:
            out.write(f"Server statistics are not reported: {stats.reason}\n")
        requests = requests_for(cfg, setup)
        if cfg.shared_memory != "none":
            from ..shm.plan import plan_shared_memory

            shm = await plan_shared_memory(client, cfg, setup, requests)
            requests = shm.requests
            setup = dataclasses.replace(setup, requests=requests)
        payloads = [client.prepare(r) for stream in requests for r in stream]
        buffer = RecordBuffer()
        run.buffer = buffer
        run.clock_anchor_ns, run.wall_anchor_ns = time.perf_counter_ns(), time.time_ns()
        load = build_load(cfg, client, setup, payloads, buffer)
        plan = window_plan(cfg)
        out.write(console.settings_text(
            batch_size=cfg.batch_size, count_windows=plan.count_windows,
            interval_ms=cfg.measurement_interval_ms, request_count=plan.request_count,
            async_mode=cfg.async_mode, percentile=cfg.percentile, mode=cfg.mode.value,
            streaming=cfg.streaming) + "\n")
        progress = console.Progress()
        measurer = Measurer(load, stats, plan, stop_event,
                            extra_cpu_ns=getattr(load, "extra_cpu_ns", None),
                            on_window=lambda level, w, v: progress.update(
                                console.progress_line(cfg.mode.value, level, w, v)))
        try:
            await _sweep(cfg, run, measurer, out, stop_event, on_point, progress)
        except PerfAnalyzerError as exc:  # keep what was measured; the caller reports the error
            run.failure = str(exc)
        finally:
            await load.stop()
        return run
    finally:
        if shm is not None:  # unregister and unlink; also registered with cleanup for Ctrl-C
            await shm.release(client)
        await client.close()


async def _sweep(cfg: RunConfig, run: RunResult, measurer: Measurer, out: TextIO,
                 stop_event: asyncio.Event,
                 on_point: Callable[[RunResult, PointResult], None] | None,
                 progress: console.Progress) -> None:
    integer = cfg.mode is LoadMode.CONCURRENCY
    start, end, step = (cfg.concurrency_range if integer else cfg.request_rate_range)
    if cfg.mode is LoadMode.CUSTOM_INTERVALS:  # reported as N·1e9/Σintervals
        start = end = load_factory.custom_rate(cfg)
        step = 1.0
    search = BinarySearch(start, end, step, integer=integer) if cfg.binary_search else None
    levels = linear(start, end, step, integer=integer)
    last: Outcome | None = None
    while not stop_event.is_set():
        level = search.next_level(last) if search else next(levels, None)
        if level is None:
            break
        check_ceiling(cfg, level)  # issue 13: an open-ended sweep stops at the ceiling too
        point = await measurer.measure(level)
        progress.clear()  # the live line, before the point's block
        run.points.append(point)
        out.write(console.point_text(run, point, cfg.protocol))
        out.flush()
        if on_point:
            on_point(run, point)
        check_failures(point)  # issue 13: a mostly failed point is an error, not a measurement
        if point.interrupted:
            run.interrupted = True
            break
        last = Outcome(level, meets(point, cfg))
        # Unlike perf_analyzer, an unstable point does not end a linear sweep: it is reported
        # with its spread (and exit code 2); only going over -l does.
        if search is None and over_limit(point, cfg):
            break


def _config_dict(cfg: RunConfig) -> dict[str, Any]:
    import dataclasses

    d = dataclasses.asdict(cfg)
    d["mode"] = cfg.mode.value
    return redact_config(d)  # issue 13: no header secret or URL password in the export
