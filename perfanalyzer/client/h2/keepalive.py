"""gRPC keepalive for one lean connection: a PING every ``interval_s``, whether calls are in
flight or not (grpcio's keepalive with ``keepalive_permit_without_calls``), and the connection
given up when a PING is not acknowledged within ``timeout_s``. Timers on the event loop, no task.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from . import frames as f

#: The opaque data of our PINGs (8 octets): an ACK carrying it answers the keepalive.
PAYLOAD = b"pa-alive"


class Keepalive:
    """``send(frame)`` writes a frame; ``dead(message)`` is called once when a PING went
    unanswered. :meth:`acked` is fed the payload of every PING ACK; :meth:`stop` ends it."""

    def __init__(self, interval_s: float, timeout_s: float, send: Callable[[bytes], None],
                 dead: Callable[[str], None]) -> None:
        self._loop = asyncio.get_running_loop()
        self.interval_s, self.timeout_s = interval_s, timeout_s
        self._send, self._dead = send, dead
        self._timer: asyncio.TimerHandle | None = self._loop.call_later(interval_s, self._ping)
        self.pings = 0  # PINGs sent (for tests and diagnostics)

    def _ping(self) -> None:
        self._send(f.frame(f.PING, 0, 0, PAYLOAD))
        self.pings += 1
        self._timer = self._loop.call_later(self.timeout_s, self._expired)

    def _expired(self) -> None:
        self._timer = None
        self._dead(f"no answer to a keepalive PING within {self.timeout_s:g} s")

    def acked(self, payload: bytes) -> None:
        if payload == PAYLOAD and self._timer is not None:
            self._timer.cancel()
            self._timer = self._loop.call_later(self.interval_s, self._ping)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


__all__ = ["PAYLOAD", "Keepalive"]
