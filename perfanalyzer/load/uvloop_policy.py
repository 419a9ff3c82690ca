"""The event loop a run uses: uvloop when it is installed, the standard asyncio loop otherwise.

uvloop runs the same protocol callbacks in fewer CPU cycles (measured on the lean HTTP path
against Triton's add_sub: ~47-62 µs of client CPU per request instead of ~73-86 µs). Install it
with ``pip install 'perfanalyzer[fast]'``. ``PERFANALYZER_LOOP=asyncio`` forces the standard loop
(e.g. to compare, or to rule uvloop out when debugging).
"""

from __future__ import annotations

import asyncio
import importlib
import os
import sys
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

#: Environment variable: ``asyncio`` forces the standard loop; ``uvloop`` (or unset) prefers
#: uvloop when it is importable.
LOOP_ENV = "PERFANALYZER_LOOP"

T = TypeVar("T")


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """``uvloop.new_event_loop`` when uvloop is wanted and installed, else None (asyncio's)."""
    if os.environ.get(LOOP_ENV, "").strip().lower() == "asyncio":
        return None
    try:
        uvloop = importlib.import_module("uvloop")
    except ImportError:
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def loop_name() -> str:
    """``uvloop`` or ``asyncio``: what :func:`run` would use (for provenance)."""
    return "uvloop" if loop_factory() is not None else "asyncio"


def run(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(main)`` on the loop :func:`loop_factory` picks."""
    factory = loop_factory()
    if factory is None:
        return asyncio.run(main)
    if sys.version_info >= (3, 11):
        with asyncio.Runner(loop_factory=factory) as runner:
            return runner.run(main)
    loop = factory()  # pragma: no cover - Python 3.10
    try:
        asyncio.set_event_loop(loop)
        return loop.run_until_complete(main)
    finally:
        asyncio.set_event_loop(None)
        loop.close()


__all__ = ["LOOP_ENV", "loop_factory", "loop_name", "run"]
