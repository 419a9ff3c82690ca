"""Console text of a ``--repeat N`` run: a header before each run and, after the last one, every
figure of every load point as the mean of the runs' figures ± the half-width of its 95 % t-interval
across runs (the figure of one run is that run's reported figure: its merged stability windows).

The final table and the CSV show the pooled figures (:mod:`perfanalyzer.results.combine`).
"""

from __future__ import annotations

import math

from ..measure.metrics import Summary
from ..measure.tdist import MeanInterval, mean_interval
from ..results import RunResult
from ..results.combine import merged_windows

CONFIDENCE = 0.95


def plain(value: float, ref: float | None = None) -> str:
    """A number without scientific notation: 2 significant digits of ``ref`` (an interval's
    half-width) when given, else about 6 significant digits; never fewer than 0 decimals."""
    if not math.isfinite(value):
        return str(value)
    scale = abs(ref) if ref else abs(value)
    if scale == 0:
        return f"{value:.0f}" if ref is not None else f"{value:g}"
    digits = min(max((1 if ref else 5) - math.floor(math.log10(scale)), 0), 6)
    text = f"{value:.{digits}f}"
    if ref is None and "." in text:  # "88.0000" → "88", "102.8890" → "102.889"
        text = text.rstrip("0").rstrip(".")
    return text


def fmt_interval(iv: MeanInterval) -> str:
    """``79.83 ± 0.41``; ``79.8312`` when there is no interval (one run)."""
    if iv.half_width is None:
        return plain(iv.mean)
    return f"{plain(iv.mean, iv.half_width)} ± {plain(iv.half_width, iv.half_width)}"


def run_header(k: int, n: int) -> str:
    return f"\n*** Run {k} of {n} (--repeat {n}) ***\n"


def figures(s: Summary) -> dict[str, float]:
    """A summary's console figures: throughput (infer/s) and latencies (µs)."""
    out = {"Throughput (infer/s)": s.throughput, "Avg latency (us)": s.latency.avg_ns / 1000.0}
    for pct, ns in sorted(s.latency.percentiles.items()):
        out[f"p{pct} latency (us)"] = ns / 1000.0
    return out


def point_intervals(pooled: RunResult) -> list[tuple[float, int, dict[str, MeanInterval]]]:
    """Per load level: how many runs measured it and the interval of every figure."""
    runs = pooled.replicates or [pooled]
    out = []
    for point in pooled.points:
        mine = [p.merged for r in runs for p in r.points if p.level == point.level]
        per_run = [figures(s) for s in mine]
        keys = [k for k in per_run[0] if all(k in f for f in per_run)]
        out.append((point.level, len(mine),
                    {k: mean_interval([f[k] for f in per_run], CONFIDENCE) for k in keys}))
    return out


def intervals_text(pooled: RunResult) -> str:
    """The across-runs table printed after the last run."""
    runs = pooled.replicates or [pooled]
    name = pooled.level_name
    rows = point_intervals(pooled)
    keys = list(rows[0][2]) if rows else []
    table = [[name, "runs", *keys]]
    for level, n, ivs in rows:
        table.append([f"{level:g}", str(n), *(fmt_interval(ivs[k]) if k in ivs else ""
                                              for k in keys)])
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    lines = [f"\nAcross {len(runs)} runs: mean of the runs' figures ± half-width of its "
             f"{CONFIDENCE:.0%} confidence interval (Student's t, runs - 1 degrees of freedom)"]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
              for r in table]
    for k, run in enumerate(runs, 1):
        shaky = [f"{p.level:g}" for p in run.points if not p.stable]
        if shaky:
            lines.append(f"Run {k}: {name} {', '.join(shaky)} did not stabilize")
    lines += _left_out_lines(pooled, runs)
    lines.append(f"(The table below and the CSV pool the merged windows of all runs: "
                 f"{_windows(pooled)} windows.)")
    return "\n".join(lines) + "\n"


def _left_out_lines(pooled: RunResult, runs: list[RunResult]) -> list[str]:
    """A level that one run could not stabilize is not stable pooled: it leaves -f, said here."""
    out = []
    for point in pooled.points:
        which = [str(k) for k, run in enumerate(runs, 1)
                 if any(p.level == point.level and not p.stable for p in run.points)]
        if which and not point.stable:
            out.append(f"[WARNING] {pooled.level_name} {point.level:g} did not stabilize in run "
                       f"{', '.join(which)} of {len(runs)}: the pooled point is left out of -f "
                       "(--csv-all-points writes it, marked)")
    return out


def _windows(pooled: RunResult) -> str:
    return ", ".join(f"{p.level:g}: {len(merged_windows(p))}" for p in pooled.points)


__all__ = ["fmt_interval", "intervals_text", "plain", "point_intervals", "run_header"]
