"""The measurement loop of one load point: back-to-back windows until the stabilizer says stop.

A request belongs to the window in which its last response arrives (edges inclusive), so each request
is counted exactly once; server statistics are read at every edge and differenced.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Callable

from ..client.orca import OrcaCollector
from ..errors import PerfAnalyzerError
from ..load.base import LoadManager
from ..records import RecordBuffer
from .background import Background
from .metrics import ClientLoad, ServerDelta, Summary, summarize
from .point import PointResult, Window, WindowPlan
from .prometheus import Scrape
from .server_stats import ServerStatsReader, Snapshot
from .stabilizer import NO_REQUESTS, Verdict, WindowFigures, adaptive_scale, judge
from .status import Judging, judged_latency
from .sync import NO_SYNC, RunSync

COUNT_POLL_S = 0.01
#: perf_analyzer's count windows: the completed count is checked once a second, so a window lasts
#: at least this long and holds every request completed by the check that found N.
COUNT_WINDOW_POLL_S = 1.0
LAG_PROBE_PERIOD_S = 0.025
#: Longest a count window may take before it is closed anyway (so a stalled server cannot hang us).
COUNT_WINDOW_CAP_S = 300.0
#: Adaptive mode never lengthens a window past this many times the asked interval.
ADAPTIVE_MAX_FACTOR = 16.0


class AllRequestsFailed(PerfAnalyzerError):
    """Every request of a window failed: the server's own message says why."""


class LagProbe(Background):
    """Measures event-loop lag: how late a periodic timer wakes up. A busy client wakes late."""

    task_name = "pa-lag-probe"

    def __init__(self, period_s: float = LAG_PROBE_PERIOD_S) -> None:
        self.period_s = period_s
        self.max_lag_ns = 0

    def take(self) -> int:
        lag, self.max_lag_ns = self.max_lag_ns, 0
        return lag

    async def _run(self) -> None:
        period_ns = int(self.period_s * 1e9)
        while not self.stopping:
            t0 = time.perf_counter_ns()
            await asyncio.sleep(self.period_s)
            lag = time.perf_counter_ns() - t0 - period_ns
            if lag > self.max_lag_ns:
                self.max_lag_ns = lag


