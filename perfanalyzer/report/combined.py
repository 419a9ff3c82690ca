"""Multi-dimensional sweeps (``-b 1,2,4``, ``--shape NAME:A|B``): one CSV with a row per
combination and load level, one export, and a figure per dimension.

The combined CSV is perf_analyzer's CSV with the combination's keys as leading columns
(:data:`KEY_COLUMNS`); each combination's rows are in perf_analyzer's order (by throughput). A
single-combination run never comes here: its CSV stays perf_analyzer's, byte for byte.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from ..errors import OptionError, PerfAnalyzerError
from ..measure.result import RunResult
from .csv import CsvLayout
from .export import FLAG, _json_default, export_dict
from .figures import row_figures
from .frame import frame_from_csv_text

KEY_COLUMNS = ("Batch Size", "Shape Set")
#: (the combination's key cells, in KEY_COLUMNS order; its run)
Part = tuple[tuple[str, str], RunResult]


def combined_csv_text(parts: Sequence[Part], verbose: bool = False) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    header: list[str] | None = None
    for keys, run in parts:
        layout = CsvLayout.of(run, verbose)
        if header is None:
            header = layout.header()
            w.writerow([*KEY_COLUMNS, *header])
        rows = sorted(((p.level, row_figures(p.merged)) for p in run.points),
                      key=lambda r: r[1].throughput)
        for level, figures in rows:
            w.writerow([*keys, *layout.row(level, figures)])
    return out.getvalue()


def write_combined_csv(parts: Sequence[Part], path: str | os.PathLike[str],
                       verbose: bool = False) -> None:
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(combined_csv_text(parts, verbose))
    tmp.replace(path)


def write_combined_export(parts: Sequence[Part], path: str | os.PathLike[str]) -> None:
    """``{"combinations": [{"batch_size", "shape_set", "run": <the single-run export>}]}``."""
    doc = {"combinations": [{"batch_size": int(keys[0]), "shape_set": keys[1],
                             "run": export_dict(run)} for keys, run in parts]}
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(json.dumps(doc, separators=(",", ":"), allow_nan=False,
                                  default=_json_default))
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise PerfAnalyzerError(f"{FLAG} {path}: cannot write: {exc.strerror or exc}") from exc


def is_combined_csv(path: str | os.PathLike[str]) -> bool:
    try:
        with open(path, encoding="utf-8") as fh:
            first = fh.readline()
    except (OSError, UnicodeDecodeError):
        return False
    return first.startswith(KEY_COLUMNS[0] + ",")


def read_combined(path: str | os.PathLike[str]) -> pd.DataFrame:
    """The combined CSV as a frame: key columns as text, the rest as perf_analyzer's columns."""
    text = Path(path).read_text(encoding="utf-8")
    raw = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    if list(raw.columns[:2]) != list(KEY_COLUMNS):
        raise OptionError(f"{path}: not a combined CSV (first columns {KEY_COLUMNS})")
    rest = raw.drop(columns=list(KEY_COLUMNS)).to_csv(index=False, lineterminator="\n")
    df = frame_from_csv_text(rest, str(path))
    df.insert(0, KEY_COLUMNS[1], raw[KEY_COLUMNS[1]].to_numpy())
    df.insert(0, KEY_COLUMNS[0], pd.to_numeric(raw[KEY_COLUMNS[0]]).to_numpy())
    return df


def dimension_figures(df: pd.DataFrame, dpi: int = 120) -> dict[str, Figure]:
    """One figure per dimension that varies: throughput and p99 latency against its values, a
    line per load level (the other dimension held at each of its values)."""
    level = str(df.columns[2])
    figs: dict[str, Figure] = {}
    for dim, other in ((KEY_COLUMNS[0], KEY_COLUMNS[1]), (KEY_COLUMNS[1], KEY_COLUMNS[0])):
        values = list(dict.fromkeys(df[dim]))
        if len(values) < 2:
            continue
        fig = Figure(figsize=(9, 4.5), dpi=dpi, layout="constrained")
        ax_t, ax_l = fig.subplots(1, 2)
        x_of = {v: i for i, v in enumerate(values)}
        for (lv, ov), g in df.groupby([level, other], sort=True):
            g = g.assign(_x=g[dim].map(x_of)).sort_values("_x")
            label = f"{level.lower()} {lv:g}" + (f", {other.lower()} {ov}"
                                                   if df[other].nunique() > 1 else "")
            ax_t.plot(g["_x"], g["Inferences/Second"], marker="o", label=label, gid=label)
            ax_l.plot(g["_x"], g["p99 latency"] / 1000.0, marker="o", label=label)
        for ax, title in ((ax_t, "Throughput (infer/s)"), (ax_l, "p99 latency (ms)")):
            ax.set_xticks(range(len(values)), [str(v) for v in values], fontsize=7)
            ax.set_xlabel(dim)
            ax.set_ylabel(title)
            ax.set_ylim(bottom=0)
            ax.grid(True, alpha=0.3)
        ax_t.legend(fontsize=7)
        fig.suptitle(f"{dim}: throughput and p99 latency per load level")
        figs[dim.lower().replace(" ", "_")] = fig
    return figs


def combined_figures(path: str | os.PathLike[str]) -> dict[str, Any]:
    return dimension_figures(read_combined(path))
