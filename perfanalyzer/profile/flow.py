"""The end of every run's flow (prepare → load → measure → **sinks → exit code**), whatever shape
its load had: a sweep, a periodic run, ``--repeat`` replicates, batch × shape combinations, an MPI
rank, or a search candidate.

* :class:`Files` says which files a run writes; :func:`check_outputs` checks them before any load.
* :func:`write_outputs` is the one place a run's measured data is written: through the safe writer
  (:mod:`perfanalyzer.report.outfile`), and, when a file cannot be written, into a fallback file
  named in the message: measured data is never lost silently.
* :class:`Outputs` rewrites the CSV after every point, writes every file at the end, and writes
  what was measured on a second Ctrl-C.
* :func:`exit_code` maps a run's :class:`Outcome` to perf_analyzer's exit codes (plus the gate's);
  :func:`conclude` is the step every conductor ends with.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from ..config import RunConfig
from ..errors import (
    EXIT_GENERIC,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_REGRESSION,
    EXIT_UNSTABLE,
)
from ..measure.status import did_not_stabilize
from ..report import console
from ..report.combined import Part, combined_csv_text, combined_export_text
from ..report.composing_csv import composing_texts
from ..report.csv import FLAG as CSV_FLAG
from ..report.csv import csv_text
from ..report.events import FLAG as EVENTS_FLAG
from ..report.events import EventLog
from ..report.export import FLAG as EXPORT_FLAG
from ..report.export import check_export_path, export_chunks
from ..report.html import FLAG as HTML_FLAG
from ..report.outfile import Data, OutputError, check_output, save_fallback, write_output
from ..results import RunResult

#: What the sinks write: one run, or the (keys, run) parts of a batch × shape sweep.
Measured = RunResult | Sequence[Part]


# ---- sinks ------------------------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class Files:
    """Which files a run writes, and how its CSV looks (a search candidate: its CSV and export
    in its folder, default columns, no composing CSVs)."""

    csv: str | None = None
    export: str | None = None
    html: str | None = None
    composing: bool = False  # an ensemble's or BLS model's composing CSVs beside ``csv``
    verbose_csv: bool = False
    gpu: bool = False  # --collect-metrics: the GPU columns of --verbose-csv
    all_points: bool = False
    streaming: bool = False

    @classmethod
    def of(cls, cfg: RunConfig) -> Files:
        out = cfg.output
        return cls(csv=out.filename, export=out.profile_export_file, html=out.html,
                   composing=True, verbose_csv=out.verbose_csv, gpu=out.collect_metrics,
                   all_points=out.csv_all_points, streaming=out.csv_streaming)

    @property
    def wanted(self) -> list[str]:
        return [f for f in (self.csv, self.export) if f]


def check_outputs(cfg: RunConfig) -> None:
    """Raise OptionError when an output file cannot be written; before any load."""
    check_output(cfg.output.filename, CSV_FLAG)
    check_export_path(cfg.output.profile_export_file)  # must not exist, as in perf_analyzer
    check_output(cfg.output.html, HTML_FLAG)
    check_output(cfg.output.events, EVENTS_FLAG)


@dataclass(frozen=True)
class Sink:
    """One file: its flag (named in messages), its path and its data (made when written)."""

    flag: str
    path: str
    data: Callable[[], Data]
    must_be_absent: bool = False


def _html(run: RunResult) -> str:
    """--html: made from the run's export re-read, so it equals ``report RUN.json --html``;
    pandas, matplotlib and Jinja2 are imported only here."""
    from ..report.html.run_report import html_from_export

    return html_from_export(export_chunks(run), "--html")


def csv_sinks(files: Files, measured: Measured) -> list[Sink]:
    """The CSVs (rewritten after every point): -f and, for ensembles and BLS models, one CSV
    per composing model beside it; a combined sweep's one CSV."""
    if isinstance(measured, RunResult):
        run = measured
        if not (files.csv and run.points):
            return []
        text = csv_text(run, files.verbose_csv, files.gpu, files.all_points, files.streaming)
        sinks = [Sink(CSV_FLAG, str(files.csv), lambda: text)]
        if files.composing:
            sinks += [Sink(CSV_FLAG, str(path), lambda t=t: t)  # type: ignore[misc]
                      for path, t in composing_texts(run, files.csv, files.all_points).items()]
        return sinks
    parts = list(measured)
    if not (files.csv and any(run.points for _, run in parts)):
        return []
    return [Sink(CSV_FLAG, str(files.csv),
                 lambda: combined_csv_text(parts, files.verbose_csv, files.all_points,
                                           files.streaming))]


