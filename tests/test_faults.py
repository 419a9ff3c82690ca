"""Never hang, say what went wrong (issue 13, findings 3 and 8): fault servers on loopback (silent,
garbage, closing, TLS with a self-signed certificate) over HTTP and gRPC; Ctrl-C during a hang."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .faults import fault_server

NO_SERVER = "perfanalyzer serve"


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "perfanalyzer", "-m", "simple",
                           "--connect-timeout", "2", "--startup-timeout", "2", *args],
                          capture_output=True, text=True, timeout=90, check=False)


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


def test_plain_http_to_a_tls_port_is_not_called_no_server(tmp_path: Path) -> None:
    with fault_server("tls", tmp_path) as port:
        r = _cli("-u", f"127.0.0.1:{port}")
    assert r.returncode == 99
    (line,) = r.stderr.strip().splitlines()
    assert "closed the connection" in line and "TLS port" in line and NO_SERVER not in line


def test_ctrl_c_ends_a_run_stuck_on_a_silent_server(tmp_path: Path) -> None:
    with fault_server("silent") as port:
        proc = subprocess.Popen(
            [sys.executable, "-m", "perfanalyzer", "-m", "simple", "-u", f"127.0.0.1:{port}",
             "--startup-timeout", "600", "-f", str(tmp_path / "out.csv")],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(2)  # connected, waiting for an answer that never comes
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=60)  # far below the 600 s start-up timeout
    assert proc.returncode == 130, err
    assert "nothing to write" in err
    assert not (tmp_path / "out.csv").exists()


def test_timeouts_are_checked_before_any_load() -> None:
    r = _cli("-u", "127.0.0.1:9", "--request-timeout", "-1")
    assert r.returncode == 3
    assert "--request-timeout" in r.stderr
