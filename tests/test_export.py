"""--profile-export-file: perf_analyzer's layout, our additions, the schema, and the exact round trip
through ``perfanalyzer report`` (console text and CSV identical to the live run's; the live runs
against the real server are in test_export_live.py).

``saved_run()`` builds a run with every kind of record the exporter must keep apart (warm-up, a
decoupled multi-response request, errors, sequence ids, requests between points and after the last
window) using the real ``summarize``/``merge``; the other report tests import it.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from perfanalyzer import __version__
from perfanalyzer.client.base import STAT_KEYS, ModelStatistics, StatDuration
from perfanalyzer.config import RunConfig
from perfanalyzer.errors import OptionError
from perfanalyzer.measure.metrics import ClientLoad, ServerDelta, summarize
from perfanalyzer.measure.result import ModelTraits, RunResult
from perfanalyzer.measure.stabilizer import Verdict
from perfanalyzer.measure.window import PointResult, Window, merge
from perfanalyzer.records import RecordBuffer
from perfanalyzer.report.csv import csv_text
from perfanalyzer.report.export import SCHEMA_FILE, check_export_path, export_dict, write_export
from perfanalyzer.report.saved import SavedRunError, console_text, load_run

WALL = 1_763_000_000_000_000_000
CLOCK = 7_000_000_000
MS = 1_000_000
WINDOW = 100 * MS


def _stats(name: str, n: int, queue_us: int, infer_us: int) -> ModelStatistics:
    d = {k: StatDuration() for k in STAT_KEYS}
    d.update(success=StatDuration(n, n * (queue_us + infer_us + 30) * 1000),
             queue=StatDuration(n, n * queue_us * 1000),
             compute_input=StatDuration(n, n * 10_000),
             compute_infer=StatDuration(n, n * infer_us * 1000),
             compute_output=StatDuration(n, n * 20_000))
    return ModelStatistics(name=name, version="1", inference_count=n, execution_count=n,
                           durations=d)


def _window(buf: RecordBuffer, index: int, start: int, n: int, lat_ms: float,
            ensemble: bool, server: bool) -> Window:
    lo = buf.count
    for i in range(n):
        done = start + (i + 1) * WINDOW // (n + 1)
        sent = done - int(lat_ms * MS) - i * 1000
        buf.add_full(sent - 200_000, sent, done, done, 0, 1, 0)
    delta = None
    if server:
        composing = (_stats("step_a", n, 50, 300), _stats("step_b", n, 5, 40)) if ensemble else ()
        delta = ServerDelta(_stats("synthetic", n, 100 + 10 * index, 400), composing)
    s = summarize(buf.view(lo, buf.count), start_ns=start, end_ns=start + WINDOW, batch_size=2,
                  server=delta, client=ClientLoad(cpu_ns=n * 50_000, max_loop_lag_ns=index * MS),
                  percentiles=(75,), sent=n + 1, late_sends=index % 2, cores=1.0)
    return Window(index, lo, buf.count, s)


def saved_run(*, mode: str = "concurrency", decoupled: bool = True, ensemble: bool = True,
              server: bool = True) -> RunResult:
    """Two load points (4 and 3 windows) with a warm-up request, a decoupled 3-response request,
    two failures with different messages, sequence ids, a request between the points and two after
    the last window."""
    levels = (1.0, 2.0) if mode == "concurrency" else (50.0, 125.5)
    cfg = RunConfig.of(model="synthetic", batch_size=2, percentile=75, measurement_interval_ms=100,
                    concurrency_range=(1, 2, 1), request_rate_range=(50.0, 125.5, 75.5),
                    latency_threshold_ms=0.0, headers=(("X-A", "1"),), shapes=(("IN", (2, 3)),))
    config = cfg.flat()
    config["mode"] = mode
    buf = RecordBuffer(4)
    run = RunResult(mode=mode, model=ModelTraits(name="synthetic", version="1", decoupled=decoupled,
                                                 ensemble=ensemble,
                                                 composing=("step_a", "step_b") if ensemble else (),
                                                 max_batch_size=8),
                    batch_size=2, percentile=75, server_stats=server,
                    server_stats_reason="" if server else "the server does not offer statistics",
                    buffer=buf, wall_anchor_ns=WALL, clock_anchor_ns=CLOCK, config=config,
                    provenance={"perfanalyzer": __version__, "python": "3.11", "platform": "test"})
    t = CLOCK + 10 * MS
    buf.add_full(t - 3 * MS, t - 2 * MS, t - MS, t - MS, 0, 1, 0)  # warm-up: before any window
    for k, (level, count) in enumerate(zip(levels, (4, 3), strict=True)):
        windows = []
        for i in range(count):
            windows.append(_window(buf, i, t, 5 + 2 * i + k, 1.0 + 0.25 * i + k, ensemble, server))
            if k == 0 and i == 1:  # extra records inside window 1 of point 0, same edges
                last = windows.pop()
                lo = last.lo
                buf.add_full(t + 90 * MS, t + 91 * MS, t + 92 * MS, t + 95 * MS, 0, 3, 17)
                buf.add_full(t + 93 * MS, t + 93 * MS, t + 96 * MS, t + 96 * MS,
                             buf.error_code("[500] model failed"), 1, 18)
                buf.add_full(t + 94 * MS, t + 94 * MS, t + 97 * MS, t + 97 * MS,
                             buf.error_code("[503] overloaded"), 0, 0)
                s = summarize(buf.view(lo, buf.count), start_ns=t, end_ns=t + WINDOW,
                              batch_size=2, server=last.summary.server, client=last.summary.client,
                              percentiles=(75,), sent=last.summary.sent + 3, late_sends=2,
                              cores=1.0)
                windows.append(Window(i, lo, buf.count, s))
            t += WINDOW
        if k == 0:  # completes between the points: belongs to point 1's unwindowed requests
            buf.add_full(t + MS, t + 2 * MS, t + 3 * MS, t + 3 * MS, 0, 1, 0)
            t += 5 * MS
        stable = k == 0
        verdict = Verdict(done=True, stable=stable, reason="stable" if stable else "max_trials",
                          throughput_spread=0.05 if stable else math.inf,
                          latency_spread=0.02 if stable else math.inf, over_threshold=False)
        run.points.append(PointResult(level=level, windows=tuple(windows), verdict=verdict,
                                      merged=merge(windows[-3:], buf)))
    for j in range(2):  # the drain after the last window
        buf.add_full(t + j * MS, t + j * MS, t + (j + 2) * MS, t + (j + 2) * MS, 0, 1, 0)
    return run


def _wall(t: int) -> int:
    return WALL + t - CLOCK


def _validator() -> Any:
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(SCHEMA_FILE.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _assert_valid(doc: dict[str, Any]) -> None:
    errors = [f"{e.json_path}: {e.message}" for e in _validator().iter_errors(doc)]
    assert errors == []


def test_schema_is_package_data_and_declares_draft_2020_12() -> None:
    schema = json.loads(SCHEMA_FILE.read_text())
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["properties"]["perfanalyzer"] == {"$ref": "#/$defs/perfanalyzer"}


@pytest.mark.parametrize("mode", ["concurrency", "request_rate"])
def test_export_validates_against_the_schema(mode: str) -> None:
    _assert_valid(export_dict(saved_run(mode=mode)))
    _assert_valid(export_dict(saved_run(mode=mode, decoupled=False, ensemble=False, server=False)))


def test_the_schema_rejects_what_it_should() -> None:
    doc = export_dict(saved_run())
    v = _validator()
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
