"""Session fixtures and the ``server`` marker.

* ``triton``: a real Triton (from the nvidia-pytriton wheel) shared by the tests, probed before
  each test and replaced or started afresh when needed (tests/support/shared_triton.py);
* ``html_run``: one short real run with its export, --html page and --events, for the HTML tests;
* ``mini_server``: a KServe v2 server without Triton's extensions (a fresh one per test);
* every test whose fixtures start a server is marked ``server`` here, so ``pytest -m 'not server'``
  runs the unit tests alone (tests that start a server of their own carry the mark themselves).
Shared helpers live in tests/support.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _pytest.runner import runtestprotocol
from hypothesis import settings

from tests.support import kserve_server
from tests.support.cli_runs import profile_cli
from tests.support.html_checks import HTML_RUN_SECRET
from tests.support.shared_triton import REPLACED, RUNNING, SessionTriton, shared_triton

# Hypothesis's per-example deadline is a timed assertion: on a shared 2-core machine it fails tests
# for the machine's load, not for the code. Examples still have the pytest-timeout bound.
settings.register_profile("perfanalyzer", deadline=None)
settings.load_profile("perfanalyzer")


#: The fixtures that start a server: a test using one, directly or through another, is ``server``.
SERVER_FIXTURES = {"triton", "_session_triton", "_reload_triton", "mini_server"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark ``server`` every test whose fixtures start a server."""
    for item in items:
        if SERVER_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.server)


class _ToolRuns:
    """Python subprocesses (the tool's own runs) a test started: any still running when the test
    ends is stopped (SIGINT, so a search restores the model, then SIGKILL), so that a failed test
    cannot leave a run loading the shared server under the tests after it."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen[Any]] = []
        self._init = subprocess.Popen.__init__

    def __enter__(self) -> _ToolRuns:
        runs, init = self, self._init

        def tracked(proc: subprocess.Popen[Any], args: Any, *a: Any, **kw: Any) -> None:
            init(proc, args, *a, **kw)
            argv = [args] if isinstance(args, (str, bytes, os.PathLike)) else list(args)
            if argv and os.fspath(argv[0]) == sys.executable:
                runs.procs.append(proc)

        subprocess.Popen.__init__ = tracked  # type: ignore[method-assign,assignment]
        return self

    def __exit__(self, *exc: object) -> None:
        subprocess.Popen.__init__ = self._init  # type: ignore[method-assign]
        alive = [p for p in self.procs if p.poll() is None]
        for proc in alive:
            proc.send_signal(signal.SIGINT)
        for proc in alive:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


@pytest.fixture(autouse=True)
def _no_run_outlives_its_test() -> Iterator[None]:
    with _ToolRuns():
        yield


#: What the ``reloads_models`` tests (the searches) load and reload, on a Triton of their own.
RELOAD_MODELS = ("add_sub", "delay", "delay_slow", "ens_delay_slow")


@pytest.fixture(scope="session")
def _session_triton() -> Iterator[SessionTriton]:
    yield from shared_triton("session")


@pytest.fixture(scope="session")
def _reload_triton() -> Iterator[SessionTriton]:
    yield from shared_triton("reload", RELOAD_MODELS)


@pytest.fixture()
def triton(request: pytest.FixtureRequest) -> SessionTriton:
    """A Triton 2.51 serving tests/models on free loopback ports (explicit model control, all
    models loaded, so load/unload can be tested), one for the session, checked before each test
    that uses it (see SessionTriton). Tests marked ``reloads_models`` (the searches, which load
    and unload configurations many times) get a second shared one serving RELOAD_MODELS, so the
    churn stays off the server most tests share. Skips when the server extra is missing."""
    reloads = request.node.get_closest_marker("reloads_models") is not None
    shared: SessionTriton = request.getfixturevalue(
        "_reload_triton" if reloads else "_session_triton")
    shared.check(request.node.nodeid)
    return shared


#: Tests that failed while the shared Triton under them crashed, and how their second run ended.
RERUN: list[str] = []
_SHARED = {"triton", "_session_triton", "_reload_triton"}


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> bool | None:
    """A test that fails while the shared Triton under it crashes (Triton 2.51's heap corruption,
    tests/support/shared_triton.py) runs once more, on a fresh server; the end of the run says so.
    A failure on a server that still answers, or a second failure, is the test's failure."""
    if not _SHARED & set(getattr(item, "fixturenames", ())):
        return None
    item.ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
    reports = runtestprotocol(item, nextitem=nextitem, log=False)
    failed = next((r for r in reports if r.failed), None)
    crashed = [why for shared in RUNNING if failed and (why := shared.failed_under(item.nodeid))]
    if failed is not None and crashed:
        crash = getattr(failed.longrepr, "reprcrash", None)
        what = crash.message.splitlines()[0][:200] if crash is not None else failed.when
        reports = runtestprotocol(item, nextitem=nextitem, log=False)
        again = "failed again" if any(r.failed for r in reports) else "passed"
        RERUN.append(f"{item.nodeid} failed ({what}) while the shared Triton under it crashed "
                     f"({crashed[0]}); run again on a fresh server: {again}")
    for report in reports:
        item.ihook.pytest_runtest_logreport(report=report)
    item.ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
    return True


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if RERUN:
        terminalreporter.section("run again after the shared Triton crashed under them")
        for said in RERUN:
            terminalreporter.write_line(said)
    if REPLACED:
        terminalreporter.section("shared Tritons replaced")
        for said in REPLACED:
            terminalreporter.write_line(said)


@pytest.fixture(scope="session")
def html_run(_session_triton: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A short real run saved for the HTML tests: a two-level add_sub sweep with server
    statistics, --collect-metrics and a secret header; its export, --html page and --events."""
    triton = _session_triton
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
