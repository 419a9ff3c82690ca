"""perf_analyzer's periodic concurrency mode: ``--periodic-concurrency-range START:END:STEP`` with
``--request-period P``, for decoupled (streaming) models.

START requests are sent at once, each on its own gRPC stream (perf_analyzer: one context per
request). When every request of the latest step has received P responses, STEP more are sent; this
repeats until END requests have been sent, and the run ends when all of them have their final
response. Each request is sent once, so the concurrency climbs START, START+STEP, ..., END while
the earlier requests are still streaming, and falls as they finish.

Where perfanalyzer differs from perf_analyzer, on purpose:

* perf_analyzer counts the requests sent as k·STEP after k steps, so with START > STEP it sends
  more than END requests and stops waiting once END of them finished (2.50, measured: 4:8:2 → the
  server counts 10 requests, its export holds 8); here exactly END are sent;
* a request that fails (error response, broken stream, no final response within
  ``--request-timeout``) completes its step, so the run goes on and ends; it is a record with its
  error, never a hang;
* a request whose final response comes before P responses ends the run with perf_analyzer's error
  message (perf_analyzer aborts): no further step is sent, the requests in flight finish, and what
  was measured is kept.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..client.base import InferenceClient
from ..errors import ClientError
from ..records import RecordBuffer
from .base import DEFAULT_DRAIN_TIMEOUT_S, LoadManager, drain
from .send import SendResult, write_record
from .streaming import StreamChannel

#: After Ctrl-C, how long the requests in flight may take to finish before they are cancelled (well
#: inside the command line's 5 s stop deadline, so the run is still reported).
STOP_DRAIN_S = 2.0
#: How long closing a finished request's stream may take (its final response has arrived).
CLOSE_S = 5.0
SHORT_PERIOD = ("Request received final response before request period was reached. Request "
                "period must be at most the total number of responses received by any request.")


@dataclass(frozen=True, slots=True)
class Step:
    """One step: when its requests were sent, how many, and the requests sent so far."""

    t_ns: int
    added: int
    total: int


class PeriodicConcurrency(LoadManager):
    """Sends the requests of a periodic run (module docstring) and records every one of them:
    :meth:`apply` sends the first step, :meth:`wait` returns when the run is over."""

    def __init__(self, client: InferenceClient, payloads: Sequence[Any], buffer: RecordBuffer, *,
                 start: int, end: int, step: int, period: int,
                 request_timeout_s: float = 0.0) -> None:
        if not payloads:
            raise ValueError("no payloads")
        if not (1 <= start <= end and step >= 1 and period >= 1):
            raise ValueError(f"periodic range {start}:{end}:{step}, period {period}")
        self.buffer = buffer
        self.sent = 0
        self.late = 0  # a closed loop sends nothing late
        self.steps: list[Step] = []
        #: Set when the run cannot go on (a request ended short of the period): the error.
        self.failure = ""
        self._client, self._payloads = client, list(payloads)
        self._end, self._step, self._period = end, step, period
        self._timeout = request_timeout_s or None
        self._waiting = 0  # requests of the latest step still short of ``period`` responses
        self._finished = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._over = asyncio.Event()

    @property
    def in_flight(self) -> int:
        return self.sent - self._finished

    async def apply(self, level: float) -> None:
        """Start: send the first step (``level`` requests: START)."""
        self._launch(int(level))

    async def wait(self, stop_event: asyncio.Event, drain_timeout_s: float = STOP_DRAIN_S) -> None:
        """Return once every request sent has finished, the later steps sent as they come due (or,
        after ``stop_event``, once they have drained: at most ``drain_timeout_s``, then cancelled
        and recorded as such)."""
        stop = asyncio.ensure_future(stop_event.wait())
        over = asyncio.ensure_future(self._over.wait())
        try:
            await asyncio.wait((stop, over), return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
            over.cancel()
        # over: the last streams are closing; interrupted: no further step, drain what is in flight
        await self.stop(drain_timeout_s if stop_event.is_set() else CLOSE_S + 1.0)

    async def stop(self, drain_timeout_s: float = DEFAULT_DRAIN_TIMEOUT_S) -> None:
        """No further step; wait up to ``drain_timeout_s`` for the requests in flight, then
        cancel them."""
        self._end = self.sent
        await drain(list(self._tasks), drain_timeout_s)

    def _launch(self, n: int) -> None:
        n = min(n, self._end - self.sent)
        if n <= 0:
            return
        self._waiting = n
        self.steps.append(Step(time.perf_counter_ns(), n, self.sent + n))
        for _ in range(n):
            i = self.sent
            self.sent += 1
            task = asyncio.create_task(self._request(self._payloads[i % len(self._payloads)]),
                                       name=f"pa-periodic-{i}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _period_reached(self) -> None:
        self._waiting -= 1
        if self._waiting == 0 and not self.failure:
            self._launch(self._step)

    def _failed(self, t0: int, channel: StreamChannel, message: str) -> None:
        """Record a request given up: an error, with the responses that did arrive."""
        done = time.perf_counter_ns()
        times = next(iter(channel.partial()), ())
        write_record(self.buffer, t0, t0, SendResult(times[0] if times else done, done,
                                                     len(times), times=times, error=message))

    async def _request(self, payload: Any) -> None:
        channel = StreamChannel(self._client)
        reached = [False]
        period, buf, clock = self._period, self.buffer, time.perf_counter_ns

        def on_response(n: int) -> None:
            if n == period and not reached[0]:
                reached[0] = True
                self._period_reached()

        t0 = clock()
        clean = False
        try:
            result = await asyncio.wait_for(channel.send(payload, on_response), self._timeout)
            write_record(buf, t0, t0, result)
            clean = True
            if result.responses < period and not self.failure:
                self.failure = (f"{SHORT_PERIOD} (a request got {result.responses}, "
                                f"--request-period is {period})")
        except (ClientError, asyncio.TimeoutError) as exc:
            self._failed(t0, channel, str(exc) if isinstance(exc, ClientError) else
                         f"no final response within --request-timeout {self._timeout:g} s")
        except asyncio.CancelledError:  # stopped after the drain time: still a record
            self._failed(t0, channel, "cancelled: the run was stopped")
            raise
        finally:
            self._finished += 1
            if not reached[0]:  # failed or short: its step must not wait for it
                reached[0] = True
                self._period_reached()
            if self._finished >= self._end or (self.failure and not self.in_flight):
                self._over.set()
            await channel.close(timeout_s=CLOSE_S if clean else 0.0)


__all__ = ["SHORT_PERIOD", "STOP_DRAIN_S", "PeriodicConcurrency", "Step"]
