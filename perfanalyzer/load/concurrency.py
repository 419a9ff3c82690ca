"""Closed loop: keep exactly N requests outstanding.

Each of N worker coroutines sends a prepared request, waits for its answer, records it and sends the
next; payloads are taken round-robin from the pre-built list. Changing N starts or retires workers
without disturbing the others (a retiring worker finishes its in-flight request first).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from typing import Any

from ..client.base import InferenceClient
from ..client.errors import ClientError
from ..measure.records import RecordBuffer
from .base import DEFAULT_DRAIN_TIMEOUT_S


class WorkerPool:
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
        if not tasks:
            return
        _done, pending = await asyncio.wait(tasks, timeout=drain_timeout_s)
        for t in pending:
            t.cancel()
        for t in pending:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t


class ConcurrencyManager(WorkerPool):
    """Keeps ``level`` requests in flight through ``client.send``."""

    def __init__(self, client: InferenceClient, payloads: Sequence[Any],
                 buffer: RecordBuffer | None = None) -> None:
        if not payloads:
            raise ValueError("no payloads")
        super().__init__()
        self.client = client
        self.payloads = list(payloads)
        self.buffer = buffer if buffer is not None else RecordBuffer()

    async def _worker(self, stop: list[bool]) -> None:
        # Hot path: locals only, one clock read before and after, one record write (with the
        # transport's send/recv times).
        send = self.client.send
        payloads = self.payloads
        n = len(payloads)
        buf = self.buffer
        add = buf.add
        clock = time.perf_counter_ns
        while not stop[0]:
            i = self._next
            self._next = i + 1
            self.sent += 1
            self._in_flight += 1
            t0 = clock()
            try:
                io = await send(payloads[i % n])
                if io is None:
                    add(t0, t0, clock())
                else:
                    add(t0, t0, clock(), 0, io[0], io[1])
            except ClientError as exc:
                add(t0, t0, clock(), buf.error_code(str(exc)))
                await asyncio.sleep(0)  # a failing server must not starve the event loop
            finally:
                self._in_flight -= 1
