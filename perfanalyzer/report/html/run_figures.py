"""The figures of a run's HTML report that the ``plot`` command does not draw: every window with
its stability band, the latency distribution per load level, the client's own load, the server's
collected metrics over time, and the figures of a ``--repeat`` run across its runs.

Each takes the run model (:class:`RunResult`) and returns a matplotlib :class:`Figure`, or None
when the run holds nothing to draw (the page then says why).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from ...measure.metrics import CLIENT_SATURATION_CPU, CLIENT_SATURATION_LAG_NS
from ...measure.prometheus import CPU_UTIL, GPU_UTIL
from ...measure.status import judged_latency
from ...results import LatencySource, LoadMode, PointStatus, RunResult
from ...results.combine import merged_windows
from ..repeat import point_intervals

DPI = 100
#: Points of a latency distribution's curve drawn at most (quantiles evenly spaced in rank).
CDF_POINTS = 400
BAND = "#74c476"
OUT = "#d62728"
STABLE_TEXT = "#1b5e20"


def level_text(run: RunResult, level: float) -> str:
    return f"c={level:g}" if run.mode is LoadMode.CONCURRENCY else f"{level:g}/s"


def judged_name(run: RunResult) -> str:
    settings = run.settings
    what = f"p{settings.percentile}" if settings.percentile > 0 else "average"
    where = " from the scheduled send" if _scheduled(run) else ""
    return f"{what} latency{where}"


def _t(run: RunResult, ns: int) -> float:
    return (ns - run.clock_anchor_ns) / 1e9


def _point_bands(ax: Axes, run: RunResult, *, labels: bool) -> None:
    """Alternate shading per load point; the top axis names its level and status."""
    for k, p in enumerate(run.points):
        if not p.windows:
            continue
        start = _t(run, p.windows[0].summary.start_ns)
        end = _t(run, p.windows[-1].summary.end_ns)
        if k % 2:
            ax.axvspan(start, end, color="0.5", alpha=0.07, linewidth=0)
        if labels:
            status = run.status(p)
            ax.annotate(f"{level_text(run, p.level)}\n{status.replace('_', ' ')}",
                        ((start + end) / 2, 1.0), xycoords=("data", "axes fraction"),
                        xytext=(0, 3), textcoords="offset points", ha="center", va="bottom",
                        fontsize=9, color=STABLE_TEXT if status is PointStatus.STABLE else OUT)


def stability_figure(run: RunResult) -> Figure | None:
    """Throughput and the judged latency of every window over time. Over the last
    ``--stability-windows`` windows of each point the band from their minimum to minimum × (1 + s)
    is shaded: a point is stable when those windows all lie inside both bands."""
    if not any(p.windows for p in run.points):
        return None
    judging = run.settings.judging
    s = run.settings.stability_fraction
    k = run.settings.stability_windows
    fig = Figure(figsize=(10, 6.2), dpi=DPI, layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True)
    for p in run.points:
        ws = [w.summary for w in p.windows]
        if not ws:
            continue
        mid = np.array([(_t(run, w.start_ns) + _t(run, w.end_ns)) / 2 for w in ws])
        merged = {id(w) for w in merged_windows(p)}
        filled = np.array([id(w) in merged for w in p.windows])
        tp = np.array([w.throughput for w in ws])
        lat = np.array([judged_latency(w, judging) / 1e6 for w in ws])
        for ax, y, colour in ((top, tp, "C0"), (bottom, lat, "C4")):
            ax.plot(mid, y, color=colour, marker="o", markersize=5, markerfacecolor="white",
                    gid="windows")
            ax.plot(mid[filled], y[filled], linestyle="none", marker="o", markersize=5,
                    color=colour)
            if len(ws) >= k:
                _band(ax, run, ws[-k:], y[-k:], s)
    limit_ms = run.settings.latency_threshold_ms
    if limit_ms > 0:
        bottom.axhline(limit_ms, color=OUT, linestyle="--", linewidth=1, label="-l limit")
        bottom.legend(fontsize=8, loc="upper right")
    top.set_ylabel("Throughput (infer/s)")
    bottom.set_ylabel(f"{judged_name(run).capitalize()} (ms)")
    bottom.set_xlabel("Time since the run started (s)")
    for ax in (top, bottom):
        ax.set_ylim(bottom=0, top=ax.get_ylim()[1] * 1.1)
        _point_bands(ax, run, labels=ax is top)
        ax.grid(True, alpha=0.3)
    fig.suptitle(f"Every measurement window, and the stability band of each point's last {k} "
                 "windows",
                 fontsize=10)
    return fig


def _band(ax: Axes, run: RunResult, tail: Sequence[object], y: np.ndarray, s: float) -> None:
    finite = y[np.isfinite(y) & (y > 0)]
    if not len(finite):
        return
    lo = float(finite.min())
    hi = lo * (1 + s)
    x0 = _t(run, tail[0].start_ns)  # type: ignore[attr-defined]
    x1 = _t(run, tail[-1].end_ns)  # type: ignore[attr-defined]
    ax.fill_between([x0, x1], [lo, lo], [hi, hi], color=BAND, alpha=0.35, linewidth=0,
                    gid="band")
    outside = y > hi * (1 + 1e-12)
    if outside.any():
        xs = np.array([(_t(run, w.start_ns) + _t(run, w.end_ns)) / 2  # type: ignore[attr-defined]
                       for w in tail])
        ax.plot(xs[outside], y[outside], linestyle="none", marker="x", markersize=9, color=OUT,
                markeredgewidth=2, gid="outside")


def merged_latencies_ms(run: RunResult, index: int) -> np.ndarray:
    """The reported latencies (ms) of point ``index``: its merged windows' completed requests."""
    scheduled = _scheduled(run)
    assert run.buffer is not None
    parts = []
    for w in merged_windows(run.points[index]):
        v = run.buffer.view(w.lo, w.hi)
        ok = v.status == 0
        start = v.intended if scheduled else v.sent
        parts.append((v.last[ok] - start[ok]) / 1e6)
    return np.sort(np.concatenate(parts)) if parts else np.zeros(0)


