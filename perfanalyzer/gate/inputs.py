"""The two sides of a comparison, read from a CSV (ours or perf_analyzer's) or a run (JSON export or
in memory), as one shape: load points keyed by level, each with its figures per CSV column and, for
runs, the figure of every replicate run (``--repeat N``; one for a single run).

The figure of one run at a point is its reported figure: the merged stability windows (the last
``--stability-windows`` windows of a stable point), never the windows before it stabilized. The
figure of a side is the mean of its runs' figures (a single run: its reported figure).

Figures use the CSV's columns and units (perf_analyzer's exact header names; times in µs, rates in
infer/s). From a run they are computed as floats from the same summaries the CSV is written from, so
a run and its CSV agree to the CSV's integer rounding.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from .. import columns as C
from ..errors import CompareError
from ..measure.metrics import Summary
from ..measure.status import judged_stats
from ..measure.window import PointResult
from ..report.csv import CsvLayout
from ..results import LatencySource, RunResult, RunSettings
from ..results.combine import merged_windows

LEVEL_NAMES = C.LEVEL_NAMES
#: Figures a run computes as a difference, which may dip below zero by the clocks' resolution.
SIGNED_COLUMNS = frozenset({C.RESPONSE_WAIT.name})
SERVER_COLUMNS = C.SERVER_KEYS


@dataclass(frozen=True)
class PointData:
    """One load point: figures by column (the mean over runs); for runs, each run's figures, the
    number of windows each run's figure pools, and the runs in which it did not stabilize."""

    level: float
    values: Mapping[str, float]
    runs: tuple[Mapping[str, float], ...] | None = None
    windows: tuple[int, ...] = ()
    unstable_runs: tuple[int, ...] = ()

    @property
    def stable(self) -> bool | None:
        return None if self.runs is None else not self.unstable_runs


@dataclass(frozen=True)
class Side:
    """A readable run: where it came from, its load mode, metric columns and load points."""

    label: str
    kind: Literal["csv", "run"]
    level_name: str
    columns: tuple[str, ...]
    points: Mapping[float, PointData]
    provenance: Mapping[str, Any] | None = None
    #: the run's configuration as recorded (its provenance diff compares every key)
    config: Mapping[str, Any] | None = None
    #: the run's typed settings (None for a CSV)
    settings: RunSettings | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)
    runs: int = 0  # replicate runs (0 for a CSV)


def level_key(level: float) -> float:
    """Load points match when equal to 6 significant digits (the CSV's precision)."""
    return float(f"{float(level):.6g}")


def load_side(path: str | os.PathLike[str]) -> Side:
    """Read a CSV or a JSON run export. Raises CompareError naming the file if it cannot."""
    label = str(path)
    try:
        with open(path, "rb") as fh:
            head = fh.read(4096)
    except OSError as exc:
        raise CompareError(f"cannot read {label}: {exc.strerror or exc}") from None
    if head.lstrip()[:1] == b"{":
        return check_run_figures(side_from_run(_load_run(path), label))
    return _load_csv(path, label)


def _load_run(path: str | os.PathLike[str]) -> RunResult:
    try:
        from ..report.saved import load_run
    except ImportError:
        raise CompareError(f"{path}: reading JSON runs needs perfanalyzer.report.saved, "
                           f"which this installation lacks") from None
    try:
        return load_run(path)
    except Exception as exc:  # any failure to read the file means "cannot compare" (exit 2)
        raise CompareError(f"{path}: not a readable perfanalyzer run "
                           f"({type(exc).__name__}: {exc})") from None


