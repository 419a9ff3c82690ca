"""Resource bounds: the open-file limit is raised or the run is
refused before any load; --workers and concurrency are bounded unless --force; a point where most
requests failed is an error (exit 99), not a measurement."""

from __future__ import annotations

import os
import resource
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support import kserve_server
from tests.support.fault_servers import error_line

NO_SERVER = "127.0.0.1:9"  # nothing listens: reaching the server is the first thing after checks


def _cli(*args: str, nofile: tuple[int, int] | None = None) -> subprocess.CompletedProcess[str]:
    def limit() -> None:
        if nofile:
            resource.setrlimit(resource.RLIMIT_NOFILE, nofile)

    return subprocess.run([sys.executable, "-m", "perfanalyzer", "-m", "simple", *args],
                          capture_output=True, text=True, timeout=120, check=False,
                          preexec_fn=limit)


def test_concurrency_that_cannot_fit_the_open_file_limit_is_refused_before_load() -> None:
    r = _cli("-u", NO_SERVER, "--concurrency-range", "2000", nofile=(1024, 1024))
    assert r.returncode == 3, r.stderr
    (line,) = r.stderr.strip().splitlines()
    assert "2000" in line and "1024" in line and "open-file limit" in line


def test_soft_open_file_limit_is_raised_to_the_hard_limit() -> None:
    # 1000 connections do not fit under a soft limit of 256 but do under the hard 4096: the run
    # goes on to connect (and finds no server), instead of refusing.
    r = _cli("-u", NO_SERVER, "--concurrency-range", "1000", nofile=(256, 4096))
    assert r.returncode == 99, r.stderr
    assert "open-file limit" not in r.stderr


@pytest.mark.parametrize("args", [
    ["--concurrency-range", "1000000000"],
    ["--workers", str((os.cpu_count() or 1) + 1)],
])
def test_ceilings_are_refused_in_one_line_unless_forced(args: list[str]) -> None:
    r = _cli("-u", NO_SERVER, *args)
    assert r.returncode == 3, r.stderr
    (line,) = r.stderr.strip().splitlines()
    assert "--force" in line


def test_forced_workers_go_past_the_check() -> None:
    r = _cli("-u", NO_SERVER, "--workers", str((os.cpu_count() or 1) + 1), "--force")
    assert r.returncode == 99  # refused by nobody but the absent server


@pytest.mark.server  # starts a server and runs the tool against it
def test_a_point_where_most_requests_failed_is_an_error(tmp_path: Path) -> None:
    # the server fails 2 requests in 3: the point is not reported as a measurement
    from perfanalyzer.server.launcher import free_port

    port = free_port()
    server = subprocess.Popen([sys.executable, str(kserve_server.SCRIPT),
                               str(port), "3"])
    try:
        _wait_port(port)
        r = subprocess.run([sys.executable, "-m", "perfanalyzer", "-m", "echo", "-u",
                            f"127.0.0.1:{port}", "--request-count", "60",
                            "-f", str(tmp_path / "perf.csv")],
                           capture_output=True, text=True, timeout=120, check=False)
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert r.returncode == 99, (r.stdout, r.stderr)
    line = error_line(r.stderr)
    assert "requests failed" in line and "above 10 %" in line, r.stderr
    assert "injected failure" in line


def _wait_port(port: int) -> None:
    for _ in range(400):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)


def test_open_ended_sweep_stops_at_the_ceiling() -> None:
    from perfanalyzer.config import RunConfig
    from perfanalyzer.config.safety import MAX_CONCURRENCY
    from perfanalyzer.profile.failures import FailedPoint, check_ceiling

    cfg = RunConfig.of(model="m", concurrency_range=(1, 0, 1), latency_threshold_ms=5)
    check_ceiling(cfg, MAX_CONCURRENCY)
    with pytest.raises(FailedPoint, match="--force"):
        check_ceiling(cfg, MAX_CONCURRENCY + 1)
    check_ceiling(cfg.replace(force=True), MAX_CONCURRENCY + 1)


@pytest.mark.server
def test_a_launched_server_gets_the_hard_open_file_limit() -> None:
    # A soft limit of 1024 (a common default) in the launching process would let a client with a
    # thousand connections (the rate modes' default cap) exhaust the server's.
    from perfanalyzer.server.launcher import TritonLauncher
    from tests.support.paths import TEST_MODELS
    from tests.support.shared_triton import start_or_skip

    limits = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(1024, limits[1]), limits[1]))
    try:
        server = start_or_skip(TritonLauncher(model_repository=TEST_MODELS, explicit_models=[]),
                               wait=False)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, limits)
    try:
        assert resource.prlimit(server.process.pid, resource.RLIMIT_NOFILE) == (limits[1],) * 2
    finally:
        server.stop()
