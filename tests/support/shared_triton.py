"""The Tritons many tests share (tests/conftest.py's ``triton`` fixture), kept answering.

Triton 2.51 can wedge after long use: glibc heap corruption ("malloc_consolidate(): unaligned
fastbin chunk detected", "Signal (6) received."), then alive, ready and silent
(triton-inference-server/server#8841). Seen here in three clean-clone runs in a row, each time
7-9 minutes into the run, after ~200 of the ~280 tests that use the session server; every later
test then waited out its own 300 s timeout and CI ran out of time. So a shared server is probed
before every test that uses it and replaced when it does not answer (the end of the run says so,
quoting its log), and it is started afresh at a module boundary after :data:`RECYCLE_AFTER`
tests, before it has served that much.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.paths import TEST_MODELS

#: A shared server serves at most this many tests, then starts afresh at the next module (60 still
#: let Triton's heap corruption hit one run of eight, in test_request_rate.py; a start costs ~10 s).
RECYCLE_AFTER = 40
#: What the guards replaced, said at the end of the run (where CI's tail of the output shows it).
REPLACED: list[str] = []
#: The shared servers now running (for the conftest's check after a failed test).
RUNNING: list[SessionTriton] = []


def start_or_skip(launcher: Any, **start: Any) -> Any:
    """``launcher.start(**start)``; the test is skipped where the server extra is missing."""
    from perfanalyzer.server.launcher import ServerLaunchError

    try:
        return launcher.start(**start)
    except ServerLaunchError as exc:
        if "server' extra" in str(exc):
            pytest.skip(str(exc))
        raise


class SessionTriton:
    """A Triton shared by many tests, probed before each of them and replaced when it does not
    answer (see the module). Attributes are the current server's (``triton.http_url`` ...)."""

    PROBE_TIMEOUT_S = 15.0

    def __init__(self, name: str = "session", models: tuple[str, ...] = ("*",)) -> None:
        from perfanalyzer.server.launcher import TritonLauncher

        self.name = name
        self._launcher = TritonLauncher(model_repository=TEST_MODELS, explicit_models=list(models),
                                        die_with_parent=True)  # a killed pytest takes it down too
        self.server: Any = start_or_skip(self._launcher, timeout_s=180)
        self.last_test = "(none yet)"
        self.replaced: list[str] = []
        self.served = 0  # tests since the current server started
        self.recycled = 0
        RUNNING.append(self)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.server, name)

    def _answers(self) -> str | None:
        """None if the server answers its health check and an add_sub inference in time; else
        what failed."""
        if not self.server.alive():
            return f"exited with code {self.server.process.poll()}"
        base = f"http://{self.server.http_url}"
        body = json.dumps({"inputs": [
            {"name": n, "shape": [1, 16], "datatype": "INT32", "data": [1] * 16}
            for n in ("INPUT0", "INPUT1")]}).encode()
        try:
            with urllib.request.urlopen(f"{base}/v2/health/ready", timeout=self.PROBE_TIMEOUT_S):
                pass
            try:
                with urllib.request.urlopen(f"{base}/v2/models/add_sub/ready",
                                            timeout=self.PROBE_TIMEOUT_S):
                    pass
            except urllib.error.HTTPError:
                return None  # a test unloaded add_sub: the server itself answered
            req = urllib.request.Request(f"{base}/v2/models/add_sub/infer", data=body,
                                         headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(req, timeout=self.PROBE_TIMEOUT_S):
                return None
        except urllib.error.HTTPError:
            return None  # an answer, if not a success: the server is not wedged
        except (urllib.error.URLError, OSError) as exc:
            return f"did not answer within {self.PROBE_TIMEOUT_S:g} s ({exc})"

    def check(self, test_id: str) -> None:
        """Replace the server if it no longer answers; start it afresh at a module boundary once
        it has served :data:`RECYCLE_AFTER` tests."""
        failed = self._answers()
        previous, self.last_test = self.last_test, test_id
        if failed is None:
            if self.served >= RECYCLE_AFTER and \
                    previous.split("::")[0] != test_id.split("::")[0]:
                self._restart()
                self.recycled += 1
            self.served += 1
            return
        log = [ln for ln in self.server.log_text().splitlines()
               if ln.strip() and not ln.startswith(("|", "+"))][-6:]
        self._restart(stop_timeout_s=1)  # wedged: no graceful exit to wait for
        self.served = 1
        said = (f"the {self.name} Triton {failed} after {previous}; replaced before {test_id}. "
                "Its log ended:\n    " + "\n    ".join(log))
        self.replaced.append(said)
        REPLACED.append(said)

    def _restart(self, stop_timeout_s: float = 30.0) -> None:
        self.server.stop(timeout_s=stop_timeout_s)
        self.server = self._launcher.start(timeout_s=180)
        self.served = 0

    def stop(self) -> None:
        if self in RUNNING:
            RUNNING.remove(self)
        self.server.stop()

    def failed_under(self, test_id: str) -> str | None:
        """What went wrong with this server if ``test_id`` was the last test it served and it
        no longer answers (it crashed under that test); None otherwise."""
        return self._answers() if self.last_test == test_id else None


def shared_triton(name: str, models: tuple[str, ...] = ("*",)) -> Iterator[SessionTriton]:
    """A fixture's body: the shared server, stopped at the end."""
    shared = SessionTriton(name, models)
    try:
        yield shared
    finally:
        shared.stop()
