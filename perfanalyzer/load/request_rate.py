"""Open loop: requests leave at their scheduled times, whether or not earlier ones have returned.

One scheduler coroutine walks the :class:`~perfanalyzer.load.schedule.Schedule` of the load point:
request i is *intended* at ``t0 + offset(i)``. The scheduler sleeps until that time (a timerfd on
Linux, :mod:`.wakeup`), hands every send that is due by then to a lane (a task that sends and
records) without awaiting it, and sleeps again.
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
from .base import DEFAULT_DRAIN_TIMEOUT_S, LoadManager, drain
from .schedule import Schedule, due_batch
from .wakeup import SEND_EARLY_NS, waker

#: Schedule offsets are computed this many at a time.
CHUNK = 1024
#: At most this many sends are handed out per wake-up before the loop gets a turn.
MAX_BATCH = 64

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
        if exc.ends_run and not buf.failure:
            buf.failure = str(exc)
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
    current schedule's t0 (request i is intended at ``start_ns + offset(i)``). ``precise``: wake
    on a timerfd where there is one (:mod:`.wakeup`); False keeps the loop's own timers.

    Sends run on *lanes*: a lane is a task that sends one request, records it, and then waits
    idle for the next one the scheduler hands it. The scheduler starts a lane only when none is
    idle, so there are about as many lanes as requests were ever in flight at once, and a send
    costs a handover instead of a new task.
    """

    def __init__(self, new_sender: SenderFactory, buffer: RecordBuffer,
                 schedule_for: Callable[[float], Schedule], source: JobSource, *,
                 max_in_flight: int = 0, finish: Callable[[RequestRateManager],
                                                          Awaitable[None]] | None = None,
                 precise: bool = True, send_limit: int = 0) -> None:
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
        self._precise = precise
        self._send: Sender | None = None
        self._close: Callable[[], Awaitable[None]] | None = None
        self._scheduler: asyncio.Task[None] | None = None
        self._lanes: set[asyncio.Task[None]] = set()
        self._idle: list[asyncio.Future[tuple[int, Job] | None]] = []
        self._busy = 0
        self._closing = False
        #: Requests scheduled at most, over the whole run (0: no limit; --request-count).
        self._limit = send_limit or 1 << 62
        self._scheduled = 0

    @property
    def in_flight(self) -> int:
        return self._busy

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
        self._dispatch(time.perf_counter_ns(), job)

    async def _stop_scheduler(self) -> None:
        task, self._scheduler = self._scheduler, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _drain(self, timeout_s: float) -> None:
        """Retire the idle lanes, wait for the busy ones (cancelled after ``timeout_s``)."""
        self._closing = True
        try:
            idle, self._idle = self._idle, []
            for fut in idle:
                fut.set_result(None)
            await drain(set(self._lanes), timeout_s)
        finally:
            self._closing = False

    async def _run(self, schedule: Schedule, t0: int) -> None:
        clock, source, cap, dispatch = time.perf_counter_ns, self._source, self._cap, self._dispatch
        i = 0
        with waker(self._precise) as wait_until:
            while True:
                intended = (schedule.offsets(i, CHUNK) + t0).tolist()
                k = 0
                while k < CHUNK:
                    due = intended[k]
                    if due - clock() > SEND_EARLY_NS:
                        await wait_until(due)
                    end = due_batch(intended, k, clock() + SEND_EARLY_NS, MAX_BATCH)
                    for j in range(k, end):
                        if cap is not None:
                            await cap.acquire()  # a full cap makes this and later sends late
                        if self._scheduled >= self._limit:
                            if cap is not None:
                                cap.release()
                            return
                        job = source.next_nowait()
                        if job is None:
                            job = await source.next()
                        self._scheduled += 1
                        dispatch(intended[j], job)
                    if end - k == MAX_BATCH:
                        await asyncio.sleep(0)  # far behind: let this batch go out first
                    k = end
                i += CHUNK

    def _dispatch(self, intended: int, job: Job) -> None:
        """Hand the send to an idle lane, or start a lane for it."""
        if self._idle:
            self._idle.pop().set_result((intended, job))
            return
        task = asyncio.get_running_loop().create_task(self._lane(intended, job))
        self._lanes.add(task)
        task.add_done_callback(self._lanes.discard)

    async def _lane(self, intended: int, job: Job) -> None:
        create_future = asyncio.get_running_loop().create_future
        while True:
            self._busy += 1
            try:
                if job.seq is None:
                    await self._plain(intended, job)
                else:
                    await self._one(intended, job)
            finally:
                self._busy -= 1
            if self._closing:
                return
            fut: asyncio.Future[tuple[int, Job] | None] = create_future()
            self._idle.append(fut)
            handed = await fut
            if handed is None:
                return
            intended, job = handed

    async def _plain(self, intended: int, job: Job) -> None:
        """:meth:`_one` for a job outside a sequence, with :func:`record_send` inlined (the hot
        path: one clock read before and after, one record write)."""
        clock, buf = time.perf_counter_ns, self.buffer
        try:
            sent = clock()
            self.sent += 1
            if sent - intended > LATE_SEND_NS:
                self.late += 1
            assert self._send is not None
            try:
                result = await self._send(job.prepared)
            except ClientError as exc:
                done = clock()
                buf.add_full(intended, sent, done, done, buf.error_code(str(exc)), 0, 0)
                if exc.ends_run and not buf.failure:
                    buf.failure = str(exc)
                return
            if result is None:
                buf.add(intended, sent, clock())
            elif len(result) == 2:  # unary: the transport's (send_ns, recv_ns)
                buf.add(intended, sent, clock(), 0, result[0], result[1])
            else:  # a stream or a checked answer: first, last, responses[, send, recv]
                buf.add_full(intended, sent, result[0], result[1], 0, result[2], 0, *result[3:5])
                keep_extras(buf, result)
        finally:
            if self._cap is not None:
                self._cap.release()

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
