"""Session fixtures and the ``server`` marker.

* ``triton``: one real Triton (from the nvidia-pytriton wheel) for the whole session;
* ``html_run``: one short real run with its export, --html page and --events, for the HTML tests;
* ``mini_server``: a KServe v2 server without Triton's extensions (a fresh one per test);
* every test whose fixtures start a server is marked ``server`` here, so ``pytest -m 'not server'``
  runs the unit tests alone (tests that start a server of their own carry the mark themselves).
Shared helpers live in tests/support.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from tests.support import kserve_server
from tests.support.cli_runs import profile_cli
from tests.support.html_checks import HTML_RUN_SECRET
from tests.support.paths import TEST_MODELS

# Hypothesis's per-example deadline is a timed assertion: on a shared 2-core machine it fails tests
# for the machine's load, not for the code. Examples still have the pytest-timeout bound.
settings.register_profile("perfanalyzer", deadline=None)
settings.load_profile("perfanalyzer")


#: The fixtures that start a server: a test using one, directly or through another, is ``server``.
SERVER_FIXTURES = {"triton", "mini_server"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark ``server`` every test whose fixtures start a server."""
    for item in items:
        if SERVER_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.server)


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


@pytest.fixture()
def mini_server() -> Iterator[str]:
    """The address of a fresh KServe v2 server without Triton's extensions (no statistics, no
    model config), as KServe's Python server or MLServer."""
    from perfanalyzer.server.launcher import free_port

    with kserve_server.serving(free_port()) as url:
        yield url
