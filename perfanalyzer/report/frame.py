"""pandas loaders for notebooks: perf_analyzer / perfanalyzer CSVs and saved JSON runs.

``read_csv(path)`` keeps perf_analyzer's column names (:mod:`perfanalyzer.columns`) with numeric
dtypes; latencies stay in integer µs as in the file. ``read_run(path)`` rebuilds a
``--profile-export-file`` run and returns one row per request and one per measurement window
(latencies there in float µs, times in wall-clock ns).
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .. import columns as C
from ..errors import OptionError
from ..measure.metrics import Summary
from ..results import RunResult
from .csv import STATUS_COLUMN, csv_text
from .export import merged_range

LEVEL_COLUMNS = C.LEVEL_NAMES
REQUIRED_COLUMNS = (C.THROUGHPUT.name, C.CLIENT_SEND.name, C.CLIENT_RECV.name,
                    *(C.percentile_name(p) for p in (50, 90, 95, 99)))
#: perf_analyzer's --collect-metrics columns hold "gpu:value;" strings; they are left as text.
TEXT_COLUMN_MARK = "GPU"
SERVER_KEYS = {c.name: C.SERVER_KEYS[c.name]
               for c in (C.QUEUE, C.COMPUTE_INPUT, C.COMPUTE_INFER, C.COMPUTE_OUTPUT)}
#: The windows' latencies from the scheduled send (rate modes; the same as the others otherwise).
AVG_SCHEDULED = C.scheduled(C.AVG_LATENCY.name)
P99_SCHEDULED = C.scheduled(C.percentile_name(99))

PathLike = str | os.PathLike[str]


def read_csv(path: PathLike) -> pd.DataFrame:
    """A perf_analyzer-format CSV as a DataFrame (one row per load point, file order).

    Raises :class:`OptionError` naming the file and the column when the file is not such a CSV.
    ``df.attrs`` holds ``source`` (the path) and ``level`` (the first column's name).
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise OptionError(f"{path}: cannot read: {getattr(exc, 'strerror', None) or exc}") \
            from None
    return frame_from_csv_text(text, str(path))


def frame_from_csv_text(text: str, name: str) -> pd.DataFrame:
    """:func:`read_csv` on text already in memory; ``name`` is used in error messages."""
    try:
        raw = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise OptionError(f"{name}: not a CSV file ({str(exc).strip()})") from None
    cols = list(raw.columns)
    if not cols or cols[0] not in LEVEL_COLUMNS:
        first = cols[0] if cols else ""
        raise OptionError(f"{name}: not a perf_analyzer CSV: first column is {first!r}, "
                          f"expected {C.CONCURRENCY!r} or {C.REQUEST_RATE!r}")
    for col in REQUIRED_COLUMNS:
        if col not in cols:
            raise OptionError(f"{name}: not a perf_analyzer CSV: missing column {col!r}")
    df = pd.DataFrame(index=raw.index)
    for col in cols:
        df[col] = raw[col] if col == STATUS_COLUMN else _numeric(raw[col], name, col)
    if cols[0] == C.REQUEST_RATE:
        df[cols[0]] = df[cols[0]].astype(float)
    df.attrs.update(source=name, level=cols[0])
    return df


def _numeric(col: pd.Series, name: str, column: str) -> pd.Series:
    try:
        return pd.to_numeric(col, errors="raise")
    except (ValueError, TypeError):
        if TEXT_COLUMN_MARK in column:
            return col
        bad = next(i for i, v in enumerate(col) if pd.isna(pd.to_numeric(v, errors="coerce")))
        raise OptionError(f"{name}: column {column!r} row {bad + 1}: {col.iloc[bad]!r} is not a "
                          "number") from None


@dataclass(frozen=True)
class RunFrames:
    """A saved run as DataFrames: ``requests`` (one row per request), ``windows`` (one row per
    measurement window) and ``points`` (every measured point as CSV rows, with a trailing ``Status``
    column: the -f file holds only the stable ones)."""

    run: RunResult
    requests: pd.DataFrame
    windows: pd.DataFrame
    points: pd.DataFrame


def read_run(path: PathLike) -> RunFrames:
    """A ``--profile-export-file`` JSON run as DataFrames (raises OptionError naming file and field).

    ``requests`` columns: point, level, window (-1 outside every window), in_window, merged,
    intended_ns, sent_ns, first_ns, last_ns (wall-clock ns), t_s (send time in s since the run
    started), latency_us, corrected_latency_us, first_response_us, status, error, responses,
    sequence_id. ``windows`` columns: point, level, window, start_ns, end_ns, t_start_s, t_end_s,
    duration_s, throughput, response throughput, average and percentile latencies (µs; named as
    the CSV columns, :mod:`perfanalyzer.columns`), completed, errors, sent, late_sends,
    client_cpu_util, client_saturated, the server columns in µs per request (NaN without server
    statistics), merged (in the point's reported windows), stable.
    """
    from .saved import load_run

    return run_frames(load_run(path), str(path))


def run_frames(run: RunResult, name: str) -> RunFrames:
    """:func:`read_run` on a run already loaded (``name`` names it in errors)."""
    return RunFrames(run=run, requests=requests_frame(run), windows=windows_frame(run),
                     points=points_frame(run, name))


def points_frame(run: RunResult, name: str) -> pd.DataFrame:
    """Every measured point as CSV rows with its status (the -f file holds only the stable
    ones)."""
    return frame_from_csv_text(csv_text(run, verbose=True, all_points=True, streaming=True),
                               name)


def requests_frame(run: RunResult) -> pd.DataFrame:
    buf = run.buffer
    assert buf is not None
    n = buf.count
    offset = np.int64(run.wall_anchor_ns - run.clock_anchor_ns)
    point = np.full(n, -1, dtype=np.int64)
    window = np.full(n, -1, dtype=np.int64)
    merged = np.zeros(n, dtype=bool)
    level = np.full(n, np.nan)
    cursor = 0
    for k, p in enumerate(run.points):
        end = p.windows[-1].hi if p.windows else cursor
        point[cursor:end], level[cursor:end] = k, p.level
        first, count = merged_range(p)
        for i, w in enumerate(p.windows):
            window[w.lo:w.hi] = w.index
            merged[w.lo:w.hi] = first <= i < first + count
        cursor = max(cursor, end)
    if run.points:  # the drain after the last window belongs to the last point
        point[cursor:], level[cursor:] = len(run.points) - 1, run.points[-1].level
    v = buf.view()
    errors = np.asarray(v.errors, dtype=object)
    return pd.DataFrame({
        "point": point, "level": level, "window": window, "in_window": window >= 0,
        "merged": merged,
        "intended_ns": v.intended + offset, "sent_ns": v.sent + offset,
        "first_ns": v.first + offset, "last_ns": v.last + offset,
        "t_s": (v.sent - run.clock_anchor_ns) / 1e9,
        "latency_us": (v.last - v.sent) / 1e3,
        "corrected_latency_us": (v.last - v.intended) / 1e3,
        "first_response_us": (v.first - v.sent) / 1e3,
        "status": v.status.astype(np.int64), "error": errors[v.status],
        "responses": v.responses.astype(np.int64), "sequence_id": v.sequence.astype(np.int64),
    })


def windows_frame(run: RunResult) -> pd.DataFrame:
    offset = run.wall_anchor_ns - run.clock_anchor_ns
    rows = []
    for k, p in enumerate(run.points):
        first, count = merged_range(p)
        for i, w in enumerate(p.windows):
            s = w.summary
            row: dict[str, object] = {
                "point": k, "level": p.level, "window": w.index,
                "start_ns": s.start_ns + offset, "end_ns": s.end_ns + offset,
                "t_start_s": (s.start_ns - run.clock_anchor_ns) / 1e9,
                "t_end_s": (s.end_ns - run.clock_anchor_ns) / 1e9, "duration_s": s.duration_s}
            row.update(_window_figures(s, run.percentile))
            row.update(merged=first <= i < first + count, stable=p.stable)
            rows.append(row)
    return pd.DataFrame(rows, columns=_window_columns(run.percentile))


def _window_figures(s: Summary, percentile: int) -> dict[str, object]:
    lat = s.latency
    out: dict[str, object] = {C.THROUGHPUT.name: s.throughput,
                              C.RESPONSE_THROUGHPUT.name: s.response_throughput,
                              C.AVG_LATENCY.name: lat.avg_ns / 1e3 if lat.count else np.nan}
    for p in _percentiles(percentile):
        out[C.percentile_name(p)] = lat.p(p) / 1e3 if lat.count else np.nan
    cor = s.corrected  # from the scheduled send (rate modes; equals the above in closed loops)
    out[AVG_SCHEDULED] = cor.avg_ns / 1e3 if cor.count else np.nan
    out[P99_SCHEDULED] = cor.p(99) / 1e3 if cor.count else np.nan
    out.update(completed=s.completed, errors=s.errors, sent=s.sent, late_sends=s.late_sends,
               client_cpu_util=s.client_cpu_util, client_saturated=s.client_saturated)
    for col, key in SERVER_KEYS.items():
        out[col] = s.server.avg_us(key) if s.server is not None else np.nan
    return out


def _percentiles(percentile: int) -> list[int]:
    return sorted({50, 90, 95, 99} | ({percentile} if percentile > 0 else set()))


def _window_columns(percentile: int) -> list[str]:
    return ["point", "level", "window", "start_ns", "end_ns", "t_start_s", "t_end_s",
            "duration_s", C.THROUGHPUT.name, C.RESPONSE_THROUGHPUT.name, C.AVG_LATENCY.name,
            *[C.percentile_name(p) for p in _percentiles(percentile)], "completed", "errors", "sent",
            "late_sends", "client_cpu_util", "client_saturated", *SERVER_KEYS, "merged", "stable",
            AVG_SCHEDULED, P99_SCHEDULED]


__all__ = ["RunFrames", "frame_from_csv_text", "points_frame", "read_csv", "read_run",
           "requests_frame", "run_frames", "windows_frame"]
