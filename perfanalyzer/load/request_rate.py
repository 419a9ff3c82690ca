"""Open loop: requests leave at their scheduled times, whether or not earlier ones have returned.

One scheduler coroutine walks the :class:`~perfanalyzer.load.schedule.Schedule` of the load point:
request i is *intended* at ``t0 + offset(i)``. The scheduler sleeps until shortly before that
(see :data:`SPIN_NS`), and starts the send as its own task without awaiting it.
Each record holds the intended time and the actual send time; a send more than 1 ms behind its
schedule counts as late (:attr:`RequestRateManager.late`).

Nothing is skipped or rescheduled (no coordinated omission): when ``--max-threads`` caps the
requests in flight and the cap is full, the scheduler waits, and the requests it then sends keep
their original intended times, so they are late, counted, and their latency from the intended time
shows the wait. Applying a new rate restarts the schedule at the new rate from "now" (request 0 at
once, no catch-up burst); requests already in flight carry on.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, NamedTuple, Protocol

from ..client.base import InferenceClient
from ..errors import ClientError
from ..records import LATE_SEND_NS, RecordBuffer
from .base import DEFAULT_DRAIN_TIMEOUT_S, LoadManager
from .schedule import Schedule

#: The event loop's selector waits in whole milliseconds (rounded up), so a sleep wakes up to 1 ms
#: after its deadline. The scheduler sleeps until about 1 ms before a send; with less than 1 ms to go
#: it sleeps once more (waking 1 ms - wait late, at most 1 ms - SPIN_NS) unless the wait is under
#: SPIN_NS, which it spends yielding to the loop (CPU time equal to the wait). Measured on the 2-core
#: box (shared, load ~8) at 200 req/s: spinning the whole last ms kept sends ~50 µs behind schedule
#: (p50) for ~650 µs CPU per request and pins a core at rates near 1000/s; 300 µs gave ~450 µs (p50)
#: for ~340 µs CPU; 500 µs gave ~150 µs for ~380 µs CPU (an idle loop wake alone cost ~165 µs CPU
#: there). Self-inflicted lateness stays under 0.5 ms: below the 1 ms late threshold.
SLEEP_GRAIN_NS = 1_000_000
SPIN_NS = 500_000
#: A send this close to its intended time goes at once.
SEND_EARLY_NS = 20_000
#: Schedule offsets are computed this many at a time.
CHUNK = 1024

#: Sends a prepared request; returns None (one response, done now) or (first, last, responses).
#: A sender returns None, (send_ns, recv_ns) (unary: see InferenceClient.send) or, for streams,
#: (first, last, responses, send_ns, recv_ns).
Sender = Callable[[Any], Awaitable["tuple[int, ...] | None"]]
#: Makes a sender and its close function (a streaming sender owns a stream).
SenderFactory = Callable[[], Awaitable["tuple[Sender, Callable[[], Awaitable[None]]]"]]


class Job(NamedTuple):
    """What to send next: the prepared request, its sequence id (0: none), for a sequence request
    the sequence object (the source's ``done`` is called when it completed); ``end``: this
    request ends its sequence."""

    prepared: Any
    sequence: int = 0
    seq: Any = None
    end: bool = False


class JobSource(Protocol):
    """Hands out jobs in schedule order (rate mode)."""

    def next_nowait(self) -> Job | None: ...

    async def next(self) -> Job: ...

    def done(self, job: Job) -> None: ...


class RoundRobin:
    """Prepared payloads in turn (a model without sequences)."""

    def __init__(self, payloads: Sequence[Any]) -> None:
        if not payloads:
            raise ValueError("no payloads")
        self._jobs = [Job(p) for p in payloads]
        self._i = 0

    def next_nowait(self) -> Job:
        i = self._i
        self._i = i + 1
        return self._jobs[i % len(self._jobs)]

    async def next(self) -> Job:
        return self.next_nowait()

    def done(self, job: Job) -> None:
        pass


class SupportsSend(Protocol):
    """What a unary sender needs of a client (an :class:`InferenceClient` has it)."""

    async def send(self, prepared: Any) -> tuple[int, int] | None: ...


def unary_sender(client: InferenceClient | SupportsSend) -> SenderFactory:
    """Every caller shares ``client.send`` (one response per request)."""

    async def make() -> tuple[Sender, Callable[[], Awaitable[None]]]:
        async def close() -> None:
            return None

        return client.send, close

    return make


class SendResult(tuple[int, ...]):
    """A sender's ``(first, last, responses[, send_ns, recv_ns])`` with what the export may keep
    of the request: ``times`` (every response's arrival, streaming) and ``tensors`` ((data entry,
    decoded outputs), --export-tensors)."""

    times: tuple[int, ...] = ()
    tensors: tuple[int, dict[str, Any]] | None = None


def keep_extras(buf: RecordBuffer, result: tuple[int, ...]) -> None:
    """Store a :class:`SendResult`'s extras for the record just added (off the unary hot path)."""
    times = getattr(result, "times", ())
    if times:
        buf.response_times[buf.count - 1] = times
    tensors = getattr(result, "tensors", None)
    if tensors is not None:
        buf.tensors[buf.count - 1] = tensors


