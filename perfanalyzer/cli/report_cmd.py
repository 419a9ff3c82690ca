"""``perfanalyzer report RUN.json`` and ``perfanalyzer plot FILES... -o DIR``: reports without a server."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ..errors import OptionError
from ..report.html import FLAG as HTML_FLAG

if TYPE_CHECKING:
    from ..results import RunResult

_CTX = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.command("report", context_settings=_CTX)
@click.argument("run_file", metavar="RUN.json", type=click.Path(dir_okay=False))
@click.option("-f", "--filename", default=None, metavar="FILE.csv",
              help="Write perf_analyzer's CSV, as the live run wrote it.")
@click.option("--verbose-csv", is_flag=True, help="Add the verbose CSV columns.")
@click.option("--csv-all-points", is_flag=True, help="Every measured point, with a trailing Status "
              "column (default: as the live run wrote it; stable points under -l only). The "
              "streaming columns are written when the live run had --csv-streaming.")
@click.option("--html", default=None, metavar="FILE.html",
              help="Write the run's report as one self-contained HTML page (figures inline, no "
              "script), as the live run's --html wrote it.")
def report(run_file: str, filename: str | None, verbose_csv: bool, csv_all_points: bool,
           html: str | None) -> None:
    """Re-report a saved run (--profile-export-file) without a server.

    Prints the settings, every load point's block and the final table exactly as the live run did,
    and with -f rewrites the CSV byte for byte. How the run ended (interrupted, an error) is noted
    on stderr. A --repeat N run: every run's blocks, the figures across runs, the pooled table.
    """
    from ..report.composing_csv import write_composing_csvs
    from ..report.csv import FLAG as CSV_FLAG
    from ..report.csv import write_csv
    from ..report.outfile import check_output
    from ..report.saved import console_text, load_run

    check_output(filename, CSV_FLAG)
    check_output(html, HTML_FLAG)
    run = load_run(run_file)
    sys.stdout.write(console_text(run))
    sys.stdout.flush()
    if filename:
        if not run.points:
            raise OptionError(f"{run_file}: the run measured no load point: no CSV to write")
        st = run.settings
        every = csv_all_points or st.csv_all_points
        write_csv(run, filename, verbose=verbose_csv, gpu=st.collect_metrics, all_points=every,
                  streaming=st.csv_streaming)
        write_composing_csvs(run, filename, all_points=every)
    if html:
        if run.periodic is not None:
            raise OptionError(f"--html: {run_file} is a periodic concurrency run: one window and "
                              "no load points to draw (its figures are in the text above)")
        if not run.points:
            raise OptionError(f"--html: {run_file}: the run measured no load point: no page "
                              "to write")
        write_html(run, html)
    if run.interrupted:
        click.echo(f"note: {run_file}: the run was interrupted (Ctrl-C)", err=True)
    if run.failure:
        click.echo(f"note: {run_file}: the run ended with an error: {run.failure}", err=True)


def write_html(run: RunResult, path: str) -> None:
    from ..report.html.run_report import run_html
    from ..report.outfile import write_output

    write_output(path, run_html(run), HTML_FLAG)


@click.command("plot", context_settings=_CTX)
@click.argument("files", nargs=-1, required=True, metavar="FILE.csv|RUN.json...",
                type=click.Path(dir_okay=False))
@click.option("-o", "--output-dir", required=True, metavar="DIR",
              help="Folder for the figures (created if missing).")
@click.option("--format", "formats", default="png,svg", show_default=True,
              help="Comma-separated image formats.")
def plot(files: tuple[str, ...], output_dir: str, formats: str) -> None:
    """Draw figures from CSVs (perf_analyzer's or ours) and saved JSON runs.

    throughput_latency.*: latency percentiles (p50, p90, p99) against throughput, every file
    overlaid (labelled by file name). breakdown_<file>.* (files with server statistics): average
    latency per load point, stacked by component (client send, network, server queue, compute
    input/infer/output, client receive). timeline_<file>.*
    (JSON runs only): throughput and latency per measurement window over time.
    """
    from ..report.plots import write_figures

    fmts = tuple(f.strip().lower() for f in formats.split(",") if f.strip())
    bad = [f for f in fmts if f not in ("png", "svg", "pdf")]
    if bad or not fmts:
        raise OptionError(f"--format: expected png, svg or pdf, got {formats!r}")
    for path in write_figures([Path(f) for f in files], output_dir, fmts):
        click.echo(str(path))


__all__ = ["plot", "report"]
