"""``--profile-export-file``: a run as JSON in perf_analyzer's profile-export format, plus our own keys.

The perf_analyzer part (what its consumers read) is kept as perf_analyzer writes it: one experiment
per load point, holding the requests counted in that point's windows (all windows, not only the
merged ones, as perf_analyzer does) and the flat list of window edges. Times are wall-clock ns since
the epoch (``wall_anchor_ns + (perf_counter_ns - clock_anchor_ns)``).

Decisions (also stated in ``profile_export.schema.json``):

* ``request_inputs`` and ``response_outputs`` are written with ``--export-tensors`` (its closed loop
  decodes every answer; perf_analyzer's value format: a scalar for one element, else a flat list,
  BYTES as strings); otherwise they are ``{}`` and ``[]``: the hot path does not decode responses.
* ``response_timestamps`` lists every response's time (streaming keeps them all when there are
  more than two; otherwise first and last are every response); ``response_count`` says how many.
* Per request we add ``intended_timestamp`` (scheduled send time), ``response_count``, ``status``
  (0 ok, else an index into ``perfanalyzer.errors``) and ``error`` (the message, failures only).
* Requests that completed outside every window are not dropped: those before a point's first window
  (warm-up, level change) are in ``perfanalyzer.points[k].unwindowed_requests``; those after the last
  window of the run (the drain at stop, or all of them when no point was measured) are in
  ``perfanalyzer.trailing_requests``.
* ``--repeat N``: the first run is written as above; the other runs' experiments follow its own
  in ``experiments`` and their ``perfanalyzer`` parts are in ``perfanalyzer.repeats`` (run order).
* Everything needed to rebuild the run (:mod:`perfanalyzer.report.saved`) is under the top-level
  ``"perfanalyzer"`` key, with ``schema_version`` :data:`SCHEMA_VERSION`.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import json
import math
import os
import re
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..client.base import STAT_KEYS, ModelStatistics
from ..client.orca import OrcaWindow
from ..measure.metrics import LatencyStats, ServerDelta, Summary
from ..measure.prometheus import metrics_summary, scrapes_json
from ..measure.window import PointResult, Window
from ..records import RecordBuffer
from ..results import LoadMode, RunResult
from ..version import __version__
from .outfile import check_output, write_output
from .tensors_json import tensors_json

SCHEMA_VERSION = 1
#: Requests encoded per piece of :func:`export_chunks`.
CHUNK_RECORDS = 50_000
SCHEMA_FILE = Path(__file__).with_name("profile_export.schema.json")
FLAG = "--profile-export-file"


class _Clock:
    """perf_counter_ns → wall-clock ns since the epoch (and the run's data entries' inputs, for
    ``request_inputs`` under --export-tensors)."""

    def __init__(self, run: RunResult) -> None:
        self.offset = int(run.wall_anchor_ns) - int(run.clock_anchor_ns)
        self.inputs = [tensors_json(d) for d in run.request_inputs]

    def wall(self, t_ns: int) -> int:
        return int(t_ns) + self.offset

    def walls(self, column: np.ndarray) -> list[int]:
        return (column.astype(np.int64) + np.int64(self.offset)).tolist()


def check_export_path(path: str | os.PathLike[str] | None) -> None:
    """Refuse an existing path (as perf_analyzer does), a missing or read-only folder, a symlink,
    before any load (:func:`.outfile.check_output`)."""
    check_output(path, FLAG, must_be_absent=True)


def export_text(run: RunResult) -> str:
    """The export as text; equals ``json.dumps(export_dict(run))`` (requests by a faster path)."""
    return "".join(export_chunks(run))


def export_chunks(run: RunResult) -> Iterator[str]:
    """The export text in pieces: the requests are encoded :data:`CHUNK_RECORDS` at a time, so
    writing a long run never holds its whole text (or all its records) in memory."""
    raw = _RawRequests()
    # dumps, not dump: only the one-shot encoder is the C one (~10x faster on big runs)
    skeleton = json.dumps(runs_dict(run, encode=raw), separators=(",", ":"), allow_nan=False,
                          default=_json_default)
    pos = 0
    for m in raw.pattern().finditer(skeleton):
        yield skeleton[pos:m.start()]
        yield from raw.stream(int(m.group(1)))
        pos = m.end()
    yield skeleton[pos:]


def write_export(run: RunResult, path: str | os.PathLike[str]) -> None:
    """Write ``run`` as JSON, atomically and never over an existing path (:mod:`.outfile`);
    raises OutputError. A ``--repeat N`` run holds every run (:func:`runs_dict`)."""
    write_output(path, export_chunks(run), FLAG, must_be_absent=True)


Ranges = Sequence[tuple[int, int]]


def export_dict(run: RunResult, *, encode: Callable[[RecordBuffer, Ranges, _Clock], Any] | None
                = None) -> dict[str, Any]:
    """The whole export as plain JSON-able data (see the module docstring for the layout).

    ``encode`` turns record ranges into the value of a request list (default: a list of dicts).
    """
    enc = encode or _requests
    clock = _Clock(run)
    buf = run.buffer if run.buffer is not None else RecordBuffer(1)
    experiments: list[dict[str, Any]] = []
    points: list[dict[str, Any]] = []
    cursor = 0
    for point in run.points:
        lo = point.windows[0].lo if point.windows else cursor
        hi = point.windows[-1].hi if point.windows else cursor
        experiments.append({
            "experiment": _experiment(run.mode, point.level),
            "requests": enc(buf, [(w.lo, w.hi) for w in point.windows], clock),
            "window_boundaries": _boundaries(point, clock),
        })
        points.append(_point(run, point, clock, enc(buf, [(cursor, lo)], clock)))
        cursor = max(cursor, hi)
    doc: dict[str, Any] = {
        "experiments": experiments,
        "version": __version__,
        "service_kind": "triton",
        "endpoint": "",
        "perfanalyzer": {
            "schema_version": SCHEMA_VERSION,
            "mode": run.mode.value,
            "batch_size": run.batch_size,
            "percentile": run.percentile,
            "server_stats": run.server_stats,
            "server_stats_reason": run.server_stats_reason,
            "interrupted": run.interrupted,
            "failure": run.failure,
            "started_at": _iso(run.wall_anchor_ns),
            "clock": {"wall_anchor_ns": int(run.wall_anchor_ns),
                      "clock_anchor_ns": int(run.clock_anchor_ns)},
            "model": _plain(dataclasses.asdict(run.model)),
            "config": _plain(run.config),
            "provenance": _plain(run.provenance),
            "errors": list(buf.errors),
            "points": points,
            "trailing_requests": enc(buf, [(cursor, buf.count)], clock),
        },
    }
    if run.periodic is not None:  # --periodic-concurrency-range: range, period, step figures
        doc["perfanalyzer"]["periodic"] = _plain(run.periodic)
    return doc


def runs_dict(run: RunResult, *, encode: Callable[[RecordBuffer, Ranges, _Clock], Any] | None
              = None) -> dict[str, Any]:
    """:func:`export_dict` of a run, or of a ``--repeat N`` run: the first run's export, the
    experiments of the other runs appended (in run order), and their ``perfanalyzer`` parts in
    ``perfanalyzer.repeats`` (the pooled points are not saved: they are rebuilt on reading)."""
    if not run.replicates:
        return export_dict(run, encode=encode)
    first, *rest = run.replicates
    doc = export_dict(first, encode=encode)
    repeats = []
    for other in rest:
        part = export_dict(other, encode=encode)
        doc["experiments"] += part["experiments"]
        repeats.append(part["perfanalyzer"])
    doc["perfanalyzer"]["repeats"] = repeats
    return doc


def _experiment(mode: LoadMode, level: float) -> dict[str, Any]:
    if mode is LoadMode.CONCURRENCY:
        return {"mode": LoadMode.CONCURRENCY.value, "value": int(level)}
    # perf_analyzer records schedule-driven modes without a rate as request_rate 0.0.
    return {"mode": LoadMode.REQUEST_RATE.value,
            "value": float(level) if mode is LoadMode.REQUEST_RATE else 0.0}


def _boundaries(point: PointResult, clock: _Clock) -> list[int]:
    edges: list[int] = []
    for w in point.windows:
        for t in (clock.wall(w.summary.start_ns), clock.wall(w.summary.end_ns)):
            if not edges or edges[-1] != t:
                edges.append(t)
    return edges


class _Columns:
    """Records ``[lo, hi)`` as Python lists, times already on the wall clock."""

    def __init__(self, buf: RecordBuffer, lo: int, hi: int, clock: _Clock) -> None:
        v = buf.view(lo, max(lo, hi))
        self.n = len(v)
        self.lo, self.buf, self.clock = lo, buf, clock
        self.sent, self.first, self.last, self.intended = (
            clock.walls(c) for c in (v.sent, v.first, v.last, v.intended))
        self.status, self.responses = v.status.tolist(), v.responses.tolist()
        self.sequence = v.sequence.tolist()
        self.send, self.recv = v.send_ns.tolist(), v.recv_ns.tolist()
        self.errors = v.errors

    def request(self, i: int) -> dict[str, Any]:
        """One perf_analyzer request object plus our fields (key order is part of the format)."""
        r: dict[str, Any] = {"timestamp": self.sent[i]}
        if self.sequence[i]:
            r["sequence_id"] = self.sequence[i]
        kept = self.buf.tensors.get(self.lo + i)
        inputs = self.clock.inputs
        r["request_inputs"] = inputs[kept[0]] if kept and kept[0] < len(inputs) else {}
        first, last = self.first[i], self.last[i]
        every = self.buf.response_times.get(self.lo + i)
        r["response_timestamps"] = (self.clock.walls(np.asarray(every, dtype=np.int64)) if every
                                    else [first] if first == last and self.responses[i] <= 1
                                    else [first, last])
        r["response_outputs"] = [tensors_json(kept[1])] if kept else []
        r["intended_timestamp"] = self.intended[i]
        r["response_count"] = self.responses[i]
        r["status"] = self.status[i]
        if self.status[i]:
            r["error"] = self.errors[self.status[i]]
        if self.send[i] or self.recv[i]:
            r["client_send_ns"], r["client_recv_ns"] = self.send[i], self.recv[i]
        return r

    def texts(self) -> list[str]:
        """The same objects as JSON text; the common case by one %-format, no dict."""
        fmt = ('{"timestamp":%d,"request_inputs":{},"response_timestamps":[%d],'
               '"response_outputs":[],"intended_timestamp":%d,"response_count":%d,"status":0,'
               '"client_send_ns":%d,"client_recv_ns":%d}')
        out = []
        special = self.buf.tensors.keys() | self.buf.response_times.keys()
        for i in range(self.n):
            if (self.status[i] or self.sequence[i] or self.responses[i] > 1
                    or self.first[i] != self.last[i] or not (self.send[i] and self.recv[i])
                    or (self.lo + i) in special):
                out.append(json.dumps(self.request(i), separators=(",", ":")))
            else:
                out.append(fmt % (self.sent[i], self.first[i], self.intended[i],
                                  self.responses[i], self.send[i], self.recv[i]))
        return out


def _requests(buf: RecordBuffer, ranges: Ranges, clock: _Clock) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for lo, hi in ranges:
        cols = _Columns(buf, lo, hi, clock)
        out += [cols.request(i) for i in range(cols.n)]
    return out


class _RawRequests:
    """An ``encode`` for :func:`export_dict` that leaves a placeholder string per request list;
    :meth:`stream` then yields that list's JSON text in chunks."""

    def __init__(self) -> None:
        self.token = f"@@perfanalyzer-requests-{uuid.uuid4().hex}-"
        self.lists: list[tuple[RecordBuffer, Ranges, _Clock]] = []

    def __call__(self, buf: RecordBuffer, ranges: Ranges, clock: _Clock) -> str:
        self.lists.append((buf, list(ranges), clock))
        return f"{self.token}{len(self.lists) - 1}"

    def pattern(self) -> re.Pattern[str]:
        return re.compile('"' + re.escape(self.token) + r'(\d+)"')

    def stream(self, k: int) -> Iterator[str]:
        buf, ranges, clock = self.lists[k]
        sep = "["
        for lo, hi in ranges:
            for start in range(lo, hi, CHUNK_RECORDS):
                texts = _Columns(buf, start, min(hi, start + CHUNK_RECORDS), clock).texts()
                if texts:
                    yield sep + ",".join(texts)
                    sep = ","
        yield "[]" if sep == "[" else "]"


