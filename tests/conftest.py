"""Session fixtures and the ``server`` marker.

* ``triton``: one real Triton (from the nvidia-pytriton wheel) for the whole session;
* every test whose fixtures include ``triton`` is marked ``server`` here, so ``pytest -m 'not server'``
  runs the unit tests alone (tests that start a server of their own carry the mark themselves).
Shared helpers live in tests/support.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import settings

from tests.support.paths import TEST_MODELS

# Hypothesis's per-example deadline is a timed assertion: on a shared 2-core machine it fails tests
# for the machine's load, not for the code. Examples still have the pytest-timeout bound.
settings.register_profile("perfanalyzer", deadline=None)
settings.load_profile("perfanalyzer")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark ``server`` every test that needs the ``triton`` fixture, directly or through another."""
    for item in items:
        if "triton" in getattr(item, "fixturenames", ()):
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
