"""Figures for people: throughput vs latency, latency breakdown per load point, latency over time.

Built on matplotlib's object API (``Figure``, Agg canvas; pyplot is never imported, so nothing
depends on a display). Every function returns the :class:`~matplotlib.figure.Figure`, so tests can
inspect the plotted data before :func:`save` writes PNG and SVG.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from .. import columns as C
from ..errors import OptionError
from ..results import LoadMode, PointStatus
from .combined_plots import combined_figures, is_combined_csv
from .csv import STATUS_COLUMN
from .frame import RunFrames, read_csv, read_run
from .outfile import write_output

PERCENTILE_STYLES: dict[int, tuple[Any, str]] = {50: ("-", "o"), 90: ("--", "s"), 99: (":", "^")}
#: Stacked latency components, bottom to top: (CSV column, legend label, colour).
BREAKDOWN = (
    (C.CLIENT_SEND.name, "Client send", "#8c8c8c"),
    (C.NETWORK.name, "Network + server send/recv", "#9ecae1"),
    (C.QUEUE.name, "Server queue", "#fdae6b"),
    (C.COMPUTE_INPUT.name, "Server compute input", "#a1d99b"),
    (C.COMPUTE_INFER.name, "Server compute infer", "#31a354"),
    (C.COMPUTE_OUTPUT.name, "Server compute output", "#006d2c"),
    (C.CACHE_HIT.name, "Server cache hit", "#bcbddc"),
    (C.CACHE_MISS.name, "Server cache miss", "#756bb1"),
    (C.CLIENT_RECV.name, "Client receive", "#525252"),
)
FORMATS = ("png", "svg")
DPI = 120
#: Request dots drawn on the timeline at most (evenly subsampled above this).
MAX_DOTS = 20_000


@dataclass(frozen=True)
class Source:
    """One input file: its label (the file name), its load points, and the run for a JSON file."""

    label: str
    points: pd.DataFrame
    run: RunFrames | None = None

    @property
    def level(self) -> str:
        return str(self.points.columns[0])

    @property
    def slug(self) -> str:
        return "".join(c if c.isalnum() or c in "-_" else "_" for c in self.label)


def load_source(path: str | os.PathLike[str]) -> Source:
    """A CSV (perf_analyzer's or ours) or a saved JSON run."""
    p = Path(path)
    if p.suffix.lower() == ".json":
        run = read_run(p)
        return Source(p.name, run.points, run)
    return Source(p.name, read_csv(p))


def _level_text(level: str, value: float) -> str:
    return f"c={value:g}" if level == C.CONCURRENCY else f"{value:g}/s"


def _level_axis(level: str) -> str:
    return f"{C.CONCURRENCY} (requests in flight)" if level == C.CONCURRENCY else \
        "Request rate (requests/s)"


def throughput_latency_figure(sources: Sequence[Source]) -> Figure:
    """Latency percentiles p50, p90, p99 (ms) against throughput (infer/s), one colour per input,
    points joined in load order and labelled with their load level."""
    fig = Figure(figsize=(8, 5.5), dpi=DPI, layout="constrained")
    ax = fig.add_subplot()
    colours = [f"C{i % 10}" for i in range(len(sources))]
    for src, colour in zip(sources, colours, strict=True):
        df = src.points.sort_values(src.level)
        x = df[C.THROUGHPUT.name].to_numpy(float)
        for p, (style, marker) in PERCENTILE_STYLES.items():
            y = df[C.percentile_name(p)].to_numpy(float) / 1000.0
            (line,) = ax.plot(x, y, linestyle=style, marker=marker, color=colour, markersize=5)
            line.set_gid(f"{src.label}|p{p}")
        y50 = df[C.percentile_name(50)].to_numpy(float) / 1000.0
        flagged = _flagged(df)
        for k, (xi, yi, lv, bad) in enumerate(zip(x, y50, df[src.level], flagged, strict=True)):
            # below and above the line in turn: labels of neighbouring points do not overlap
            ax.annotate(_level_text(src.level, lv) + (" (not stable)" if bad else ""), (xi, yi),
                        textcoords="offset points", xytext=(5, -10 if k % 2 == 0 else 6),
                        fontsize=7, color=colour)
        _mark_flagged(ax, src, df, x, flagged)
    ax.set_xlabel("Throughput (infer/s)")
    ax.set_ylabel("Latency (ms)")
    ax.set_title("Throughput vs latency (p50 / p90 / p99)")
    # room right of the last point for its label, and above the highest line
    xmax = max(float(src.points[C.THROUGHPUT.name].max()) for src in sources)
    ymax = max(float(src.points[C.percentile_name(99)].max()) for src in sources) / 1000.0
    ax.set_xlim(0, max(xmax, 1e-9) * 1.18)
    ax.set_ylim(0, max(ymax, 1e-9) * 1.08)
    ax.grid(True, alpha=0.3)
    styles = [Line2D([], [], color="0.3", linestyle=s, marker=m, label=f"p{p}")
              for p, (s, m) in PERCENTILE_STYLES.items()]
    if any(_flagged(src.points).any() for src in sources):
        styles.append(Line2D([], [], linestyle="none", **FLAG_STYLE,
                             label="not stable / over -l (not in -f)"))
    legend = ax.legend(handles=styles, title="Percentile", loc="best", fontsize=8)
    if len(sources) > 1:
        ax.add_artist(legend)
        runs = [Line2D([], [], color=c, linewidth=3, label=s.label)
                for s, c in zip(sources, colours, strict=True)]
        ax.legend(handles=runs, title="Run", loc="lower right", fontsize=8)
    else:
        ax.set_title(f"Throughput vs latency (p50 / p90 / p99): {sources[0].label}")
    return fig


#: How a point that is not stable (or over -l, or without requests) is drawn over its markers.
FLAG_STYLE: dict[str, Any] = dict(marker="X", markersize=11, markerfacecolor="none",
                                  markeredgecolor="red", markeredgewidth=1.5)


def _flagged(df: pd.DataFrame) -> np.ndarray:
    """Rows whose Status (a run's every-point table) is not stable; a plain CSV has no such rows
    (perf_analyzer and perfanalyzer's -f write stable points only)."""
    if STATUS_COLUMN not in df.columns:
        return np.zeros(len(df), dtype=bool)
    return (df[STATUS_COLUMN].astype(str) != PointStatus.STABLE.value).to_numpy(bool)


def _mark_flagged(ax: Axes, src: Source, df: pd.DataFrame, x: np.ndarray,
                  flagged: np.ndarray) -> None:
    if not flagged.any():
        return
    for p in PERCENTILE_STYLES:
        y = df[C.percentile_name(p)].to_numpy(float) / 1000.0
        (mark,) = ax.plot(x[flagged], y[flagged], linestyle="none", **FLAG_STYLE)
        mark.set_gid(f"{src.label}|p{p}|flagged")


def breakdown_figure(src: Source) -> Figure:
    """Average latency per load point (ms), stacked by where the time went."""
    df = src.points.sort_values(src.level)
    present = [(c, lab, col) for c, lab, col in BREAKDOWN if c in df.columns and df[c].any()]
    zero = [lab for c, lab, _ in BREAKDOWN if c in df.columns and not df[c].any()]
    if C.QUEUE.name not in df.columns:
        raise OptionError(f"{src.label}: no server statistics columns: cannot break latency down")
    fig = Figure(figsize=(max(6.0, 1.0 + 0.9 * len(df)), 5.5), dpi=DPI, layout="constrained")
    ax = fig.add_subplot()
    x = np.arange(len(df))
    bottom = np.zeros(len(df))
    for column, label, colour in present:
        h = df[column].to_numpy(float) / 1000.0
        for patch in ax.bar(x, h, bottom=bottom, color=colour, label=label, width=0.6):
            patch.set_gid(column)
        bottom += h
    for xi, total, tput in zip(x, bottom, df[C.THROUGHPUT.name], strict=True):
        ax.annotate(f"{total:.2f} ms\n{tput:,.0f} infer/s", (xi, total), ha="center",
                    va="bottom", fontsize=8, textcoords="offset points", xytext=(0, 2))
    ax.set_xticks(x, [f"{v:g}" + ("\n(not stable)" if bad else "")
                      for v, bad in zip(df[src.level], _flagged(df), strict=True)])
    ax.set_xlabel(_level_axis(src.level))
    ax.set_ylabel("Average latency (ms)")
    ax.set_ylim(0, max(float(bottom.max()), 1e-3) * 1.35)
    pad = max(0, 4 - len(df)) * 0.5  # a lone bar should not fill the whole width
    ax.set_xlim(-0.6 - pad, len(df) - 0.4 + pad)
    ax.set_title(f"Where the time goes, per load point: {src.label}")
    handles, labels = ax.get_legend_handles_labels()
    ax.legend(handles[::-1], labels[::-1], fontsize=8, loc="upper left", ncols=2)
    ax.grid(True, axis="y", alpha=0.3)
    if zero:
        ax.set_xlabel(f"{_level_axis(src.level)}\n(zero at every load point, not drawn: "
                      f"{', '.join(zero)})")
    return fig


def timeline_figure(src: Source) -> Figure:
    """From a JSON run: throughput and p50/p90/p99/average latency per window over time, one band
    per load point; filled markers are the windows merged into the point's reported figures,
    every request is a faint dot."""
    if src.run is None:
        raise OptionError(f"{src.label}: latency over time needs a JSON run "
                          "(--profile-export-file), not a CSV")
    w, req = src.run.windows, src.run.requests
    fig = Figure(figsize=(10, 7), dpi=DPI, layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=(1, 2))
    mid = ((w["t_start_s"] + w["t_end_s"]) / 2).to_numpy(float)
    merged = w["merged"].to_numpy(bool)
    _series(top, mid, w[C.THROUGHPUT.name].to_numpy(float), merged, "throughput",
            dict(color="C0", marker="o"))
    top.set_ylabel("Throughput (infer/s)")
    top.set_ylim(0, max(float(w[C.THROUGHPUT.name].max()), 1e-9) * 1.2)
    ok = req[req["status"] == 0]
    if len(ok) > MAX_DOTS:
        ok = ok.iloc[:: int(np.ceil(len(ok) / MAX_DOTS))]
    bottom.scatter(ok["t_s"], ok["latency_us"] / 1000.0, s=3, color="0.55", alpha=0.35,
                   linewidths=0, rasterized=True, label="one request")
    for p, (style, marker) in PERCENTILE_STYLES.items():
        _series(bottom, mid, w[C.percentile_name(p)].to_numpy(float) / 1000.0, merged, f"p{p}",
                dict(color="C3", linestyle=style, marker=marker, label=f"p{p} per window"))
    _series(bottom, mid, w[C.AVG_LATENCY.name].to_numpy(float) / 1000.0, merged, "avg",
            dict(color="C0", marker="o", label="average per window"))
    if src.run.run.mode is not LoadMode.CONCURRENCY:  # rate modes: both latencies (--latency-from)
        _series(bottom, mid, w[C.scheduled(C.AVG_LATENCY.name)].to_numpy(float) / 1000.0,
                merged, "avg_scheduled", dict(color="C2", marker="D", linestyle="-.",
                                              label="average from scheduled send"))
    _clip_latency_axis(bottom, w, ok)
    for ax in (top, bottom):
        _bands(ax, src, labels=ax is top)
        ax.grid(True, alpha=0.3)
    bottom.set_xlabel("Time since the run started (s)")
    bottom.set_ylabel("Latency (ms)")
    bottom.legend(fontsize=8, loc="upper left", markerscale=1.5)
    top.set_title(f"Per measurement window over time: {src.label}\n(filled markers: the windows "
                  "merged into each load point's reported figures; hollow: earlier windows)",
                  fontsize=10)
    return fig


def _series(ax: Axes, x: np.ndarray, y: np.ndarray, merged: np.ndarray, gid: str,
            style: dict[str, Any]) -> None:
    """One line through every window; merged windows filled, the others hollow."""
    colour = style["color"]
    (line,) = ax.plot(x, y, markersize=5, markerfacecolor="white", **style)
    line.set_gid(gid)
    ax.plot(x[merged], y[merged], linestyle="none", marker=style["marker"], markersize=5,
            color=colour)


def _clip_latency_axis(ax: Axes, w: pd.DataFrame, dots: pd.DataFrame) -> None:
    """Keep the window figures readable: a few slow requests must not squash them."""
    p99 = float(np.nanmax(w[C.percentile_name(99)].to_numpy(float))) / 1000.0 if len(w) else 0.0
    if not p99 > 0:
        return
    top = p99 * 1.15
    above = int((dots["latency_us"] / 1000.0 > top).sum())
    ax.set_ylim(0, top)
    if above:
        ax.annotate(f"{above} slower request(s) above {top:.1f} ms not shown", (0.99, 0.98),
                    xycoords="axes fraction", ha="right", va="top", fontsize=8, color="0.3")


def _bands(ax: Axes, src: Source, *, labels: bool) -> None:
    """A light band per load point (alternating), labelled with its level in the top axis."""
    assert src.run is not None
    w = src.run.windows
    for k, rows in w.groupby("point", sort=True):
        start, end = float(rows["t_start_s"].min()), float(rows["t_end_s"].max())
        if int(str(k)) % 2:
            ax.axvspan(start, end, color="0.5", alpha=0.08, linewidth=0)
        if labels:
            stable = "" if bool(rows["stable"].iloc[0]) else "\n(not stable)"
            text = _level_text(src.level, float(rows["level"].iloc[0])) + stable
            ax.annotate(text, ((start + end) / 2, 1.0), xycoords=("data", "axes fraction"),
                        xytext=(0, -3), textcoords="offset points", ha="center", va="top",
                        fontsize=8, color="0.25")


def save(fig: Figure, out_dir: Path, name: str, formats: Sequence[str] = FORMATS) -> list[Path]:
    """Write ``fig`` as ``out_dir/name.<fmt>`` for every format; returns the paths."""
    out: list[Path] = []
    for fmt in formats:
        path = out_dir / f"{name}.{fmt}"
        meta = {"Date": None} if fmt == "svg" else {}
        data = io.BytesIO()
        fig.savefig(data, format=fmt, metadata=meta)
        write_output(path, data.getvalue(), "plot -o")  # never through a symlink
        out.append(path)
    return out


def write_figures(paths: Sequence[str | os.PathLike[str]], out_dir: str | os.PathLike[str],
                  formats: Sequence[str] = FORMATS) -> list[Path]:
    """All figures for the given CSV / JSON files: the throughput–latency overlay, a breakdown
    per file (when it has server statistics) and a timeline per JSON run."""
    if not paths:
        raise OptionError("plot: give at least one CSV or JSON file")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    combined = [p for p in paths if is_combined_csv(p)]
    written: list[Path] = []
    for path in combined:  # a figure per dimension (batch size, shape set)
        for dim, fig in combined_figures(path).items():
            written += save(fig, out, f"{dim}_{Path(path).stem}", formats)
    paths = [p for p in paths if p not in combined]
    if not paths:
        return written
    sources = [load_source(p) for p in paths]
    written += save(throughput_latency_figure(sources), out, "throughput_latency", formats)
    for src in sources:
        if C.QUEUE.name in src.points.columns:
            written += save(breakdown_figure(src), out, f"breakdown_{src.slug}", formats)
        if src.run is not None and len(src.run.windows):
            written += save(timeline_figure(src), out, f"timeline_{src.slug}", formats)
    return written


__all__ = ["Source", "breakdown_figure", "load_source", "save", "throughput_latency_figure",
           "timeline_figure", "write_figures"]
