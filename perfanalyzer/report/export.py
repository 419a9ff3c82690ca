"""``--profile-export-file``: a run as JSON in perf_analyzer's profile-export format, plus our own keys.

The perf_analyzer part (what its consumers read) is kept as perf_analyzer writes it: one experiment
per load point, holding the requests counted in that point's windows (all windows, not only the
merged ones, as perf_analyzer does) and the flat list of window edges. Times are wall-clock ns since
the epoch (``wall_anchor_ns + (perf_counter_ns - clock_anchor_ns)``).

Decisions (also stated in ``profile_export.schema.json``):

* ``request_inputs`` is ``{}`` and ``response_outputs`` is ``[]``: payloads are pre-built, shared
  objects and responses are not decoded on the hot path, so there is nothing honest to write.
* ``response_timestamps`` is ``[first]`` for a single response and ``[first, last]`` when the request
  got more than one (records keep only the first and last response times); ``response_count`` says
  how many there were.
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
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..client.base import STAT_KEYS, ModelStatistics
from ..errors import OptionError, PerfAnalyzerError
from ..measure.metrics import LatencyStats, ServerDelta, Summary
from ..measure.result import RunResult
from ..measure.window import PointResult
from ..records import RecordBuffer
from ..version import __version__

SCHEMA_VERSION = 1
SCHEMA_FILE = Path(__file__).with_name("profile_export.schema.json")
FLAG = "--profile-export-file"


class _Clock:
    """perf_counter_ns → wall-clock ns since the epoch."""

    def __init__(self, run: RunResult) -> None:
        self.offset = int(run.wall_anchor_ns) - int(run.clock_anchor_ns)

    def wall(self, t_ns: int) -> int:
        return int(t_ns) + self.offset

    def walls(self, column: np.ndarray) -> list[int]:
        return (column.astype(np.int64) + np.int64(self.offset)).tolist()


def check_export_path(path: str | os.PathLike[str] | None) -> None:
    """Refuse an existing path (as perf_analyzer does) or a missing folder, before any load."""
    if not path:
        return
    p = Path(path)
    if p.exists():
        raise OptionError(f"{FLAG} {p}: path must not already exist")
    if not p.parent.is_dir():
        raise OptionError(f"{FLAG} {p}: folder {p.parent} does not exist")


def write_export(run: RunResult, path: str | os.PathLike[str]) -> None:
    """Write ``run`` as JSON, atomically (a half-written file never appears under ``path``).

    The text equals ``json.dumps(export_dict(run))``; requests are encoded by a faster path.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    raw = _RawRequests()
    try:
        # dumps, not dump: only the one-shot encoder is the C one (~10x faster on big runs)
        text = raw.splice(json.dumps(runs_dict(run, encode=raw), separators=(",", ":"),
                                     allow_nan=False, default=_json_default))
        with tmp.open("w", encoding="utf-8") as fh:
            fh.write(text)
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise PerfAnalyzerError(f"{FLAG} {path}: cannot write: {exc.strerror or exc}") from exc


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
    return {
        "experiments": experiments,
        "version": __version__,
        "service_kind": "triton",
        "endpoint": "",
        "perfanalyzer": {
            "schema_version": SCHEMA_VERSION,
            "mode": run.mode,
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


def _experiment(mode: str, level: float) -> dict[str, Any]:
    if mode == "concurrency":
        return {"mode": "concurrency", "value": int(level)}
    # perf_analyzer records schedule-driven modes without a rate as request_rate 0.0.
    return {"mode": "request_rate", "value": float(level) if mode == "request_rate" else 0.0}


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
        self.sent, self.first, self.last, self.intended = (
            clock.walls(c) for c in (v.sent, v.first, v.last, v.intended))
        self.status, self.responses = v.status.tolist(), v.responses.tolist()
        self.sequence = v.sequence.tolist()
        self.errors = v.errors

    def request(self, i: int) -> dict[str, Any]:
        """One perf_analyzer request object plus our fields (key order is part of the format)."""
        r: dict[str, Any] = {"timestamp": self.sent[i]}
        if self.sequence[i]:
            r["sequence_id"] = self.sequence[i]
        r["request_inputs"] = {}
        first, last = self.first[i], self.last[i]
        r["response_timestamps"] = ([first] if first == last and self.responses[i] <= 1
                                    else [first, last])
        r["response_outputs"] = []
        r["intended_timestamp"] = self.intended[i]
        r["response_count"] = self.responses[i]
        r["status"] = self.status[i]
        if self.status[i]:
            r["error"] = self.errors[self.status[i]]
        return r

    def texts(self) -> list[str]:
        """The same objects as JSON text; the common case by one %-format, no dict."""
        fmt = ('{"timestamp":%d,"request_inputs":{},"response_timestamps":[%d],'
               '"response_outputs":[],"intended_timestamp":%d,"response_count":%d,"status":0}')
        out = []
        for i in range(self.n):
            if (self.status[i] or self.sequence[i] or self.responses[i] > 1
                    or self.first[i] != self.last[i]):
                out.append(json.dumps(self.request(i), separators=(",", ":")))
            else:
                out.append(fmt % (self.sent[i], self.first[i], self.intended[i],
                                  self.responses[i]))
        return out


def _requests(buf: RecordBuffer, ranges: Ranges, clock: _Clock) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for lo, hi in ranges:
        cols = _Columns(buf, lo, hi, clock)
        out += [cols.request(i) for i in range(cols.n)]
    return out


class _RawRequests:
    """An ``encode`` for :func:`export_dict` that pre-encodes request lists as JSON text and
    leaves a placeholder string, replaced by :meth:`splice` after ``json.dumps``."""

    def __init__(self) -> None:
        self.token = f"@@perfanalyzer-requests-{uuid.uuid4().hex}-"
        self.texts: list[str] = []

    def __call__(self, buf: RecordBuffer, ranges: Ranges, clock: _Clock) -> str:
        parts = [t for lo, hi in ranges for t in _Columns(buf, lo, hi, clock).texts()]
        self.texts.append("[" + ",".join(parts) + "]")
        return f"{self.token}{len(self.texts) - 1}"

    def splice(self, text: str) -> str:
        pattern = re.compile('"' + re.escape(self.token) + r'(\d+)"')
        return pattern.sub(lambda m: self.texts[int(m.group(1))], text)


def _point(run: RunResult, point: PointResult, clock: _Clock,
           before: list[dict[str, Any]]) -> dict[str, Any]:
    first, count = merged_range(point)
    return {
        "level": float(point.level),
        "interrupted": point.interrupted,
        "stable": point.stable,
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
        } for w in point.windows],
        "unwindowed_requests": before,
    }


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
    }


def _latency(lat: LatencyStats) -> dict[str, Any]:
    return {"count": lat.count, "avg": lat.avg_ns, "std": lat.std_ns, "min": lat.min_ns,
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


__all__ = ["SCHEMA_FILE", "SCHEMA_VERSION", "check_export_path", "export_dict", "merged_range",
           "runs_dict",
           "server_dict", "stats_dict", "summary_dict", "write_export"]
