"""One periodic deadline check per pool / channel instead of one timer per request.

A timer per request (``loop.call_later`` + ``cancel``) costs several µs of CPU per request under
uvloop (each timer is a libuv handle that is allocated, started, stopped and closed). The
transports record when each request started anyway; a :class:`Watchdog` wakes every
``period_s`` (a quarter of the timeout, between 5 ms and 1 s) and lets its owner fail the
requests that ran past the timeout. A request therefore times out between ``timeout_s`` and
``timeout_s + period_s`` after it started (at most 25 % late, 1 s for the 60 s default).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from time import perf_counter_ns as _clock

MIN_PERIOD_S = 0.005
MAX_PERIOD_S = 1.0


class Watchdog:
    """Calls ``check(now_ns)`` every ``period_s`` while armed; ``check`` returns whether to keep
    ticking (e.g. False once nothing is in flight or open). Arm it again with :meth:`arm`."""

    def __init__(self, timeout_s: float, check: Callable[[int], bool]) -> None:
        self.timeout_ns = int(timeout_s * 1e9)
        self.period_s = min(max(timeout_s / 4, MIN_PERIOD_S), MAX_PERIOD_S)
        self._check = check
        self._handle: asyncio.TimerHandle | None = None

    @property
    def armed(self) -> bool:
        return self._handle is not None

    def arm(self) -> None:
        """Start ticking (no-op while armed); needs a running loop."""
        if self._handle is None:
            self._handle = asyncio.get_running_loop().call_later(self.period_s, self._tick)

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _tick(self) -> None:
        self._handle = None
        if self._check(_clock()):
            self.arm()


__all__ = ["Watchdog"]
