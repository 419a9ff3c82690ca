"""Shared fixtures: one real Triton server (from the nvidia-pytriton wheel) for the whole session."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

# Hypothesis's per-example deadline is a timed assertion: on a shared 2-core machine it fails tests
# for the machine's load, not for the code. Examples still have the pytest-timeout bound.
settings.register_profile("perfanalyzer", deadline=None)
settings.load_profile("perfanalyzer")

TEST_MODELS = Path(__file__).with_name("models")


@pytest.fixture(scope="session")
def triton() -> Iterator[object]:
    """A Triton 2.51 serving tests/models on free loopback ports (explicit model control, all
    models loaded, so load/unload can be tested). Skips when the server extra is missing."""
    from perfanalyzer.server.launcher import ServerLaunchError, TritonLauncher

    launcher = TritonLauncher(model_repository=TEST_MODELS, explicit_models=["*"],
                              die_with_parent=True)  # a killed pytest takes it down too
    try:
        server = launcher.start(timeout_s=180)
    except ServerLaunchError as exc:
        if "server' extra" in str(exc):
            pytest.skip(str(exc))
        raise
    try:
        yield server
    finally:
        server.stop()


#: A header value the HTML report and the events of ``html_run`` must never show.
HTML_RUN_SECRET = "s3cr3t-token-value"


def profile_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``perfanalyzer ARGS`` in a subprocess (this checkout's code) run in ``cwd``."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    return subprocess.run([sys.executable, "-m", "perfanalyzer", *args], capture_output=True,
                          text=True, timeout=300, check=False, cwd=cwd, env=env)


@pytest.fixture(scope="session")
def html_run(triton: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A short real run saved for the HTML tests: a two-level add_sub sweep with server
    statistics, --collect-metrics and a secret header; its export, --html page and --events."""
    out = tmp_path_factory.mktemp("html")
    proc = profile_cli("-m", "add_sub", "-u", triton.http_url, "--concurrency-range", "1:2",
                       "-p", "500", "--collect-metrics", "--metrics-url", triton.metrics_url,
                       "--metrics-interval", "200", "--profile-export-file", "run.json",
                       "--html", "run.html", "--events", "events.jsonl", "-H",
                       f"Authorization: Bearer {HTML_RUN_SECRET}", cwd=out)
    assert proc.returncode in (0, 2), proc.stderr[-2000:]  # 2: a point did not stabilize
    assert "run.html" in proc.stderr.splitlines()[-1]  # the verdict names the page
    (out / "rc").write_text(str(proc.returncode))
    return {"dir": out, "json": out / "run.json", "html": out / "run.html",
            "events": out / "events.jsonl", "rc": out / "rc"}
