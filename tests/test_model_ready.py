"""--model-ready-timeout: a model that is still loading is waited for (the server's model
readiness endpoint), up to the time given; without the flag the run fails at once."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

pytestmark = pytest.mark.server

MODEL = "slow_init"  # its initialize() sleeps 3 s


def _post(url: str, path: str) -> int:
    req = urllib.request.Request(f"http://{url}{path}", data=b"{}", method="POST")
    try:
        with urllib.request.urlopen(req, timeout=120) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"http://{url}/v2/models/{MODEL}/ready", timeout=10) as r:
            return int(r.status) == 200
    except urllib.error.HTTPError:
        return False


@pytest.fixture()
def unloaded(triton: Any) -> Iterator[str]:
    """The slow model unloaded (and loaded again afterwards, whatever the test did)."""
    url = triton.http_url
    assert _post(url, f"/v2/repository/models/{MODEL}/unload") == 200
    deadline = time.monotonic() + 60
    while _ready(url) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _ready(url)
    try:
        yield url
    finally:
        _post(url, f"/v2/repository/models/{MODEL}/load")


def _profile(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "perfanalyzer", "profile", "-m", MODEL, "-u", url,
                           "--request-count", "5", *args], capture_output=True, text=True,
                          timeout=180, check=False)


def test_waits_for_a_model_that_is_loading(unloaded: str) -> None:
    loader = threading.Thread(target=_post, args=(unloaded, f"/v2/repository/models/{MODEL}/load"))
    loader.start()  # returns once initialize() is done, seconds from now
    try:
        res = _profile(unloaded, "--model-ready-timeout", "120")
    finally:
        loader.join(timeout=180)
    assert res.returncode == 0, res.stderr
    assert _ready(unloaded)


def test_without_the_flag_a_model_not_ready_fails_at_once(unloaded: str) -> None:
    res = _profile(unloaded)
    assert res.returncode == 99, res.stderr
    assert f"model '{MODEL}' is not available" in res.stderr


def test_a_model_that_never_gets_ready_fails_naming_the_flag(unloaded: str) -> None:
    res = _profile(unloaded, "--model-ready-timeout", "1")
    assert res.returncode == 99, res.stderr
    assert "--model-ready-timeout 1: model 'slow_init' is not ready after 1 s" in res.stderr
