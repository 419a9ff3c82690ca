"""Run a profile: connect, prepare, sweep the load levels, measure, print as we go."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import platform
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

from ..client import InferenceClient
from ..config import LoadMode, RunConfig
from ..errors import PerfAnalyzerError
from ..inputs.setup import requests_for
from ..load import factory as load_factory
from ..load import workers
from ..load.build import build_load
from ..measure.result import RunResult
from ..measure.server_stats import ServerStatsReader, composing_models
from ..measure.window import Measurer, PointResult, window_plan
from ..records import RecordBuffer
from ..report import console
from .setup import connect, prepare_model
from .sweep import BinarySearch, Outcome, linear


def over_limit(point: PointResult, cfg: RunConfig) -> bool:
    """The point's latency (average, or pXX) reached -l."""
    if point.verdict.over_threshold:
        return True
    if cfg.measurement.latency_threshold_ms <= 0:
        return False
    lat = (point.merged.latency.p(cfg.measurement.percentile) if cfg.measurement.percentile > 0
           else point.merged.latency.avg_ns)
    return lat >= cfg.measurement.latency_threshold_ns


def meets(point: PointResult, cfg: RunConfig) -> bool:
    """Stable and under -l (perf_analyzer's ``meets_threshold``)."""
    return point.stable and not over_limit(point, cfg)


def provenance(client: InferenceClient | None = None) -> dict[str, Any]:
    """Where and how the run was made. ``event_loop`` is the loop this run is on and
    ``transport`` the client's send path (``http``, ``grpc-lean`` or ``grpcio``): both change
    the client's cost, so ``compare`` warns when two runs differ in them."""
    from ..load.uvloop_policy import running_loop_name
    from ..version import __version__

    out = {"perfanalyzer": __version__, "python": platform.python_version(),
           "event_loop": running_loop_name(),
           "platform": platform.platform(), "machine": platform.machine(),
           "hostname": platform.node(), "cpus": os.cpu_count()}
    if client is not None:
        out["transport"] = client.transport
    return out


async def _server_identity(client: InferenceClient) -> dict[str, Any]:
    """The server's name and version (they matter when comparing runs)."""
    try:
        meta = await client.server_metadata()
    except PerfAnalyzerError:
        return {}
    return {"name": meta.get("name", ""), "version": meta.get("version", "")}


async def profile(cfg: RunConfig, *, out: TextIO | None = None,
                  stop_event: asyncio.Event | None = None,
                  on_point: Callable[[RunResult, PointResult], None] | None = None) -> RunResult:
    """Measure every load level of ``cfg``; returns what was measured (also when interrupted)."""
    out = out or sys.stdout
    stop_event = stop_event or asyncio.Event()
    client = await connect(cfg)
    shm: Any = None  # perfanalyzer.shm.plan.ShmPlan with --shared-memory system|cuda
    try:
        setup = await prepare_model(client, cfg)
        if setup.traits.ensemble:  # nested ensembles: every composing model, depth first
            composing = tuple(await composing_models(client, setup.config))
            setup = dataclasses.replace(
                setup, traits=dataclasses.replace(setup.traits, composing=composing))
        stats = ServerStatsReader(client, cfg.server.model, cfg.server.model_version,
                                  composing=setup.traits.composing)
        await stats.probe()
        run = RunResult(mode=cfg.load.mode.value, model=setup.traits, batch_size=cfg.inputs.batch_size,
                        percentile=cfg.measurement.percentile, server_stats=stats.available,
                        server_stats_reason=stats.reason, config=_config_dict(cfg),
                        provenance={**provenance(client), "server": await _server_identity(client)})
        if not stats.available:
            out.write(f"Server statistics are not reported: {stats.reason}\n")
        requests = requests_for(cfg, setup)
        if cfg.inputs.shared_memory != "none":
            from ..shm.plan import plan_shared_memory

            shm = await plan_shared_memory(client, cfg, setup, requests)
            requests = shm.requests
            setup = dataclasses.replace(setup, requests=requests)
        payloads = [client.prepare(r) for stream in requests for r in stream]
        buffer = RecordBuffer()
        run.buffer = buffer
        run.clock_anchor_ns, run.wall_anchor_ns = time.perf_counter_ns(), time.time_ns()
        load = build_load(cfg, client, setup, payloads, buffer)
        plan = window_plan(cfg, cores=workers.worker_count(cfg))
        out.write(console.settings_text(
            batch_size=cfg.inputs.batch_size, count_windows=plan.count_windows,
            interval_ms=cfg.measurement.measurement_interval_ms, request_count=plan.request_count,
            async_mode=cfg.load.async_mode, percentile=cfg.measurement.percentile, mode=cfg.load.mode.value,
            streaming=cfg.load.streaming) + "\n")
        progress = console.Progress()
        measurer = Measurer(load, stats, plan, stop_event,
                            on_window=lambda level, w, v: progress.update(
                                console.progress_line(cfg.load.mode.value, level, w, v)))
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
    integer = cfg.load.mode is LoadMode.CONCURRENCY
    start, end, step = (cfg.load.concurrency_range if integer else cfg.load.request_rate_range)
    if cfg.load.mode is LoadMode.CUSTOM_INTERVALS:  # reported as N·1e9/Σintervals
        start = end = load_factory.custom_rate(cfg)
        step = 1.0
    search = BinarySearch(start, end, step, integer=integer) if cfg.load.binary_search else None
    levels = linear(start, end, step, integer=integer)
    last: Outcome | None = None
    while not stop_event.is_set():
        level = search.next_level(last) if search else next(levels, None)
        if level is None:
            break
        point = await measurer.measure(level)
        progress.clear()  # the live line, before the point's block
        run.points.append(point)
        out.write(console.point_text(run, point, cfg.server.protocol))
        out.flush()
        if on_point:
            on_point(run, point)
        if point.interrupted:
            run.interrupted = True
            break
        last = Outcome(level, meets(point, cfg))
        # Unlike perf_analyzer, an unstable point does not end a linear sweep: it is reported
        # with its spread (and exit code 2); only going over -l does.
        if search is None and over_limit(point, cfg):
            break


def _config_dict(cfg: RunConfig) -> dict[str, Any]:
    return cfg.flat()
