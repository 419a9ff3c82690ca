"""End-to-end profiles against the real Triton: ground truth, exact counters, bad input, Ctrl-C."""

from __future__ import annotations

import csv
import io
import itertools
import math
import signal
import subprocess
import sys
import time
from typing import Any

import pytest

from tests.support.cli_runs import run_cli as _cli
from tests.support.cli_runs import run_profile as _run
from tests.support.cli_runs import url_config as _cfg
from tests.support.triton_stats import settled_success_count, success_count

pytestmark = pytest.mark.server

DELAY_S = 0.050


@pytest.mark.slow
def test_ground_truth_fixed_delay_concurrency_2(triton: Any) -> None:
    run = _run(_cfg(triton.http_url, "-m", "delay", "--concurrency-range", "2", "-p", "1500",
                    "-s", "10"))
    (point,) = run.points
    s = point.merged
    # Little's law for a closed loop: throughput × mean latency = requests outstanding.
    assert s.throughput * s.latency.avg_ns / 1e9 == pytest.approx(2.0, rel=0.02)
    # p50 = the configured delay plus transport time (a few ms at most on loopback).
    assert DELAY_S * 1e9 <= s.latency.p(50) <= DELAY_S * 1e9 * 1.05 + 3e6
    assert s.errors == 0


def test_counts_match_the_servers_own_counters(triton: Any) -> None:
    before = success_count(triton.http_url, "add_sub")
    run = _run(_cfg(triton.http_url, "-m", "add_sub", "--concurrency-range", "1:2", "-p", "400",
                    "-s", "50", "-r", "4"))
    assert run.buffer is not None
    after = settled_success_count(triton.http_url, "add_sub", before + run.buffer.count)
    # Every request the client recorded (all drained at the end) is exactly one the server served.
    assert after - before == run.buffer.count
    for point in run.points:
        for w in point.windows:
            assert w.summary.server is not None
            served = w.summary.server.model.get("success").count
            # A request counts in the window its response arrives in; the server counts it when it
            # finishes executing: they differ by the requests straddling an edge, and by those
            # completing while the statistics are read at an edge (the load goes on meanwhile; the
            # read takes a few ms, tens on a loaded 2-core machine: 30 ms of throughput allowed).
            slack = int(point.level) * 2 + math.ceil(w.summary.throughput * 0.030)
            assert abs(served - w.summary.completed) <= slack, (served, w.summary.completed)
        srv = point.merged.server
        assert srv is not None
        assert srv.model.get("success").count == sum(
            w.summary.server.model.get("success").count for w in point.windows[-3:]
            if w.summary.server is not None)


def test_cli_writes_perf_analyzer_csv(triton: Any, tmp_path: Any) -> None:
    out = tmp_path / "perf.csv"
    # -s 1000: about the CSV, not stability (both points must be stable to be in -f)
    r = _cli("-m", "add_sub", "-u", triton.http_url, "--concurrency-range", "1:3:2", "-p", "300",
             "-s", "1000", "-f", str(out), "--verbose-csv")
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert sorted(int(r["Concurrency"]) for r in rows) == [1, 3]
    assert all(float(r["Inferences/Second"]) > 0 for r in rows)
    assert "Request concurrency: 3" in r.stdout
    assert "Inferences/Second vs. Client Average Batch Latency" in r.stdout


@pytest.mark.parametrize(("args", "code", "message"), [
    (["-m", "nope"], 99, "-m: model 'nope' is not available"),
    (["-m", "add_sub", "--concurrency-range", "4:2"], 3, "--concurrency-range: end 2 is below"),
    (["-m", "add_sub", "-b", "9"], 3, "-b"),
    (["-m", "identity_fp32"], 3, "INPUT0"),
    (["-m", "add_sub", "--shape", "INPUT0:3"], 3, "--shape"),
    (["-m", "add_sub", "--percentile", "100"], 3, "--percentile"),
    (["-m", "add_sub", "--concurrency-range", "1", "--request-rate-range", "5"], 3,
     "Cannot use both"),
])
def test_bad_input_is_one_line_before_any_load(triton: Any, args: list[str], code: int,
                                               message: str) -> None:
    before = success_count(triton.http_url, "add_sub")
    r = _cli(*args, "-u", triton.http_url, "-p", "200")
    assert r.returncode == code, (r.stdout, r.stderr)
    err = r.stderr.strip().splitlines()
    assert len(err) == 1 and message in err[0], r.stderr
    assert success_count(triton.http_url, "add_sub") == before


def test_unknown_model_lists_the_servers_models(triton: Any) -> None:
    r = _cli("-m", "nope", "-u", triton.http_url)
    assert "add_sub" in r.stderr and "delay" in r.stderr


