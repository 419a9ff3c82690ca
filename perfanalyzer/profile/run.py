"""Run a profile: connect, prepare, sweep the load levels, measure, print as we go."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import platform
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TextIO, cast

from .. import cleanup
from ..client import InferenceClient
from ..config import LoadMode, RunConfig
from ..errors import PerfAnalyzerError
from ..inputs.setup import requests_for
from ..load import factory as load_factory
from ..load import workers
from ..load.base import DEFAULT_DRAIN_TIMEOUT_S, LoadManager
from ..load.build import build_load
from ..measure.prometheus import scraper_for
from ..measure.sync import NO_SYNC, RunSync
from ..measure.window import Measurer, PointResult
from ..records import RecordBuffer
from ..redact import redact_config
from ..report import console, verbose
from ..report.live import LiveStatus
from ..results import PointStatus, RunResult
from . import trace
from .composing import with_composing
from .failures import check_bls_calls, check_ceiling, check_ended, check_failures
from .settings import load_settings, request_settings, scrape_settings, shm_settings, window_plan
from .setup import connect, prepare_model, within_startup
from .sweep import BinarySearch, Outcome, linear

if TYPE_CHECKING:
    from ..load.periodic import PeriodicConcurrency
    from ..measure.stabilizer import Verdict
    from ..measure.window import Window


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
                  on_point: Callable[[RunResult, PointResult], None] | None = None,
                  sync: RunSync = NO_SYNC,
                  on_window: Callable[[float, Window, Verdict], None] | None = None) -> RunResult:
    """Measure every load level of ``cfg``; returns what was measured (also when interrupted).
    ``sync``: where several processes (MPI ranks, ``perfanalyzer.mpi``) meet; none by default.
    ``on_window`` is called after every measurement window (--events)."""
    out = out or sys.stdout
    stop_event = stop_event or asyncio.Event()
    client = await connect(cfg)
    shm: Any = None  # perfanalyzer.shm.plan.ShmPlan with --shared-memory system|cuda
    restore_trace = None  # --trace-*: undoes the model's trace settings
    try:
        setup = await within_startup(cfg, prepare_model(client, cfg))  # startup has a deadline too
        restore_trace = await asyncio.to_thread(trace.apply, cfg)
        if restore_trace is not None:
            cleanup.register(restore_trace)  # also on a second Ctrl-C
        # ensembles, BLS: the composing models' statistics
        setup, stats = await within_startup(cfg, with_composing(client, cfg, setup))
        await within_startup(cfg, stats.probe())
        # a periodic run is a closed loop of growing concurrency: reported as concurrency END
        mode = LoadMode.CONCURRENCY if cfg.load.mode is LoadMode.PERIODIC else cfg.load.mode
        run = RunResult(mode=mode, model=setup.traits, batch_size=cfg.inputs.batch_size,
                        percentile=cfg.measurement.percentile, server_stats=stats.available,
                        server_stats_reason=stats.reason, config=_config_dict(cfg),
                        provenance={**provenance(client),
                                    "server": await within_startup(cfg, _server_identity(client))})
        if not stats.available:
            out.write(f"Server statistics are not reported: {stats.reason}\n")
        out.writelines(f"{note}\n" for note in setup.notes)
        requests = requests_for(request_settings(cfg), setup)
        if cfg.output.export_tensors:  # each data entry's inputs, for the export
            run.request_inputs = [{t.name: t.to_numpy() for t in r.inputs if t.data is not None}
                                  for stream in requests for r in stream]
        if cfg.inputs.shared_memory != "none":
            from ..shm.plan import plan_shared_memory

            shm = await plan_shared_memory(client, shm_settings(cfg), setup, requests)
            requests = shm.requests
            setup = dataclasses.replace(setup, requests=requests)
        buffer = RecordBuffer()
        run.buffer = buffer
        run.clock_anchor_ns, run.wall_anchor_ns = time.perf_counter_ns(), time.time_ns()
        periodic = cfg.load.periodic_concurrency_range
        load: LoadManager
        if periodic:  # gRPC streams: protobuf, only then
            from .periodic import periodic_load

            load = periodic_load(cfg, client, setup, requests, buffer)
        else:
            payloads = [client.prepare(r) for stream in requests for r in stream]
            load = sync.wrap_load(build_load(load_settings(cfg), client, setup, payloads, buffer))
            run.buffer = load.buffer  # a merged MPI group's leader: every rank's records
        plan = sync.plan(window_plan(cfg, cores=workers.worker_count(load_settings(cfg)),
                                     sequence=setup.traits.sequence))
        out.write(console.settings_text(
            batch_size=cfg.inputs.batch_size, count_windows=plan.count_windows,
            interval_ms=cfg.measurement.measurement_interval_ms, request_count=plan.request_count,
            async_mode=cfg.load.async_mode, percentile=cfg.measurement.percentile,
            mode=cfg.load.mode.value, streaming=cfg.load.streaming,
            distribution=cfg.load.request_distribution,
            burstiness=cfg.load.request_burstiness or 1.0,
            periodic=(*periodic, cfg.load.request_period) if periodic else None) + "\n")
        # the live line: not with -v (its pass lines), nor for the periodic mode's one window
        progress = LiveStatus(cfg.load.mode.value,
                              quiet=cfg.output.quiet or bool(cfg.output.verbose) or bool(periodic))
        scraper = scraper_for(scrape_settings(cfg))  # --collect-metrics
        if scraper is not None:
            scraper.start()
        progress.start()
        shown = verbose.window_callback(cfg, out, progress)
        hook = _both(shown, on_window)
        try:
            if periodic:
                await _periodic(cfg, run, cast("PeriodicConcurrency", load), stats, out,
                                stop_event, on_point, scraper,
                                hook if cfg.output.verbose else on_window)
            else:
                measurer = Measurer(load, stats, plan, stop_event, on_window=hook,
                                    scraper=scraper, sync=sync,
                                    orca=getattr(client, "orca", None))
                await _sweep(cfg, run, measurer, out, stop_event, on_point, progress, sync)
        except PerfAnalyzerError as exc:  # keep what was measured; the caller reports the error
            run.failure = str(exc)
        finally:
            await progress.stop()
            await load.stop()
            cut = getattr(load, "cut", 0)  # requests still in flight when the drain ended
            if cut:
                out.write(f"[WARNING] {cut} requests still in flight "
                          f"{DEFAULT_DRAIN_TIMEOUT_S:g} s after the load stopped were cancelled "
                          "(not recorded: they would have completed after the last window, so "
                          "no reported figure includes them)\n")
            if scraper is not None:
                await scraper.stop()
        return run
    finally:
        if shm is not None:  # unregister and unlink; also registered with cleanup for Ctrl-C
            await shm.release(client)
        if restore_trace is not None:
            await trace.restore(restore_trace)
        await client.close()


def _both(first: Callable[[float, Window, Verdict], None],
          then: Callable[[float, Window, Verdict], None] | None,
          ) -> Callable[[float, Window, Verdict], None]:
    if then is None:
        return first

    def hook(level: float, window: Window, verdict: Verdict) -> None:
        first(level, window, verdict)
        then(level, window, verdict)

    return hook


async def _sweep(cfg: RunConfig, run: RunResult, measurer: Measurer, out: TextIO,
                 stop_event: asyncio.Event,
                 on_point: Callable[[RunResult, PointResult], None] | None,
                 progress: LiveStatus, sync: RunSync = NO_SYNC) -> None:
    integer = cfg.load.mode is LoadMode.CONCURRENCY
    start, end, step = (cfg.load.concurrency_range if integer else cfg.load.request_rate_range)
    if cfg.load.mode is LoadMode.CUSTOM_INTERVALS:  # reported as N·1e9/Σintervals
        start = end = load_factory.custom_rate(load_settings(cfg))
        step = 1.0
    search = BinarySearch(start, end, step, integer=integer) if cfg.load.binary_search else None
    levels = linear(start, end, step, integer=integer)
    if search is None and end:
        progress.levels = sum(1 for _ in linear(start, end, step, integer=integer))
    last: Outcome | None = None
    ended = False
    while not stop_event.is_set():
        level = None if ended else search.next_level(last) if search else next(levels, None)
        level = await sync.next_level(level)  # MPI: start together; a merged group follows its leader
        if level is None:
            break
        check_ceiling(cfg, level)  # an open-ended sweep stops at the ceiling too
        progress.point(level, len(run.points) + 1)
        point = sync.report(await measurer.measure(level))
        progress.clear()  # the live line, before the point's block
        run.points.append(point)
        out.write(console.point_text(run, point, cfg.server.protocol))
        out.flush()
        if on_point:
            on_point(run, point)
        check_ended(point)  # a validation_data mismatch (unless --on-mismatch count)
        check_failures(point)  # a mostly failed point is an error, not a measurement
        check_bls_calls(point, run.model.bls)
        if point.interrupted:
            run.interrupted = True
            break
        status = run.status(point)  # the judgement the report and -f read, computed once
        last = Outcome(level, status is PointStatus.STABLE)  # perf_analyzer's meets_threshold
        # Unlike perf_analyzer, an unstable point does not end a linear sweep: it is reported
        # with its spread (and exit code 2); only going over -l does.
        if search is None and status is PointStatus.OVER_LIMIT:
            ended = True  # (no further level: said at the next sync.next_level)
    await sync.finish()  # MPI: keep answering the ranks still measuring


async def _periodic(cfg: RunConfig, run: RunResult, load: PeriodicConcurrency, stats: Any,
                    out: TextIO, stop_event: asyncio.Event,
                    on_point: Callable[[RunResult, PointResult], None] | None, scraper: Any,
                    on_window: Callable[[float, Window, Verdict], None] | None) -> None:
    """--periodic-concurrency-range: one point over the whole run (profile/periodic.py)."""
    from .periodic import measure_periodic

    point = await measure_periodic(cfg, run, load, stats, stop_event, scraper, on_window)
    run.points.append(point)
    run.interrupted = point.interrupted
    out.write(console.point_text(run, point, cfg.server.protocol))
    out.flush()
    if on_point:
        on_point(run, point)
    try:  # a mostly failed run is an error (not when Ctrl-C cancelled them)
        if not point.interrupted:
            check_failures(point)
    except PerfAnalyzerError as exc:
        run.failure = run.failure or str(exc)


def _config_dict(cfg: RunConfig) -> dict[str, Any]:
    return redact_config(cfg.flat())  # no header secret or URL password
