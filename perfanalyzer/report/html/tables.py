"""The tables of a run's HTML report, as plain rows of text (the template escapes them): settings
and provenance, the load points, stability per point, server statistics per model, collected
metrics, the across-runs intervals of ``--repeat``, and the warnings."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ... import columns as C
from ...measure.prometheus import (
    CPU_MEM_TOTAL,
    CPU_MEM_USED,
    CPU_UTIL,
    GPU_MEM_USED,
    GPU_POWER,
    GPU_UTIL,
    fmt_value,
    merge_scrapes,
)
from ...results import PointStatus, RunResult
from ...results.combine import merged_windows
from ..console import point_text
from ..figures import row_figures
from ..repeat import fmt_interval, point_intervals
from .run_figures import level_text

#: Config keys whose values are never shown (a header value may be a credential): names only.
HEADER_KEYS = ("headers", "secret_headers")
_USERINFO = re.compile(r"(//)[^/@\s]+@")


@dataclass
class Table:
    """A caption, a header row and body rows of text; ``marks`` flags rows a reader should see."""

    caption: str
    head: list[str]
    rows: list[list[str]] = field(default_factory=list)
    marks: list[bool] = field(default_factory=list)

    def add(self, row: list[str], mark: bool = False) -> None:
        self.rows.append(row)
        self.marks.append(mark)


def _text(value: Any) -> str:
    if isinstance(value, str):
        return _USERINFO.sub(r"\1***@", value)
    return json.dumps(value, default=str)


def settings_table(run: RunResult) -> Table:
    """Every configuration key the run recorded (header values left out)."""
    t = Table("Settings (as recorded in the run)", ["Setting", "Value"])
    for key, value in sorted(run.config.items()):
        if value in (None, "", [], (), {}):
            continue
        if key in HEADER_KEYS:
            names = [str(h[0]) if isinstance(h, (list, tuple)) and h else "?" for h in value]
            t.add([key, ", ".join(names) + " (values not shown)"])
        else:
            t.add([key, _text(value)])
    return t


def provenance_table(run: RunResult) -> Table:
    t = Table("Provenance (machine, versions, server)", ["Item", "Value"])
    for key, value in sorted(_flat(run.provenance).items()):
        t.add([key, _text(value)])
    return t


def _flat(obj: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in obj.items():
        if isinstance(value, Mapping) and value:
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def points_table(run: RunResult) -> Table:
    """One row per load point: status, throughput, latencies (ms), errors, client load."""
    pcts = sorted({p for pt in run.points for p in pt.merged.latency.percentiles})
    t = Table("Load points (figures of the windows merged into each point)",
              [run.level_name, "Status", "Throughput (infer/s)", "Avg latency (ms)",
               *[f"p{p} (ms)" for p in pcts], "Requests", "Errors", "Client CPU (cores)",
               "Max loop lag (ms)"])
    for p in run.points:
        s = p.merged
        status = run.status(p)
        t.add([level_text(run, p.level), status, f"{s.throughput:.1f}", _ms(s.latency.avg_ns),
               *[_ms(s.latency.p(q)) for q in pcts], str(s.completed), str(s.errors),
               f"{s.client_cpu_util:.2f}", f"{s.client.max_loop_lag_ns / 1e6:.1f}"],
              mark=status is not PointStatus.STABLE)
    return t


def _ms(ns: float) -> str:
    return f"{ns / 1e6:.3f}"


def _pct(x: float) -> str:
    return f"{x * 100:.1f} %" if math.isfinite(x) else "n/a"


def stability_table(run: RunResult, prefix: str = "") -> Table:
    """Why each point is (not) stable: its windows, spreads against -s, the stabilizer's reason."""
    target = run.settings.stability_percentage
    t = Table(f"{prefix}Stability per point (target: spread ≤ {target:g} % over the last "
              f"{run.settings.stability_windows} windows)",
              [run.level_name, "Windows", "Merged", "Throughput spread", "Latency spread",
               "Reason", "Status"])
    for p in run.points:
        v = p.verdict
        status = run.status(p)
        t.add([level_text(run, p.level), str(len(p.windows)), str(len(merged_windows(p))),
               _pct(v.throughput_spread), _pct(v.latency_spread), v.reason, status],
              mark=status is not PointStatus.STABLE)
    return t


def breakdown_table(run: RunResult) -> Table | None:
    """Average latency per point, split as in perf_analyzer's CSV (µs; for an ensemble the
    ensemble's own server figures, as the CSV)."""
    if not any(p.merged.server is not None for p in run.points):
        return None
    t = Table("Where the time goes (µs per request, averages)",
              [run.level_name, "Client send", "Network+server", "Server queue", "Compute input",
               "Compute infer", "Compute output", "Client recv", C.AVG_LATENCY.name])
    for p in run.points:  # the CSV's figures, as the bars above draw them
        f = row_figures(p.merged, latency=run.judged(p).latency)
        t.add([level_text(run, p.level), str(f.client_send_us), _opt(f.network_us),
               _opt(f.queue_us), _opt(f.compute_input_us), _opt(f.compute_infer_us),
               _opt(f.compute_output_us), str(f.client_recv_us), str(f.avg_latency_us)])
    return t


