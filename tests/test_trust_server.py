"""Against the real Triton: composing-model CSVs (nested ensemble, BLS), a 1 s server stall
in rate mode, validation_data mismatches."""

from __future__ import annotations

import csv
import io
import json
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from perfanalyzer.client.base import StatDuration
from perfanalyzer.report.composing_csv import composing_texts
from perfanalyzer.report.console import point_text
from tests.support.cli_runs import run_cli as _cli
from tests.support.cli_runs import run_profile as _run
from tests.support.cli_runs import url_config as _cfg
from tests.support.console_text import SERVER_LINE
from tests.support.triton_stats import settled_success_count, success_count

pytestmark = pytest.mark.server

COMPOSING_HEADER = ["Concurrency", "Inferences/Second", "Client Send", "Network+Server Send/Recv",
                    "Server Queue", "Server Compute Input", "Server Compute Infer",
                    "Server Compute Output", "Client Recv"]


def _avg(d: StatDuration) -> float:
    return d.ns / d.count / 1000.0 if d.count else 0.0


def _us(d: StatDuration) -> str:
    return str(d.ns // (d.count * 1000)) if d.count else ""


def test_nested_ensemble_reports_every_composing_model_one_csv_per_direct_child_leaf_sums(
        triton: Any, tmp_path: Path) -> None:
    names = ("ensemble_nested", "ensemble_add_sub", "add_sub", "identity_int32")
    before = {n: success_count(triton.http_url, n) for n in names}
    run = _run(_cfg(triton.http_url, "-m", "ensemble_nested", "--concurrency-range", "2",
                    "-p", "400", "-s", "100", "-r", "3"))
    assert run.buffer is not None
    after = {n: settled_success_count(triton.http_url, n, before[n] + run.buffer.count)
             for n in names}
    # Over the whole (drained) run every composing model served each request exactly once.
    assert {n: after[n] - before[n] for n in names} == dict.fromkeys(names, run.buffer.count)
    assert run.model.composing == names[1:]
    assert run.model.nested_ensembles == ("ensemble_add_sub",)
    assert run.model.indirect == ("add_sub", "identity_int32")
    (point,) = run.points
    server = point.merged.server
    assert server is not None
    top = server.model.get("success").count
    assert top > 0
    # Per window: equal up to the requests straddling the edges (2 in flight at each), and those
    # that finish while Triton reads one model's counters after another (5 apart was seen on a
    # loaded box); over the whole run they are equal exactly (above).
    for m in server.composing:
        assert abs(m.get("success").count - top) <= max(2 * 2, top // 100)
    leaves = [m for m in server.composing if m.name in ("add_sub", "identity_int32")]
    # The console sums leaf models only (the nested ensemble's counters are its members' again).
    sums = [int(sum(_avg(m.get(k)) for m in leaves))
            for k in ("queue", "compute_input", "compute_infer", "compute_output")]
    found = SERVER_LINE.search(point_text(run, point, "http"))
    assert found and [int(x) for x in found.groups()] == sums
    # Every point (stability depends on the machine's load; the figures are what is checked).
    # One CSV per direct child, as perf_analyzer: the nested ensemble's members get none.
    texts = {p.name: t for p, t in composing_texts(run, tmp_path / "perf.csv",
                                                   all_points=True).items()}
    assert sorted(texts) == ["ensemble_add_sub_v1.perf.csv"]
    for m in server.composing[:1]:
        rows = list(csv.reader(io.StringIO(texts[f"{m.name}_v1.perf.csv"])))
        assert rows[0] == [*COMPOSING_HEADER, "Status"] and len(rows) == 2
        row = dict(zip(rows[0], rows[1], strict=True))
        assert row["Concurrency"] == "2" and row["Client Send"] == row["Client Recv"] == "0"
        assert float(row["Inferences/Second"]) == pytest.approx(
            point.merged.throughput * m.get("success").count / top, rel=1e-5)
        assert row["Server Queue"] == _us(m.get("queue"))
        assert row["Server Compute Infer"] == _us(m.get("compute_infer"))


def test_cli_writes_the_composing_csvs_beside_the_main_one(triton: Any, tmp_path: Path) -> None:
    out, js = tmp_path / "perf.csv", tmp_path / "run.json"
    r = _cli("-m", "ensemble_add_sub", "-u", triton.http_url, "-p", "300", "-s", "1000", "-r",
             "3", "-f", str(out), "--profile-export-file", str(js))
    assert r.returncode == 0, r.stderr
    again = tmp_path / "again"
    again.mkdir()
    assert _cli("report", str(js), "-f", str(again / "perf.csv")).returncode == 0
    for name in ("add_sub", "identity_int32"):
        path = tmp_path / f"{name}_v1.perf.csv"
        assert path.read_text().splitlines()[0] == ",".join(COMPOSING_HEADER)
        assert len(path.read_text().splitlines()) == 2
        assert str(path) in r.stderr  # the verdict line names every file written
        assert (again / path.name).read_bytes() == path.read_bytes()  # re-reported identically


def test_bls_model_gets_its_composing_model_breakdown(triton: Any, tmp_path: Path) -> None:
    before = {n: success_count(triton.http_url, n) for n in ("bls_add_sub", "add_sub")}
    run = _run(_cfg(triton.http_url, "-m", "bls_add_sub", "--bls-composing-models", "add_sub:1",
                    "-p", "400", "-s", "100", "-r", "3"))
    assert run.buffer is not None and run.model.composing == ("add_sub",) and run.model.bls
    after = {n: settled_success_count(triton.http_url, n, before[n] + run.buffer.count)
             for n in before}
    assert {n: after[n] - before[n] for n in before} == dict.fromkeys(before, run.buffer.count)
    (point,) = run.points
    server = point.merged.server
    assert server is not None
    (add_sub,) = server.composing
    assert add_sub.name == "add_sub" and add_sub.get("success").count > 0
    (text,) = composing_texts(run, tmp_path / "perf.csv", all_points=True).values()
    row = next(csv.DictReader(io.StringIO(text)))
    assert row["Server Compute Infer"] == _us(add_sub.get("compute_infer"))
    r = _cli("-m", "bls_add_sub", "-u", triton.http_url, "--bls-composing-models", "nope")
    assert r.returncode == 3 and "--bls-composing-models: model 'nope'" in r.stderr


def _reload(url: str, model: str) -> None:
    req = urllib.request.Request(f"http://{url}/v2/repository/models/{model}/load", data=b"{}",
                                 method="POST")
    with urllib.request.urlopen(req, timeout=60) as resp:
        assert resp.status == 200


def test_a_one_second_server_stall_in_rate_mode_is_visible_and_warned_about(
        triton: Any, tmp_path: Path) -> None:
    _reload(triton.http_url, "stall")  # re-arms the model's one stall (its 60th request)
    js = tmp_path / "run.json"
    r = _cli("-m", "stall", "-u", triton.http_url, "--request-rate-range", "50", "-p", "1000",
             "-s", "1000", "-r", "3", "--profile-export-file", str(js),
             "--latency-from", "scheduled")
    assert r.returncode in (0, 2), r.stderr
    assert "[WARNING] Stall: in window" in r.stdout and "from its scheduled send" in r.stdout
    assert "Stalls at 1 point(s)" in r.stderr  # and in the verdict line
    doc = json.loads(js.read_text())
    (point,) = doc["perfanalyzer"]["points"]
    worst = max(w["summary"]["corrected_latency_ns"]["max"] for w in point["windows"])
    assert worst >= 900_000_000  # the stall is in the corrected latency, not absorbed


def _validation_file(tmp_path: Path, wrong_entry: int | None) -> Path:
    data, expected = [], []
    for k in range(4):
        a, b = list(range(k, k + 16)), [k * 10] * 16
        data.append({"INPUT0": a, "INPUT1": b})
        diff = [x - y for x, y in zip(a, b, strict=True)]
        if k == wrong_entry:
            diff[3] += 1
        expected.append({"OUTPUT0": [x + y for x, y in zip(a, b, strict=True)], "OUTPUT1": diff})
    path = tmp_path / "data.json"
    path.write_text(json.dumps({"data": data, "validation_data": expected}))
    return path


def test_a_validation_mismatch_ends_the_run_naming_tensor_and_entry(triton: Any,
                                                                     tmp_path: Path) -> None:
    path = _validation_file(tmp_path, wrong_entry=2)
    js = tmp_path / "run.json"
    for mode in ((), ("--request-rate-range", "30")):
        r = _cli("-m", "add_sub", "-u", triton.http_url, "--input-data", str(path), "-p", "200",
                 "-s", "1000", "-r", "3", "--profile-export-file", str(js), *mode)
        assert r.returncode == 99, r.stderr
        (error,) = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
        assert "'OUTPUT1'" in error and "data[2]" in error
        assert "Output doesn't match expected output" in error  # perf_analyzer's words
        doc = json.loads(js.read_text())  # what was measured is written
        (point,) = doc["perfanalyzer"]["points"]
        # the window holding the first mismatch is the last one measured
        assert 1 <= len(point["windows"]) <= 3 and doc["experiments"][0]["requests"]
        js.unlink()


def test_validation_mismatches_are_counted_as_errors_naming_tensor_and_entry(
        triton: Any, tmp_path: Path) -> None:
    path = _validation_file(tmp_path, wrong_entry=2)
    r = _cli("-m", "add_sub", "-u", triton.http_url, "--input-data", str(path), "-p", "200",
             "-s", "1000", "-r", "3", "--request-rate-range", "30", "--on-mismatch", "count")
    assert "does not match the expected value of" in r.stdout  # rate mode: counted too
    run = _run(_cfg(triton.http_url, "-m", "add_sub", "--input-data", str(path), "-p", "300",
                    "-s", "1000", "-r", "3", "--on-mismatch", "count"))
    assert run.buffer is not None
    buf = run.buffer.view(0, run.buffer.count)
    # One worker sends the entries in order 0, 1, 2, 3, 0...: exactly every entry 2 is an error.
    n = len(buf)
    assert int((buf.status != 0).sum()) == (n + 1) // 4 > 0
    (message,) = {run.buffer.errors[c] for c in buf.status.tolist() if c}
    assert "'OUTPUT1'" in message and "data[2]" in message
    (point,) = run.points
    assert all(w.summary.errors > 0 for w in point.windows)
    assert "Failed requests:" in point_text(run, point, "http")


def test_matching_validation_data_counts_no_error(triton: Any, tmp_path: Path) -> None:
    path = _validation_file(tmp_path, wrong_entry=None)
    run = _run(_cfg(triton.http_url, "-m", "add_sub", "--input-data", str(path), "-p", "200",
                    "-s", "1000", "-r", "3"))
    assert run.buffer is not None and run.buffer.count > 0
    assert not run.buffer.view(0, run.buffer.count).status.any()
    # Rate mode checks the answers too (same payloads, same sender).
    run = _run(_cfg(triton.http_url, "-m", "add_sub", "--input-data", str(path), "-p", "300",
                    "-s", "1000", "-r", "3", "--request-rate-range", "40"))
    assert run.buffer is not None and run.buffer.count > 0
    assert not run.buffer.view(0, run.buffer.count).status.any()
    r = _cli("-m", "add_sub", "-u", triton.http_url, "--input-data", str(path), "--workers", "2")
    assert r.returncode == 3 and "checked in one process; use --workers 1" in r.stderr


def test_export_tensors_writes_request_inputs_and_response_outputs(triton: Any,
                                                                   tmp_path: Path) -> None:
    data = tmp_path / "data.json"
    data.write_text(json.dumps({"data": [{"INPUT0": list(range(16)), "INPUT1": [1] * 16}]}))
    js = tmp_path / "run.json"
    r = _cli("-m", "add_sub", "-u", triton.http_url, "--input-data", str(data), "-p", "200",
             "-s", "1000", "-r", "3", "--profile-export-file", str(js), "--export-tensors")
    assert r.returncode == 0, r.stderr
    reqs = json.loads(js.read_text())["experiments"][0]["requests"]
    assert reqs
    for req in reqs:  # perf_analyzer's format: flat lists (the batch dimension flattened)
        assert req["request_inputs"] == {"INPUT0": list(range(16)), "INPUT1": [1] * 16}
        assert req["response_outputs"] == [{"OUTPUT0": [x + 1 for x in range(16)],
                                            "OUTPUT1": [x - 1 for x in range(16)]}]
    rep = _cli("report", str(js))
    assert rep.returncode == 0 and rep.stdout == r.stdout
