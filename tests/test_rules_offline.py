"""Option rules that need no server are checked before any connection: with no server listening,
each bad combination exits 3 with perf_analyzer's sentence, never "no server is listening"."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def dead_url() -> Iterator[str]:
    """A loopback port held (bound, not listening): every connection to it is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"127.0.0.1:{sock.getsockname()[1]}"


def _profile(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "perfanalyzer", "profile", "-m", "simple", "-u",
                           url, *args], capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.parametrize(("args", "sentence"), [
    (["--sequence-length-variation", "-10"], "The value must be >= 0.0."),
    (["--request-count", "2", "--concurrency-range", "5"],
     "request-count can not be less than concurrency"),
    (["--request-count", "3", "--request-rate-range", "5"],
     "request-count can not be less than request-rate"),
    (["--request-count", "20", "--request-rate-range", "5:6:1"],
     "request-count not supported with multiple request-rate values in one run"),
    (["--request-count", "20", "--concurrency-range", "1:2"],
     "request-count not supported with multiple concurrency values in one run"),
    (["--grpc-compression-algorithm", "gzip"],
     "Using compression algorithm is only allowed with gRPC protocol"),
    (["--request-intervals", "/nonexistent/intervals.txt"], "The value must be a valid file path"),
    (["--input-data", "/nonexistent/data.json"], "Unsupported type provided"),
])
def test_refused_before_any_connection(dead_url: str, args: list[str], sentence: str) -> None:
    res = _profile(dead_url, *args)
    assert res.returncode == 3, res.stderr
    assert sentence in res.stderr
    assert args[0] in res.stderr  # the line names the flag
    assert "listening" not in res.stderr


def test_request_count_zero_means_unset(dead_url: str) -> None:
    """perf_analyzer reads --request-count 0 as "no count": the run goes on to connect."""
    res = _profile(dead_url, "--request-count", "0")
    assert res.returncode == 99, res.stderr
    assert "no server is listening" in res.stderr


def test_request_intervals_file_is_read_before_any_connection(dead_url: str,
                                                              tmp_path: Path) -> None:
    bad = tmp_path / "intervals.txt"
    bad.write_text("1000\nabc\n")
    res = _profile(dead_url, "--request-intervals", str(bad))
    assert res.returncode == 3, res.stderr
    assert f"{bad}:2: 'abc' is not a positive integer interval" in res.stderr
    assert "listening" not in res.stderr
