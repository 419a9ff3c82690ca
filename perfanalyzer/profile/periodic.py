"""``--periodic-concurrency-range``: run :class:`~perfanalyzer.load.periodic.PeriodicConcurrency` once
and measure it as one window over the whole run (perf_analyzer: one experiment, no stability check).

The point's level is END (the most requests sent); the run's ``periodic`` part holds the range, the
period and the figures of every step (:func:`perfanalyzer.measure.periodic.step_figures`): the
console prints them and the JSON export keeps them under ``perfanalyzer.periodic``.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Sequence
from typing import Any

from ..client import InferenceClient
from ..client.base import InferRequest
from ..config import RunConfig
from ..config.goodput import parse_goodput
from ..errors import OptionError
from ..inputs.setup import ModelSetup
from ..load.periodic import PeriodicConcurrency
from ..load.streaming import streaming_requests
from ..load.validating import check_on_mismatch
from ..measure.metrics import ClientLoad, summarize
from ..measure.periodic import step_figures
from ..measure.server_stats import ServerStatsReader
from ..measure.stabilizer import NO_REQUESTS, Verdict
from ..measure.window import LagProbe, PointResult, Window, scrapes_between
from ..records import RecordBuffer
from ..results import RunResult

FLAG = "--periodic-concurrency-range"
REASON = "periodic mode: one window over the whole run, no stability check (as perf_analyzer)"


def periodic_load(cfg: RunConfig, client: InferenceClient, setup: ModelSetup,
                  requests: Sequence[Sequence[InferRequest]],
                  buffer: RecordBuffer) -> PeriodicConcurrency:
    """The load of a periodic run; OptionError (before any load) for what it cannot do."""
    if setup.io.is_sequence:
        raise OptionError(f"{FLAG}: sequence models are not supported in periodic mode")
    check_on_mismatch(cfg.inputs.on_mismatch, setup)
    if setup.data.has_validation or cfg.output.export_tensors:
        what = "--export-tensors" if cfg.output.export_tensors else "validation_data"
        raise OptionError(f"{FLAG}: {what} is not supported in periodic mode")
    payloads = [client.prepare(r) for s in streaming_requests(requests) for r in s]
    assert cfg.load.periodic_concurrency_range is not None
    start, end, step = cfg.load.periodic_concurrency_range
    return PeriodicConcurrency(client, payloads, buffer, start=start, end=end, step=step,
                               period=cfg.load.request_period,
                               request_timeout_s=cfg.transport.request_timeout_s)


async def measure_periodic(cfg: RunConfig, run: RunResult, load: PeriodicConcurrency,
                           stats: ServerStatsReader, stop_event: asyncio.Event,
                           scraper: Any = None,
                           on_window: Callable[[float, Window, Verdict], None] | None = None
                           ) -> PointResult:
    """Run the periodic load to its end (or Ctrl-C) and return it as one point; fills
    ``run.periodic`` and sets ``run.failure`` when a request ended short of the period."""
    assert cfg.load.periodic_concurrency_range is not None
    first, last, step = cfg.load.periodic_concurrency_range
    buf, probe = load.buffer, LagProbe()
    snap0 = await stats.edge_snapshot()
    cpu0 = time.process_time_ns()
    probe.start()
    start = time.perf_counter_ns()
    try:
        await load.apply(first)
        await load.wait(stop_event)
    finally:
        await probe.stop()
    end = time.perf_counter_ns()
    cpu1 = time.process_time_ns()
    snap1 = await stats.edge_snapshot()
    pct = cfg.measurement.percentile
    summary = summarize(buf.view(0, buf.count), start_ns=start, end_ns=end,
                        batch_size=cfg.inputs.batch_size, server=stats.delta(snap0, snap1),
                        client=ClientLoad(cpu_ns=cpu1 - cpu0, max_loop_lag_ns=probe.take()),
                        percentiles=(pct,) if pct > 0 else (), sent=load.sent,
                        goodput=parse_goodput(cfg.measurement.goodput))
    window = Window(0, 0, buf.count, summary, scrapes_between(scraper, start, end))
    ok = summary.completed > 0
    verdict = Verdict(done=True, stable=ok, reason=REASON if ok else NO_REQUESTS,
                      throughput_spread=math.inf, latency_spread=math.inf,  # one window: none
                      over_threshold=False)
    run.periodic = {"range": [first, last, step], "request_period": cfg.load.request_period,
                    "requests_sent": load.sent, "steps": step_figures(buf, load.steps, end)}
    if load.failure:
        run.failure = load.failure
    if on_window is not None:
        on_window(float(last), window, verdict)
    return PointResult(level=float(last), windows=(window,), verdict=verdict, merged=summary,
                       interrupted=stop_event.is_set())


__all__ = ["measure_periodic", "periodic_load"]