def _load_csv(path: str | os.PathLike[str], label: str) -> Side:
    import pandas as pd

    try:  # cells as text: "nan" or "inf" must not read as a missing value
        frame = pd.read_csv(path, skipinitialspace=True, dtype=str, keep_default_na=False)
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CompareError(f"{label}: not a readable CSV ({first})") from None
    if frame.empty or len(frame.columns) < 2:
        raise CompareError(f"{label}: no load points (expected a perf_analyzer CSV)")
    level_name = str(frame.columns[0]).strip()
    if level_name not in LEVEL_NAMES:
        raise CompareError(f"{label}: first column is {level_name!r}, expected "
                           f"{C.CONCURRENCY!r} or {C.REQUEST_RATE!r} (a perf_analyzer CSV)")
    levels = [_number(c) for c in frame.iloc[:, 0]]
    for i, (cell, level) in enumerate(zip(frame.iloc[:, 0], levels, strict=True)):
        if level is None:
            raise CompareError(f"{label}: line {i + 2}, column {level_name!r}: {cell[:40]!r} is "
                               f"not a number")
        _check_figure(level, label, f"line {i + 2}", level_name, positive=True)
    numeric: dict[str, list[float]] = {}
    for col in frame.columns[1:]:
        values = [_number(c) for c in frame[col]]
        for i, v in enumerate(values):
            if v is not None:
                _check_figure(v, label, f"line {i + 2}", str(col).strip())
        if all(v is not None for v in values):  # GPU columns ("gpu0:12.5;") are not metrics here
            numeric[str(col).strip()] = [float(v) for v in values if v is not None]
    points: dict[float, PointData] = {}
    notes: list[str] = []
    for i, level in enumerate(levels):
        key = level_key(float(level or 0))
        if key in points:
            notes.append(f"{label}: load point {key:g} appears more than once; the last row is used")
        points[key] = PointData(level=key, values={c: v[i] for c, v in numeric.items()})
    return Side(label=label, kind="csv", level_name=level_name, columns=tuple(numeric),
                points=points, notes=tuple(notes))


def _number(cell: str) -> float | None:
    """A CSV cell as a number (``nan`` and ``inf`` included, for :func:`_check_figure`), or None
    when it is empty or not a number."""
    text = str(cell).strip()
    if not text or "_" in text:
        return None
    try:
        return float(text)
    except ValueError:
        return None


def _check_figure(value: float, label: str, where: str, column: str,
                  positive: bool = False) -> None:
    """A measured figure is finite and not negative (a load level is above zero): anything else
    would silently drop or decide a check, so it is an input error naming the place."""
    problem = ("not finite" if not math.isfinite(value) else "negative" if value < 0
               else "not above zero" if positive and value <= 0 else "")
    if problem:
        raise CompareError(f"{label}: {where}, column {column!r}: {value!r} is not a possible "
                           f"figure ({problem})")


def check_run_figures(side: Side) -> Side:
    """``side`` (read from a JSON run) when every figure of every run is possible, else
    CompareError naming the file, load point and column."""
    for key, point in side.points.items():
        _check_figure(key, side.label, f"load point {key!r}", side.level_name, positive=True)
        for k, figures in enumerate(point.runs or (point.values,), 1):
            run = f" (run {k})" if side.runs > 1 else ""
            for column, value in figures.items():
                if column not in SIGNED_COLUMNS:
                    _check_figure(value, side.label, f"{side.level_name} {key:g}{run}", column)
    return side


def side_from_run(run: RunResult, label: str) -> Side:
    """A run's points (a ``--repeat`` run: its replicates'), each with every run's figures."""
    if run.periodic is not None:
        raise CompareError(f"{label}: a --periodic-concurrency-range run (one window over a "
                           "growing concurrency, no stability check) has no load point to "
                           "compare; compare --concurrency-range runs")
    runs = run.replicates or [run]
    streamed = bool(run.model.decoupled or run.settings.streaming or run.settings.goodput)
    columns = _with_avg(tuple(CsvLayout.of(run, verbose=True, streaming=streamed).header()[1:]))
    per_level: dict[float, list[tuple[int, PointResult]]] = {}
    notes: list[str] = []
    for k, r in enumerate(runs, 1):
        seen: dict[float, PointResult] = {}
        for point in r.points:
            key = level_key(point.level)
            if key in seen:
                notes.append(f"{label}: load point {key:g} was measured more than once in a "
                             f"run; the last one is used")
            seen[key] = point
        for key, point in seen.items():
            per_level.setdefault(key, []).append((k, point))
    latency_from = run.settings.latency_source
    points = {key: _run_point(key, pairs, columns, latency_from)
              for key, pairs in per_level.items()}
    return Side(label=label, kind="run", level_name=run.level_name, columns=columns,
                points=points, provenance=dict(run.provenance), config=dict(run.config),
                settings=run.settings,
                notes=tuple(notes), runs=len(runs))