def distribution_figure(run: RunResult) -> Figure | None:
    """The share of requests answered within x ms, one curve per load point (its merged
    windows), with the reported percentiles marked."""
    curves = [(p, merged_latencies_ms(run, i)) for i, p in enumerate(run.points)]
    curves = [(p, lat) for p, lat in curves if len(lat)]
    if not curves:
        return None
    fig = Figure(figsize=(10, 5), dpi=DPI, layout="constrained")
    ax = fig.add_subplot()
    colours = _colours(len(curves))
    for (p, lat), colour in zip(curves, colours, strict=True):
        idx = np.unique(np.linspace(0, len(lat) - 1, min(len(lat), CDF_POINTS)).astype(int))
        share = (idx + 1) / len(lat) * 100
        ax.step(lat[idx], share, where="post", color=colour, label=level_text(run, p.level),
                gid=f"cdf|{p.level:g}")
        p99 = run.judged(p).latency.p(99) / 1e6
        ax.plot([p99], [99], marker="|", markersize=12, color=colour)
    ax.set_xlabel(f"Latency ({'from the scheduled send' if _scheduled(run) else 'from the send'})"
                  " (ms)")
    ax.set_ylabel("Requests answered within (%)")
    ax.set_ylim(0, 101)
    ax.set_xscale("log")  # a long tail must not squash the body of the distribution
    ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.grid(True, alpha=0.3)
    ax.legend(title=run.level_name, fontsize=8, loc="lower right",
              ncols=1 if len(curves) <= 8 else 2)
    ax.set_title("Latency distribution per load point (the reported windows' requests; "
                 "| marks p99)", fontsize=10)
    return fig


def _scheduled(run: RunResult) -> bool:
    return run.settings.latency_source is LatencySource.SCHEDULED


def _colours(n: int) -> list[str]:
    if n <= 10:
        return [f"C{i}" for i in range(n)]
    from matplotlib import colormaps

    cmap = colormaps["viridis"]
    return [_hex(cmap(i / max(n - 1, 1))) for i in range(n)]


def _hex(rgba: tuple[float, ...]) -> str:
    return "#" + "".join(f"{round(c * 255):02x}" for c in rgba[:3])


