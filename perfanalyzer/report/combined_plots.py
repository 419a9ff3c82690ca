"""Reading and plotting the combined CSV of a multi-dimensional sweep (see :mod:`.combined`);
pandas and matplotlib are imported here only, never on a profile run's path."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from .. import columns as C
from ..errors import OptionError
from .combined import KEY_COLUMNS
from .frame import frame_from_csv_text

P99 = C.percentile_name(99)


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
    """One figure per dimension that varies: throughput and the 99th percentile latency against its values, a
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
            ax_t.plot(g["_x"], g[C.THROUGHPUT.name], marker="o", label=label, gid=label)
            ax_l.plot(g["_x"], g[P99] / 1000.0, marker="o", label=label)
        for ax, title in ((ax_t, "Throughput (infer/s)"), (ax_l, f"{P99} (ms)")):
            ax.set_xticks(range(len(values)), [str(v) for v in values], fontsize=7)
            ax.set_xlabel(dim)
            ax.set_ylabel(title)
            ax.set_ylim(bottom=0)
            ax.grid(True, alpha=0.3)
        ax_t.legend(fontsize=7)
        fig.suptitle(f"{dim}: throughput and {P99} per load level")
        figs[dim.lower().replace(" ", "_")] = fig
    return figs


def combined_figures(path: str | os.PathLike[str]) -> dict[str, Any]:
    return dimension_figures(read_combined(path))
