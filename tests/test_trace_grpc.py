"""Trace settings over gRPC (-i grpc): set through Triton's TraceSetting call for the run and
restored after, as perf_analyzer does; a refusal is one line. On the real Triton."""

from __future__ import annotations

import asyncio
import io
import json
import subprocess
import sys
import urllib.request
from typing import Any

import pytest

from perfanalyzer.cli.main import cli, profile_config
from perfanalyzer.profile.run import profile

pytestmark = pytest.mark.server


def _settings(url: str, model: str = "add_sub") -> dict[str, Any]:
    with urllib.request.urlopen(f"http://{url}/v2/models/{model}/trace/setting", timeout=5) as r:
        return dict(json.loads(r.read()))


def test_trace_settings_over_grpc_hold_during_the_run_and_are_restored(triton: Any) -> None:
    before = _settings(triton.http_url)
    seen: list[dict[str, Any]] = []
    cfg = profile_config(cli.commands["profile"].make_context("profile", [
        "-i", "grpc", "-u", triton.grpc_url, "-m", "add_sub", "-p", "200", "-s", "1000", "-r", "3",
        "--trace-rate", "7", "--trace-count", "3", "--log-frequency", "2"]).params)
    asyncio.run(profile(cfg, out=io.StringIO(),
                        on_point=lambda run, p: seen.append(_settings(triton.http_url))))
    assert seen and seen[0]["trace_rate"] == "7" and seen[0]["trace_count"] == "3"
    assert seen[0]["log_frequency"] == "2"
    assert _settings(triton.http_url) == before


def test_refused_trace_setting_over_grpc_is_one_line(triton: Any) -> None:
    before = _settings(triton.http_url)
    # This Triton has no trace file: it refuses a trace level (and the rate asked with it).
    res = subprocess.run([sys.executable, "-m", "perfanalyzer", "-i", "grpc", "-u",
                          triton.grpc_url, "-m", "add_sub", "--trace-level", "TIMESTAMPS",
                          "--trace-rate", "9"],
                         capture_output=True, text=True, timeout=120, check=False)
    assert res.returncode == 99
    assert len(res.stderr.strip().splitlines()) == 1 and "trace settings" in res.stderr
    assert _settings(triton.http_url) == before
