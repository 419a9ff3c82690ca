"""One CSV per composing model of an ensemble or BLS model, as perf_analyzer writes them.

perf_analyzer's ``ReportWriter::GenerateFile`` writes ``<name>_v<version>.<filename>`` per direct
composing model (a nested ensemble's members get none: their time is in that ensemble's row),
with the main file's rows (stable points under -l, sorted by throughput) and the columns that
:mod:`perfanalyzer.columns` marks ``composing``: the level, the throughput (the client's infer/s ×
the model's success count ÷ the top-level model's), the client's send time (0), network+server
(the model's average success time minus its accounted time, in ns, floored at 0 and to µs once),
the server's queue and compute times, [cache hit/miss], the client's receive time (0).

Differences: the file is put beside ``filename`` (perf_analyzer prepends the prefix to the whole
path, which breaks when ``-f`` names a folder); a figure whose count is 0 is an empty cell
(perf_analyzer divides by it).
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

from .. import columns as C
from ..client.base import ModelStatistics, StatDuration
from ..measure.metrics import accounted_ns
from ..results import PointStatus, RunResult
from .csv import STATUS_COLUMN, CsvLayout, _cell, _level
from .figures import fmt_rate
from .outfile import write_output


def composing_path(filename: str | os.PathLike[str], name: str, version: str) -> Path:
    """``<name>_v<version>.<basename>`` beside ``filename``."""
    path = Path(filename)
    return path.with_name(f"{name}_v{version}.{path.name}")


def _avg_us(d: StatDuration) -> int | None:
    return d.ns // (d.count * 1000) if d.count else None


def header(run: RunResult, all_points: bool = False) -> list[str]:
    return [run.level_name, *(c.name for c in _columns(run))] + ([STATUS_COLUMN] if all_points
                                                                 else [])


def _columns(run: RunResult) -> list[C.Column]:
    return C.csv_columns(CsvLayout.of(run), composing=True)


def _row(run: RunResult, level: float, throughput: float, top: ModelStatistics,
         m: ModelStatistics) -> list[str]:
    top_ok, ok = top.get("success").count, m.get("success")
    # in integer ns, floored to µs once (perf_analyzer's report writer)
    network = max(0, ok.ns // ok.count - accounted_ns(m)) // 1000 if ok.count else None
    cells = {C.THROUGHPUT.name: fmt_rate(throughput * ok.count / top_ok) if top_ok else "",
             C.CLIENT_SEND.name: "0", C.NETWORK.name: _cell(network), C.CLIENT_RECV.name: "0"}
    for name, key in C.SERVER_KEYS.items():
        cells[name] = _cell(_avg_us(m.get(key)))
    return [_level(level, run.level_name), *(cells[c.name] for c in _columns(run))]


def _version(run: RunResult, k: int) -> str:
    """The version of composing model ``k`` that the statistics came from ("all" when several
    versions were summed)."""
    for p in run.points:
        for w in p.windows:
            server = w.summary.server
            if server is not None and len(server.composing) > k and server.composing[k].version:
                return server.composing[k].version
    return "all"


def composing_texts(run: RunResult, filename: str | os.PathLike[str],
                    all_points: bool = False) -> dict[Path, str]:
    """Path → CSV text for every composing model (empty without composing models or statistics)."""
    if not run.model.composing or not run.server_stats:
        return {}
    points = []
    for p in run.points:
        status = run.status(p)
        if (status is PointStatus.STABLE or all_points) and p.merged.server is not None:
            points.append((p, status))
    points.sort(key=lambda ps: ps[0].merged.throughput)
    out: dict[Path, str] = {}
    for k, name in enumerate(run.model.composing):
        if name in run.model.indirect:  # perf_analyzer: one file per direct child only
            continue
        version = _version(run, k)
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(header(run, all_points))
        for p, status in points:
            server = p.merged.server
            assert server is not None
            if len(server.composing) <= k:
                continue
            row = _row(run, p.level, p.merged.throughput, server.model, server.composing[k])
            w.writerow(row + ([status] if all_points else []))
        out[composing_path(filename, name, version)] = buf.getvalue()
    return out


def write_composing_csvs(run: RunResult, filename: str | os.PathLike[str],
                         all_points: bool = False) -> list[Path]:
    """Write every composing model's CSV beside ``filename`` (safely, see :mod:`.outfile`); returns
    the paths."""
    written = []
    for path, text in composing_texts(run, filename, all_points).items():
        write_output(path, text, "-f")  # never through a symlink; raises OutputError
        written.append(path)
    return written


__all__ = ["composing_path", "composing_texts", "header", "write_composing_csvs"]
