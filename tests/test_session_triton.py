"""The shared Tritons' guard (tests/conftest.py): a server that stops answering is replaced before
the next test, and the end of the run says so, instead of every later test waiting out its
timeout against it."""
from __future__ import annotations

import signal

import pytest

from tests.support import shared_triton
from tests.support.shared_triton import SessionTriton


@pytest.mark.server
def test_a_wedged_shared_server_is_replaced_and_said() -> None:
    shared = SessionTriton("probe", models=("add_sub",))
    before = len(shared_triton.REPLACED)
    try:
        shared.PROBE_TIMEOUT_S = 2.0
        shared.check("t::first")  # answers: nothing happens
        assert not shared.replaced
        wedged = shared.server
        wedged.process.send_signal(signal.SIGSTOP)  # alive, accepting, silent
        shared.check("t::second")
        assert shared.server is not wedged and not wedged.alive()
        assert shared._answers() is None
        (said,) = shared.replaced
        assert said.startswith("the probe Triton did not answer within 2 s (timed out) after "
                               "t::first; replaced before t::second. Its log ended:")
        assert shared_triton.REPLACED[before:] == [said]
    finally:
        del shared_triton.REPLACED[before:]  # (not a replacement of the run's own servers)
        shared.stop()


@pytest.mark.server
def test_a_shared_server_starts_afresh_at_a_module_boundary_after_its_share() -> None:
    shared = SessionTriton("probe", models=("add_sub",))
    try:
        shared.check("a.py::t0")
        first = shared.server
        shared.served = shared_triton.RECYCLE_AFTER
        shared.check("a.py::t1")  # same module: kept
        assert shared.server is first
        shared.check("b.py::t0")  # the next module: a fresh server, not a replacement
        assert shared.server is not first and not first.alive() and not shared.replaced
        assert (shared.served, shared.recycled) == (1, 1) and shared._answers() is None
    finally:
        shared.stop()
