"""The option table's output group: what is written."""

from __future__ import annotations

from dataclasses import dataclass

from ... import columns as C
from .. import defaults as d
from .. import parse as p
from ..choices import pos as _pos
from ..option import opt
from .load import NOT_PERIODIC


@dataclass(frozen=True, kw_only=True)
class OutputConfig:
    """What is written, and the baseline gate."""

    verbose: int = opt(0, "-v", "--verbose", count=True, help="-v: perf_analyzer's 'Pass [n] "
                       "throughput: ...' line after every measurement window; -v -v adds a detail "
                       "line per window.",
                       figures=False)
    quiet: bool = opt(False, "-q", "--quiet", switch=True,
                      help="No live status line on the terminal (stdout and the files are "
                      "unchanged; the line is drawn only when stderr is a terminal).",
                      figures=False)
    filename: str | None = opt(None, "-f", "--filename", metavar="FILE.csv",
                               help="Write perf_analyzer's CSV.",
                               modes=NOT_PERIODIC, figures=False,
                               search_refused="each candidate's CSV is written in --output-dir")
    verbose_csv: bool = opt(False, "--verbose-csv", switch=True, modes=NOT_PERIODIC, figures=False,
                            help="Add perf_analyzer's verbose columns to -f's CSV "
                            f"({C.AVG_LATENCY.name}, {C.REQUEST_RESPONSE.name}, "
                            f"{C.RESPONSE_WAIT.name}; GPU columns with --collect-metrics).")
    profile_export_file: str | None = opt(None, "--profile-export-file", metavar="FILE.json",
                                          help="Write every request and window as JSON "
                                          "(re-reportable).",
                                          figures=False, search_refused="each candidate's "
                                          "export is written in --output-dir")
    collect_metrics: bool = opt(False, "--collect-metrics", switch=True,
                                help="Scrape the server's Prometheus metrics while measuring (GPU "
                                "columns in --verbose-csv; CPU/GPU figures on the console and in "
                                "the JSON export).",
                                figures=False)
    metrics_url: str | None = opt(None, "--metrics-url", metavar="HOST:PORT/PATH",
                                  parse=p.metrics_url,
                                  help="Metrics endpoint, http or https (default: -u's host, "
                                  "port 8002, /metrics); needs --collect-metrics.",
                                  figures=False)
    metrics_interval_ms: int = opt(d.DEFAULT_METRICS_INTERVAL_MS, "--metrics-interval", kind=int,
                                   cli_default=None, metavar="MS", check=_pos,
                                   message="--metrics-interval must be > 0, got {value}",
                                   help=f"Time between scrapes in ms [default: "
                                   f"{d.DEFAULT_METRICS_INTERVAL_MS}]; needs --collect-metrics.",
                                   figures=False)
    baseline: str | None = opt(None, "--baseline", metavar="RUN.json|CSV",
                               help="Compare with this baseline after the run and fail on a "
                               "regression.",
                               modes=NOT_PERIODIC, figures=False,
                               search_refused="a search has no baseline gate")
    html: str | None = opt(None, "--html", metavar="FILE.html",
                           help="Write a self-contained HTML report (figures inline, no script, "
                           "printable); `perfanalyzer report RUN.json --html` makes the same page "
                           "from a saved run.",
                           figures=False,
                           search_refused="the search writes its summary in --output-dir")
    events: str | None = opt(None, "--events", metavar="FILE.jsonl",
                             help="Write JSON lines as the run goes: one per finished window and "
                             "per load point, one at the end (flushed as they happen).",
                             figures=False, search_refused="a search runs many sweeps; follow "
                             "its summary in --output-dir")
    # which points -f holds, and what is written besides the CSV
    csv_all_points: bool = opt(False, "--csv-all-points", switch=True, help="-f: every point, "
                               f"with a trailing '{C.STATUS}' column (default: stable points under -l "
                               "only, as perf_analyzer).",
                               modes=NOT_PERIODIC)
    csv_streaming: bool = opt(
        False, "--csv-streaming", switch=True, help="-f: append the time to first response and "
        f"inter-response time columns (Avg and percentiles, µs), and {C.GOODPUT.name} / "
        f"{C.GOODPUT_SHARE.name} with "
        "--goodput, after perf_analyzer's columns.",
        modes=NOT_PERIODIC)
    export_tensors: bool = opt(
        False, "--export-tensors", switch=True, help="--profile-export-file: write each "
        "request's request_inputs and response_outputs (perf_analyzer's format; a closed loop "
        "that decodes every answer, concurrency mode only).")
