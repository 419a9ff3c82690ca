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
from collections.abc import Sequence

from .. import columns as C
from ..results import PointStatus, RunResult
from .csv import STATUS_COLUMN, CsvLayout
from .export import _json_default, export_dict
from .figures import row_figures

KEY_COLUMNS = C.COMBINED_KEYS
#: (the combination's key cells, in KEY_COLUMNS order; its run)
Part = tuple[tuple[str, str], RunResult]


def combined_csv_text(parts: Sequence[Part], verbose: bool = False,
                      all_points: bool = False, streaming: bool = False) -> str:
    """Rows of what perf_analyzer would write (stable points under -l), or every point with a
    trailing status column (--csv-all-points)."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    header: list[str] | None = None
    for keys, run in parts:
        layout = CsvLayout.of(run, verbose, streaming=streaming)
        if header is None:
            header = layout.header()
            w.writerow([*KEY_COLUMNS, *header] + ([STATUS_COLUMN] if all_points else []))
        rows = []
        for p in run.points:
            status = run.status(p)
            if status is PointStatus.STABLE or all_points:
                rows.append((p.level, row_figures(p.merged), status, p))
        rows.sort(key=lambda r: r[1].throughput)
        for level, figures, status, point in rows:
            w.writerow([*keys, *layout.row(level, figures, summary=point.merged)]
                       + ([status] if all_points else []))
    return out.getvalue()


def combined_export_text(parts: Sequence[Part]) -> str:
    """``{"combinations": [{"batch_size", "shape_set", "run": <the single-run export>}]}``."""
    doc = {"combinations": [{"batch_size": int(keys[0]), "shape_set": keys[1],
                             "run": export_dict(run)} for keys, run in parts]}
    return json.dumps(doc, separators=(",", ":"), allow_nan=False, default=_json_default)
