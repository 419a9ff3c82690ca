"""Shared fixtures: one real Triton server (from the nvidia-pytriton wheel) for the whole session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

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
