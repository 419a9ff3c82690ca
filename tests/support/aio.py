"""Async test bodies without pytest-asyncio: each runs in a fresh event loop."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Coroutine
from typing import Any

AsyncTest = Callable[..., Coroutine[Any, Any, None]]


def aio(fn: AsyncTest) -> Callable[..., None]:
    """Run an async test function in a fresh event loop (fixtures and parameters pass through:
    ``functools.wraps`` lets pytest read the wrapped function's signature)."""
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        asyncio.run(fn(*args, **kwargs))
    return wrapper


def aio_within(timeout_s: float) -> Callable[[AsyncTest], Callable[..., None]]:
    """Like ``aio``, but the body fails with TimeoutError after ``timeout_s``: for tests against a
    scripted peer, where a hang must fail the test instead of blocking the suite."""
    def decorate(fn: AsyncTest) -> Callable[..., None]:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> None:
            asyncio.run(asyncio.wait_for(fn(*args, **kwargs), timeout_s))
        return wrapper
    return decorate
