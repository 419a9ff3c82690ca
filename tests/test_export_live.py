"""--profile-export-file against the real server: the live export validates and counts every request
the server served, ``perfanalyzer report`` reprints the live console and CSV byte for byte, an
existing path is refused before load, interrupted and decoupled runs are still exported.
"""
from __future__ import annotations

import csv
import io
import json
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from perfanalyzer import __version__
from tests.support.saved_runs import assert_valid

# --- against the real server ---------------------------------------------------------------------

def _pa(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "perfanalyzer.cli.main", *args],
                          capture_output=True, text=True, timeout=timeout, check=False)


def _success(url: str, model: str) -> int:
    with urllib.request.urlopen(f"http://{url}/v2/models/{model}/stats", timeout=30) as r:
        return sum(int(s["inference_stats"]["success"]["count"])
                   for s in json.load(r)["model_stats"])


@pytest.fixture(scope="module")
def live(_session_triton: Any, tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """One short real run with -f and --profile-export-file, and the server's success counter
    before and after it."""
    triton = _session_triton
    d = tmp_path_factory.mktemp("live")
    before = _success(triton.http_url, "add_sub")
    proc = _pa("-m", "add_sub", "-u", triton.http_url, "--concurrency-range", "1:2", "-p", "300",
               "-s", "50", "--verbose-csv", "-f", str(d / "live.csv"),
               "--profile-export-file", str(d / "run.json"))
    after = _success(triton.http_url, "add_sub")
    assert proc.returncode in (0, 2), proc.stderr
    return SimpleNamespace(dir=d, proc=proc, served=after - before,
                           json=d / "run.json", csv=d / "live.csv")


@pytest.mark.server
@pytest.mark.slow
def test_live_export_validates_and_counts_every_request_the_server_served(
        live: SimpleNamespace) -> None:
    doc = json.loads(live.json.read_text())
    assert_valid(doc)
    ours = doc["perfanalyzer"]
    rows = list(csv.DictReader(io.StringIO(live.csv.read_text())))
    assert len(doc["experiments"]) == len(ours["points"]) == len(rows) >= 1
    assert [e["experiment"]["value"] for e in doc["experiments"]] == \
        [int(r["Concurrency"]) for r in sorted(rows, key=lambda r: int(r["Concurrency"]))]
    everything = [r for e in doc["experiments"] for r in e["requests"]]
    everything += [r for p in ours["points"] for r in p["unwindowed_requests"]]
    everything += ours["trailing_requests"]
    assert all(r["status"] == 0 for r in everything)
    assert len(everything) == live.served  # nothing the server answered is missing or doubled
    for exp, point in zip(doc["experiments"], ours["points"], strict=True):
        edges = exp["window_boundaries"]
        assert edges == sorted(edges) and len(edges) == len(point["windows"]) + 1
        for w in point["windows"]:  # a request belongs to the window its last response fell in
            inside = [r for r in exp["requests"]
                      if w["start_ns"] < r["response_timestamps"][-1] <= w["end_ns"]]
            assert len(inside) == w["hi"] - w["lo"] == w["summary"]["completed"]
        assert sum(w["summary"]["completed"] for w in point["windows"]) == len(exp["requests"])
        model = point["windows"][0]["server"]["model"]
        assert model["name"] == "add_sub" and model["inference_count"] >= 1
    assert ours["provenance"]["perfanalyzer"] == __version__
    assert ours["config"]["measurement_interval_ms"] == 300


@pytest.mark.server
@pytest.mark.slow
def test_report_reprints_the_live_console_and_rewrites_the_csv_byte_for_byte(
        live: SimpleNamespace) -> None:
    out = live.dir / "again.csv"
    proc = _pa("report", str(live.json), "-f", str(out), "--verbose-csv")
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes() == live.csv.read_bytes()
    assert proc.stdout.splitlines() == live.proc.stdout.splitlines()
    assert proc.stdout == live.proc.stdout
    plain = _pa("report", str(live.json))
    assert plain.returncode == 0 and plain.stdout == live.proc.stdout


@pytest.mark.server
def test_existing_export_path_is_refused_before_any_load(triton: Any, tmp_path: Path) -> None:
    path = tmp_path / "run.json"
    path.write_text("{}")
    before = _success(triton.http_url, "add_sub")
    proc = _pa("-m", "add_sub", "-u", triton.http_url, "-p", "200",
               "--profile-export-file", str(path))
    assert proc.returncode == 3
    assert proc.stderr.strip() == (f"error: --profile-export-file {path}: path must not "
                                   "already exist")
    assert _success(triton.http_url, "add_sub") == before
    assert path.read_text() == "{}"


@pytest.mark.server
@pytest.mark.slow
def test_interrupted_run_is_still_exported_and_re_reportable(triton: Any, tmp_path: Path) -> None:
    path, out, err = tmp_path / "run.json", tmp_path / "live.csv", tmp_path / "stderr.txt"
    args = [sys.executable, "-m", "perfanalyzer.cli.main", "-m", "add_sub", "-u", triton.http_url,
            "--concurrency-range", "1", "-p", "20000", "-f", str(out),
            "--profile-export-file", str(path)]
    with err.open("w") as errf, subprocess.Popen(args, stdout=subprocess.PIPE, stderr=errf,
                                                  text=True) as proc:
        assert proc.stdout is not None
        lines = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # the settings block is printed as the load starts
            line = proc.stdout.readline()
            lines.append(line)
            if not line or line.startswith("  Using asynchronous"):
                break
        time.sleep(1.0)
        proc.send_signal(signal.SIGINT)
        rest = proc.stdout.read()  # not communicate(): it would skip what readline() buffered
        assert proc.wait(timeout=60) == 130, err.read_text()
    doc = json.loads(path.read_text())
    assert_valid(doc)
    assert doc["perfanalyzer"]["interrupted"] is True
    assert doc["perfanalyzer"]["points"][0]["interrupted"] is True
    assert len(doc["experiments"][0]["requests"]) > 10
    again = tmp_path / "again.csv"
    rep = _pa("report", str(path), "-f", str(again))
    assert rep.returncode == 0
    assert again.read_bytes() == out.read_bytes()
    assert rep.stdout == "".join(lines) + rest
    assert "the run was interrupted" in rep.stderr


@pytest.mark.server
@pytest.mark.slow
def test_decoupled_streaming_export_keeps_every_response_time(triton: Any,
                                                              tmp_path: Path) -> None:
    path, out = tmp_path / "run.json", tmp_path / "live.csv"
    live = _pa("-m", "repeat", "-i", "grpc", "--streaming", "-u", triton.grpc_url,
               "--shape", "IN:4", "--input-data", "zero", "-p", "300", "-s", "100",
               "-f", str(out), "--profile-export-file", str(path))
    assert live.returncode in (0, 2), live.stderr
    doc = json.loads(path.read_text())
    assert_valid(doc)
    assert doc["perfanalyzer"]["model"]["decoupled"] is True
    reqs = doc["experiments"][0]["requests"]
    assert reqs and all(r["response_count"] == 4 for r in reqs)  # one response per element of IN
    assert all(len(r["response_timestamps"]) == 4 for r in reqs)  # every response, in order
    assert all(r["timestamp"] < r["response_timestamps"][0]
               and r["response_timestamps"] == sorted(r["response_timestamps"]) for r in reqs)
    again = tmp_path / "again.csv"
    rep = _pa("report", str(path), "-f", str(again))
    assert rep.returncode == 0 and rep.stdout == live.stdout
    assert again.read_bytes() == out.read_bytes()
    assert "Response Throughput" in out.read_text().splitlines()[0]