def _point(run: RunResult, point: PointResult, clock: _Clock,
           before: list[dict[str, Any]]) -> dict[str, Any]:
    first, count = merged_range(point)
    out: dict[str, Any] = {
        "level": float(point.level),
        "interrupted": point.interrupted,
        "stable": point.stable,
        "status": run.status(point).value,
        "verdict": {k: _finite(v) for k, v in dataclasses.asdict(point.verdict).items()},
        "merged_windows": {"first": first, "count": count},
        "summary": summary_dict(point.merged),
        "windows": [{
            "index": w.index, "lo": w.lo, "hi": w.hi,
            "start_ns": clock.wall(w.summary.start_ns), "end_ns": clock.wall(w.summary.end_ns),
            "sent": w.summary.sent, "late_sends": w.summary.late_sends,
            "cores": w.summary.windows_cores,
            "client": dataclasses.asdict(w.summary.client),
            "server": server_dict(w.summary.server),
            "summary": summary_dict(w.summary),
            **_window_metrics(run, w, clock),
            **({"orca": orca_dict(w.orca)} if w.orca is not None else {}),
        } for w in point.windows],
        "unwindowed_requests": before,
    }
    if run.settings.collect_metrics:  # --collect-metrics: merged figures, also when empty
        out["metrics"] = metrics_summary(point.metrics)
    if point.orca is not None:
        out["orca"] = orca_dict(point.orca)
    return out