def test_no_server_says_how_to_start_one() -> None:
    from perfanalyzer.server.launcher import free_port

    r = _cli("-m", "simple", "-u", f"127.0.0.1:{free_port()}")
    assert r.returncode == 99
    assert "perfanalyzer serve" in r.stderr or "--launch-server" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_ctrl_c_drains_and_writes_what_was_measured(triton: Any, tmp_path: Any) -> None:
    out = tmp_path / "perf.csv"
    proc = subprocess.Popen(
        [sys.executable, "-m", "perfanalyzer", "-m", "add_sub", "-u", triton.http_url,
         "--concurrency-range", "1:50", "-p", "500", "-s", "100", "-f", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not out.exists() and time.monotonic() < deadline:
        time.sleep(0.1)  # the CSV appears after the first load point
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert len(rows) >= 1
    assert "Stopping" in stderr
    assert f"Request concurrency: {len(rows)}" in stdout or len(rows) >= 1


@pytest.mark.parametrize("load", [("--concurrency-range", "2"),
                                  ("--request-rate-range", "100"),
                                  ("--concurrency-range", "2", "--warmup-request-count", "10")])
def test_request_count_is_one_window_of_exactly_n(triton: Any, load: tuple[str, ...]) -> None:
    """perf_analyzer sends exactly N requests (after the warm-up ones): the window's sends, its
    completions and the server's count are the same N."""
    before = success_count(triton.http_url, "add_sub")
    run = _run(_cfg(triton.http_url, "-m", "add_sub", "--request-count", "120", *load))
    (point,) = run.points
    assert len(point.windows) == 1
    assert point.merged.completed == 120
    assert point.stable
    warmup = int(load[-1]) if "--warmup-request-count" in load else 0
    assert run.buffer is not None and run.buffer.count == 120 + warmup
    served = settled_success_count(triton.http_url, "add_sub", before + 120 + warmup) - before
    assert served == 120 + warmup


@pytest.mark.parametrize(("model", "concurrency", "check_server"),
                         [("delay", 1, True), ("add_sub", 4, False)])
def test_count_windows_last_a_second_and_hold_every_completion(
        triton: Any, model: str, concurrency: int, check_server: bool) -> None:
    """perf_analyzer checks the completed count once a second: a count window lasts at least 1 s
    and holds every request completed by then; its send count, CPU and server statistics are
    read at that same edge."""
    run = _run(_cfg(triton.http_url, "-m", model, "--measurement-mode", "count_windows",
                    "--measurement-request-count", "5", "--concurrency-range", str(concurrency),
                    "-s", "1000", "-r", "3"))
    (point,) = run.points
    ws = point.windows
    assert len(ws) == 3
    assert all(a.hi == b.lo and a.summary.end_ns == b.summary.start_ns
               for a, b in itertools.pairwise(ws))
    for w in ws:
        s = w.summary
        assert s.end_ns - s.start_ns >= 1_000_000_000
        assert s.completed >= 5
        # A closed loop sends one request per completion: sends and completions counted at the
        # same edges differ by the requests in flight there, at most the concurrency.
        assert abs(s.sent - s.completed) <= concurrency, (s.sent, s.completed)
        if check_server:  # 50 ms a request: the server counts the same requests but the one
            assert s.server is not None  # straddling an edge
            served = s.server.model.get("success").count
            assert abs(served - s.completed) <= concurrency, (served, s.completed)


def test_warmup_requests_belong_to_no_window(triton: Any) -> None:
    run = _run(_cfg(triton.http_url, "-m", "add_sub", "--warmup-request-count", "50",
                    "-p", "300", "-s", "100", "-r", "3"))
    (point,) = run.points
    assert point.windows[0].lo >= 50


def test_unstable_points_are_reported_and_the_sweep_goes_on(triton: Any, tmp_path: Any) -> None:
    out = tmp_path / "perf.csv"
    # -s 0: no window spread is ever small enough, so no point can stabilize.
    r = _cli("-m", "add_sub", "-u", triton.http_url, "--concurrency-range", "1:2", "-p", "200",
             "-s", "0", "-r", "3", "-f", str(out), "--async")
    assert r.returncode == 2, r.stderr
    assert r.stdout.count("Failed to obtain stable measurement within 3 measurement windows") \
        + r.stdout.count("Request latency is not stabilizing") == 2
    assert "Distance from stable" in r.stdout or "spread" in r.stdout
    # Both points are shown (console), but -f holds what perf_analyzer writes: stable points only.
    assert r.stdout.count("(not stable) [not in -f]") == 2
    assert len(out.read_text().splitlines()) == 1  # the header alone
    assert "0 of 2 points stable (2 unstable)" in r.stderr


def test_stability_windows_sets_how_many_windows_are_judged_and_merged(triton: Any) -> None:
    # -s 1000: any 5 windows with requests pass; the test is about which windows are used.
    run = _run(_cfg(triton.http_url, "-m", "add_sub", "-p", "200", "-s", "1000", "-r", "6",
                    "--stability-windows", "5"))
    (point,) = run.points
    assert point.stable
    assert len(point.windows) == 5 and point.merged.windows == 5
    assert point.merged.completed == sum(w.summary.completed for w in point.windows)
    r = _cli("-m", "add_sub", "-u", triton.http_url, "--stability-windows", "0")
    assert r.returncode == 3 and "--stability-windows must be >= 1, got 0" in r.stderr
