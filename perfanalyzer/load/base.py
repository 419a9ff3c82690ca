"""What every load manager offers the measurement loop."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Collection
from typing import Protocol

from ..records import RecordBuffer

#: How long stop() waits for in-flight requests before cancelling them.
DEFAULT_DRAIN_TIMEOUT_S = 30.0


class LoadManager(Protocol):
    """Generates load and writes one record per request into ``buffer``.

    ``sent`` counts requests handed to the client so far and ``late`` those sent more than 1 ms behind
    their schedule (always 0 for closed loops). ``in_flight`` is the number of outstanding requests.

    Managers subclass this protocol explicitly, so the optional parts have their no-op defaults:
    :meth:`sync` (records reach the buffer at once) and :meth:`extra_cpu_ns` (no CPU outside this
    process). The worker-process load overrides both.
    """

    buffer: RecordBuffer
    sent: int
    late: int

    @property
    def in_flight(self) -> int: ...

    async def apply(self, level: float) -> None:
        """Start the load, or change it to ``level`` (concurrency or requests/s)."""

    async def stop(self, drain_timeout_s: float = DEFAULT_DRAIN_TIMEOUT_S) -> None:
        """Stop sending; wait up to ``drain_timeout_s`` for in-flight requests, then cancel them."""

    async def sync(self, t_ns: int) -> None:
        """Return once every request completed at or before ``t_ns`` is in :attr:`buffer`."""
        return None

    def extra_cpu_ns(self) -> int:
        """CPU time (ns) the load used outside this process (worker processes), 0 if none."""
        return 0


async def drain(tasks: Collection[asyncio.Task[None]], timeout_s: float) -> int:
    """Wait up to ``timeout_s`` for ``tasks`` (requests in flight), then cancel the rest and wait
    for them to unwind; returns how many were cancelled."""
    if not tasks:
        return 0
    _done, pending = await asyncio.wait(tasks, timeout=timeout_s)
    for t in pending:
        t.cancel()
    for t in pending:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await t
    return len(pending)