def orca_dict(orca: OrcaWindow) -> dict[str, Any]:
    """--orca-format: a window's (or point's) load reports, averages first."""
    return {"answers": orca.answers, "averages": orca.averages, **orca.to_json()}


def _window_metrics(run: RunResult, w: Window, clock: _Clock) -> dict[str, Any]:
    """--collect-metrics: the window's merged figures and its raw scrapes (rebuilt from them)."""
    if not run.settings.collect_metrics:
        return {}
    return {"metrics": metrics_summary(w.metrics),
            "metrics_scrapes": scrapes_json(w.metrics, clock.offset)}


def merged_range(point: PointResult) -> tuple[int, int]:
    """(first window index, count) of the windows merged into the point's reported figures."""
    ws = point.windows
    starts = [i for i, w in enumerate(ws) if w.summary.start_ns == point.merged.start_ns]
    ends = [i for i, w in enumerate(ws) if w.summary.end_ns == point.merged.end_ns]
    if starts and ends and ends[-1] >= starts[0]:
        return starts[0], ends[-1] - starts[0] + 1
    return 0, len(ws)


def summary_dict(s: Summary) -> dict[str, Any]:
    """Derived figures of a window or point, for readers (rebuilding recomputes them)."""
    return {
        "completed": s.completed, "errors": s.errors, "error_counts": dict(s.error_counts),
        "responses": s.responses, "sent": s.sent, "late_sends": s.late_sends,
        "duration_s": s.duration_s, "throughput": s.throughput,
        "response_throughput": s.response_throughput, "send_rate": s.send_rate,
        "client_cpu_util": s.client_cpu_util, "client_saturated": s.client_saturated,
        "latency_ns": _latency(s.latency), "corrected_latency_ns": _latency(s.corrected),
        "first_response_ns": _latency(s.first_response),
        "inter_response_ns": _latency(s.inter_response),
        "goodput": s.goodput, "good_requests": s.good if s.goodput_limits else None,
        "goodput_share": s.goodput_share,
    }