def sinks(files: Files, measured: Measured, *, html: bool = True) -> list[Sink]:
    """Every file of the run, in the order they are written."""
    out = csv_sinks(files, measured)
    if files.export:
        data: Callable[[], Data] = (
            (lambda: export_chunks(measured)) if isinstance(measured, RunResult)
            else (lambda: combined_export_text(list(measured))))
        out.append(Sink(EXPORT_FLAG, files.export, data, must_be_absent=True))
    if html and files.html and isinstance(measured, RunResult) and measured.points:
        run = measured
        out.append(Sink(HTML_FLAG, files.html, lambda: _html(run)))
    return out


def write_outputs(files: Iterable[Sink]) -> list[str]:
    """Write each file through the safe writer; a file that cannot be written keeps its data in
    a fallback file. Returns one message per file not written (where its data is kept)."""
    failed = []
    for sink in files:
        try:
            write_output(sink.path, sink.data(), sink.flag, must_be_absent=sink.must_be_absent)
        except OutputError as exc:
            kept = save_fallback(sink.data, sink.path)
            failed.append(f"{exc}; " + (f"the measured data is kept in {kept}" if kept
                                        else "the measured data could not be kept anywhere"))
    return failed


def save_run_files(run: RunResult, files: Files) -> None:
    """A run's files where nobody watches a console for a warning (a search candidate's):
    written as :func:`write_outputs` writes them; raises OutputError when one was not."""
    failed = write_outputs(sinks(files, run))
    if failed:
        raise OutputError("; ".join(failed))


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


@dataclass(kw_only=True)
class Outputs:
    """Writes one run's files; remembers the latest measurement for a second Ctrl-C."""

    files: Files
    measured: Measured | None = None
    warned: set[str] = field(default_factory=set)

    def after_point(self, measured: Measured) -> None:
        """Rewrite the CSV after a point; a failure here is a warning (the end retries)."""
        self.measured = measured
        for sink in csv_sinks(self.files, measured):
            try:
                write_output(sink.path, sink.data(), sink.flag)
            except OutputError as exc:
                if sink.flag not in self.warned:
                    self.warned.add(sink.flag)
                    _say(f"warning: {exc} (retried at the end of the run)")

    def finish(self, measured: Measured, *, html: bool = True) -> bool:
        """Write every file at the end; False when one could not be written (its data is kept
        in a fallback file, named on stderr). ``html`` False: not the --html page (a second
        Ctrl-C exits now, without drawing it)."""
        self.measured = measured
        failed = write_outputs(sinks(self.files, measured, html=html))
        for line in failed:
            _say(f"error: {line}")
        page = self.files.html if html else None
        if page and isinstance(measured, RunResult) and not measured.points:
            _say(f"{HTML_FLAG} {page}: not written: no load point was measured")
        return not failed

    def emergency(self) -> None:
        """Second Ctrl-C: write what was measured up to the last finished point, or say what
        was not written."""
        wanted, measured = self.files.wanted, self.measured
        if not wanted:
            return
        runs = _runs(measured) if measured is not None else []
        points = sum(len(r.points) for r in runs)
        if measured is None or not points:
            _say(f"Exiting now: no load point was finished; not written: {', '.join(wanted)}")
            return
        interrupted(measured)
        if self.files.html:
            _say(f"Exiting now: {HTML_FLAG} {self.files.html} is not drawn; make it with "
                 f"`perfanalyzer report RUN.json --html` from --profile-export-file")
        if self.finish(measured, html=False):
            _say(f"Exiting now: wrote {', '.join(wanted)} with the {points} finished "
                 f"load point(s) (the point in progress is not in them)")


def _runs(measured: Measured) -> list[RunResult]:
    return [measured] if isinstance(measured, RunResult) else [run for _, run in measured]


def interrupted(measured: Measured) -> Measured:
    """``measured`` with its last run marked interrupted (its requests were cancelled)."""
    for run in _runs(measured)[-1:]:
        run.interrupted = True
    return measured


