"""The end of every run's flow (perfanalyzer.profile.flow): one exit-code function for every
outcome, one set of sinks that keeps measured data it cannot write where it was asked, and no
conductor with a writer or an exit-code rule of its own."""

from __future__ import annotations

import ast
import dataclasses
import json
from pathlib import Path

import pytest

from perfanalyzer.errors import (
    EXIT_CANNOT_COMPARE,
    EXIT_GENERIC,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_REGRESSION,
    EXIT_UNSTABLE,
)
from perfanalyzer.profile.flow import (
    Files,
    Outcome,
    Outputs,
    exit_code,
    exit_reason,
    finish_combined,
    save_run_files,
)
from perfanalyzer.report.combined import combined_csv_text, combined_export_text
from perfanalyzer.report.csv import csv_text
from perfanalyzer.report.export import export_text
from perfanalyzer.report.outfile import OutputError
from tests.support.saved_runs import saved_run
from tests.support.synthetic_runs import synthetic_run

PACKAGE = Path(__file__).resolve().parents[1] / "perfanalyzer"
FLOW = "profile/flow.py"

#: (outcome, exit code, why): every way a run ends.
TABLE = [
    (Outcome(), EXIT_OK, "every point stable, every file written"),
    (Outcome(unstable=True), EXIT_UNSTABLE, "a point did not stabilize (perf_analyzer's 2)"),
    (Outcome(gate=EXIT_REGRESSION), EXIT_REGRESSION, "the gate found a regression"),
    (Outcome(gate=EXIT_CANNOT_COMPARE), EXIT_CANNOT_COMPARE, "the baseline cannot be compared"),
    (Outcome(gate=EXIT_REGRESSION, unstable=True), EXIT_REGRESSION, "the gate's code first"),
    (Outcome(files_written=False), EXIT_GENERIC, "a file was not written (data in a fallback)"),
    (Outcome(files_written=False, unstable=True), EXIT_GENERIC, "the file outranks unstable"),
    (Outcome(failure="server went away"), EXIT_GENERIC, "an error after the load started"),
    (Outcome(failure="every request failed: 3 of 3"), EXIT_GENERIC, "every request failed"),
    (Outcome(failure="x", interrupted=True, unstable=True, gate=EXIT_REGRESSION), EXIT_GENERIC,
     "a failure outranks everything"),
    (Outcome(interrupted=True), EXIT_INTERRUPTED, "Ctrl-C"),
    (Outcome(interrupted=True, unstable=True), EXIT_INTERRUPTED, "Ctrl-C outranks unstable"),
    (Outcome(interrupted=True, files_written=False), EXIT_INTERRUPTED, "and a failed file"),
    (Outcome(interrupted=True, events_failed=True), EXIT_INTERRUPTED, "and a failed --events"),
    (Outcome(events_failed=True), EXIT_GENERIC, "--events could not be written"),
    (Outcome(events_failed=True, unstable=True), EXIT_GENERIC, "--events, unstable"),
    (Outcome(events_failed=True, gate=EXIT_REGRESSION), EXIT_REGRESSION, "the gate's 1 is kept"),
]


@pytest.mark.parametrize(("outcome", "code", "why"), TABLE, ids=[w for _, _, w in TABLE])
def test_exit_code_of_every_outcome(outcome: Outcome, code: int, why: str) -> None:
    assert exit_code(outcome) == code, why


def test_the_table_sets_every_field_of_the_outcome() -> None:
    """A field added to Outcome without a row here would be an outcome nobody checked."""
    fields = {f.name for f in dataclasses.fields(Outcome)}
    default = Outcome()
    varied = {f for o, _, _ in TABLE for f in fields if getattr(o, f) != getattr(default, f)}
    assert varied == fields


def test_outcome_of_runs_reads_failure_interruption_and_stability() -> None:
    stable, unstable = synthetic_run(seed=2), saved_run(ensemble=False)
    assert Outcome.of([stable]) == Outcome()
    assert Outcome.of([stable, unstable]).unstable
    stopped = dataclasses.replace(synthetic_run(seed=3), interrupted=True)
    failed = dataclasses.replace(synthetic_run(seed=4), failure="boom")
    assert exit_code(Outcome.of([stable, stopped])) == EXIT_INTERRUPTED
    assert Outcome.of([stopped, failed]).failure == "boom"
    assert exit_code(Outcome.of([stable], files_written=False, gate=1)) == EXIT_GENERIC


def test_exit_reason_names_the_cause() -> None:
    assert exit_reason(EXIT_OK) == ""
    assert exit_reason(2) == " Exit 2: a load point did not stabilize."
    assert exit_reason(2, gate=2) == " Exit 2: --baseline could not be compared."
    assert exit_reason(1, gate=1) == " Exit 1: a regression against --baseline."
    assert exit_reason(99) == " Exit 99."


def _kept(err: str) -> list[str]:
    return [line.rsplit("kept in ", 1)[1] for line in err.splitlines() if "kept in " in line]


