"""perf_analyzer-compatible CSV (``-f``): exact header names, order and conditional columns.

Model Analyzer reads these files with ``csv.DictReader`` keyed by the header strings, so the header is
built exactly as perf_analyzer's ``report_writer.cc`` builds it; rows are sorted by throughput.
Every column is declared once in :mod:`perfanalyzer.columns`; header and rows both read that list.

Like perf_analyzer, the file holds only the points that are stable and under ``-l`` (see
:mod:`perfanalyzer.measure.status`); ``all_points`` (``--csv-all-points``) writes every measured point
with its status in one extra trailing column, :data:`STATUS_COLUMN`. A figure that was not measured
(server statistics that could not be read) is an empty cell, never 0.
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass

from .. import columns as C
from ..measure.metrics import LatencyStats, Summary
from ..measure.prometheus import GPU_COLUMNS, Values, gpu_cell, merge_scrapes
from ..results import RunResult
from .figures import RowFigures, fmt_rate, row_figures, us
from .outfile import write_output

BASE_PERCENTILES = (50, 90, 95, 99)
#: The extra trailing column of --csv-all-points (stable, unstable, over_limit, no_requests...).
STATUS_COLUMN = C.STATUS
FLAG = "-f"


@dataclass(frozen=True, kw_only=True)
class CsvLayout:
    """Which of :mod:`perfanalyzer.columns` a CSV writes: its flags are the columns' ``when``."""

    level_name: str  # columns.CONCURRENCY | columns.REQUEST_RATE
    decoupled: bool = False
    server_stats: bool = True
    cache: bool = False
    percentile: int = -1
    verbose: bool = False
    gpu: bool = False  # --verbose-csv with --collect-metrics: perf_analyzer's four GPU columns
    #: --csv-streaming: the streaming figures (and goodput, with --goodput) after every column of
    #: perf_analyzer's.
    streaming: bool = False
    goodput: bool = False

    @classmethod
    def of(cls, run: RunResult, verbose: bool = False, gpu: bool = False,
           streaming: bool = False) -> CsvLayout:
        return cls(level_name=run.level_name, decoupled=run.model.decoupled,
                   server_stats=run.server_stats, cache=run.model.cache_enabled,
                   percentile=run.percentile, verbose=verbose, gpu=gpu and verbose,
                   streaming=streaming, goodput=streaming and bool(run.settings.goodput))

    @property
    def percentiles(self) -> list[int]:
        extra = {self.percentile} if self.percentile > 0 else set()
        return sorted(set(BASE_PERCENTILES) | extra)

    @property
    def average(self) -> bool:
        """perf_analyzer writes the average latency column only when it stabilizes on it."""
        return self.percentile <= 0

    def columns(self) -> list[C.Column]:
        return C.csv_columns(self)

    def header(self) -> list[str]:
        return [self.level_name, *(c.name for c in self.columns())]

    def row(self, level: float, f: RowFigures, metrics: Values | None = None,
            summary: Summary | None = None) -> list[str]:
        cells = [_level(level, self.level_name)]
        for col in self.columns():
            if summary is None and col.cell in _SUMMARY_CELLS:
                continue
            cells.append(_cell_of(col, f, metrics or {}, summary))
        return cells


_SUMMARY_CELLS = frozenset({"stream", "goodput", "goodput_share"})


def _cell_of(col: C.Column, f: RowFigures, metrics: Values, summary: Summary | None) -> str:
    """One cell: ``col``'s figure of the point, formatted as perf_analyzer writes it."""
    kind = col.cell
    if kind == "rate":
        return fmt_rate(getattr(f, col.figure))
    if kind == "us":
        return _cell(getattr(f, col.figure))
    if kind == "percentile":
        return _cell(f.percentiles_us.get(col.pct or 0))
    if kind == "avg_latency":
        return _cell(f.avg_latency_us if f.percentiles_us else None)
    if kind == "gpu":
        return gpu_cell(metrics, GPU_COLUMNS[int(col.figure)][1])
    assert summary is not None
    if kind == "stream":
        stats: LatencyStats = getattr(summary, col.figure)
        return _us_cell(stats, stats.avg_ns if col.pct is None else stats.p(col.pct))
    if kind == "goodput":
        return fmt_rate(summary.goodput or 0.0)
    share = summary.goodput_share
    return "" if share is None else f"{100.0 * share:.2f}"


def _us_cell(stats: LatencyStats, ns: float) -> str:
    """µs, or empty when nothing was measured (no request had a second response)."""
    return str(us(ns)) if stats.count else ""


def _cell(v: int | None) -> str:
    """A measured figure, or an empty cell when it was not measured (never an invented 0)."""
    return "" if v is None else str(v)


def _level(level: float, name: str) -> str:
    if name == C.CONCURRENCY or float(level).is_integer():
        return str(int(level))
    return fmt_rate(level)


def csv_text(run: RunResult, verbose: bool = False, gpu: bool = False,
             all_points: bool = False, streaming: bool = False) -> str:
    """The CSV: stable points under -l only, or every point with a status column."""
    layout = CsvLayout.of(run, verbose, gpu, streaming)
    rows = []
    for p in run.points:
        judged = run.judged(p)
        if not judged.stable and not all_points:
            continue
        figures = row_figures(p.merged, latency=judged.latency)
        rows.append((p.level, figures, judged.status, p))
    rows.sort(key=lambda r: r[1].throughput)
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(layout.header() + ([STATUS_COLUMN] if all_points else []))
    for level, figures, status, point in rows:
        metrics = merge_scrapes(point.metrics) if layout.gpu else None
        w.writerow(layout.row(level, figures, metrics, point.merged)
                   + ([status] if all_points else []))
    return out.getvalue()


def write_csv(run: RunResult, path: str | os.PathLike[str], verbose: bool = False,
              gpu: bool = False, all_points: bool = False, streaming: bool = False) -> None:
    """Write atomically, so an interrupted run never leaves half a file (see :mod:`.outfile`:
    never through a symlink, devices written in place); raises OutputError."""
    write_output(path, csv_text(run, verbose, gpu, all_points, streaming), FLAG)
