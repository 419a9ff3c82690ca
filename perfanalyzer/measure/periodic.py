"""Figures of a periodic-concurrency run, step by step (pure: records and steps in, dicts out).

Times are seconds from the first step's send (``start_s``) and ns (latencies).

Step k lasts from the send of its requests to the send of the next step's (the last one to the end
of the run). For each step: the requests sent so far (perf_analyzer's concurrency of the step),
the requests in flight when it began, the responses that arrived during it and their rate, the
average gap between consecutive responses of one request that arrived during it (inter-response
latency) and the average first-response latency of the requests the step sent. A failed request's responses
count too (they arrived).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..load.periodic import Step
from ..records import RecordBuffer


def response_times(buf: RecordBuffer, i: int, first: int, last: int, count: int) -> np.ndarray:
    """Every response time of record ``i`` (the columns keep first and last; streaming keeps all
    of them when there were more than two)."""
    kept = buf.response_times.get(i)
    if kept is not None:
        return np.asarray(kept, dtype=np.int64)
    return np.asarray((first, last)[:count] if count <= 2 else (first, last), dtype=np.int64)


def step_figures(buf: RecordBuffer, steps: Sequence[Step], end_ns: int) -> list[dict[str, Any]]:
    """One dict per step (module docstring); ``end_ns``: the end of the run (its clock)."""
    if not steps:
        return []
    v = buf.view(0, buf.count)
    ok = v.responses > 0  # failed requests too: the responses they got were measured
    times: list[np.ndarray] = []
    gaps_at: list[np.ndarray] = []
    gaps: list[np.ndarray] = []
    for i in range(len(v)):
        if not ok[i]:
            continue
        t = response_times(buf, i, int(v.first[i]), int(v.last[i]), int(v.responses[i]))
        times.append(t)
        if len(t) > 1:
            gaps_at.append(t[1:])
            gaps.append(np.diff(t))
    all_t = np.sort(np.concatenate(times)) if times else np.zeros(0, np.int64)
    g_at = np.concatenate(gaps_at) if gaps_at else np.zeros(0, np.int64)
    g = np.concatenate(gaps) if gaps else np.zeros(0, np.int64)
    edges = [s.t_ns for s in steps] + [max(end_ns, steps[-1].t_ns)]
    out: list[dict[str, Any]] = []
    for k, s in enumerate(steps):
        lo, hi = edges[k], edges[k + 1]
        last_step = k == len(steps) - 1
        span = (all_t >= lo) & ((all_t <= hi) if last_step else (all_t < hi))
        in_gap = (g_at >= lo) & ((g_at <= hi) if last_step else (g_at < hi))
        mine = (v.sent >= lo) & ((v.sent <= hi) if last_step else (v.sent < hi)) & ok
        done_before = int(np.count_nonzero(v.last < lo))
        seconds = (hi - lo) / 1e9
        n = int(np.count_nonzero(span))
        out.append({
            "step": k, "concurrency": s.total, "added": s.added,
            "in_flight_at_start": s.total - done_before,
            "start_s": (lo - edges[0]) / 1e9, "duration_s": seconds, "responses": n,
            "response_rate": n / seconds if seconds > 0 else None,
            "avg_inter_response_ns": float(g[in_gap].mean()) if in_gap.any() else None,
            "avg_first_response_ns": (float((v.first[mine] - v.sent[mine]).mean())
                                      if mine.any() else None),
        })
    return out


__all__ = ["response_times", "step_figures"]
