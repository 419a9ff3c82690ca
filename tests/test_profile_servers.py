"""Profiles of a server without Triton's extensions and of a model that starts failing mid-run
(ensembles: tests/test_trust_server.py)."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli_runs import run_cli as _cli

pytestmark = pytest.mark.server


def test_server_without_statistics_gets_client_figures(mini_server: str, tmp_path: Path) -> None:
    out = tmp_path / "perf.csv"
    # About the columns without server statistics, not stability: the one point must still be
    # stable to be written to -f, so a loose -s and more trials keep a stalled Python server or
    # client (a loaded machine) from failing it.
    r = _cli("-m", "echo", "-u", mini_server, "-p", "300", "-s", "300", "-r", "10",
             "-f", str(out))
    assert r.returncode == 0, r.stderr
    assert "Server statistics are not reported: the server does not offer the statistics " \
           "extension" in r.stdout
    header = out.read_text().splitlines()[0]
    assert header == ("Concurrency,Inferences/Second,Client Send,Client Recv,"
                      "p50 latency,p90 latency,p95 latency,p99 latency")
    row = next(csv.DictReader(io.StringIO(out.read_text())))
    assert float(row["Inferences/Second"]) > 0


def test_every_request_failing_stops_with_the_servers_message(triton: Any,
                                                             tmp_path: Path) -> None:
    out = tmp_path / "perf.csv"
    proc = subprocess.Popen(
        [sys.executable, "-m", "perfanalyzer", "-m", "identity_int32", "--shape", "INPUT0:4",
         "-u", triton.http_url, "--concurrency-range", "1:20", "-p", "400", "-s", "100",
         "-f", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not out.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        req = urllib.request.Request(
            f"http://{triton.http_url}/v2/repository/models/identity_int32/unload", data=b"{}",
            method="POST")
        urllib.request.urlopen(req, timeout=60).close()
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        urllib.request.urlopen(urllib.request.Request(
            f"http://{triton.http_url}/v2/repository/models/identity_int32/load", data=b"{}",
            method="POST"), timeout=120).close()
    assert proc.returncode == 99, (stdout, stderr)
    assert "every request failed" in stderr and "identity_int32" in stderr
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert len(rows) >= 1  # what was measured before the failure is kept


def _shapes(url: str) -> dict[str, list[list[int]]]:
    import json
    import urllib.request

    with urllib.request.urlopen(f"http://{url}/shapes", timeout=5) as r:
        return dict(json.loads(r.read()))


def test_no_config_leading_minus_one_is_the_batch_dimension(mini_server: str) -> None:
    r = _cli("-m", "echo_batch", "-u", mini_server, "-b", "3", "-p", "300", "-s", "1000",
             "-r", "3")
    assert r.returncode in (0, 2), r.stderr
    assert r.stdout.count("taken as the batch dimension and filled from -b (3)") == 1
    assert {tuple(s) for s in _shapes(mini_server)["echo_batch"]} == {(3, 4)}
    # Another -1 still needs --shape (the leading one is the batch) ...
    r = _cli("-m", "echo_dyn", "-u", mini_server, "-p", "300")
    assert r.returncode == 3 and "--shape" in r.stderr
    r = _cli("-m", "echo_dyn", "-u", mini_server, "-b", "2", "--shape", "INPUT0:5", "-p", "300",
             "-s", "1000", "-r", "3")
    assert r.returncode in (0, 2), r.stderr
    assert {tuple(s) for s in _shapes(mini_server)["echo_dyn"]} == {(2, 5)}
    # ... and a model without a leading -1 is not batched.
    r = _cli("-m", "echo", "-u", mini_server, "-b", "2", "-p", "300")
    assert r.returncode == 3 and "-b" in r.stderr
