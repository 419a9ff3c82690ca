"""``--repeat N``: one run whose load points pool the reported windows of N runs.

The pooled run is what the CSV and the final table show: for each load level, in the order the
levels were first measured, the merged windows of every run (the windows that make each run's
reported figure, never the ones before its point stabilized) are put end to end in one new record
buffer and merged, as if one long stable measurement had been made. Each run's records are shifted
in time by a constant so its windows follow the previous run's; latencies are differences of times,
so no figure changes by the shift. Throughput is the completed requests of all these windows over
their summed duration, percentiles are over all their requests, server counters are summed, and
``--collect-metrics`` scrapes are merged over all of them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from ..measure.metrics import summarize
from ..measure.stabilizer import Verdict
from ..measure.window import PointResult, Window, merge
from ..records import RecordBuffer
from .run import RunResult

_TIMES = ("intended", "sent", "first", "last")


def merged_windows(point: PointResult) -> tuple[Window, ...]:
    """The windows merged into the point's reported figures (the last stability windows)."""
    ws = point.windows
    starts = [i for i, w in enumerate(ws) if w.summary.start_ns == point.merged.start_ns]
    ends = [i for i, w in enumerate(ws) if w.summary.end_ns == point.merged.end_ns]
    if starts and ends and ends[-1] >= starts[0]:
        return ws[starts[0]:ends[-1] + 1]
    return ws[-max(1, point.merged.windows):]


def combine_runs(runs: Sequence[RunResult]) -> RunResult:
    """The pooled run of ``runs`` (``replicates`` set to them); a single run is returned as is."""
    if len(runs) == 1 and not runs[0].replicates:
        return runs[0]
    first = runs[0]
    levels: list[float] = []
    for run in runs:
        levels += [p.level for p in run.points if p.level not in levels]
    buf = RecordBuffer(max(1, sum(_count(r) for r in runs)))
    pooled = RunResult(mode=first.mode, model=first.model, batch_size=first.batch_size,
                       percentile=first.percentile, server_stats=all(r.server_stats for r in runs),
                       server_stats_reason=first.server_stats_reason, buffer=buf,
                       wall_anchor_ns=first.wall_anchor_ns, clock_anchor_ns=first.clock_anchor_ns,
                       config=dict(first.config), provenance=dict(first.provenance),
                       interrupted=any(r.interrupted for r in runs),
                       failure=next((r.failure for r in runs if r.failure), ""),
                       replicates=list(runs))
    for level in levels:
        pairs = [(r, p) for r in runs for p in r.points if p.level == level]
        pooled.points.append(_pool(level, pairs, buf))
    return pooled


def _count(run: RunResult) -> int:
    return sum(w.hi - w.lo for p in run.points for w in merged_windows(p))


def _pool(level: float, pairs: list[tuple[RunResult, PointResult]],
          buf: RecordBuffer) -> PointResult:
    windows: list[Window] = []
    cursor: int | None = None
    for run, point in pairs:
        assert run.buffer is not None
        mine = merged_windows(point)
        shift = 0 if cursor is None else cursor - mine[0].summary.start_ns
        for w in mine:
            part = run.buffer.view(w.lo, w.hi)
            buf.extend(dataclasses.replace(
                part, **{c: getattr(part, c) + np.int64(shift) for c in _TIMES},
                times={i: tuple(x + shift for x in t) for i, t in part.times.items()}))
            s = w.summary
            pcts = tuple(p for p in s.latency.percentiles if p not in (50, 90, 95, 99))
            summary = summarize(buf.view(buf.count - (w.hi - w.lo), buf.count),
                                start_ns=s.start_ns + shift, end_ns=s.end_ns + shift,
                                batch_size=s.batch_size, server=s.server, client=s.client,
                                percentiles=pcts, sent=s.sent, late_sends=s.late_sends,
                                cores=s.windows_cores, goodput=s.goodput_limits)
            # the window's metrics scrapes come along, shifted with it (a pooled point merges
            # them over every merged window of every run, as perf_analyzer merges its windows')
            scrapes = tuple(dataclasses.replace(sc, t_ns=sc.t_ns + shift) for sc in w.metrics)
            windows.append(Window(len(windows), buf.count - (w.hi - w.lo), buf.count, summary,
                                  scrapes, orca=w.orca))
        cursor = windows[-1].summary.end_ns
    verdicts = [p.verdict for _, p in pairs]
    shaky = next((v for v in verdicts if not v.stable), None)
    verdict = Verdict(done=True, stable=shaky is None,
                      reason=shaky.reason if shaky else verdicts[0].reason,
                      throughput_spread=max(v.throughput_spread for v in verdicts),
                      latency_spread=max(v.latency_spread for v in verdicts),
                      over_threshold=any(v.over_threshold for v in verdicts))
    return PointResult(level=level, windows=tuple(windows), verdict=verdict,
                       merged=merge(windows, buf),
                       interrupted=any(p.interrupted for _, p in pairs))


__all__ = ["combine_runs", "merged_windows"]