async def record_send(buf: RecordBuffer, send: Sender, job: Job, intended: int,
                      sent: int) -> bool:
    """Send ``job``, record it (errors are records too); True if it succeeded."""
    try:
        result = await send(job.prepared)
    except ClientError as exc:
        done = time.perf_counter_ns()
        buf.add_full(intended, sent, done, done, buf.error_code(str(exc)), 0, job.sequence)
        return False
    if result is None or len(result) == 2:
        done = time.perf_counter_ns()
        io = result or (0, 0)
        buf.add_full(intended, sent, done, done, 0, 1, job.sequence, io[0], io[1])
    else:
        buf.add_full(intended, sent, result[0], result[1], 0, result[2], job.sequence,
                     *result[3:5])
        keep_extras(buf, result)
    return True


class RequestRateManager(LoadManager):
    """Sends jobs from ``source`` at the times of ``schedule_for(level)``.

    ``max_in_flight`` > 0 caps the requests in flight (``--max-threads``). ``start_ns`` is the
    current schedule's t0 (request i is intended at ``start_ns + offset(i)``).
    """

    def __init__(self, new_sender: SenderFactory, buffer: RecordBuffer,
                 schedule_for: Callable[[float], Schedule], source: JobSource, *,
                 max_in_flight: int = 0, finish: Callable[[RequestRateManager],
                                                          Awaitable[None]] | None = None,
                 send_limit: int = 0) -> None:
        self.buffer = buffer
        self.sent = 0
        self.late = 0
        self.start_ns = 0
        self.schedule: Schedule | None = None
        self._new_sender = new_sender
        self._schedule_for = schedule_for
        self._source = source
        self._cap = asyncio.Semaphore(max_in_flight) if max_in_flight > 0 else None
        self._finish = finish
        self._send: Sender | None = None
        self._close: Callable[[], Awaitable[None]] | None = None
        self._scheduler: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        #: Requests scheduled at most, over the whole run (0: no limit; --request-count).
        self._limit = send_limit or 1 << 62
        self._scheduled = 0

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    async def apply(self, level: float) -> None:
        schedule = self._schedule_for(level)  # OptionError for a bad rate, before anything moves
        if self._send is None:
            self._send, self._close = await self._new_sender()
        await self._stop_scheduler()
        self.schedule = schedule
        self.start_ns = time.perf_counter_ns()
        self._scheduler = asyncio.create_task(self._run(schedule, self.start_ns),
                                              name="pa-rate-scheduler")

    async def stop(self, drain_timeout_s: float = DEFAULT_DRAIN_TIMEOUT_S) -> None:
        await self._stop_scheduler()
        await self._drain(drain_timeout_s)
        if self._finish is not None and self._send is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._finish(self), drain_timeout_s)
            await self._drain(drain_timeout_s)
        if self._close is not None:
            close, self._close, self._send = self._close, None, None
            await close()

    async def send_now(self, job: Job) -> None:
        """Send ``job`` at once, outside the schedule (intended = now; waits for the cap)."""
        if self._cap is not None:
            await self._cap.acquire()
        self._spawn(time.perf_counter_ns(), job)

    async def _stop_scheduler(self) -> None:
        task, self._scheduler = self._scheduler, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _drain(self, timeout_s: float) -> None:
        if not self._tasks:
            return
        _done, pending = await asyncio.wait(set(self._tasks), timeout=timeout_s)
        for t in pending:
            t.cancel()
        for t in pending:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t

    async def _run(self, schedule: Schedule, t0: int) -> None:
        clock, sleep, source, cap = time.perf_counter_ns, asyncio.sleep, self._source, self._cap
        i = 0
        while True:
            for offset in schedule.offsets(i, CHUNK).tolist():
                intended = t0 + offset
                wait = intended - clock()
                while wait > SPIN_NS:
                    grain = wait - SLEEP_GRAIN_NS if wait > SLEEP_GRAIN_NS else wait
                    await sleep(grain / 1e9)
                    wait = intended - clock()
                while wait > SEND_EARLY_NS:
                    await sleep(0)
                    wait = intended - clock()
                if cap is not None:
                    await cap.acquire()  # a full cap makes this and later sends late (counted)
                if self._scheduled >= self._limit:
                    if cap is not None:
                        cap.release()
                    return
                job = source.next_nowait()
                if job is None:
                    job = await source.next()
                self._scheduled += 1
                self._spawn(intended, job)
                if wait < 0:
                    await sleep(0)  # behind schedule: let the send start before the next one
            i += CHUNK

    def _spawn(self, intended: int, job: Job) -> None:
        task = asyncio.get_running_loop().create_task(self._one(intended, job))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _one(self, intended: int, job: Job) -> None:
        seq = job.seq
        lock = seq.lock if seq is not None else None
        try:
            if lock is not None:
                await lock.acquire()  # serial sequence: the previous step must have returned
            try:
                sent = time.perf_counter_ns()
                self.sent += 1
                if sent - intended > LATE_SEND_NS:
                    self.late += 1
                assert self._send is not None
                await record_send(self.buffer, self._send, job, intended, sent)
            finally:
                if lock is not None:
                    lock.release()
                if seq is not None:
                    self._source.done(job)
        finally:
            if self._cap is not None:
                self._cap.release()
