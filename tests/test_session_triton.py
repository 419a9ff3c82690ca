"""The shared Tritons' guard (tests/conftest.py): a server that stops answering is replaced before
the next test, and the end of the run says so, instead of every later test waiting out its
timeout against it."""
from __future__ import annotations

import signal

import pytest

from tests import conftest
from tests.conftest import SessionTriton


@pytest.mark.server
def test_a_wedged_shared_server_is_replaced_and_said() -> None:
    shared = SessionTriton("probe", models=("add_sub",))
    before = len(conftest.REPLACED)
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
        assert conftest.REPLACED[before:] == [said]
    finally:
        del conftest.REPLACED[before:]  # (not a replacement of the run's own servers)
        shared.stop()