def test_a_combined_sweep_keeps_its_csv_and_export_in_fallbacks(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "gone"
    files = Files(csv=str(folder / "perf.csv"), export=str(folder / "run.json"))
    parts = [(("1", ""), synthetic_run(seed=2)), (("2", ""), synthetic_run(seed=3))]
    outputs = Outputs(files=files)
    outputs.after_point(parts[:1])
    outputs.after_point(parts)
    warnings = capsys.readouterr().err.splitlines()
    assert len(warnings) == 1 and "retried at the end" in warnings[0]  # said once, not per point
    assert finish_combined(outputs, parts) == EXIT_GENERIC
    kept = _kept(capsys.readouterr().err)
    try:
        assert len(kept) == 2
        assert Path(kept[0]).read_text() == combined_csv_text(parts)
        assert json.loads(Path(kept[1]).read_text()) == json.loads(combined_export_text(parts))
    finally:
        for k in kept:
            Path(k).unlink(missing_ok=True)


def test_a_second_ctrl_c_writes_a_combined_sweep_measured_so_far(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    files = Files(csv=str(tmp_path / "all.csv"), export=str(tmp_path / "all.json"))
    outputs = Outputs(files=files)
    outputs.emergency()
    assert "no load point was finished" in capsys.readouterr().err
    parts = [(("1", ""), synthetic_run(seed=2)), (("2", ""), synthetic_run(seed=3))]
    outputs.after_point(parts)
    outputs.emergency()
    assert "Exiting now: wrote" in capsys.readouterr().err
    combos = json.loads(Path(files.export or "").read_text())["combinations"]
    assert [c["run"]["perfanalyzer"]["interrupted"] for c in combos] == [False, True]
    assert Path(files.csv or "").read_text() == combined_csv_text(parts)


def test_a_candidates_files_are_kept_and_the_failure_raised(tmp_path: Path) -> None:
    run = saved_run(ensemble=False)
    files = Files(csv=str(tmp_path / "c" / "perf.csv"), export=str(tmp_path / "c" / "run.json"))
    with pytest.raises(OutputError, match="kept in") as info:
        save_run_files(run, files)
    kept = _kept(str(info.value).replace("; ", "\n"))
    try:
        assert Path(kept[0]).read_text() == csv_text(run)
        assert Path(kept[1]).read_text() == export_text(run)
    finally:
        for k in kept:
            Path(k).unlink(missing_ok=True)
    (tmp_path / "c").mkdir()
    save_run_files(run, files)
    assert Path(files.csv or "").read_text() == csv_text(run)
    assert Path(files.export or "").read_text() == export_text(run)


# ---- structure: one writer, one exit-code rule -------------------------------------------------

#: What writes a file through the safe writer (or keeps data in its fallback).
WRITERS = {"write_output", "save_fallback", "write_csv", "write_export", "write_composing_csvs"}

#: Modules that may call them, and why: the writers themselves, and files that are not a run's
#: measured data (a search's state and summary, re-reports of saved runs, plots, the gate's page).
ALLOWED = {
    FLOW: "every run's measured data",
    "report/outfile.py": "the safe writer",
    "report/csv.py": "write_csv, for re-reports",
    "report/export.py": "write_export, for re-reports",
    "report/composing_csv.py": "write_composing_csvs, for re-reports",
    "report/plots.py": "figures drawn from saved runs",
    "report/html/markdown_page.py": "a page drawn from saved runs",
    "cli/report_cmd.py": "`report`: files from a saved run",
    "cli/compare_cmd.py": "`compare`: the comparison's files",
    "search/store.py": "the search's state (plan, original configuration, results)",
    "search/report.py": "the search's summary and best configuration",
    "search/together.py": "the per-model summaries of a search over several models",
}

#: The conductors: each ends in the flow's sinks and exit code.
CONDUCTORS = ("profile/", "mpi/", "cli/profile_main.py", "search/runner.py", "search/finals.py")


def _calls(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call):
            f = node.func
            names.add(f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute)
                      else "")
    return names


def _names(path: Path) -> set[str]:
    return {n.id for n in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
            if isinstance(n, ast.Name)}


def _modules() -> dict[str, Path]:
    return {p.relative_to(PACKAGE).as_posix(): p for p in PACKAGE.rglob("*.py")
            if "_proto" not in p.parts and "models" not in p.parts}


def test_only_the_flow_writes_a_runs_files() -> None:
    found = sorted(f"{rel}: {', '.join(sorted(_calls(p) & WRITERS))}"
                   for rel, p in _modules().items() if rel not in ALLOWED and _calls(p) & WRITERS)
    assert not found, "write through profile/flow.py (its sinks keep what they cannot write):\n" \
        + "\n".join(found)
    conductors = [rel for rel in ALLOWED if rel != FLOW and rel.startswith(CONDUCTORS)]
    assert not conductors
    assert _calls(_modules()[FLOW]) >= {"write_output", "save_fallback"}


def test_only_the_flow_decides_a_runs_exit_code() -> None:
    """A conductor names no exit code but the one a second Ctrl-C exits with at once."""
    codes = {"EXIT_OK", "EXIT_UNSTABLE", "EXIT_GENERIC", "EXIT_REGRESSION",
             "EXIT_CANNOT_COMPARE"}
    found = sorted(f"{rel}: {', '.join(sorted(_names(p) & codes))}"
                   for rel, p in _modules().items()
                   if rel.startswith(CONDUCTORS) and rel != FLOW and _names(p) & codes)
    assert not found, "map the outcome with profile.flow.exit_code:\n" + "\n".join(found)
    unstable = sorted(rel for rel, p in _modules().items() if "EXIT_UNSTABLE" in _names(p))
    assert unstable == ["errors.py", FLOW]  # defined; decided
