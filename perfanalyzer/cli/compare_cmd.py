"""``perfanalyzer compare BASELINE CURRENT``: the CI regression gate (``--baseline`` runs the
same gate from the profile command, :func:`perfanalyzer.cli.profile_main.run_profile`)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from .. import columns as C
from ..errors import CompareError, PerfAnalyzerError

if TYPE_CHECKING:
    from ..gate.compare import Comparison
from ..report.outfile import OutputError, write_output
from .floats import FINITE_FLOAT

EPILOG = f"""\b
Exit codes: 0 no regression, 1 regression, 2 cannot compare (unreadable file, a figure that is
not finite or negative, other load mode, no common load point, runs of another model, version or
batch size, a bad --fail-on or option: option errors are "cannot compare" here too).
\b
Examples:
  perfanalyzer compare base.json new.json
  perfanalyzer compare base.csv new.csv --fail-on 'p99:+5%' --fail-on '{C.QUEUE.name}:+100us'
  perfanalyzer compare base.json new.json --markdown "$GITHUB_STEP_SUMMARY" --json verdict.json
"""


class CompareCommand(click.Command):
    """Usage errors become CompareError: ``compare`` exits 2, not 3, on a bad option."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as exc:
            raise CompareError(f"{exc.format_message()} (see perfanalyzer compare --help)") from None


@click.command("compare", cls=CompareCommand, epilog=EPILOG,
               context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.argument("baseline", metavar="BASELINE")
@click.argument("current", metavar="CURRENT")
@click.option("--fail-on", "fail_on", multiple=True, metavar="'METRIC:±N[%|ms|us|infer/s]'",
              help="A check (repeatable): e.g. 'throughput:-5%' fails on a drop of more than 5%, "
                   f"'p99:+10%' on a rise of more than 10%, '{C.percentile_name(99)}:+2ms' or "
                   f"'{C.QUEUE.name}:+100us' "
                   "on an absolute rise. METRIC is any CSV column or an alias (throughput, p50..p99, "
                   "avg, queue). It replaces the default check of the same column.")
@click.option("--no-default-checks", is_flag=True,
              help="Do not add the defaults (throughput:-5%, p99:+10%) for unchecked columns.")
@click.option("--alpha", type=FINITE_FLOAT, default=0.05, show_default=True,
              help="False-alarm rate of each check with replicate runs (JSON runs made with "
                   "--repeat N): a change fails only when its one-sided 1 − alpha bound is past "
                   "zero (0 < alpha < 0.5).")
@click.option("--allow-different-model", "different_model", is_flag=True,
              help="Compare JSON runs of different models, model versions or batch sizes (else "
                   "that is an input error, exit 2: the gate would judge another workload).")
@click.option("--all-metrics", is_flag=True,
              help="Also list the change of every unchecked column.")
@click.option("--markdown", "markdown_path", metavar="FILE", default=None,
              help="Write a markdown summary (e.g. \"$GITHUB_STEP_SUMMARY\"); overwrites FILE.")
@click.option("--json", "json_path", metavar="FILE", default=None,
              help="Write the verdict as JSON.")
@click.option("--html", "html_path", metavar="FILE.html", default=None,
              help="Write the verdict as one self-contained HTML page: the table, and per check "
                   "each load point's change with its interval and the threshold drawn.")
def compare(baseline: str, current: str, fail_on: tuple[str, ...], no_default_checks: bool,
            alpha: float, all_metrics: bool, markdown_path: str | None,
            json_path: str | None, html_path: str | None, different_model: bool) -> None:
    """Compare a run with a baseline and fail on a real regression.

    BASELINE and CURRENT are CSVs (perfanalyzer's or perf_analyzer's -f output) or JSON runs
    (--profile-export-file). Load points are matched by the first column; each check compares the
    reported figures (a run's merged stability windows; with --repeat N, the mean of the runs).
    With replicate runs (JSON runs made with --repeat N) a change beyond its threshold fails unless
    its 95% interval across runs (Welch's t on the runs' figures) reaches zero: "within noise".
    With single runs or CSVs the thresholds alone decide (run-to-run noise cannot be judged).
    """
    from ..gate.checks import parse_checks
    from ..gate.compare import Comparison
    from ..gate.compare import compare as run_compare
    from ..gate.inputs import load_side
    from ..gate.render import console_text, json_text, markdown_text
    from ..report.outfile import check_output

    for flag, path in (("--markdown", markdown_path), ("--json", json_path),
                       ("--html", html_path)):
        try:
            check_output(path, flag)  # before reading the runs
        except PerfAnalyzerError as exc:
            raise CompareError(str(exc)) from None
    try:
        checks = parse_checks(fail_on)
        result = run_compare(load_side(baseline), load_side(current), checks,
                             defaults=not no_default_checks, alpha=alpha,
                             all_metrics=all_metrics, different_model=different_model)
    except CompareError as exc:
        result = Comparison.failed(baseline, current, str(exc))
    click.echo(console_text(result), nl=False)
    for flag, path, text in (("--markdown", markdown_path, markdown_text),
                             ("--json", json_path, json_text), ("--html", html_path, _html)):
        if path:
            try:  # never through a symlink, devices in place (report/outfile.py)
                write_output(path, text(result), flag)
            except OutputError as exc:
                click.echo(f"error: {exc}", err=True)
                sys.exit(CompareError.exit_code)
    if result.error:
        click.echo(f"error: {result.error}", err=True)
    sys.exit(result.exit_code)

def _html(result: Comparison) -> str:
    from ..gate.html import compare_html  # matplotlib and Jinja2 only for --html

    return compare_html(result)


__all__ = ["compare"]
