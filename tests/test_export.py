"""--profile-export-file: perf_analyzer's layout, our additions, the schema, and the exact round trip
through ``perfanalyzer report`` (console text and CSV identical to the live run's; the live runs
against the real server are in test_export_live.py).

``saved_run()`` builds a run with every kind of record the exporter must keep apart (warm-up, a
decoupled multi-response request, errors, sequence ids, requests between points and after the last
window) using the real ``summarize``/``merge``; it lives in tests/support/saved_runs.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from perfanalyzer import __version__
from perfanalyzer.errors import OptionError
from perfanalyzer.records import RecordBuffer
from perfanalyzer.report.csv import csv_text
from perfanalyzer.report.export import SCHEMA_FILE, check_export_path, export_dict, write_export
from perfanalyzer.report.saved import SavedRunError, console_text, load_run
from tests.support.saved_runs import CLOCK, MS, WALL, assert_valid, saved_run, schema_validator


def _wall(t: int) -> int:
    return WALL + t - CLOCK


def test_schema_is_package_data_and_declares_draft_2020_12() -> None:
    schema = json.loads(SCHEMA_FILE.read_text())
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["properties"]["perfanalyzer"] == {"$ref": "#/$defs/perfanalyzer"}


@pytest.mark.parametrize("mode", ["concurrency", "request_rate"])
def test_export_validates_against_the_schema(mode: str) -> None:
    assert_valid(export_dict(saved_run(mode=mode)))
    assert_valid(export_dict(saved_run(mode=mode, decoupled=False, ensemble=False, server=False)))


def test_the_schema_rejects_what_it_should() -> None:
    doc = export_dict(saved_run())
    v = schema_validator()
    bad_version = json.loads(json.dumps(doc))
    bad_version["perfanalyzer"]["schema_version"] = 2
    assert not v.is_valid(bad_version)
    no_stamp = json.loads(json.dumps(doc))
    del no_stamp["experiments"][0]["requests"][0]["timestamp"]
    assert not v.is_valid(no_stamp)
    none = json.loads(json.dumps(doc))
    none["experiments"][0]["requests"][0]["response_timestamps"] = []
    assert not v.is_valid(none)


def test_perf_analyzer_layout_and_our_request_fields() -> None:
    run = saved_run()
    buf = run.buffer
    assert buf is not None
    doc = export_dict(run)
    assert (doc["version"], doc["service_kind"], doc["endpoint"]) == (__version__, "triton", "")
    assert [e["experiment"] for e in doc["experiments"]] == [
        {"mode": "concurrency", "value": 1}, {"mode": "concurrency", "value": 2}]
    p0 = run.points[0]
    edges0 = [_wall(p0.windows[0].summary.start_ns)] + [_wall(w.summary.end_ns) for w in p0.windows]
    assert doc["experiments"][0]["window_boundaries"] == edges0
    reqs = doc["experiments"][0]["requests"]
    assert len(reqs) == p0.windows[-1].hi - p0.windows[0].lo == 5 + 7 + 3 + 9 + 11
    multi = next(r for r in reqs if r.get("sequence_id") == 17)
    i = multi_index(buf, 17)
    assert multi == {"timestamp": _wall(int(buf.sent[i])), "sequence_id": 17,
                     "request_inputs": {},
                     "response_timestamps": [_wall(int(buf.first[i])), _wall(int(buf.last[i]))],
                     "response_outputs": [], "intended_timestamp": _wall(int(buf.intended[i])),
                     "response_count": 3, "status": 0}
    assert multi["response_timestamps"][1] - multi["response_timestamps"][0] == 3 * MS
    failed = [r for r in reqs if r["status"]]
    assert [(r["status"], r["error"], r.get("sequence_id")) for r in failed] == [
        (1, "[500] model failed", 18), (2, "[503] overloaded", None)]
    plain = reqs[0]
    assert "sequence_id" not in plain and "error" not in plain
    assert len(plain["response_timestamps"]) == 1
    assert plain["intended_timestamp"] == plain["timestamp"] - 200_000
    ours = doc["perfanalyzer"]
    assert ours["errors"] == ["", "[500] model failed", "[503] overloaded"]
    assert [len(p["unwindowed_requests"]) for p in ours["points"]] == [1, 1]
    assert len(ours["trailing_requests"]) == 2
    exported = (sum(len(e["requests"]) for e in doc["experiments"]) + 2 + 2)
    assert exported == buf.count
    assert ours["points"][0]["merged_windows"] == {"first": 1, "count": 3}
    assert ours["points"][1]["verdict"]["throughput_spread"] is None  # inf is not JSON
    w1 = ours["points"][0]["windows"][1]
    assert (w1["sent"], w1["late_sends"], w1["lo"], w1["hi"]) == (11, 2, 6, 16)
    assert w1["server"]["model"]["inference_stats"]["queue"] == {"count": 7, "ns": 7 * 110_000}
    assert [c["name"] for c in w1["server"]["composing"]] == ["step_a", "step_b"]
    assert ours["clock"] == {"wall_anchor_ns": WALL, "clock_anchor_ns": CLOCK}
    assert ours["config"]["concurrency_range"] == [1, 2, 1]


def multi_index(buf: RecordBuffer, seq: int) -> int:
    return int(list(buf.sequence[: buf.count]).index(seq))


@pytest.mark.parametrize("kw", [{}, {"mode": "request_rate"},
                                {"decoupled": False, "ensemble": False, "server": False}])
def test_saved_run_re_reports_identically(tmp_path: Path, kw: dict[str, Any]) -> None:
    run = saved_run(**kw)
    path = tmp_path / "run.json"
    write_export(run, path)
    back = load_run(path)
    assert console_text(back) == console_text(run)
    assert csv_text(back) == csv_text(run)
    assert csv_text(back, verbose=True) == csv_text(run, verbose=True)
    assert back.buffer is not None and run.buffer is not None
    assert back.buffer.view().to_structured().tolist() == run.buffer.view().to_structured().tolist()
    assert back.buffer.errors == run.buffer.errors
    for a, b in zip(back.points, run.points, strict=True):
        assert a.merged == b.merged
        assert [w.summary for w in a.windows] == [w.summary for w in b.windows]
        assert (a.level, a.verdict, a.interrupted) == (b.level, b.verdict, b.interrupted)
    assert (back.model, back.mode, back.percentile, back.server_stats) == (
        run.model, run.mode, run.percentile, run.server_stats)


@pytest.mark.parametrize("kw", [{}, {"mode": "request_rate", "server": False}])
def test_written_file_is_exactly_the_export_dict(tmp_path: Path, kw: dict[str, Any]) -> None:
    run = saved_run(**kw)
    path = tmp_path / "run.json"
    write_export(run, path)
    assert path.read_text() == json.dumps(export_dict(run), separators=(",", ":"))
    assert [p.name for p in tmp_path.iterdir()] == ["run.json"]  # no temporary file left


def test_console_text_of_a_saved_run_shows_errors_and_instability(tmp_path: Path) -> None:
    path = tmp_path / "run.json"
    write_export(saved_run(), path)
    text = console_text(load_run(path))
    assert "    Failed requests: 2\n      1 x [500] model failed\n      1 x [503] overloaded\n" \
        in text
    assert "Concurrency: 2, throughput:" in text and "(not stable)" in text


def test_existing_or_unwritable_export_path_is_refused(tmp_path: Path) -> None:
    existing = tmp_path / "run.json"
    existing.write_text("keep")
    with pytest.raises(OptionError, match=r"^--profile-export-file .*run\.json: path must not "
                       r"already exist$"):
        check_export_path(existing)
    with pytest.raises(OptionError, match=r"folder .*nowhere does not exist"):
        check_export_path(tmp_path / "nowhere" / "run.json")
    check_export_path(tmp_path / "new.json")
    check_export_path(None)
    assert existing.read_text() == "keep"


def _doc(tmp_path: Path, edit: Any) -> Path:
    doc = export_dict(saved_run())
    edit(doc)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    return path


@pytest.mark.parametrize(("edit", "message"), [
    (lambda d: d["perfanalyzer"].update(schema_version=2),
     r"bad\.json: perfanalyzer\.schema_version is 2; this perfanalyzer reads schema version 1$"),
    (lambda d: d.pop("perfanalyzer"), r"bad\.json: no 'perfanalyzer' key"),
    (lambda d: d.pop("experiments"), r"bad\.json: not a profile export \(no 'experiments' key\)"),
    (lambda d: d["experiments"][0]["requests"][3].pop("timestamp"),
     r"bad\.json: experiments\[0\]\.requests\[3\]\.timestamp: missing$"),
    (lambda d: d["perfanalyzer"]["points"][1]["windows"][0].pop("end_ns"),
     r"bad\.json: perfanalyzer\.points\[1\]\.windows\[0\]\.end_ns: missing$"),
    (lambda d: d["experiments"].pop(),
     r"bad\.json: experiments: 1 experiments but 2 perfanalyzer\.points$"),
    (lambda d: d["experiments"][1]["requests"].pop(),
     r"bad\.json: perfanalyzer\.points\[1\]\.windows: cover 24 requests, the experiment holds 23$"),
    (lambda d: d["perfanalyzer"]["trailing_requests"][0].update(status=9),
     r"bad\.json: perfanalyzer\.trailing_requests: status 9 is not an index into "
     r"perfanalyzer\.errors$"),
])
def test_bad_saved_runs_are_one_line_errors_naming_file_and_field(
        tmp_path: Path, edit: Any, message: str) -> None:
    with pytest.raises(SavedRunError, match=message) as info:
        load_run(_doc(tmp_path, edit))
    assert "\n" not in str(info.value)


def test_not_json_and_missing_file(tmp_path: Path) -> None:
    bad = tmp_path / "run.json"
    bad.write_text("Concurrency,Inferences/Second\n1,2\n")
    with pytest.raises(SavedRunError, match=r"run\.json: not a JSON file"):
        load_run(bad)
    with pytest.raises(SavedRunError, match=r"gone\.json: cannot read: No such file"):
        load_run(tmp_path / "gone.json")