# ---- exit code --------------------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class Outcome:
    """How a run ended, as far as its exit code is concerned."""

    files_written: bool = True  # every requested file was written
    gate: int = EXIT_OK  # --baseline: 1 a regression, 2 cannot compare
    failure: str | None = None  # an error after the load started (a mostly failed point too)
    interrupted: bool = False  # Ctrl-C
    unstable: bool = False  # a load point did not stabilize
    events_failed: bool = False  # the --events stream could not be written

    @classmethod
    def of(cls, runs: Sequence[RunResult], *, files_written: bool = True, gate: int = EXIT_OK,
           events_failed: bool = False) -> Outcome:
        """The outcome of ``runs`` (one run, or a combined sweep's runs)."""
        failure = next((r.failure for r in runs if r.failure), None)
        unstable = any(did_not_stabilize(r.points, r.settings.judging)
                       for r in runs)
        return cls(failure=failure, interrupted=any(r.interrupted for r in runs),
                   unstable=unstable, files_written=files_written, gate=gate,
                   events_failed=events_failed)


def exit_code(o: Outcome) -> int:
    """perf_analyzer's exit codes, plus the gate's: 99 a failure (it outranks everything but
    nothing else), 130 interrupted, else a file not written 99, the gate's 1 or 2, an unstable
    point 2; an --events stream that failed turns a clean (or unstable) end into 99."""
    code = EXIT_OK if o.files_written else EXIT_GENERIC
    code = code or o.gate
    if o.failure:
        code = EXIT_GENERIC
    elif o.interrupted:
        code = EXIT_INTERRUPTED
    elif o.unstable:
        code = code or EXIT_UNSTABLE
    if o.events_failed and code in (EXIT_OK, EXIT_UNSTABLE):
        code = EXIT_GENERIC
    return code


def exit_reason(code: int, gate: int = EXIT_OK) -> str:
    """What the verdict line says about ``code`` ('' for 0)."""
    if code and code == gate:  # the gate's codes: 1 regression, 2 cannot compare
        what = ("a regression against --baseline" if code == EXIT_REGRESSION
                else "--baseline could not be compared")
        return f" Exit {code}: {what}."
    if code == EXIT_UNSTABLE:
        return " Exit 2: a load point did not stabilize."
    return f" Exit {code}." if code != EXIT_OK else ""


def conclude(outcome: Outcome) -> int:
    """The last step of every conductor: a failure said on stderr, and the exit code."""
    if outcome.failure:
        _say(f"error: {outcome.failure}")
    return exit_code(outcome)


# ---- one sweep's end ---------------------------------------------------------------------------

def finish_run(cfg: RunConfig, run: RunResult, outputs: Outputs,
               events: EventLog | None = None) -> int:
    """A sweep's end (one run, replicates, a periodic run, an MPI group's leader): the table,
    every file, the gate, the exit code and one verdict line."""
    if run.points and run.periodic is None:  # periodic: one point, printed (perf_analyzer: none)
        print(console.table_text(run))
    written_ok = outputs.finish(run)
    gate = gate_code(cfg, run) if written_ok else EXIT_OK
    code = conclude(Outcome.of([run], files_written=written_ok, gate=gate,
                               events_failed=events is not None and events.failed))
    written = _written(cfg, run)
    if events is not None:
        events.end(code, written)
    # one verdict line per run (stderr: stdout stays what `report` re-prints)
    _say(verdict(run, code, written, gate_code=gate))
    return code


def finish_combined(outputs: Outputs, parts: Sequence[Part]) -> int:
    """A batch × shape sweep's end: the combined CSV and export, and the exit code (as a single
    run's: 99 a failure, 130 interrupted, 2 an unstable point)."""
    parts = [p for p in parts if p[1].points or p[1].failure or p[1].interrupted]
    written = outputs.finish(parts)
    return conclude(Outcome.of([run for _, run in parts], files_written=written))


def _written(cfg: RunConfig, run: RunResult) -> list[str]:
    out = cfg.output
    composing = list(composing_texts(run, out.filename)) if out.filename else []
    return [str(p) for p in (out.filename if run.points else None, *composing,
                             out.profile_export_file, out.html, out.events)
            if p and os.path.exists(p)]


def verdict(run: RunResult, code: int, written: list[str], *, gate_code: int = EXIT_OK) -> str:
    from ..report.caveats import verdict_line

    return verdict_line(run, written) + exit_reason(code, gate_code)


def gate_code(cfg: RunConfig, run: RunResult) -> int:
    """``--baseline``: the gate's exit code (1 regression, 2 cannot compare), else 0."""
    if not cfg.output.baseline:
        return EXIT_OK
    from ..gate.hook import baseline_hook

    return baseline_hook(cfg.output.baseline, run) or EXIT_OK


__all__ = ["Files", "Measured", "Outcome", "Outputs", "Sink", "check_outputs", "conclude",
           "exit_code", "finish_combined", "finish_run", "interrupted", "save_run_files", "sinks",
           "write_outputs"]