def _latency(lat: LatencyStats) -> dict[str, Any]:
    std = None if math.isnan(lat.std_ns) else lat.std_ns  # one request: none (JSON has no NaN)
    return {"count": lat.count, "avg": lat.avg_ns, "std": std, "min": lat.min_ns,
            "max": lat.max_ns, **{f"p{p}": v for p, v in sorted(lat.percentiles.items())}}


def server_dict(delta: ServerDelta | None) -> dict[str, Any] | None:
    """A window's server counter deltas in Triton's statistics JSON shape."""
    if delta is None:
        return None
    return {"model": stats_dict(delta.model), "composing": [stats_dict(c) for c in delta.composing]}


def stats_dict(m: ModelStatistics) -> dict[str, Any]:
    keys = list(dict.fromkeys([*STAT_KEYS, *m.durations]))
    return {"name": m.name, "version": m.version, "inference_count": m.inference_count,
            "execution_count": m.execution_count,
            "inference_stats": {k: {"count": m.get(k).count, "ns": m.get(k).ns} for k in keys}}


def _finite(v: Any) -> Any:
    """JSON has no infinity: non-finite floats are written as null."""
    return None if isinstance(v, float) and not math.isfinite(v) else v


def _plain(obj: Any) -> Any:
    """Tuples → lists, enums → values, non-finite floats → null, recursively."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, float):
        return _finite(obj)
    if isinstance(obj, enum.Enum):
        return _plain(obj.value)
    return obj


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return _finite(float(obj))
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    return str(obj)


def _iso(wall_ns: int) -> str:
    ts = datetime.datetime.fromtimestamp(wall_ns / 1e9, tz=datetime.timezone.utc)
    return ts.isoformat(timespec="microseconds").replace("+00:00", "Z")


__all__ = ["SCHEMA_FILE", "SCHEMA_VERSION", "check_export_path", "export_chunks", "export_dict",
           "export_text", "merged_range", "runs_dict",
           "server_dict", "stats_dict", "summary_dict", "write_export"]
