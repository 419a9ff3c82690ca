"""Never hang, say what went wrong: fault servers on loopback (silent,
garbage, closing, TLS with a self-signed certificate) over HTTP and gRPC; Ctrl-C during a hang."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import kserve_server
from tests.support.fault_servers import CONNECTIONS, error_line, fault_server

NO_SERVER = "perfanalyzer serve"


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "perfanalyzer", "-m", "simple",
                           "--connect-timeout", "2", "--startup-timeout", "2", *args],
                          capture_output=True, text=True, timeout=90, check=False)


@pytest.mark.server  # starts a server and runs the tool against it
@pytest.mark.parametrize(("kind", "protocol", "message"), [
    ("silent", "http", "accepted the connection but did not answer within"),
    ("silent", "grpc", "accepted the connection but did not answer"),
    ("garbage", "http", "did not answer in HTTP"),
    ("garbage", "grpc", "answered something that is not gRPC"),
    ("closing", "http", "closed the connection without an answer"),
    ("closing", "grpc", "closed the connection without an answer"),
    ("tls", "http", "certificate verify failed"),
    ("tls", "grpc", "certificate verify failed"),
])
def test_fault_server_gets_its_own_one_line_message(tmp_path: Path, kind: str, protocol: str,
                                                    message: str) -> None:
    with fault_server(kind, tmp_path) as port:
        url = f"https://127.0.0.1:{port}" if (kind, protocol) == ("tls", "http") \
            else f"127.0.0.1:{port}"
        tls = ["--ssl-grpc-use-ssl"] if (kind, protocol) == ("tls", "grpc") else []
        r = _cli("-u", url, "-i", protocol, *tls)
    assert r.returncode == 99, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], r.stderr
    assert NO_SERVER not in r.stderr


@pytest.mark.server  # starts a server and runs the tool against it
def test_plain_http_to_a_tls_port_is_not_called_no_server(tmp_path: Path) -> None:
    with fault_server("tls", tmp_path) as port:
        r = _cli("-u", f"127.0.0.1:{port}")
    assert r.returncode == 99
    (line,) = r.stderr.strip().splitlines()
    assert "closed the connection" in line and "TLS port" in line and NO_SERVER not in line


@pytest.mark.server  # starts a server and runs the tool against it
def test_ctrl_c_ends_a_run_stuck_on_a_silent_server(tmp_path: Path) -> None:
    with fault_server("silent") as port:
        proc = subprocess.Popen(
            [sys.executable, "-m", "perfanalyzer", "-m", "simple", "-u", f"127.0.0.1:{port}",
             "--startup-timeout", "600", "-f", str(tmp_path / "out.csv")],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while CONNECTIONS.get(port, 0) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)  # the TCP probe, then the client: waiting for an answer
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=60)  # far below the 600 s start-up timeout
    assert proc.returncode == 130, err
    assert "nothing to write" in err
    assert not (tmp_path / "out.csv").exists()


def test_timeouts_are_checked_before_any_load() -> None:
    r = _cli("-u", "127.0.0.1:9", "--request-timeout", "-1")
    assert r.returncode == 3
    assert "--request-timeout" in r.stderr


@contextlib.contextmanager
def _hanging_server() -> Iterator[str]:
    """A KServe v2 server that answers start-up calls but never an inference."""
    from perfanalyzer.server.launcher import free_port

    port = free_port()
    proc = subprocess.Popen([sys.executable, str(kserve_server.SCRIPT),
                             str(port), "hang"])
    try:
        for _ in range(400):
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                time.sleep(0.05)
        yield f"127.0.0.1:{port}"
    finally:
        proc.kill()  # its handlers never return: a graceful stop would wait for them
        proc.wait(timeout=10)


@pytest.mark.server  # starts a server and runs the tool against it
def test_server_silent_mid_run_ends_the_run_at_the_request_timeout() -> None:
    with _hanging_server() as url:
        r = subprocess.run([sys.executable, "-m", "perfanalyzer", "-m", "echo", "-u", url,
                            "--request-timeout", "1", "-p", "500"],
                           capture_output=True, text=True, timeout=120, check=False)
    assert r.returncode == 99, r.stderr
    line = error_line(r.stderr)
    assert "request timed out after 1 s" in line, r.stderr


@pytest.mark.server  # starts a server and runs the tool against it
def test_ctrl_c_ends_a_run_whose_requests_never_finish(tmp_path: Path) -> None:
    with _hanging_server() as url:
        out, log = tmp_path / "perf.csv", tmp_path / "stdout.txt"
        with log.open("w") as stdout:
            proc = subprocess.Popen(
                [sys.executable, "-m", "perfanalyzer", "-m", "echo", "-u", url,
                 "--request-timeout", "0", "-p", "500", "-f", str(out)],
                stdout=stdout, stderr=subprocess.PIPE, text=True,
                env={**os.environ, "PYTHONUNBUFFERED": "1"})
            deadline = time.monotonic() + 60
            while "Measurement Settings" not in log.read_text() and time.monotonic() < deadline:
                time.sleep(0.1)
            time.sleep(1.5)  # in the windows: every request in flight and never answered
            proc.send_signal(signal.SIGINT)
            _out, err = proc.communicate(timeout=60)  # no request timeout: only the stop deadline
    assert proc.returncode == 130, err
    assert "in-flight requests cancelled" in err, err
    assert out.exists()
