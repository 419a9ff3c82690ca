"""Open loop: requests leave at their scheduled times, whether or not earlier ones have returned.

The manager walks the :class:`~perfanalyzer.load.schedule.Schedule` of the load point: request i
is *intended* at ``t0 + offset(i)``. An alarm (a timerfd on Linux, :mod:`.wakeup`) calls the
scheduler at the next intended time; it hands every send that is due by then to a lane (a task
that sends and records) and arms the alarm for the next one. No task runs the schedule: a send
costs the alarm's call and the lane's turn, and a lane that finishes when the next send is due
takes it at once, without waiting for the alarm.
A client that can send without awaiting (:class:`NowaitClient`: the lean HTTP and gRPC clients)
takes a plain send straight from the scheduler and calls back with its answer: no lane, no task
step and no future per request (a lane is used when the client cannot, e.g. no idle connection).
A constant rate keeps the alarm ticking at its period (:class:`~.wakeup.FdAlarm`).
Each record holds the intended time and the actual send time; a send more than 1 ms behind its
schedule counts as late (:attr:`RequestRateManager.late`).

Nothing is skipped or rescheduled (no coordinated omission): when ``--max-threads`` caps the
requests in flight (:data:`DEFAULT_MAX_IN_FLIGHT` when it is not given, so a server that falls
behind cannot make the client's in-flight requests, connections and memory grow without bound)
and the cap is full, the scheduler waits, and the requests it then sends keep
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

from ..errors import ClientError
from ..records import LATE_SEND_NS, RecordBuffer
from .base import DEFAULT_DRAIN_TIMEOUT_S, LoadManager, drain
from .schedule import Schedule
from .send import Sender, SenderFactory, unary_sender, write_record
from .wakeup import SEND_EARLY_NS, Alarm, alarm

#: Schedule offsets are computed this many at a time.
CHUNK = 1024
#: At most this many sends are handed out per call of the scheduler before the loop gets a turn.
MAX_BATCH = 64
#: Requests in flight at most in the rate modes when ``--max-threads`` is 0: a rate the server
#: cannot serve would otherwise add requests (lanes, connections, memory) without bound; its
#: later sends wait, late and counted. A server answering within its time keeps fewer in flight
#: (rate x latency: 1000 at 20,000/s and 50 ms).
DEFAULT_MAX_IN_FLIGHT = 1024


class Job(NamedTuple):
    """What to send next: the prepared request, its sequence id (0: none), for a sequence request
    the sequence object (the source's ``done`` is called when it completed); ``end``: this
    request ends its sequence."""

    prepared: Any
    sequence: int = 0
    seq: Any = None
    end: bool = False


#: Called with the two values given to :meth:`NowaitClient.send_nowait` and the answer: the
#: client's (send_ns, recv_ns) or the ClientError that ended the request.
OnAnswer = Callable[[int, int, "tuple[int, int] | ClientError"], None]


class NowaitClient(Protocol):
    """A client that starts a prepared request without awaiting it (the hot path of the open loop).

    ``send_nowait`` starts ``prepared`` now and returns True, then calls ``on_done(a, b, answer)``
    from the loop exactly once (unless :meth:`cancel_nowait` came first); it returns False, having
    done nothing, when it cannot start the request at once (the caller then awaits ``send``).
    ``cancel_nowait`` aborts every request it started that has not answered yet; their
    ``on_done`` is never called; it returns how many."""

    def send_nowait(self, prepared: Any, on_done: OnAnswer, a: int, b: int) -> bool: ...

    def cancel_nowait(self) -> int: ...


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


class _Walk:
    """Where the current schedule stands: its intended times from ``base`` (absolute ns, one
    chunk at a time) and the next one to hand out (``k``)."""

    __slots__ = ("base", "intended", "k", "schedule", "t0")

    def __init__(self, schedule: Schedule, t0: int) -> None:
        self.schedule, self.t0 = schedule, t0
        self.base = 0
        self.intended: list[int] = (schedule.offsets(0, CHUNK) + t0).tolist()
        self.k = 0

    def refill(self) -> None:
        self.base += CHUNK
        self.intended = (self.schedule.offsets(self.base, CHUNK) + self.t0).tolist()
        self.k = 0


class RequestRateManager(LoadManager):
    """Sends jobs from ``source`` at the times of ``schedule_for(level)``.

    ``max_in_flight`` > 0 caps the requests in flight (``--max-threads``). ``start_ns`` is the
    current schedule's t0 (request i is intended at ``start_ns + offset(i)``). ``precise``: wake
    on a timerfd where there is one (:mod:`.wakeup`); False keeps the loop's own timers.
    ``nowait``: the client behind ``new_sender``'s plain unary send, when it can start a request
    without awaiting it (:class:`NowaitClient`); plain jobs then go out from the scheduler itself.

    Sends run on *lanes*: a lane is a task that sends one request, records it, and then waits
    idle for the next one the scheduler hands it. The scheduler starts a lane only when none is
    idle, so there are about as many lanes as requests were ever in flight at once, and a send
    costs a handover instead of a new task.
    """

    def __init__(self, new_sender: SenderFactory, buffer: RecordBuffer,
                 schedule_for: Callable[[float], Schedule], source: JobSource, *,
                 max_in_flight: int = 0, finish: Callable[[RequestRateManager],
                                                          Awaitable[None]] | None = None,
                 precise: bool = True, send_limit: int = 0,
                 nowait: NowaitClient | None = None) -> None:
        self.buffer = buffer
        self.sent = 0
        self.late = 0
        self.start_ns = 0
        self.schedule: Schedule | None = None
        self._new_sender = new_sender
        self._schedule_for = schedule_for
        self._source = source
        #: Requests in flight at most (``1 << 62``: no cap).
        self._cap = max_in_flight if max_in_flight > 0 else 1 << 62
        self._room: list[asyncio.Future[None]] = []  # send_now calls waiting for the cap
        self._finish = finish
        self._precise = precise
        self._send: Sender | None = None
        self._close: Callable[[], Awaitable[None]] | None = None
        self._alarm: Alarm | None = None
        self._walk: _Walk | None = None
        #: The scheduler waits for a lane to finish (the cap is full) or for a job (``_fetch``).
        self._held = False
        self._fetch: asyncio.Task[None] | None = None
        self._lanes: set[asyncio.Task[None]] = set()
        self._idle: list[asyncio.Future[tuple[int, Job] | None]] = []
        self._busy = 0
        #: Sends handed to a lane that has not started them yet (they go out in hand-out order).
        self._handed = 0
        self._closing = False
        #: Requests scheduled at most, over the whole run (0: no limit; --request-count).
        self._limit = send_limit or 1 << 62
        self._scheduled = 0
        #: Most requests in flight at once so far, and those the last drain cancelled.
        self.peak_in_flight = 0
        self.cut = 0
        self._nowait = nowait.send_nowait if nowait is not None else None
        self._cancel_nowait = nowait.cancel_nowait if nowait is not None else None
        #: Requests started by ``nowait`` whose answer has not come yet, and what the drain
        #: waits on until they have.
        self._live = 0
        self._settled: asyncio.Future[None] | None = None

    @property
    def in_flight(self) -> int:
        return self._busy

    async def apply(self, level: float) -> None:
        schedule = self._schedule_for(level)  # OptionError for a bad rate, before anything moves
        if self._send is None:
            self._send, self._close = await self._new_sender()
        await self._stop_scheduler()
        if self._alarm is None:
            self._alarm = alarm(self._pump, self._precise)
        self.schedule = schedule
        self.start_ns = time.perf_counter_ns()
        self._walk = _Walk(schedule, self.start_ns)
        self._pump()

    async def stop(self, drain_timeout_s: float = DEFAULT_DRAIN_TIMEOUT_S) -> None:
        await self._stop_scheduler()
        if self._alarm is not None:
            self._alarm.close()
            self._alarm = None
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
        while self._busy >= self._cap:
            room = asyncio.get_running_loop().create_future()
            self._room.append(room)
            await room
        self._dispatch(time.perf_counter_ns(), job)

    async def _stop_scheduler(self) -> None:
        self._walk = None
        self._held = False
        if self._alarm is not None:
            self._alarm.cancel()
        task, self._fetch = self._fetch, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _drain(self, timeout_s: float) -> None:
        """Retire the idle lanes, wait for the busy ones and the requests the client started
        without a lane (all cancelled after ``timeout_s``; none of them then writes a record)."""
        self._closing = True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        try:
            idle, self._idle = self._idle, []
            for fut in idle:
                fut.set_result(None)
            self.cut += await drain(set(self._lanes), timeout_s)
            if self._live:
                settled = self._settled = loop.create_future()
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(settled, max(deadline - loop.time(), 0.0))
        finally:
            self._closing = False
            self._settled = None
            if self._live:  # past the deadline (or the drain was cancelled): cut them
                assert self._cancel_nowait is not None
                self._cancel_nowait()
                self.cut += self._live
                self._busy -= self._live
                self._live = 0
            if not self._lanes:  # (a lane cancelled before it started left its counts)
                self._busy = self._handed = 0

    def _pump(self) -> None:
        """Hand out every send that is due (at most :data:`MAX_BATCH`, then again on the next
        loop turn), then arm the alarm for the next one. Called by the alarm, by a lane that
        finished while the next send is due or the cap held the scheduler, and at apply."""
        walk = self._walk
        if walk is None or self._held:
            return
        clock, source, intended = time.perf_counter_ns, self._source, walk.intended
        k, handed = walk.k, 0
        while True:
            if k == CHUNK:
                walk.refill()
                intended, k = walk.intended, 0
            due = intended[k]
            if due - clock() > SEND_EARLY_NS:
                walk.k = k
                assert self._alarm is not None
                # a fixed gap before and after this send (a constant rate): the alarm keeps
                # ticking at it, so the next sends need no re-arming
                gap = intended[k + 1] - due if 0 < k < CHUNK - 1 else 0
                self._alarm.at(due, gap if gap > 0 and due - intended[k - 1] == gap else 0)
                return
            if self._scheduled >= self._limit:
                walk.k = k
                return
            if self._busy >= self._cap:  # a full cap makes this and later sends late
                walk.k = k
                self._held = True
                return
            if handed == MAX_BATCH:  # far behind: let this batch go out first
                walk.k = k
                asyncio.get_running_loop().call_soon(self._pump)
                return
            job = source.next_nowait()
            if job is None:  # no job yet (every sequence id is live): wait for one
                walk.k = k
                self._held = True
                self._fetch = asyncio.get_running_loop().create_task(self._fetch_job(walk, due))
                return
            self._scheduled += 1
            self._dispatch(due, job)
            handed += 1
            k += 1

    async def _fetch_job(self, walk: _Walk, due: int) -> None:
        job = await self._source.next()
        if self._walk is not walk:  # a new rate (or stop) came first: the job goes back unsent
            return
        self._fetch = None
        self._scheduled += 1
        self._dispatch(due, job)
        walk.k += 1
        self._held = False
        self._pump()

    def _dispatch(self, intended: int, job: Job) -> None:
        """Send a plain job through the client's ``nowait`` (when it can, and no send handed to
        a lane earlier still waits to start), else hand it to an idle lane or start one."""
        self._busy += 1
        if self._busy > self.peak_in_flight:
            self.peak_in_flight = self._busy
        nowait = self._nowait
        if nowait is not None and job.seq is None and not self._handed:
            sent = time.perf_counter_ns()
            if nowait(job.prepared, self._answered, intended, sent):
                self._live += 1
                self.sent += 1
                if sent - intended > LATE_SEND_NS:
                    self.late += 1
                return
        self._handed += 1
        if self._idle:
            self._idle.pop().set_result((intended, job))
            return
        task = asyncio.get_running_loop().create_task(self._lane(intended, job))
        self._lanes.add(task)
        task.add_done_callback(self._lanes.discard)

    def _answered(self, intended: int, sent: int, answer: tuple[int, int] | ClientError) -> None:
        """The answer of a request the client started without a lane (``nowait``)."""
        write_record(self.buffer, intended, sent, answer)
        self._live -= 1
        if self._held or self._room:
            self._done()
        else:
            self._busy -= 1
        if self._settled is not None:
            if not self._live and not self._settled.done():
                self._settled.set_result(None)
            return
        if self._next_is_due():
            self._pump()  # the next send is due now: no wake-up of its own

    def _next_is_due(self) -> bool:
        """The next send of the schedule is due now and no send handed to a lane earlier still
        waits to start (so it may go out at once, in schedule order)."""
        walk = self._walk
        return walk is not None and not self._handed and walk.k < CHUNK and \
            walk.intended[walk.k] - time.perf_counter_ns() <= SEND_EARLY_NS

    def _done(self) -> None:
        """A lane finished a send: room under the cap for the scheduler or a send_now."""
        self._busy -= 1
        if self._held:
            if self._fetch is None:
                self._held = False
                self._pump()
        elif self._room:
            room = self._room.pop(0)
            if not room.done():
                room.set_result(None)

    async def _lane(self, intended: int, job: Job) -> None:
        # The hot path (a job outside a sequence) is inlined: one clock read before the send,
        # one record write after it, no coroutine of its own.
        create_future = asyncio.get_running_loop().create_future
        clock, buf, idle = time.perf_counter_ns, self.buffer, self._idle
        send = self._send
        assert send is not None
        while True:
            self._handed -= 1
            try:
                if job.seq is None:
                    sent = clock()
                    self.sent += 1
                    if sent - intended > LATE_SEND_NS:
                        self.late += 1
                    try:
                        result = await send(job.prepared)
                    except ClientError as exc:
                        write_record(buf, intended, sent, exc)
                    else:
                        write_record(buf, intended, sent, result)
                else:
                    await self._one(intended, job)
            finally:
                if self._held or self._room:
                    self._done()
                else:
                    self._busy -= 1
            if self._closing:
                return
            fut: asyncio.Future[tuple[int, Job] | None] = create_future()
            idle.append(fut)
            if self._next_is_due():
                self._pump()  # this lane takes the due send now (fut is done)
            handed = await fut
            if handed is None:
                return
            intended, job = handed

    async def _one(self, intended: int, job: Job) -> None:
        seq = job.seq
        lock = seq.lock
        try:
            if lock is not None:
                await lock.acquire()  # serial sequence: the previous step must have returned
            try:
                sent = time.perf_counter_ns()
                self.sent += 1
                if sent - intended > LATE_SEND_NS:
                    self.late += 1
                assert self._send is not None
                try:
                    result = await self._send(job.prepared)
                except ClientError as exc:
                    write_record(self.buffer, intended, sent, exc, job.sequence)
                    return
                write_record(self.buffer, intended, sent, result, job.sequence)
            finally:
                if lock is not None:
                    lock.release()
        finally:
            self._source.done(job)


__all__ = ["CHUNK", "DEFAULT_MAX_IN_FLIGHT", "MAX_BATCH", "Job", "JobSource", "NowaitClient",
           "OnAnswer", "RequestRateManager", "RoundRobin", "unary_sender"]
