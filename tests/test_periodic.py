"""--periodic-concurrency-range / --request-period (perf_analyzer's periodic concurrency mode).

Ground truth: the decoupled ``repeat_paced`` model answers one response per element of IN, 20 ms
apart, each request from its own thread (so requests stream concurrently). The checks are exact
counts (requests, responses, the server's success counter) and the order of sends against the
responses that trigger them, read from the export."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from perfanalyzer.config import LoadMode
from perfanalyzer.config.validate import PERIODIC_REFUSED
from perfanalyzer.errors import OptionError
from perfanalyzer.load.periodic import SHORT_PERIOD, Step
from perfanalyzer.measure.periodic import step_figures
from perfanalyzer.records import RecordBuffer
from tests.support.cli_runs import cli_config as _cfg
from tests.support.triton_stats import settled_success_count, success_count

NEEDS = ("-i", "grpc", "--streaming", "--profile-export-file", "x.json")


def test_options_follow_perf_analyzers_rules() -> None:
    cfg = _cfg("-m", "M", *NEEDS, "--periodic-concurrency-range", "2:8:2", "--request-period", "3")
    assert cfg.load.mode is LoadMode.PERIODIC
    assert cfg.load.periodic_concurrency_range == (2, 8, 2) and cfg.load.request_period == 3
    assert _cfg("-m", "M", *NEEDS, "--periodic-concurrency-range", "1:4").load.request_period == 10
    for value, needle in (("4", "both START and END"), ("1:4:0", "STEP must be > 0"),
                          ("5:4", "START 5 must be <= END 4"), ("1:4:2", "STEP 2 must divide"),
                          ("0:4", "START must be >= 1"), ("1:4:1:1", "START:END")):
        with pytest.raises(OptionError, match=needle):
            _cfg("-m", "M", *NEEDS, "--periodic-concurrency-range", value)
    with pytest.raises(OptionError, match="requires bi-directional gRPC streaming"):
        _cfg("-m", "M", "-i", "grpc", "--profile-export-file", "x.json",
             "--periodic-concurrency-range", "1:4")
    with pytest.raises(OptionError, match="Must provide --profile-export-file"):
        _cfg("-m", "M", "-i", "grpc", "--streaming", "--periodic-concurrency-range", "1:4")
    with pytest.raises(OptionError, match="--request-period: only used by"):
        _cfg("-m", "M", "--request-period", "5")
    with pytest.raises(OptionError, match="--request-period must be > 0"):
        _cfg("-m", "M", *NEEDS, "--periodic-concurrency-range", "1:4", "--request-period", "0")
    with pytest.raises(OptionError, match="Cannot use both"):
        _cfg("-m", "M", *NEEDS, "--periodic-concurrency-range", "1:4", "--concurrency-range", "2")
    with pytest.raises(OptionError, match="above the ceiling"):
        _cfg("-m", "M", *NEEDS, "--periodic-concurrency-range", "1:100000")


def test_refusals_exit_3_before_any_load(tmp_path: Path) -> None:
    for extra, needle in ((("-b", "1,2"), "one run; not with a -b list"),
                          (("-f", "x.csv"), "-f: not used by --periodic-concurrency-range")):
        res = subprocess.run(
            [sys.executable, "-m", "perfanalyzer", "-m", "M", "-u", "127.0.0.1:1", "-i", "grpc",
             "--streaming", "--profile-export-file", str(tmp_path / "x.json"),
             "--periodic-concurrency-range", "1:2", *extra],
            capture_output=True, text=True, timeout=60, check=False)
        assert res.returncode == 3 and needle in res.stderr, res.stderr
        assert not (tmp_path / "x.json").exists()


#: A value for each flag periodic mode refuses (what it would otherwise ignore).
REFUSED_SAMPLES = {
    "--measurement-mode": ("count_windows",), "-p": ("100",), "--measurement-request-count": ("9",),
    "-s": ("5",), "-r": ("3",), "--stability-windows": ("4",), "--request-count": ("9",),
    "--warmup-request-count": ("2",), "--adaptive": (), "-l": ("5",), "--latency-from":
    ("scheduled",), "--repeat": ("2",), "--binary-search": (), "--request-distribution":
    ("poisson",), "--max-threads": ("4",), "--enable-mpi": (), "-f": ("x.csv",),
    "--verbose-csv": (), "--csv-all-points": (), "--baseline": ("b.json",),
    "--csv-streaming": (), "--request-burstiness": ("2",),
}


@pytest.mark.parametrize("flag", [f for *_, f in PERIODIC_REFUSED])
def test_flags_periodic_mode_would_ignore_are_refused(flag: str) -> None:
    with pytest.raises(OptionError, match=f"^{flag}: not used by --periodic-concurrency-range"):
        _cfg("-m", "M", *NEEDS, "--periodic-concurrency-range", "1:4", flag,
             *REFUSED_SAMPLES[flag])


def test_step_figures_from_known_records() -> None:
    ms = 1_000_000
    buf = RecordBuffer()
    # request A sent at 0: responses at 10, 20, 30, 40 ms; B sent at 20: 25, 35 ms (two kept
    # as first/last); C sent at 35 failed after one response at 38 (kept), given up at 50
    buf.add_full(20 * ms, 20 * ms, 25 * ms, 35 * ms, 0, 2, 0)
    buf.add_full(0, 0, 10 * ms, 40 * ms, 0, 4, 0)
    buf.response_times[1] = (10 * ms, 20 * ms, 30 * ms, 40 * ms)
    buf.add_full(35 * ms, 35 * ms, 38 * ms, 50 * ms, buf.error_code("cut"), 1, 0)
    buf.response_times[2] = (38 * ms,)
    steps = [Step(0, 1, 1), Step(20 * ms, 1, 2), Step(35 * ms, 1, 3)]
    a, b, c = step_figures(buf, steps, end_ns=50 * ms)
    assert (a["concurrency"], a["responses"], a["in_flight_at_start"]) == (1, 1, 1)
    assert a["start_s"] == 0 and a["duration_s"] == pytest.approx(0.020)
    assert a["avg_first_response_ns"] == 10 * ms and a["avg_inter_response_ns"] is None
    # [20, 35): A's 20 and 30, B's 25; gaps ending there: A 10 (20-10), 10 (30-20)
    assert (b["responses"], b["avg_inter_response_ns"], b["avg_first_response_ns"]) == (
        3, 10 * ms, 5 * ms)
    assert b["response_rate"] == pytest.approx(3 / 0.015)
    # [35, 50]: B's 35, C's 38, A's 40; gaps: B 10 (35-25), A 10 (40-30)
    assert (c["responses"], c["avg_inter_response_ns"], c["avg_first_response_ns"]) == (
        3, 10 * ms, 3 * ms)
    assert (c["concurrency"], c["in_flight_at_start"]) == (3, 3)
    assert step_figures(buf, [], 0) == []


on_server = pytest.mark.server


def _run(triton: Any, tmp_path: Path, *args: str, timeout: float = 120) -> tuple[
        subprocess.CompletedProcess[str], dict[str, Any]]:
    export = tmp_path / "run.json"
    res = subprocess.run(
        [sys.executable, "-m", "perfanalyzer", "-m", "repeat_paced", "-u", triton.grpc_url,
         "-i", "grpc", "--streaming", "--profile-export-file", str(export), *args],
        capture_output=True, text=True, timeout=timeout, check=False)
    doc = json.loads(export.read_text()) if export.exists() else {}
    return res, doc


def _requests(doc: dict[str, Any]) -> list[dict[str, Any]]:
    (exp,) = doc["experiments"]
    return sorted(exp["requests"], key=lambda r: r["timestamp"])


@on_server
def test_each_step_starts_when_every_request_of_the_last_got_the_period(
        triton: Any, tmp_path: Path) -> None:
    before = success_count(triton.http_url, "repeat_paced")
    # START > STEP: perf_analyzer 2.50 counts k·STEP sent after k steps: the server sees 10 here
    res, doc = _run(triton, tmp_path, "--shape", "IN:6", "--periodic-concurrency-range", "4:8:2",
                    "--request-period", "3")
    assert res.returncode == 0, res.stderr
    reqs = _requests(doc)
    assert len(reqs) == 8  # exactly END requests
    assert all(len(r["response_timestamps"]) == 6 and r["status"] == 0 for r in reqs)
    assert settled_success_count(triton.http_url, "repeat_paced", before + 8) == before + 8
    steps = [reqs[0:4], reqs[4:6], reqs[6:8]]
    for prev, nxt in itertools.pairwise(steps):
        trigger = max(r["response_timestamps"][2] for r in prev)  # every one got 3 responses
        sent = min(r["timestamp"] for r in nxt)
        assert trigger <= sent < min(r["response_timestamps"][-1] for r in prev)
    periodic = doc["perfanalyzer"]["periodic"]
    assert periodic["range"] == [4, 8, 2] and periodic["request_period"] == 3
    assert [s["concurrency"] for s in periodic["steps"]] == [4, 6, 8]
    assert sum(s["responses"] for s in periodic["steps"]) == 48
    assert doc["experiments"][0]["experiment"] == {"mode": "concurrency", "value": 8}
    assert "Periodic concurrency: 4 to 8 (step 2, request period 3), 8 requests sent" in res.stdout
    assert "periodic concurrency run, 8 of 8 requests completed" in res.stderr


@on_server
def test_a_request_short_of_the_period_ends_the_run_with_perf_analyzers_error(
        triton: Any, tmp_path: Path) -> None:
    res, doc = _run(triton, tmp_path, "--shape", "IN:3", "--periodic-concurrency-range", "1:4",
                    "--request-period", "5")
    assert res.returncode == 99, res.stderr
    assert SHORT_PERIOD in res.stderr
    (req,) = _requests(doc)  # no further step was sent; what was measured is kept
    assert len(req["response_timestamps"]) == 3


@on_server
def test_a_request_without_final_response_times_out_instead_of_hanging(
        triton: Any, tmp_path: Path) -> None:
    t0 = time.monotonic()
    res, doc = _run(triton, tmp_path, "--shape", "IN:1000", "--periodic-concurrency-range", "1:2",
                    "--request-period", "2", "--request-timeout", "1", timeout=60)
    assert time.monotonic() - t0 < 30
    assert res.returncode == 99, res.stderr  # every request failed: not a measurement
    reqs = _requests(doc)
    assert len(reqs) == 2
    assert all("no final response within --request-timeout 1 s" in r["error"] for r in reqs)
    # the responses that did arrive are kept (20 ms apart for about a second)
    assert all(10 <= len(r["response_timestamps"]) <= 60 for r in reqs)
    gaps = np.diff(reqs[0]["response_timestamps"])
    assert np.median(gaps) > 15e6


@on_server
def test_ctrl_c_ends_the_run_and_keeps_the_responses(triton: Any, tmp_path: Path) -> None:
    export = tmp_path / "run.json"
    before = success_count(triton.http_url, "repeat_paced")
    proc = subprocess.Popen(
        [sys.executable, "-m", "perfanalyzer", "-m", "repeat_paced", "-u", triton.grpc_url,
         "-i", "grpc", "--streaming", "--profile-export-file", str(export), "--shape", "IN:1000",
         "--periodic-concurrency-range", "1:3", "--request-period", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while success_count(triton.http_url, "repeat_paced") < before + 3:  # all three streaming
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.05)
    time.sleep(0.5)  # about 25 more responses each
    os.kill(proc.pid, signal.SIGINT)
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    doc = json.loads(export.read_text())
    assert doc["perfanalyzer"]["interrupted"] is True
    reqs = _requests(doc)
    assert len(reqs) == 3
    assert all(r["error"] == "cancelled: the run was stopped" for r in reqs)
    assert all(len(r["response_timestamps"]) >= 10 for r in reqs)


@on_server
def test_readme_example_with_launch_server_and_metrics_from_its_own_port(tmp_path: Path) -> None:
    """docs/streaming.md's periodic example, with --collect-metrics: the launched server's metrics port
    is scraped (not -u's host:8002, where nothing listens)."""
    export = tmp_path / "llm.json"
    res = subprocess.run(
        [sys.executable, "-m", "perfanalyzer", "-m", "repeat_int32", "--launch-server", "-i",
         "grpc", "--streaming", "--shape", "IN:64", "--periodic-concurrency-range", "1:4:1",
         "--request-period", "16", "--profile-export-file", str(export), "--collect-metrics",
         "--metrics-interval", "20"],
        capture_output=True, text=True, timeout=300, check=False)
    assert res.returncode == 0, res.stderr
    assert "could not scrape" not in res.stderr
    doc = json.loads(export.read_text())
    assert len(_requests(doc)) == 4
    assert doc["perfanalyzer"]["points"][0]["metrics"]["scrapes"] >= 1
    assert "Avg CPU Utilization" in res.stdout
