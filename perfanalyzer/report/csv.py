"""perf_analyzer-compatible CSV (``-f``): exact header names, order and conditional columns.

Model Analyzer reads these files with ``csv.DictReader`` keyed by the header strings, so the header is
built exactly as perf_analyzer's ``report_writer.cc`` builds it; rows are sorted by Inferences/Second.
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass

from ..measure.result import RunResult
from .figures import RowFigures, fmt_rate, row_figures
from .outfile import write_output

BASE_PERCENTILES = (50, 90, 95, 99)
FLAG = "-f"


@dataclass(frozen=True, kw_only=True)
class CsvLayout:
    level_name: str  # "Concurrency" | "Request Rate"
    decoupled: bool = False
    server_stats: bool = True
    cache: bool = False
    percentile: int = -1
    verbose: bool = False

    @classmethod
    def of(cls, run: RunResult, verbose: bool = False) -> CsvLayout:
        return cls(level_name=run.level_name, decoupled=run.model.decoupled,
                   server_stats=run.server_stats, cache=run.model.cache_enabled,
                   percentile=run.percentile, verbose=verbose)

    @property
    def percentiles(self) -> list[int]:
        extra = {self.percentile} if self.percentile > 0 else set()
        return sorted(set(BASE_PERCENTILES) | extra)

    def header(self) -> list[str]:
        cols = [self.level_name, "Inferences/Second"]
        if self.decoupled:
            cols.append("Response Throughput")
        cols.append("Client Send")
        if self.server_stats:
            cols += ["Network+Server Send/Recv", "Server Queue", "Server Compute Input",
                     "Server Compute Infer", "Server Compute Output"]
            if self.cache:
                cols += ["Server Cache Hit", "Server Cache Miss"]
        cols.append("Client Recv")
        cols += [f"p{p} latency" for p in self.percentiles]
        if self.verbose:
            if self.percentile <= 0:
                cols.append("Avg latency")
            cols += ["request/response", "response wait"]
        return cols

    def row(self, level: float, f: RowFigures) -> list[str]:
        cells = [_level(level, self.level_name), fmt_rate(f.throughput)]
        if self.decoupled:
            cells.append(fmt_rate(f.response_throughput))
        cells.append(str(f.client_send_us))
        if self.server_stats:
            cells += [str(v or 0) for v in (f.network_us, f.queue_us, f.compute_input_us,
                                            f.compute_infer_us, f.compute_output_us)]
            if self.cache:
                cells += [str(f.cache_hit_us or 0), str(f.cache_miss_us or 0)]
        cells.append(str(f.client_recv_us))
        cells += [str(f.percentiles_us.get(p, 0)) for p in self.percentiles]
        if self.verbose:
            if self.percentile <= 0:
                cells.append(str(f.avg_latency_us))
            cells += [str(f.request_response_us), str(f.response_wait_us)]
        return cells


def _level(level: float, name: str) -> str:
    if name == "Concurrency" or float(level).is_integer():
        return str(int(level))
    return fmt_rate(level)


def csv_text(run: RunResult, verbose: bool = False) -> str:
    layout = CsvLayout.of(run, verbose)
    rows = sorted(((p.level, row_figures(p.merged)) for p in run.points),
                  key=lambda r: r[1].throughput)
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(layout.header())
    for level, figures in rows:
        w.writerow(layout.row(level, figures))
    return out.getvalue()


def write_csv(run: RunResult, path: str | os.PathLike[str], verbose: bool = False) -> None:
    """Write atomically, so an interrupted run never leaves half a file (see :mod:`.outfile`:
    never through a symlink, devices written in place); raises OutputError."""
    write_output(path, csv_text(run, verbose), FLAG)
