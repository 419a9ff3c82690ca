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
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any

import numpy as np

from ..config import LoadMode, RunConfig
from ..records import RecordBuffer

if TYPE_CHECKING:
    from ..client.base import InferenceClient
    from .schedule import Schedule

#: Workers ship their records at least this often (keeps count windows and warm-up moving).
PUSH_INTERVAL_S = 0.02
#: Watermark of a worker's last shipment: nothing more will come.
FOREVER = 1 << 62


def split(total: int, parts: int) -> list[int]:
    """``total`` spread over ``parts`` as evenly as possible, larger shares first."""
    base, extra = divmod(max(0, int(total)), parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


@dataclass(frozen=True)
class WorkerSpec:
    """What every worker gets once, at start."""

    cfg: RunConfig
    payloads: list[Any]
    workers: int


class Strided:
    """Worker ``index`` of ``step``: requests index, index+step, ... of ``base``, with offsets
    moved so that offset 0 of ``base`` falls on ``t0_ns`` (the manager's own start is read from
    ``manager.start_ns`` when the first offsets are asked, right after it is set)."""

    def __init__(self, base: Schedule, index: int, step: int, t0_ns: int, manager: Any) -> None:
        self.base, self.index, self.step, self.t0_ns, self.manager = base, index, step, t0_ns, manager
        self._shift: int | None = None

    @property
    def rate(self) -> float:
        return self.base.rate / self.step

    def offsets(self, start: int, count: int) -> np.ndarray:
        if self._shift is None:
            self._shift = self.t0_ns - int(self.manager.start_ns)
        if count <= 0:
            return np.zeros(0, dtype=np.int64)
        first = self.index + start * self.step
        full = self.base.offsets(first, (count - 1) * self.step + 1)
        return full[:: self.step] + np.int64(self._shift)


def _build_manager(spec: WorkerSpec, index: int, client: InferenceClient,
                   buffer: RecordBuffer) -> tuple[Any, list[int]]:
    """The worker's load manager; the list holds the rate schedule's t0 (set at apply)."""
    cfg = spec.cfg
    if cfg.load.mode is LoadMode.CONCURRENCY:
        from .concurrency import ConcurrencyManager

        return ConcurrencyManager(client, spec.payloads, buffer), [0]
    from . import factory
    from .request_rate import RequestRateManager, RoundRobin, unary_sender

    base_for = factory.schedule_for(cfg)
    t0 = [0]
    holder: list[Any] = []

    def schedule_for(level: float) -> Schedule:
        return Strided(base_for(level), index, spec.workers, t0[0], holder[0])

    cap = split(cfg.load.max_threads, spec.workers)[index] if cfg.load.max_threads > 0 else 0
    manager = RequestRateManager(unary_sender(client), buffer, schedule_for,
                                 RoundRobin(spec.payloads), max_in_flight=max(cap, 0))
    holder.append(manager)
    return manager, t0


class _WorkerSide:
    """Runs in the worker process: obeys the parent's commands, ships records."""

    def __init__(self, conn: Connection, spec: WorkerSpec, index: int) -> None:
        self.conn, self.spec, self.index = conn, spec, index
        self.buffer = RecordBuffer()
        self.known_errors = 1
        self.done = asyncio.get_running_loop().create_future()
        self.load: Any = None
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
        self.conn.send(("records", reply, watermark, records, tuple(errors),
                        getattr(load, "sent", 0), getattr(load, "late", 0),
                        getattr(load, "in_flight", 0) if load is not None else 0,
                        time.process_time_ns()))

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
    from ..client import create_client
    from ..client.options import client_options

    side = _WorkerSide(conn, spec, index)
    client = create_client(spec.cfg.server.protocol, client_options(spec.cfg))
    loop = asyncio.get_running_loop()
    pusher: asyncio.Task[None] | None = None
    try:
        side.load, side.t0 = _build_manager(spec, index, client, side.buffer)
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
        run(_worker(conn, spec, index))
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