def _run_point(key: float, pairs: list[tuple[int, PointResult]],
               columns: tuple[str, ...],
               latency_from: LatencySource = LatencySource.SENT) -> PointData:
    figs = tuple(summary_figures(p.merged, columns, latency_from) for _, p in pairs)
    values = {c: float(np.mean([f[c] for f in figs])) for c in columns
              if all(c in f for f in figs)}
    return PointData(level=key, values=values, runs=figs,
                     windows=tuple(len(merged_windows(p)) for _, p in pairs),
                     unstable_runs=tuple(k for k, p in pairs if not p.stable))


def _with_avg(columns: tuple[str, ...]) -> tuple[str, ...]:
    """The verbose header drops the average latency under --percentile; a run always knows it."""
    if C.AVG_LATENCY.name in columns:
        return columns
    return (*columns, C.AVG_LATENCY.name)


def summary_figures(s: Summary, columns: tuple[str, ...],
                    latency_from: LatencySource = LatencySource.SENT) -> dict[str, float]:
    """The CSV figures of a summary as floats (µs, infer/s), restricted to ``columns``; latencies
    from the scheduled send with ``LatencySource.SCHEDULED`` (--latency-from, rate modes)."""
    lat = judged_stats(s, latency_from)
    avg_us = lat.avg_ns / 1000.0
    # the response wait and network+server start at the actual send whatever --latency-from says
    # (the client's request time, perf_analyzer's meaning): a late send's delay is not in them
    request_us = s.latency.avg_ns / 1000.0
    request_response_us = (s.client_send_ns + s.client_recv_ns) / 1000.0
    fig: dict[str, float] = {
        C.THROUGHPUT.name: s.throughput,
        C.RESPONSE_THROUGHPUT.name: s.response_throughput,
        C.CLIENT_SEND.name: s.client_send_ns / 1000.0,
        C.CLIENT_RECV.name: s.client_recv_ns / 1000.0,
        C.AVG_LATENCY.name: avg_us,
        C.REQUEST_RESPONSE.name: request_response_us,
        C.RESPONSE_WAIT.name: request_us - request_response_us,
    }
    for pct, ns in lat.percentiles.items():
        fig[C.percentile_name(pct)] = ns / 1000.0
    for avg, family in C.STREAM_FIGURES:
        stats = getattr(s, avg.figure)
        if stats.count:  # nothing measured: no figure (never an invented 0)
            fig[avg.name] = stats.avg_ns / 1000.0
            fig.update({family.at(pct).name: ns / 1000.0 for pct, ns in stats.percentiles.items()})
    if s.goodput is not None:
        fig[C.GOODPUT.name] = s.goodput
        if s.goodput_share is not None:
            fig[C.GOODPUT_SHARE.name] = 100.0 * s.goodput_share
    if s.server is not None:
        server = {col: s.server.avg_us(key) for col, key in SERVER_COLUMNS.items()}
        fig.update(server)
        fig[C.NETWORK.name] = max(0.0, request_us - request_response_us - sum(server.values()))
    return {c: float(fig[c]) for c in columns if c in fig}


__all__ = [
    "LEVEL_NAMES",
    "PointData",
    "Side",
    "check_run_figures",
    "level_key",
    "load_side",
    "side_from_run",
    "summary_figures",
]
