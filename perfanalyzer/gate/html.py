"""``compare ... --html FILE``: the gate's verdict as one self-contained page: the verdict, the
warnings, the table the console prints, and per check a figure of each load point's change with
its interval across runs and the check's threshold drawn (:mod:`perfanalyzer.report.html`)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from matplotlib.figure import Figure

from ..report.html.page import Figures, render
from ..report.html.tables import Table
from ..version import __version__
from .compare import IMPROVEMENT, NOISE, REGRESSION, Comparison, Row
from .render import HEADER, row_cells, summary_line, warning_lines

COLOURS = {REGRESSION: "#d62728", IMPROVEMENT: "#2ca02c", NOISE: "#7f7f7f"}


def _change(row: Row) -> float:
    """The row's change in its check's terms (percent of the baseline, or absolute)."""
    assert row.check is not None
    return row.change_pct if row.check.relative else row.delta


def check_figure(cmp: Comparison, rows: Sequence[Row]) -> Figure:
    """One check: the change at every load point (dot), its interval across runs (bar, when
    replicate runs allow one), zero and the threshold (dashed); a regression is red."""
    check = rows[0].check
    assert check is not None
    fig = Figure(figsize=(8, 0.9 + 0.45 * len(rows)), dpi=100, layout="constrained")
    ax = fig.add_subplot()
    threshold = check.sign * check.amount
    for y, row in enumerate(rows):
        colour = COLOURS.get(row.verdict, "#1f77b4")
        sig = row.significance
        if sig.judged and sig.ci is not None and all(math.isfinite(v) for v in sig.ci):
            ax.plot(list(sig.ci), [y, y], color=colour, linewidth=3, alpha=0.5,
                    solid_capstyle="butt", gid=f"interval|{row.level:g}")
        x = _change(row)
        if math.isfinite(x):
            ax.plot([x], [y], marker="o", markersize=7, color=colour, gid=f"change|{row.level:g}")
    ax.axvline(0, color="0.3", linewidth=1)
    ax.axvline(threshold, color="#d62728", linestyle="--", linewidth=1.2, gid="threshold")
    ax.annotate(f"fails beyond {check.threshold_text}", (threshold, 1.0),
                xycoords=("data", "axes fraction"), xytext=(3, -2), textcoords="offset points",
                fontsize=8, color="#d62728", va="top")
    ax.set_yticks(range(len(rows)), [f"{cmp.level_name} {r.level:g}" for r in rows])
    ax.set_ylim(-0.7, len(rows) - 0.3)
    ax.invert_yaxis()
    unit = "%" if check.relative else ("infer/s" if check.unit == "infer/s" or
                                       rows[0].metric.startswith("Inferences") else "µs")
    ax.set_xlabel(f"Change of {rows[0].metric} ({unit})")
    _pad(ax, [threshold, 0.0, *[_change(r) for r in rows],
              *[v for r in rows if r.significance.ci for v in r.significance.ci]])
    ax.grid(True, axis="x", alpha=0.3)
    ax.set_title(f"{check.spec}", fontsize=10)
    return fig


def _pad(ax: object, values: Sequence[float]) -> None:
    vals = [v for v in values if math.isfinite(v)]
    lo, hi = min(vals), max(vals)
    span = (hi - lo) or max(abs(hi), 1.0)
    ax.set_xlim(lo - 0.12 * span, hi + 0.12 * span)  # type: ignore[attr-defined]


def compare_html(cmp: Comparison) -> str:
    figs = Figures()
    checked = [r for r in cmp.rows if r.check is not None]
    groups: dict[str, list[Row]] = {}
    for row in checked:
        assert row.check is not None
        groups.setdefault(row.check.spec, []).append(row)
    figures = [(figs.svg(check_figure(cmp, rows), f"Check {spec}"), spec)
               for spec, rows in groups.items()]
    table = Table("Every check at every matched load point", [cmp.level_name, *HEADER])
    for row in cmp.rows:
        table.add(row_cells(row), mark=row.verdict == REGRESSION)
    return render("compare.html.j2", version=__version__,
                  title="perfanalyzer compare", status=cmp.status, summary=summary_line(cmp),
                  baseline=cmp.baseline, current=cmp.current, warnings=warning_lines(cmp),
                  figures=figures, table=table if cmp.rows else None,
                  method=cmp.method if cmp.rows else "", notes=list(cmp.notes),
                  error=cmp.error)


__all__ = ["check_figure", "compare_html"]
