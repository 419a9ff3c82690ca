"""Cleanups that must run however a run ends (shared memory, local servers): normal exit, error,
first Ctrl-C (after draining) and second Ctrl-C (immediately)."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable
from typing import NoReturn

_CLEANUPS: list[Callable[[], None]] = []


def register(fn: Callable[[], None]) -> Callable[[], None]:
    _CLEANUPS.append(fn)
    return fn


def unregister(fn: Callable[[], None]) -> None:
    with contextlib.suppress(ValueError):
        _CLEANUPS.remove(fn)


def run_all() -> None:
    """Run every registered cleanup once, newest first; errors are swallowed (best effort)."""
    while _CLEANUPS:
        fn = _CLEANUPS.pop()
        with contextlib.suppress(Exception):
            fn()


def exit_now(code: int) -> NoReturn:
    """Exit at once (``os._exit``: no cleanups, no waiting for threads), with what was printed
    flushed first: a piped stdout is block-buffered and ``_exit`` would drop the buffer."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)
