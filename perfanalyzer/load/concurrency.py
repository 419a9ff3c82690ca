"""The closed loop (concurrency mode): keep exactly N requests outstanding.

Each of N worker coroutines sends a prepared request, waits for its answer, records it and sends the
next; payloads are taken round-robin from the pre-built list. Changing N starts or retires workers
without disturbing the others (a retiring worker finishes its in-flight request first). Each worker
has its own sender (a streaming worker its own stream); with sequences each worker drives one
sequence at a time and ends it before it retires.

With a client that can start a request without awaiting it (``nowait``, see
:class:`~.request_rate.NowaitClient`) a plain worker is a chain of callbacks: each answer is
recorded and the next request sent from the answer's callback, with no task step or future per
request; the worker's task only waits for its chain to end (retired, stopped, or the client could
not start a request at once: then one request is awaited, which opens a connection, and the chain
starts again).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..errors import ClientError
from ..records import RecordBuffer
from .base import DEFAULT_DRAIN_TIMEOUT_S, LoadManager, drain
from .send import Sender, SenderFactory, write_record

if TYPE_CHECKING:
    from .request_rate import Job, NowaitClient
    from .sequences import SequenceSource


class WorkerPool(LoadManager):
    """``level`` worker coroutines, each keeping one request in flight. Subclasses implement
    ``_worker(stop)``, which loops until ``stop[0]`` is set and records every request it sends."""

    buffer: RecordBuffer

    def __init__(self) -> None:
        self.sent = 0
        self.late = 0
        self._next = 0
        self._workers: list[tuple[asyncio.Task[None], list[bool]]] = []
        self._in_flight = 0

    @property
    def in_flight(self) -> int:
        return self._in_flight

    @property
    def level(self) -> int:
        return len(self._workers)

    async def _worker(self, stop: list[bool]) -> None:
        raise NotImplementedError

    async def apply(self, level: float) -> None:
        n = int(level)
        while len(self._workers) < n:
            flag = [False]
            task = asyncio.create_task(self._worker(flag), name=f"pa-worker-{len(self._workers)}")
            self._workers.append((task, flag))
        while len(self._workers) > n:
            _task, flag = self._workers.pop()
            flag[0] = True  # retire after its in-flight request; it still records it

    async def stop(self, drain_timeout_s: float = DEFAULT_DRAIN_TIMEOUT_S) -> None:
        tasks = [t for t, _ in self._workers]
        for _, flag in self._workers:
            flag[0] = True
        self._workers.clear()
        await drain(tasks, drain_timeout_s)


class ClosedLoopManager(WorkerPool):
    """Keeps ``level`` requests in flight, one per worker, through ``new_sender()`` senders; with
    ``sequences`` each worker drives one sequence at a time, else payloads go round-robin."""

    def __init__(self, new_sender: SenderFactory, buffer: RecordBuffer, *,
                 payloads: Sequence[Any] = (), sequences: SequenceSource | None = None,
                 send_limit: int = 0, nowait: NowaitClient | None = None) -> None:
        if sequences is None and not payloads:
            raise ValueError("no payloads")
        super().__init__()
        self.buffer = buffer
        self._new_sender = new_sender
        self._payloads = list(payloads)
        self._seqs = sequences
        #: Requests sent at most, by all workers together (0: no limit; --request-count).
        self._limit = send_limit or 1 << 62
        #: The client behind the plain unary sender, when it can send without awaiting.
        self._nowait = nowait

    async def _worker(self, stop: list[bool]) -> None:
        send, close = await self._new_sender()
        try:
            if self._seqs is None:
                await self._plain(send, stop)
            else:
                await self._sequences(self._seqs, send, stop)
        finally:
            await close()

    async def _plain(self, send: Sender, stop: list[bool]) -> None:
        # Hot path: locals only, one clock read before the send, one record write after it.
        payloads = self._payloads
        n = len(payloads)
        buf = self.buffer
        clock = time.perf_counter_ns
        limit = self._limit
        nowait = self._nowait
        while not stop[0] and self.sent < limit:
            if nowait is not None and await self._chain(nowait, stop):
                return
            i = self._next
            self._next = i + 1
            self.sent += 1
            self._in_flight += 1
            t0 = clock()
            try:
                write_record(buf, t0, t0, await send(payloads[i % n]))
            except ClientError as exc:
                write_record(buf, t0, t0, exc)
                await asyncio.sleep(0)  # a failing server must not starve the event loop
            finally:
                self._in_flight -= 1

    async def _chain(self, nowait: NowaitClient, stop: list[bool]) -> bool:
        """Send and record through callbacks until retired or stopped (True), or until the
        client cannot start a request at once (False: the caller awaits one)."""
        loop = asyncio.get_running_loop()
        ended: asyncio.Future[bool] = loop.create_future()
        payloads = self._payloads
        n = len(payloads)
        buf = self.buffer
        clock = time.perf_counter_ns
        limit = self._limit
        start = nowait.send_nowait
        live = [0]  # this worker's request in flight (0 or 1)

        def send_next() -> None:
            if stop[0] or self.sent >= limit:
                if not ended.done():
                    ended.set_result(True)
                return
            i = self._next
            t0 = clock()
            if not start(payloads[i % n], answered, t0, 0):
                if not ended.done():
                    ended.set_result(False)
                return
            self._next = i + 1
            self.sent += 1
            self._in_flight += 1
            live[0] = 1

        def answered(t0: int, _b: int, answer: Any) -> None:
            live[0] = 0
            self._in_flight -= 1
            write_record(buf, t0, t0, answer)
            if answer.__class__ is tuple:
                send_next()
            else:  # a failing server must not starve the event loop
                loop.call_soon(send_next)

        send_next()
        try:
            return await ended
        except asyncio.CancelledError:  # the drain gave up on it: abort, no record
            if live[0]:
                nowait.cancel_nowait()
                self._in_flight -= 1
            raise

    async def _sequences(self, source: SequenceSource, send: Sender, stop: list[bool]) -> None:
        while not stop[0]:
            sid = await source.ids.acquire()
            try:
                if stop[0]:  # retired while waiting for an id: start nothing
                    break
                seq = source.new(sid)
                while not seq.ended:
                    if self.sent >= self._limit:  # the sequence stays open (perf_analyzer's)
                        stop[0] = True
                        break
                    if not await self._one(send, source.next_step(seq, force_end=stop[0])):
                        await asyncio.sleep(0)
            finally:
                source.ids.release(sid)

    async def _one(self, send: Sender, job: Job) -> bool:
        """Send and record one step of a sequence; True if it succeeded."""
        self.sent += 1
        self._in_flight += 1
        try:
            t0 = time.perf_counter_ns()
            try:
                result = await send(job.prepared)
            except ClientError as exc:
                write_record(self.buffer, t0, t0, exc, job.sequence)
                return False
            write_record(self.buffer, t0, t0, result, job.sequence)
            return True
        finally:
            self._in_flight -= 1