def _opt(v: int | None) -> str:
    return "" if v is None else str(v)


def server_table(run: RunResult) -> Table | None:
    """The server's counters per point and model (the model under test, then each composing
    model): inferences, executions, average queue and compute times (µs)."""
    if not any(p.merged.server is not None for p in run.points):
        return None
    t = Table("Server statistics per model (merged windows)",
              [run.level_name, "Model", "Inferences", "Executions", "Queue (µs)",
               "Compute input (µs)", "Compute infer (µs)", "Compute output (µs)"])
    for p in run.points:
        server = p.merged.server
        if server is None:
            t.add([level_text(run, p.level), "(not read)", "", "", "", "", "", ""], mark=True)
            continue
        for k, m in enumerate((server.model, *server.composing)):
            name = m.name if k == 0 else f"↳ {m.name}"
            t.add([level_text(run, p.level), name, str(m.inference_count),
                   str(m.execution_count),
                   *[_avg(m, key) for key in ("queue", "compute_input", "compute_infer",
                                              "compute_output")]])
    return t


def _avg(m: Any, key: str) -> str:
    d = m.get(key)
    return f"{d.ns / d.count / 1000:.0f}" if d.count else ""


_GIB = 1 / 2**30
_METRIC_COLUMNS = (("GPU utilization", GPU_UTIL, 100.0, " %"), ("GPU power", GPU_POWER, 1.0, " W"),
                   ("GPU memory max", GPU_MEM_USED, _GIB, " GiB"),
                   ("Server CPU", CPU_UTIL, 100.0, " %"),
                   ("CPU memory max", CPU_MEM_USED, _GIB, " GiB"),
                   ("CPU memory total", CPU_MEM_TOTAL, _GIB, " GiB"))


def metrics_table(run: RunResult) -> Table | None:
    """--collect-metrics: the scrapes of each point's merged windows, merged as on the console."""
    if not run.settings.collect_metrics:
        return None
    merged = [(p, merge_scrapes(p.metrics) if p.metrics else {}) for p in run.points]
    cols = [c for c in _METRIC_COLUMNS if any(m.get(c[1]) for _, m in merged)]
    t = Table("Collected server metrics (scrapes in the merged windows)",
              [run.level_name, *[c[0] for c in cols], "Scrapes"])
    for p, m in merged:
        cells = []
        for _, family, scale, unit in cols:
            per = m.get(family, {})
            cells.append("; ".join(f"{(k + ': ') if k else ''}{_fmt(family, v * scale, unit)}"
                                   for k, v in sorted(per.items())))
        t.add([level_text(run, p.level), *cells, str(len(p.metrics))], mark=not p.metrics)
    return t


def _fmt(family: str, value: float, unit: str) -> str:
    return f"{value:.2f}{unit}" if unit == " GiB" else f"{fmt_value(family, value)}{unit}"


def repeat_table(run: RunResult) -> Table | None:
    if not run.replicates:
        return None
    rows = point_intervals(run)
    keys = list(rows[0][2]) if rows else []
    t = Table(f"Across {len(run.replicates)} runs: mean ± half-width of the 95 % interval",
              [run.level_name, "Runs", *keys])
    for level, n, ivs in rows:
        t.add([level_text(run, level), str(n),
               *[fmt_interval(ivs[k]) if k in ivs else "" for k in keys]])
    return t


def replicate_table(run: RunResult) -> Table | None:
    """--repeat: each run's reported figure per point."""
    if not run.replicates:
        return None
    t = Table("Each run", ["Run", run.level_name, "Status", "Throughput (infer/s)",
                           "Judged latency (ms)"])
    for k, rep in enumerate(run.replicates, 1):
        for p in rep.points:
            judged = run.judged(p)  # under the pooled run's settings
            t.add([str(k), level_text(run, p.level), judged.status, f"{p.merged.throughput:.1f}",
                   _ms(judged.latency_ns)], mark=not judged.stable)
    return t


def warning_lines(run: RunResult, protocol: str) -> list[tuple[str, str]]:
    """(where, text) for every warning the console printed, and how the run ended."""
    out: list[tuple[str, str]] = []
    if not run.server_stats:
        out.append(("run", f"Server statistics are not reported: {run.server_stats_reason}"))
    runs = run.replicates or [run]
    for k, r in enumerate(runs, 1):
        where = f"run {k}, " if run.replicates else ""
        for p in r.points:
            for line in point_text(r, p, protocol).splitlines():
                text = line.strip()
                if "WARNING" in text or text.startswith(("Failed to obtain", "Measured latency",
                                                         "Warning:", "Interrupted")):
                    out.append((where + level_text(run, p.level), text))
    if run.interrupted:
        out.append(("run", "The run was interrupted (Ctrl-C): the last point may be partial."))
    if run.failure:
        out.append(("run", f"The run ended with an error: {run.failure}"))
    return out


__all__ = ["Table", "breakdown_table", "metrics_table", "points_table", "provenance_table",
           "repeat_table", "replicate_table", "server_table", "settings_table",
           "stability_table", "warning_lines"]
