"""The event loop a run uses (``--event-loop auto|uvloop|asyncio``).

uvloop runs the same protocol callbacks in fewer CPU cycles (measured on the lean HTTP path
against Triton's add_sub: ~47-62 µs of client CPU per request instead of ~73-86 µs). Install it
with ``pip install 'perfanalyzer[fast]'``. ``auto`` (the default) takes uvloop when it is installed,
``asyncio`` forces the standard loop (e.g. to compare); ``uvloop`` refuses to run without it. The
loop a run used is recorded in its provenance (:func:`running_loop_name`).
"""

from __future__ import annotations

import asyncio
import importlib
import sys
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from ..errors import OptionError

#: ``--event-loop`` values.
EVENT_LOOPS = ("auto", "uvloop", "asyncio")

T = TypeVar("T")


def loop_factory(choice: str = "auto") -> Callable[[], asyncio.AbstractEventLoop] | None:
    """``uvloop.new_event_loop`` for ``uvloop`` (or ``auto`` with uvloop installed), else None
    (asyncio's own loop)."""
    if choice not in EVENT_LOOPS:
        raise OptionError(f"--event-loop: expected auto, uvloop or asyncio, got {choice!r}")
    if choice == "asyncio":
        return None
    try:
        uvloop = importlib.import_module("uvloop")
    except ImportError:
        if choice == "uvloop":
            raise OptionError("--event-loop uvloop: uvloop is not installed "
                              "(pip install uvloop, or --event-loop asyncio)") from None
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def loop_name(choice: str = "auto") -> str:
    """``uvloop`` or ``asyncio``: what :func:`run` would use for ``choice``."""
    return "uvloop" if loop_factory(choice) is not None else "asyncio"


def running_loop_name() -> str:
    """``uvloop`` or ``asyncio``: the loop this coroutine runs on (for provenance)."""
    module = type(asyncio.get_running_loop()).__module__
    return "uvloop" if module.startswith("uvloop") else "asyncio"


def run(main: Coroutine[Any, Any, T], choice: str = "auto") -> T:
    """``asyncio.run(main)`` on the loop ``choice`` picks (see :func:`loop_factory`)."""
    factory = loop_factory(choice)
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


__all__ = ["EVENT_LOOPS", "loop_factory", "loop_name", "run", "running_loop_name"]
