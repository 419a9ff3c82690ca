"""Cleanups that must run however a run ends (shared memory, local servers): normal exit, error,
first Ctrl-C (after draining) and second Ctrl-C (immediately)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

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
