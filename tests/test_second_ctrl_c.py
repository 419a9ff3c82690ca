"""A second Ctrl-C exits at once and still writes the CSV and the export of the finished points,
against the real Triton."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.server


def test_second_ctrl_c_still_writes_csv_and_export(triton: Any, tmp_path: Path) -> None:
    out, export = tmp_path / "perf.csv", tmp_path / "run.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "perfanalyzer", "-m", "delay", "-u", triton.http_url,
         "--concurrency-range", "4:64:4", "-p", "300", "-s", "100", "-f", str(out),
         "--profile-export-file", str(export)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not out.exists() and time.monotonic() < deadline:
        time.sleep(0.05)  # the CSV appears after the first load point
    os.kill(proc.pid, signal.SIGINT)
    time.sleep(0.01)  # a second press while the delay model's requests are still in flight
    os.kill(proc.pid, signal.SIGINT)
    _stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "Exiting now: wrote" in stderr, stderr
    doc = json.loads(export.read_text())
    assert doc["perfanalyzer"]["interrupted"] is True
    points = doc["perfanalyzer"]["points"]
    assert len(points) >= 1
    # -f holds what perf_analyzer would write: the stable points (a point cut short is not)
    stable = sum(p["status"] == "stable" for p in points)
    rows = out.read_text().strip().splitlines()
    assert len(rows) == stable + 1
