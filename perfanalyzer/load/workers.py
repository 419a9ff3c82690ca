"""``--workers N``: the load spread over worker processes, records merged exactly by the parent.

One Python event loop sends ~15-20 k requests/s at most (~50-70 µs of CPU each on the lean HTTP
path); a fast server on a many-core host can take more. With N > 1 workers the parent process only
coordinates: each worker process runs its own event loop (uvloop when installed), its own client
and connections, and a plain load manager over the same prepared payloads (sent to it once, at
start, pickled). Workers are plain child processes (``subprocess``, not ``multiprocessing``: no
re-import of the parent's ``__main__``, and their CPU is in the parent's children rusage). The load is split:

* concurrency C: worker i keeps ``C // N`` (+1 for the first ``C % N``) requests in flight;
* request rate R (and custom intervals, Poisson): every worker walks the *same* global schedule
  from the same start time t0 (chosen by the parent, ``START_MARGIN_NS`` ahead) and sends the
  requests with index ≡ i (mod N), so the union of the workers' sends is exactly the one-process
  schedule; ``--max-threads`` is split like a concurrency.

Records: workers ship their records (numpy, through a socket pair) every ``PUSH_INTERVAL_S`` and when the
parent asks (at each window edge), each shipment marked with the worker's clock at sending time
(a *watermark*: every request the worker completed before it is in the shipment). The parent
appends records to the run's :class:`RecordBuffer` only up to the smallest watermark, sorted by
completion time, so the buffer stays completion-ordered and a window edge at t (see
:meth:`WorkerLoad.sync`) holds exactly the requests completed at or before t — every request
counted once, in the window where it completed. The clock is ``perf_counter_ns``, which on Linux
is CLOCK_MONOTONIC, the same in every process of the host.

CPU: each shipment carries the worker's ``process_time_ns``; :meth:`WorkerLoad.extra_cpu_ns` is
their sum, added to the parent's own CPU by the :class:`~perfanalyzer.measure.window.Measurer`.

Automatic (``--workers 0``, the default): one worker (no child process) unless the asked load
needs more than one core: in request-rate mode ``ceil(max rate / AUTO_RATE_PER_WORKER)`` workers,
at most ``os.cpu_count()``. A closed loop (concurrency mode) adapts to the client's speed and
stays in one process; its windows are marked client-saturated when that one core is the limit,
and ``--workers N`` spreads it. Sequence models and ``--streaming`` run in one process.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import pickle
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..config import LoadMode
from ..errors import OptionError, PerfAnalyzerError
from ..records import COLUMNS, RECORD_DTYPE, RecordBuffer, RecordSlice
from .base import DEFAULT_DRAIN_TIMEOUT_S, LoadManager
from .settings import LoadSettings
from .share import FOREVER, WorkerSpec, split

if TYPE_CHECKING:
    from ..inputs.setup import ModelSetup

#: Requests/s one worker process is trusted to send in automatic mode (about half a core).
AUTO_RATE_PER_WORKER = 8000.0
#: Rate mode: the shared schedule starts this long after the parent applies a level.
START_MARGIN_NS = 50_000_000
READY_TIMEOUT_S = 120.0
#: Extra time, beyond the drain timeout, a worker gets to report that it stopped.
STOP_GRACE_S = 15.0
#: Longest a window edge waits for the workers' records.
SYNC_TIMEOUT_S = 30.0


class WorkerFailed(PerfAnalyzerError):
    """A worker process failed or exited unexpectedly."""


def worker_count(load: LoadSettings) -> int:
    """Worker processes for ``load``: ``--workers`` if > 0, else the automatic rule (module doc)."""
    if load.workers > 0:
        return load.workers
    if (load.mode is not LoadMode.REQUEST_RATE or load.streaming
            or load.endpoint == "generate_stream" or load.orca_format):
        return 1
    top = max(load.request_rate_range[0], load.request_rate_range[1])
    return max(1, min(os.cpu_count() or 1, math.ceil(top / AUTO_RATE_PER_WORKER)))


def unsupported(load: LoadSettings, setup: ModelSetup) -> str | None:
    """Why this run cannot be spread over processes, or None."""
    if load.streaming:
        return "--streaming runs in one process"
    if load.endpoint == "generate_stream":
        return "--endpoint generate_stream runs in one process"
    if load.orca_format:
        return "--orca-format collects the load reports in one process"
    if setup.io.is_sequence:
        return f"model '{load.model}' is a sequence model (its sequences run in one process)"
    if setup.data.has_validation or load.export_tensors:
        return "validation_data and --export-tensors are checked in one process"
    return None


class _Child:
    """The parent's view of one worker process."""

    def __init__(self, index: int, proc: Any, conn: Connection) -> None:
        self.index, self.proc, self.conn = index, proc, conn
        self.pid = 0
        self.watermark = 0
        self.pending: list[np.ndarray] = []  # structured records, statuses in the parent's codes
        self.codes: list[int] = [0]  # the worker's error code -> the parent buffer's
        self.sent = self.late = self.in_flight = self.cpu_ns = 0
        self.replies: dict[int, asyncio.Future[None]] = {}
        self.ready: asyncio.Future[None] | None = None
        self.stopped: asyncio.Future[None] | None = None
        self.gone = False

    def futures(self) -> list[asyncio.Future[None]]:
        return [f for f in (self.ready, self.stopped, *self.replies.values()) if f is not None]


