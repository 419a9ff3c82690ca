"""One CSV per composing model of an ensemble or BLS model, as perf_analyzer writes them.

perf_analyzer's ``ReportWriter::GenerateFile`` writes ``<name>_v<version>.<filename>`` per direct
composing model (a nested ensemble's members get none: their time is in that ensemble's row),
with the main file's rows (stable points under -l, sorted by Inferences/Second) and these columns:
level, ``Inferences/Second`` (the client's infer/s × the model's success count ÷ the top-level
model's), ``Client Send`` (0), ``Network+Server Send/Recv`` (the model's average success time
minus its accounted time, in ns, floored at 0 and to µs once), ``Server Queue``, ``Server Compute
Input/Infer/Output``, [``Server Cache Hit/Miss``], ``Client Recv`` (0).

Differences: the file is put beside ``filename`` (perf_analyzer prepends the prefix to the whole
path, which breaks when ``-f`` names a folder); a figure whose count is 0 is an empty cell
(perf_analyzer divides by it).
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

from ..client.base import ModelStatistics, StatDuration
from ..measure.metrics import accounted_ns
from ..measure.result import RunResult
from ..measure.status import STABLE, Judging, point_status
from .csv import STATUS_COLUMN, CsvLayout, _cell, _level
from .figures import fmt_rate
from .outfile import write_output

COMPOSING_COMPUTE = ("compute_input", "compute_infer", "compute_output")


def composing_path(filename: str | os.PathLike[str], name: str, version: str) -> Path:
    """``<name>_v<version>.<basename>`` beside ``filename``."""
    path = Path(filename)
    return path.with_name(f"{name}_v{version}.{path.name}")


def _avg_us(d: StatDuration) -> int | None:
    return d.ns // (d.count * 1000) if d.count else None


def header(run: RunResult, all_points: bool = False) -> list[str]:
    cols = [run.level_name, "Inferences/Second", "Client Send", "Network+Server Send/Recv",
            "Server Queue", "Server Compute Input", "Server Compute Infer",
            "Server Compute Output"]
    if run.model.cache_enabled:
        cols += ["Server Cache Hit", "Server Cache Miss"]
    return cols + ["Client Recv"] + ([STATUS_COLUMN] if all_points else [])


def _row(run: RunResult, level: float, throughput: float, top: ModelStatistics,
         m: ModelStatistics) -> list[str]:
    top_ok, ok = top.get("success").count, m.get("success")
    tput = fmt_rate(throughput * ok.count / top_ok) if top_ok else ""
    queue = _avg_us(m.get("queue"))
    compute = [_avg_us(m.get(k)) for k in COMPOSING_COMPUTE]
    cache = [_avg_us(m.get(k)) for k in ("cache_hit", "cache_miss")]
    # in integer ns, floored to µs once (perf_analyzer's report writer)
    network = max(0, ok.ns // ok.count - accounted_ns(m)) // 1000 if ok.count else None
    cells = [_level(level, CsvLayout.of(run).level_name), tput, "0", _cell(network),
             _cell(queue), *(_cell(v) for v in compute)]
    if run.model.cache_enabled:
        cells += [_cell(v) for v in cache]
    return [*cells, "0"]


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
    judging = Judging.of(run.config, run.percentile)
    points = []
    for p in run.points:
        status = point_status(p, judging)
        if (status == STABLE or all_points) and p.merged.server is not None:
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
