"""``--endpoint generate_stream``: each request is one HTTP ``generate_stream`` call whose
server-sent events are its responses.

The sender's result is the streaming one (see :mod:`.streaming`): the arrival times of the first
and last responses, their number, the transport's send and receive times, and every response time
when there were more than two. A request answered with no data event at all records its completion
as first and last, with 0 responses.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from .send import Sender, SenderFactory, SendResult


def generate_stream_sender(client: Any) -> SenderFactory:
    """Every caller shares ``client.generate_stream`` (an HttpClient's): one connection per
    request in flight, from the client's pool."""
    call = client.generate_stream

    async def send(prepared: Any) -> SendResult:
        times, send_ns, recv_ns = await call(prepared)
        if not times:
            done = time.perf_counter_ns()
            return SendResult(done, done, 0, send_ns, recv_ns)
        return SendResult(times[0], times[-1], len(times), send_ns, recv_ns,
                          tuple(times) if len(times) > 2 else ())

    async def make() -> tuple[Sender, Callable[[], Awaitable[None]]]:
        async def close() -> None:
            return None

        return send, close

    return make


__all__ = ["generate_stream_sender"]