def start_worker(index: int) -> tuple[subprocess.Popen[bytes], Connection]:
    """A worker process (``python -c ...worker_proc.main()``), a direct child of this one, and
    the parent's end of its socket pair. Not multiprocessing: a plain child never re-runs the
    parent's ``__main__`` (an unguarded script would start itself again) and is reaped by us, so
    its CPU shows in this process's children rusage (``time perfanalyzer ...``)."""
    if os.name != "posix":
        raise OptionError("--workers > 1 needs a POSIX system (fd passing); use --workers 1")
    ours, theirs = socket.socketpair()
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])  # the directory holding perfanalyzer/
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    with theirs:
        proc = subprocess.Popen(
            [sys.executable, "-c", "from perfanalyzer.load.worker_proc import main; main()",
             str(theirs.fileno()), str(index)],
            pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL, env=env)
    return proc, Connection(ours.detach())


class WorkerLoad(LoadManager):
    """A :class:`~perfanalyzer.load.base.LoadManager` whose load runs in ``workers`` processes
    (see the module docstring). It overrides the protocol's :meth:`sync` (called by the Measurer
    at each window edge) and :meth:`extra_cpu_ns` (the workers' CPU)."""

    def __init__(self, load: LoadSettings, payloads: Sequence[Any], buffer: RecordBuffer,
                 workers: int) -> None:
        from .. import cleanup

        self.buffer = buffer
        self.sent = 0
        self.late = 0
        self.settings = load
        self.workers = workers
        spec = WorkerSpec(load=load, payloads=list(payloads), workers=workers)
        try:
            self._spec = pickle.dumps(spec, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:
            raise OptionError(f"--workers {workers}: the prepared requests cannot be handed to "
                              f"worker processes ({exc}); use --workers 1") from exc
        self._children: list[_Child] = []
        self._seq = 0
        self._error: str | None = None
        self._started = False
        self._cleanup = cleanup.register(self.kill)
        try:
            for i in range(workers):
                self._children.append(_Child(i, *start_worker(i)))
        except BaseException:
            self.kill()
            raise

    # -- LoadManager --------------------------------------------------------------------------
    @property
    def in_flight(self) -> int:
        return sum(ch.in_flight for ch in self._children)

    async def apply(self, level: float) -> None:
        if not self._started:
            await self._start()
        self._check()
        if self.settings.mode is LoadMode.CONCURRENCY:
            shares: list[float] = [float(s) for s in split(int(level), self.workers)]
        else:
            from .factory import schedule_for

            schedule_for(self.settings)(level)  # OptionError for a bad rate, here rather than there
            shares = [level] * self.workers
        t0 = time.perf_counter_ns() + START_MARGIN_NS
        for ch, share in zip(self._children, shares, strict=True):
            ch.conn.send(("apply", share, t0))

    async def stop(self, drain_timeout_s: float = DEFAULT_DRAIN_TIMEOUT_S) -> None:
        """Stop every worker (each drains its requests), merge every record, end the processes."""
        from .. import cleanup

        try:
            if self._started:
                loop = asyncio.get_running_loop()
                waits = []
                for ch in self._children:
                    if not ch.gone:
                        ch.stopped = loop.create_future()
                        waits.append(ch.stopped)
                        with contextlib.suppress(OSError):
                            ch.conn.send(("stop", drain_timeout_s))
                if waits:
                    await asyncio.wait(waits, timeout=drain_timeout_s + STOP_GRACE_S)
        finally:
            for ch in self._children:
                ch.watermark = FOREVER  # whatever came is all there is
            self._merge()
            self.kill(grace_s=2.0)
            cleanup.unregister(self._cleanup)
        self._check()

    # -- edges and CPU ------------------------------------------------------------------------
    async def sync(self, t_ns: int) -> None:
        """Return once every record completed at or before ``t_ns`` is in :attr:`buffer`."""
        self._check()
        loop = asyncio.get_running_loop()
        waits = []
        for ch in self._children:
            if ch.watermark < t_ns and not ch.gone:
                self._seq += 1
                fut: asyncio.Future[None] = loop.create_future()
                ch.replies[self._seq] = fut
                ch.conn.send(("flush", self._seq))
                waits.append(fut)
        if waits:
            _done, pending = await asyncio.wait(waits, timeout=SYNC_TIMEOUT_S)
            if pending:
                raise WorkerFailed(f"workers did not report within {SYNC_TIMEOUT_S:g} s")
        self._merge()
        self._check()

    def extra_cpu_ns(self) -> int:
        """CPU time the worker processes have used (their ``process_time_ns`` summed)."""
        return sum(ch.cpu_ns for ch in self._children)

    # -- plumbing -----------------------------------------------------------------------------
    async def _start(self) -> None:
        loop = asyncio.get_running_loop()
        for ch in self._children:
            ch.ready = loop.create_future()
            loop.add_reader(ch.conn.fileno(), self._on_readable, ch)
        self._started = True
        # the spec (payloads included, maybe large) goes out from threads: a full socket buffer
        # blocks until the worker has started reading, which must not stall this loop
        sends = [loop.run_in_executor(None, ch.conn.send_bytes, self._spec)
                 for ch in self._children]
        waits: list[asyncio.Future[Any]] = [*sends, *(ch.ready for ch in self._children if ch.ready)]
        _done, pending = await asyncio.wait(waits, timeout=READY_TIMEOUT_S)
        for send in sends:
            if send.done() and send.exception() is not None:
                self._fail(f"cannot hand the requests to a worker: {send.exception()}")
        self._check()
        if pending:
            raise WorkerFailed(f"worker processes not ready after {READY_TIMEOUT_S:g} s")

    def _check(self) -> None:
        if self._error is not None:
            raise WorkerFailed(self._error)

    def _on_readable(self, ch: _Child) -> None:
        try:
            while ch.conn.poll():
                self._handle(ch, ch.conn.recv())
        except (EOFError, OSError):
            self._gone(ch)
        self._merge()

    def _handle(self, ch: _Child, msg: tuple[Any, ...]) -> None:
        kind = msg[0]
        if kind == "records":
            _, reply, watermark, raw, errors, sent, late, in_flight, cpu_ns = msg
            if errors:
                ch.codes.extend(self.buffer.error_code(e) for e in errors)
            if raw:
                arr = np.frombuffer(raw, dtype=RECORD_DTYPE).copy()
                arr["status"] = np.asarray(ch.codes, dtype=np.int32)[arr["status"]]
                ch.pending.append(arr)
            ch.watermark = watermark
            ch.sent, ch.late, ch.in_flight, ch.cpu_ns = sent, late, in_flight, cpu_ns
            self.sent = sum(c.sent for c in self._children)
            self.late = sum(c.late for c in self._children)
            fut = ch.replies.pop(reply, None) if reply else None
            if fut is not None and not fut.done():
                fut.set_result(None)
        elif kind == "ready":
            ch.pid = msg[1]
            if ch.ready is not None and not ch.ready.done():
                ch.ready.set_result(None)
        elif kind == "stopped":
            if ch.stopped is not None and not ch.stopped.done():
                ch.stopped.set_result(None)
        elif kind == "error":
            self._fail(str(msg[1]))

    def _gone(self, ch: _Child) -> None:
        """The worker's pipe closed: fine after it stopped, a failure otherwise."""
        ch.gone = True
        with contextlib.suppress(Exception):
            asyncio.get_running_loop().remove_reader(ch.conn.fileno())
        if ch.stopped is None or not ch.stopped.done():
            code = ch.proc.poll()
            self._fail(f"worker {ch.index} exited unexpectedly"
                       + (f" (exit code {code})" if code is not None else ""))

    def _fail(self, message: str) -> None:
        if self._error is None:
            self._error = message
        for ch in self._children:  # wake every waiter: they re-check and raise
            for fut in ch.futures():
                if not fut.done():
                    fut.set_result(None)

    def _merge(self) -> None:
        """Append, in completion order, every pending record completed at or before the
        smallest watermark (all later ones may still have earlier-completed company)."""
        edge = min(ch.watermark for ch in self._children)
        parts = []
        for ch in self._children:
            if not ch.pending:
                continue
            arr = ch.pending[0] if len(ch.pending) == 1 else np.concatenate(ch.pending)
            ready = arr["last"] <= edge
            if ready.all():
                parts.append(arr)
                ch.pending = []
            else:
                parts.append(arr[ready])
                ch.pending = [arr[~ready]]
        parts = [p for p in parts if len(p)]
        if not parts:
            return
        merged = parts[0] if len(parts) == 1 else np.concatenate(parts)
        if len(parts) > 1:
            merged = merged[np.argsort(merged["last"], kind="stable")]
        columns: dict[str, Any] = {name: merged[name] for name, _ in COLUMNS}
        self.buffer.extend(RecordSlice(**columns, errors=tuple(self.buffer.errors)))

    def kill(self, grace_s: float = 0.0) -> None:
        """End every worker process and close the pipes (idempotent). Workers get ``grace_s`` to
        exit on their own (after a stop), then SIGTERM; the Ctrl-C cleanup gives none."""
        loop = None
        with contextlib.suppress(RuntimeError):
            loop = asyncio.get_running_loop()
        for ch in self._children:
            if loop is not None and not ch.conn.closed:
                with contextlib.suppress(Exception):
                    loop.remove_reader(ch.conn.fileno())
            ch.gone = True
            _end(ch.proc, grace_s)
            with contextlib.suppress(Exception):
                ch.conn.close()


def _end(proc: subprocess.Popen[bytes], grace_s: float) -> None:
    """Wait ``grace_s`` for ``proc`` to exit, then SIGTERM, then SIGKILL; always reaped."""
    for signal_it in (None, proc.terminate, proc.kill):
        if signal_it is not None:
            with contextlib.suppress(ProcessLookupError):
                signal_it()
        try:
            proc.wait(timeout=grace_s if signal_it is None else 2.0)
            return
        except subprocess.TimeoutExpired:
            continue
