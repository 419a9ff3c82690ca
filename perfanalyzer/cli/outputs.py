"""The run's files (-f CSV, --profile-export-file): checked before any load, written after every
point and at the end, kept in a fallback file when they cannot be written, and written (or said
not written) on a second Ctrl-C. Measured data is never lost silently."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field

from ..config import RunConfig
from ..errors import EXIT_GENERIC
from ..report.composing_csv import composing_texts
from ..report.csv import FLAG as CSV_FLAG
from ..report.csv import csv_text
from ..report.events import FLAG as EVENTS_FLAG
from ..report.export import FLAG as EXPORT_FLAG
from ..report.export import check_export_path, export_chunks
from ..report.html import FLAG as HTML_FLAG
from ..report.outfile import Data, OutputError, check_output, save_fallback, write_output
from ..results import RunResult


def check_outputs(cfg: RunConfig) -> None:
    """Raise OptionError when an output file cannot be written; before any load."""
    check_output(cfg.output.filename, CSV_FLAG)
    check_export_path(cfg.output.profile_export_file)  # must not exist, as in perf_analyzer
    check_output(cfg.output.html, HTML_FLAG)
    check_output(cfg.output.events, EVENTS_FLAG)


def _html(run: RunResult) -> str:
    """--html: made from the run's export re-read, so it equals ``report RUN.json --html``;
    pandas, matplotlib and Jinja2 are imported only here."""
    from ..report.html.run_report import html_from_export

    return html_from_export(export_chunks(run), "--html")


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


@dataclass(kw_only=True)
class Outputs:
    """Writes one run's files; remembers the latest run for a second Ctrl-C."""

    cfg: RunConfig
    run: RunResult | None = None
    warned: set[str] = field(default_factory=set)

    def _csv(self, run: RunResult) -> str:
        out = self.cfg.output
        return csv_text(run, out.verbose_csv, out.collect_metrics, out.csv_all_points,
                        out.csv_streaming)

    def _csvs(self, run: RunResult) -> dict[str, str]:
        """-f and, for ensembles and BLS models, one CSV per composing model beside it."""
        out = self.cfg.output
        if not (out.filename and run.points):
            return {}
        texts = {str(out.filename): self._csv(run)}
        for path, text in composing_texts(run, out.filename, out.csv_all_points).items():
            texts[str(path)] = text
        return texts

    def after_point(self, run: RunResult) -> None:
        """Rewrite the CSV after a point; a failure here is a warning (the end retries)."""
        self.run = run
        for path, text in self._csvs(run).items():
            try:
                write_output(path, text, CSV_FLAG)
            except OutputError as exc:
                if CSV_FLAG not in self.warned:
                    self.warned.add(CSV_FLAG)
                    _say(f"warning: {exc} (retried at the end of the run)")

    def _deliver(self, flag: str, path: str, text: Callable[[], Data], *,
                 must_be_absent: bool = False) -> bool:
        """Write one file; on failure keep the data in a fallback file and say where."""
        try:
            write_output(path, text(), flag, must_be_absent=must_be_absent)
            return True
        except OutputError as exc:
            kept = save_fallback(text, path)
            where = (f"the measured data is kept in {kept}" if kept
                     else "the measured data could not be kept anywhere")
            _say(f"error: {exc}; {where}")
            return False

    def finish(self, run: RunResult, *, html: bool = True) -> int:
        """Write every file at the end; EXIT_GENERIC (99) when one could not be written.
        ``html`` False: not the --html page (a second Ctrl-C exits now, without drawing it)."""
        self.run = run
        ok = True
        for path, text in self._csvs(run).items():
            ok &= self._deliver(CSV_FLAG, path, lambda text=text: text)  # type: ignore[misc]
        if self.cfg.output.profile_export_file:
            ok &= self._deliver(EXPORT_FLAG, self.cfg.output.profile_export_file,
                                lambda: export_chunks(run), must_be_absent=True)
        page = self.cfg.output.html if html else None
        if page and run.points:
            ok &= self._deliver(HTML_FLAG, page, lambda: _html(run))
        elif page:
            _say(f"{HTML_FLAG} {page}: not written: no load point was measured")
        return 0 if ok else EXIT_GENERIC

    def emergency(self) -> None:
        """Second Ctrl-C: write what was measured up to the last finished point, or say what
        was not written."""
        run = self.run
        wanted = [f for f in (self.cfg.output.filename, self.cfg.output.profile_export_file) if f]
        if not wanted:
            return
        if run is None or not run.points:
            _say(f"Exiting now: no load point was finished; not written: {', '.join(wanted)}")
            return
        run.interrupted = True
        if self.cfg.output.html:
            _say(f"Exiting now: {HTML_FLAG} {self.cfg.output.html} is not drawn; make it with "
                 f"`perfanalyzer report RUN.json --html` from --profile-export-file")
        if self.finish(run, html=False) == 0:
            _say(f"Exiting now: wrote {', '.join(wanted)} with the {len(run.points)} finished "
                 f"load point(s) (the point in progress is not in them)")


__all__ = ["Outputs", "check_outputs"]
