"""The live status line: drawn in place on a terminal's stderr (a real pseudo-terminal here), never
into a pipe, never with -q; the per-point blocks on stdout are unchanged."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import threading
from typing import Any

import pytest

from perfanalyzer.report.live import ERASE
from tests.support.paths import ROOT


def _run(triton: Any, *extra: str, tty: bool) -> tuple[int, str, str]:
    """A short two-level run; stderr on a pseudo-terminal when ``tty``. Returns rc, out, err."""
    args = [sys.executable, "-m", "perfanalyzer", "-m", "add_sub", "-u", triton.http_url,
            "--concurrency-range", "1:2", "-p", "400", "-r", "6", *extra]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200"}
    if not tty:
        proc = subprocess.run(args, capture_output=True, text=True, timeout=300, env=env,
                              check=False)
        return proc.returncode, proc.stdout, proc.stderr
    master, slave = pty.openpty()
    chunks: list[bytes] = []

    def drain() -> None:
        while True:
            try:
                data = os.read(master, 4096)
            except OSError:  # the child closed its side
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        proc2 = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=slave, text=True, env=env)
        os.close(slave)
        out, _ = proc2.communicate(timeout=300)
        reader.join(timeout=30)
    finally:
        os.close(master)
    return proc2.returncode, out, b"".join(chunks).decode("utf-8", "replace")


@pytest.mark.server
def test_terminal_run_shows_the_line_and_a_piped_run_does_not(triton: Any) -> None:
    rc, out, err = _run(triton, tty=True)
    assert rc in (0, 2), err[-2000:]
    assert ERASE in err
    drawn = [part for part in err.split(ERASE) if part.strip()]
    assert any(p.startswith("c=1 (level 1 of 2) · window ") for p in drawn), drawn[:5]
    assert any(p.startswith("c=2 (level 2 of 2)") for p in drawn)
    assert any("infer/s · p99 " in p and "client CPU" in p and "errors" in p for p in drawn)
    assert ERASE not in out and "\r" not in out  # stdout keeps perf_analyzer's blocks only
    assert "Request concurrency: 1" in out and "Request concurrency: 2" in out

    rc, out, err = _run(triton, tty=False)
    assert rc in (0, 2), err[-2000:]
    assert ERASE not in err and "\r" not in err and "\x1b" not in err
    assert "Request concurrency: 2" in out


@pytest.mark.server
def test_quiet_terminal_run_has_no_line(triton: Any) -> None:
    rc, _out, err = _run(triton, "-q", tty=True)
    assert rc in (0, 2), err[-2000:]
    assert ERASE not in err and "\x1b" not in err
    assert err.strip().splitlines()[-1].startswith("Verdict: ")
