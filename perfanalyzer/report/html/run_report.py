"""A run's HTML report, built from the saved-run model only (:mod:`perfanalyzer.report.saved`):
a live run's page is made from its export re-read, so ``report RUN.json --html`` of the saved
file gives the same bytes."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any

from ...results import LoadMode, PointStatus, RunResult
from ...version import __version__
from ..caveats import verdict_line
from ..frame import points_frame
from ..plots import Source, breakdown_figure, throughput_latency_figure
from ..saved import console_text, load_doc
from . import run_figures as rf
from . import tables
from .page import Figures, render

SECTIONS = (("points", "Throughput and latency"), ("breakdown", "Latency breakdown"),
            ("windows", "Windows and stability"), ("distribution", "Latency distribution"),
            ("server", "Server"), ("client", "Client"), ("repeat", "Runs (--repeat)"),
            ("warnings", "Warnings"), ("settings", "Settings and provenance"))


def html_from_export(chunks: Iterable[str], name: str) -> str:
    """The page of a live run: its export text parsed and re-read like a saved file."""
    return run_html(load_doc(json.loads("".join(chunks)), name))


def run_html(run: RunResult) -> str:
    """The whole page of ``run`` (a loaded saved run)."""
    figs = Figures()
    statuses = [run.status(p) for p in run.points]
    label = run.model.name
    src = Source(label, points_frame(run, label)) if run.points else None
    server = any(p.merged.server is not None for p in run.points)
    runs = run.replicates or [run]
    per_run = [_run_parts(figs, r, f"Run {k}: " if len(runs) > 1 else "")
               for k, r in enumerate(runs, 1)]
    composing = list(run.model.composing)
    context = dict(
        version=__version__, title=f"perfanalyzer report: {label}",
        subtitle=_subtitle(run), verdict=verdict_line(run, None),
        all_stable=bool(statuses) and all(s is PointStatus.STABLE for s in statuses) and not run.failure,
        sections=[s for s in SECTIONS if s[0] != "repeat" or run.replicates],
        fig_tl=figs.svg(throughput_latency_figure([src]) if src is not None else None,
                        "Throughput vs latency"),
        points=tables.points_table(run) if run.points else None,
        fig_breakdown=figs.svg(breakdown_figure(src) if src is not None and server else None,
                               "Latency breakdown"),
        breakdown_missing=("No server statistics: " + (run.server_stats_reason or
                                                       "none were read")),
        breakdown=tables.breakdown_table(run),
        per_run=per_run, judged=rf.judged_name(run),
        stability_windows=run.settings.stability_windows,
        stability_pct=f"{run.settings.stability_percentage:g}",
        fig_dist=figs.svg(rf.distribution_figure(run), "Latency distribution"),
        server_missing="" if server else ("Server statistics are not reported: "
                                          + (run.server_stats_reason or "none were read")),
        composing=composing, composing_kind="BLS" if run.model.bls else "ensemble",
        server=tables.server_table(run),
        metrics=tables.metrics_table(run),
        repeat=tables.repeat_table(run), replicates=tables.replicate_table(run),
        fig_repeat=figs.svg(rf.repeat_figure(run), "Runs"),
        warnings=tables.warning_lines(run, run.settings.protocol),
        settings=tables.settings_table(run), provenance=tables.provenance_table(run),
        console=console_text(run),
    )
    return render("run.html.j2", **context)


def _run_parts(figs: Figures, run: RunResult, prefix: str) -> dict[str, Any]:
    """The figures drawn over one run's time line (each run of --repeat has its own)."""
    return dict(
        prefix=prefix,
        windows=figs.svg(rf.stability_figure(run), f"{prefix}windows over time"),
        stability=tables.stability_table(run, prefix) if run.points else None,
        client=figs.svg(rf.client_figure(run), f"{prefix}client load"),
        metrics=figs.svg(rf.metrics_figure(run), f"{prefix}server metrics over time"))


def _subtitle(run: RunResult) -> str:
    started = datetime.fromtimestamp(run.wall_anchor_ns / 1e9, tz=timezone.utc)
    mode = {LoadMode.CONCURRENCY: "concurrency sweep", LoadMode.REQUEST_RATE: "request-rate sweep",
            LoadMode.CUSTOM_INTERVALS: "custom intervals"}.get(run.mode, run.mode.value)
    parts = [f"model {run.model.name}", mode, f"batch size {run.batch_size}",
             f"{len(run.points)} load point(s)"]
    if run.replicates:
        parts.append(f"{len(run.replicates)} runs (--repeat)")
    if run.wall_anchor_ns:
        parts.append(f"started {started.isoformat(timespec='seconds')}")
    return "; ".join(parts)


__all__ = ["html_from_export", "run_html"]