class Measurer:
    """Runs windows over a load manager's records."""

    def __init__(self, load: LoadManager, stats: ServerStatsReader, plan: WindowPlan,
                 stop_event: asyncio.Event | None = None,
                 on_window: Callable[[float, Window, Verdict], None] | None = None,
                 scraper: object | None = None, sync: RunSync = NO_SYNC,
                 orca: OrcaCollector | None = None) -> None:
        self.load = load
        self.orca = orca  # --orca-format: the client's collector of load reports
        self.scraper = scraper  # --collect-metrics: prometheus.Scraper (between(lo_ns, hi_ns))
        self.run_sync = sync  # several processes (MPI ranks) cut windows at the same edges
        self.stats = stats
        self.plan = plan
        self.stop_event = stop_event or asyncio.Event()
        self.probe = LagProbe()
        self.on_window = on_window
        self._warm_end: int | None = None  # the buffer's count once the warm-up was done

    def _cpu_ns(self) -> int:
        return time.process_time_ns() + self.load.extra_cpu_ns()

    async def _sync(self, t_ns: int) -> None:
        # Load spread over processes: records reach the buffer late; sync(t) returns once every
        # request completed at or before t is in it (a no-op for one-process loads).
        await self.load.sync(t_ns)

    async def warmup(self) -> None:
        """Wait until the warm-up requests have completed; they belong to no window."""
        target = self._warm_end = self.load.buffer.count + self.plan.warmup_requests
        while self.load.buffer.count < target and not self.stop_event.is_set():
            await asyncio.sleep(COUNT_POLL_S)

    async def measure(self, level: float) -> PointResult:
        """Apply ``level`` and measure windows until the stabilizer is done (or Ctrl-C)."""
        await self.load.apply(level)
        if self.plan.warmup_requests:
            await self.warmup()
        self.probe.start()
        try:
            return await self._windows(level)
        finally:
            await self.probe.stop()

    async def _windows(self, level: float) -> PointResult:
        plan, buf = self.plan, self.load.buffer
        windows: list[Window] = []
        figures: list[WindowFigures] = []
        interval = plan.interval_s
        await self.run_sync.edge(False)  # MPI: the first edge together
        start = time.perf_counter_ns()
        await self._sync(start)
        lo = buf.index_at(start)
        if plan.single_window and self._warm_end is not None and lo > self._warm_end:
            # --request-count: the N completions right after the warm-up ones (the load sends
            # no more), also those that completed while the window was being opened
            lo = self._warm_end
            start = buf.last_at(lo - 1) if lo > 0 else start
        snap = await self.stats.edge_snapshot()
        cpu0, sent0, late0 = self._cpu_ns(), self.load.sent, self.load.late
        self.probe.take()
        if self.orca is not None:
            self.orca.take()  # reports before the first window belong to none
        verdict = judge([], plan.criteria)
        interrupted = False
        while True:
            interrupted = await self._wait_edge(lo, interval)
            interrupted = await self.run_sync.edge(interrupted)  # MPI: edge = barrier
            end = time.perf_counter_ns()
            await self._sync(end)
            hi = buf.index_at(end, lo)
            if plan.single_window and hi - lo > plan.request_count and not interrupted:
                # --request-count: the one window ends exactly at its N-th completion.
                hi = lo + plan.request_count
                end = buf.last_at(hi - 1)
            cpu1, sent1, late1 = self._cpu_ns(), self.load.sent, self.load.late
            snap1 = await self.stats.edge_snapshot()
            summary = summarize(
                buf.view(lo, hi), start_ns=start, end_ns=end, batch_size=plan.batch_size,
                server=self.stats.delta(snap, snap1),
                client=ClientLoad(cpu_ns=cpu1 - cpu0, max_loop_lag_ns=self.probe.take()),
                percentiles=(plan.percentile,) if plan.percentile > 0 else (),
                sent=sent1 - sent0, late_sends=late1 - late0, cores=plan.cores,
                goodput=plan.goodput)
            if interrupted and summary.completed == 0 and windows:
                break
            windows.append(Window(len(windows), lo, hi, summary,
                                  scrapes_between(self.scraper, start, end),
                                  self.orca.take() if self.orca is not None else None))
            # memory flat in run length: only the windows a merge may read stay in memory
            buf.spill_before(windows[max(0, len(windows) - plan.criteria.window_count)].lo)
            self._check_failures(summary)
            figures.append(WindowFigures(summary.throughput, judged_latency(
                summary, Judging(percentile=plan.percentile, latency_from=plan.latency_from)),
                summary.completed))
            verdict = self._judge(figures)
            if self.on_window:
                self.on_window(level, windows[-1], verdict)
            # a request error that ends the run ends the point too (what was measured is kept);
            # under MPI this rank says it is done and the ranks still end together
            if await self.run_sync.decide(verdict.done or bool(buf.failure), interrupted):
                break
            if plan.adaptive:
                interval = min(interval * adaptive_scale(figures, plan.criteria),
                               plan.interval_s * ADAPTIVE_MAX_FACTOR)
            start, lo, snap = end, hi, snap1
            cpu0, sent0, late0 = cpu1, sent1, late1
        return PointResult(level=level, windows=tuple(windows), verdict=verdict,
                           merged=merge(windows[-plan.criteria.window_count:], self.load.buffer,
                                        (plan.percentile,) if plan.percentile > 0 else ()),
                           interrupted=interrupted, failure=buf.failure)

    def _judge(self, figures: list[WindowFigures]) -> Verdict:
        if self.plan.single_window:
            ok = figures[-1].count > 0
            return Verdict(done=True, stable=ok, reason="stable" if ok else NO_REQUESTS,
                           throughput_spread=math.inf, latency_spread=math.inf,  # one window
                           over_threshold=False)
        return judge(figures, self.plan.criteria)

    @staticmethod
    def _check_failures(summary: Summary) -> None:
        if summary.completed == 0 and summary.errors:
            message = max(summary.error_counts.items(), key=lambda kv: kv[1])[0]
            raise AllRequestsFailed(f"every request failed ({summary.errors}): {message}")

    async def _wait_edge(self, lo: int, interval_s: float) -> bool:
        """Sleep until the window's end; True if interrupted (Ctrl-C) first."""
        if not self.plan.count_windows:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.stop_event.wait(), interval_s)
            return self.stop_event.is_set()
        buf, need = self.load.buffer, self.plan.request_count
        deadline = time.monotonic() + COUNT_WINDOW_CAP_S
        if self.plan.single_window:
            sends = self.plan.warmup_requests + need
            while buf.count - lo < need and time.monotonic() < deadline:
                if self.stop_event.is_set():
                    return True
                if self.load.sent >= sends and not self.load.in_flight:
                    break  # every request the run sends has completed: none is coming
                await asyncio.sleep(COUNT_POLL_S)
            return self.stop_event.is_set()
        while time.monotonic() < deadline:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.stop_event.wait(), COUNT_WINDOW_POLL_S)
            if self.stop_event.is_set():
                return True
            now = time.perf_counter_ns()
            await self._sync(now)
            if buf.index_at(now, lo) - lo >= need:
                break
        return self.stop_event.is_set()


def scrapes_between(scraper: object | None, start_ns: int, end_ns: int) -> tuple[Scrape, ...]:
    """--collect-metrics: the scrapes of ``scraper`` (a prometheus.Scraper) completed in the
    window; none without a scraper."""
    between = getattr(scraper, "between", None)
    return tuple(between(start_ns, end_ns)) if callable(between) else ()


def merge(windows: list[Window], buffer: RecordBuffer,
          percentiles: tuple[int, ...] = ()) -> Summary:
    """Merge contiguous windows: counts summed, latency samples pooled (every percentile computed
    from the pooled records), server counters summed. When one window's server statistics could not
    be read the point has none (its cells stay empty: a partial sum would be an invented figure)."""
    first, last = windows[0].summary, windows[-1].summary
    server: ServerDelta | None = None
    client = ClientLoad()
    for w in windows:
        client = client + w.summary.client
    deltas = [w.summary.server for w in windows]
    if all(d is not None for d in deltas):
        for d in deltas:
            assert d is not None
            server = d if server is None else server + d
    asked = {p for p in percentiles if p > 0}
    asked |= {p for w in windows for p in w.summary.latency.percentiles}
    asked |= {p for w in windows for p in w.summary.corrected.percentiles}
    asked |= {p for w in windows for p in w.summary.first_response.percentiles}
    pcts = tuple(sorted(p for p in asked if p not in (50, 90, 95, 99)))
    return summarize(buffer.view(windows[0].lo, windows[-1].hi), start_ns=first.start_ns,
                     end_ns=last.end_ns, batch_size=first.batch_size, server=server,
                     client=client, percentiles=pcts,
                     sent=sum(w.summary.sent for w in windows),
                     late_sends=sum(w.summary.late_sends for w in windows),
                     windows=len(windows), cores=first.windows_cores,
                     goodput=first.goodput_limits)


__all__ = ["AllRequestsFailed", "Measurer", "PointResult", "Snapshot", "Window", "WindowPlan"]