def client_figure(run: RunResult) -> Figure | None:
    """The client's CPU use (cores) and worst event-loop lag (ms) per window, with the levels
    above which a window is marked client-saturated."""
    ws = [(w.summary) for p in run.points for w in p.windows]
    if not ws:
        return None
    fig = Figure(figsize=(10, 4.6), dpi=DPI, layout="constrained")
    cpu_ax, lag_ax = fig.subplots(2, 1, sharex=True)
    mid = np.array([(_t(run, w.start_ns) + _t(run, w.end_ns)) / 2 for w in ws])
    cpu = np.array([w.client_cpu_util for w in ws])
    lag = np.array([w.client.max_loop_lag_ns / 1e6 for w in ws])
    cores = max(w.windows_cores for w in ws)
    cpu_ax.plot(mid, cpu, marker="o", markersize=4, color="C4", gid="client_cpu")
    cpu_ax.axhline(CLIENT_SATURATION_CPU * cores, color=OUT, linestyle="--", linewidth=1)
    cpu_ax.set_ylabel("Client CPU (cores)")
    cpu_ax.set_ylim(0, max(float(cpu.max()), CLIENT_SATURATION_CPU * cores) * 1.15)
    lag_ax.plot(mid, lag, marker="o", markersize=4, color="C1", gid="loop_lag")
    lag_ax.axhline(CLIENT_SATURATION_LAG_NS / 1e6, color=OUT, linestyle="--", linewidth=1)
    lag_ax.set_ylabel("Event-loop lag (ms)")
    lag_ax.set_ylim(0, max(float(lag.max()), CLIENT_SATURATION_LAG_NS / 1e6) * 1.15)
    lag_ax.set_xlabel("Time since the run started (s)")
    for ax in (cpu_ax, lag_ax):
        _point_bands(ax, run, labels=ax is cpu_ax)
        ax.grid(True, alpha=0.3)
    fig.suptitle("The client's own load per window (dashed: above it a window is marked "
                 "client-saturated)", fontsize=10)
    return fig


def metrics_figure(run: RunResult) -> Figure | None:
    """--collect-metrics: the server's CPU and GPU utilization at every scrape over time."""
    scrapes = sorted({s.t_ns: s for p in run.points for w in p.windows for s in w.metrics}.items())
    series: dict[str, tuple[list[float], list[float]]] = {}
    for t_ns, s in scrapes:
        for family, name in ((CPU_UTIL, "server CPU"), (GPU_UTIL, "GPU")):
            for key, value in s.values.get(family, {}).items():
                xs, ys = series.setdefault(f"{name} {key}".strip(), ([], []))
                xs.append(_t(run, t_ns))
                ys.append(value * 100)
    if not series:
        return None
    fig = Figure(figsize=(10, 3.4), dpi=DPI, layout="constrained")
    ax = fig.add_subplot()
    for name, (xs, ys) in series.items():
        ax.plot(xs, ys, marker=".", label=name, gid=f"metric|{name}")
    ax.set_ylabel("Utilization (%)")
    ax.set_xlabel("Time since the run started (s)")
    ax.set_ylim(0, max(100.0, max(max(y) for _, y in series.values()) * 1.1))
    _point_bands(ax, run, labels=True)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    return fig


def repeat_figure(run: RunResult) -> Figure | None:
    """--repeat: each run's throughput per load level, and the mean with its interval."""
    if not run.replicates:
        return None
    fig = Figure(figsize=(10, 4.2), dpi=DPI, layout="constrained")
    ax = fig.add_subplot()
    levels = [p.level for p in run.points]
    x_of = {lv: i for i, lv in enumerate(levels)}
    for k, rep in enumerate(run.replicates, 1):
        xs = [x_of[p.level] + (k - (len(run.replicates) + 1) / 2) * 0.06 for p in rep.points]
        ax.plot(xs, [p.merged.throughput for p in rep.points], linestyle="none", marker="o",
                markersize=5, alpha=0.7, label=f"run {k}", gid=f"run|{k}")
    for i, (level, _n, ivs) in enumerate(point_intervals(run)):
        iv = ivs.get("Throughput (infer/s)")
        if iv is None:
            continue
        err = iv.half_width if iv.half_width is not None and math.isfinite(iv.half_width) else 0
        ax.errorbar([i], [iv.mean], yerr=[err], color="black", capsize=8, marker="_",
                    markersize=20, gid=f"interval|{level:g}")
    ax.set_xticks(range(len(levels)), [level_text(run, lv) for lv in levels])
    ax.set_xlim(-0.6, len(levels) - 0.4)
    ax.set_ylabel("Throughput (infer/s)")
    ax.set_ylim(bottom=0, top=ax.get_ylim()[1] * 1.1)
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right", ncols=2)
    ax.set_title("Each run's throughput per load point; black: mean ± 95 % interval across runs",
                 fontsize=10)
    return fig


__all__ = ["client_figure", "distribution_figure", "judged_name", "level_text",
           "merged_latencies_ms", "metrics_figure", "repeat_figure", "stability_figure"]
