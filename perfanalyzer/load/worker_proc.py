"""The worker-process side of ``--workers`` (see :mod:`.workers` for the design).

A worker runs its own event loop (uvloop when installed), its own client and a plain load manager
over the prepared payloads it got at start; it obeys the parent's commands (apply, flush, stop)
from its socket and ships its records through it: every ``PUSH_INTERVAL_S`` and on each flush, all the
records completed so far, marked with the worker's clock at sending time (the watermark).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from multiprocessing.connection import Connection
from typing import Any

from ..client import create_client
from ..records import RecordBuffer
from .base import LoadManager
from .build import local_load
from .share import FOREVER, Share, WorkerSpec

#: Workers ship their records at least this often (keeps count windows and warm-up moving).
PUSH_INTERVAL_S = 0.02
class _WorkerSide:
    """Runs in the worker process: obeys the parent's commands, ships records."""

    def __init__(self, conn: Connection, spec: WorkerSpec, index: int) -> None:
        self.conn, self.spec, self.index = conn, spec, index
        self.buffer = RecordBuffer()
        self.known_errors = 1
        self.done = asyncio.get_running_loop().create_future()
        self.load: LoadManager | None = None
        self.t0: list[int] = [0]
        self.tasks: set[asyncio.Task[None]] = set()

    def push(self, reply: int = 0, final: bool = False) -> None:
        """Ship every record so far (all completed before now) and reset the local buffer."""
        buf = self.buffer
        watermark = FOREVER if final else time.perf_counter_ns()
        n = buf.count
        records = buf.view(0, n).to_structured().tobytes() if n else b""
        buf.count = 0  # everything completed so far is in ``records``
        errors = buf.errors[self.known_errors:]
        self.known_errors += len(errors)
        load = self.load
        sent, late, in_flight = (load.sent, load.late, load.in_flight) if load else (0, 0, 0)
        self.conn.send(("records", reply, watermark, records, tuple(errors), sent, late,
                        in_flight, time.process_time_ns()))

    def on_readable(self) -> None:
        try:
            while self.conn.poll():
                self.handle(self.conn.recv())
        except (EOFError, OSError):  # the parent is gone: stop now
            if not self.done.done():
                self.done.set_result(None)

    def handle(self, msg: tuple[Any, ...]) -> None:
        kind = msg[0]
        if kind == "flush":
            self.push(reply=msg[1])
        elif kind == "apply":
            self.t0[0] = msg[2]
            assert self.load is not None
            self._spawn(self.load.apply(msg[1]))
        elif kind == "stop":
            self._spawn(self.stop(msg[1]))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(self._guard(coro))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _guard(self, coro: Any) -> None:
        try:
            await coro
        except Exception as exc:  # reported to the parent, which fails the run
            with contextlib.suppress(OSError):
                self.conn.send(("error", f"worker {self.index}: {type(exc).__name__}: {exc}"))
            if not self.done.done():
                self.done.set_result(None)

    async def stop(self, drain_timeout_s: float) -> None:
        assert self.load is not None
        await self.load.stop(drain_timeout_s)
        self.push(final=True)
        self.conn.send(("stopped",))
        if not self.done.done():
            self.done.set_result(None)

    async def pusher(self) -> None:
        # Also when nothing completed: the watermark must advance, or the parent would hold
        # back the other workers' records (an idle worker: concurrency share 0, a slow model).
        while True:
            await asyncio.sleep(PUSH_INTERVAL_S)
            self.push()


async def _worker(conn: Connection, spec: WorkerSpec, index: int) -> None:
    side = _WorkerSide(conn, spec, index)
    client = create_client(spec.load.protocol, spec.load.client)
    loop = asyncio.get_running_loop()
    pusher: asyncio.Task[None] | None = None
    try:
        share = Share(index=index, workers=spec.workers, t0=side.t0)
        side.load = local_load(spec.load, client, spec.payloads, side.buffer, share=share)
        conn.send(("ready", os.getpid()))
        loop.add_reader(conn.fileno(), side.on_readable)
        pusher = loop.create_task(side.pusher())
        await side.done
    except Exception as exc:
        with contextlib.suppress(OSError):
            conn.send(("error", f"worker {index}: {type(exc).__name__}: {exc}"))
    finally:
        with contextlib.suppress(Exception):
            loop.remove_reader(conn.fileno())
        if pusher is not None:
            pusher.cancel()
        await client.close()


def worker_main(conn: Connection, spec: WorkerSpec, index: int) -> None:
    """Entry point of a worker process. Ctrl-C is the parent's business: ignored here."""
    from .uvloop_policy import run

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        run(_worker(conn, spec, index), spec.load.event_loop)
    finally:
        conn.close()


def main(argv: list[str] | None = None) -> None:
    """``python -c "...worker_proc import main; main()" FD INDEX``: read the pickled
    :class:`WorkerSpec` from the socket FD (the parent's pair), then run the worker."""
    import pickle
    import sys

    args = sys.argv[1:] if argv is None else argv
    conn = Connection(int(args[0]))
    spec = pickle.loads(conn.recv_bytes())
    worker_main(conn, spec, int(args[1]))
