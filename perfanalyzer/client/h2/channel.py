"""gRPC unary calls of one method over a few lean h2c connections (round robin).

:meth:`LeanChannel.unary` is the whole hot path: pick a connection, write the call, await its
future. Connections open on first use (waiting for the server's SETTINGS, at most
``connect_timeout_s``) and are replaced when they stop taking calls: after a GOAWAY, when stream
ids run out, or when the connection was lost. A call the server never processed (refused by
GOAWAY or REFUSED_STREAM) is sent again on a fresh connection, as gRPC clients do.

Errors: grpc-status != 0 -> ``status_error`` (the same mapping as ``client/_convert.py``:
DEADLINE_EXCEEDED -> RequestTimeout, CANCELLED -> RequestCancelled, UNAVAILABLE from the
transport -> ConnectError, anything else -> ServerError(code name, grpc-message)); the connection
failing -> ConnectError; the per-call timeout -> RequestTimeout, with RST_STREAM(CANCEL) sent and
``grpc-timeout`` in the request headers so the server gives up too. Cancelling the awaiting task
resets the stream and lets ``asyncio.CancelledError`` through.

:meth:`LeanChannel.send_nowait` starts a call without a coroutine (the open loop's hot path) and
calls back with what ``exchange`` would have returned or raised: the same errors and timeout; a
call the server refused goes out again through ``exchange`` (a task), as above.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from time import perf_counter_ns as _clock
from typing import Any, Protocol

from ...errors import (
    ClientError,
    ConnectError,
    RequestTimeout,
    grpc_status_error,
)
from ..watchdog import Watchdog
from . import frames as f
from .connection import Connection, Refused
from .headers import encode as encode_headers

USER_AGENT = "perfanalyzer-grpc-lean/1"
#: The response encodings the channel decodes, as grpcio advertises them.
ACCEPT_ENCODING = "identity,deflate,gzip"
#: Refusals of a call by the server in a row with no call answered on that connection in
#: between, before giving up, and the pause before the first retry (doubled for each further
#: one in such a row). A refusal after the connection answered other calls is back-pressure
#: (grpcio refuses new streams while the calls it just answered are still allocated), not a
#: server turning calls away: it starts a new row.
MAX_ATTEMPTS = 5
REFUSED_BACKOFF_S = 0.0005
#: Refusals of one call by the server in all (back-pressure included) before giving up.
MAX_REFUSALS = 64
#: Connection changes for one call (refusals, GOAWAY, stream ids running out) before giving up.
MAX_TURNS = 8
Metadata = Sequence[tuple[str, str]]


#: (response message or None, send_ns, recv_ns) of one call: see :meth:`LeanChannel._call`.
Exchanged = tuple["bytes | None", int, int]


class Exchange(Protocol):
    def __call__(self, payload: bytes, want_body: bool = False) -> Awaitable[Exchanged]: ...


def status_error(code: int | None, message: str, http_status: int | None,
                 target: str = "") -> ClientError:
    """The perfanalyzer error for a finished call with gRPC status ``code`` (None: the response
    had no grpc-status; the HTTP status decides, as gRPC clients do)."""
    if code is None:
        if http_status is not None and http_status != 200:
            code = f.HTTP_TO_GRPC.get(http_status, 2)
            message = message or f"HTTP status {http_status}"
        else:
            code, message = 13, message or "response without grpc-status"
    name = f.GRPC_CODES[code] if 0 <= code < len(f.GRPC_CODES) else f"CODE_{code}"
    return grpc_status_error(name, message, target)


def _consume(task: asyncio.Task[Connection]) -> None:
    if not task.cancelled():
        task.exception()


def split_target(target: str) -> tuple[str, int]:
    """``host:port`` / ``[v6]:port`` -> (host, port)."""
    host, sep, port = target.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"gRPC target {target!r} needs a port (host:port)")
    return host.strip("[]") or "127.0.0.1", int(port)


def grpc_timeout(seconds: float) -> str:
    """The ``grpc-timeout`` header value (at most 8 digits and a unit)."""
    for unit, scale in (("u", 1e6), ("m", 1e3), ("S", 1.0), ("M", 1 / 60), ("H", 1 / 3600)):
        value = int(seconds * scale + 0.999999)
        if value < 10**8:
            return f"{value}{unit}"
    return "99999999H"


#: Called with the two values given to ``send_nowait`` and (send_ns, recv_ns) or the error.
OnAnswer = Callable[[int, int, Any], None]


class _Nowait:
    """A call started by :meth:`LeanChannel.send_nowait`, until its answer is handed on. The
    connection holds it where it holds an awaited call's future, and tells it the outcome
    through the same three methods, at once (no future, no loop turn)."""

    __slots__ = ("a", "b", "channel", "conn", "on_done", "payload", "send_ns", "sid", "t0")

    def __init__(self, channel: LeanChannel, payload: bytes, on_done: OnAnswer, a: int,
                 b: int) -> None:
        self.channel, self.payload, self.on_done, self.a, self.b = channel, payload, on_done, a, b
        self.conn: Connection | None = None
        self.sid = self.t0 = self.send_ns = 0

    def done(self) -> bool:
        return self not in self.channel._nowait  # answered, timed out or cancelled

    def set_result(self, _body: object) -> None:
        self.channel._nowait.discard(self)
        assert self.conn is not None
        self.on_done(self.a, self.b, (self.send_ns, self.conn.recv_times.pop(self.sid, 0)))

    def set_exception(self, exc: BaseException) -> None:
        self.channel._nowait.discard(self)
        if isinstance(exc, Refused):  # never processed: again, through the awaited path
            self.channel._resend(self)
        else:
            self.on_done(self.a, self.b, exc)


class LeanChannel:
    """Unary calls of ``path`` (``/package.Service/Method``) to ``target`` (``host:port``).

    ``metadata`` is sent with every call; ``metadata_hook``, if given, is called per call and
    returns the full metadata for it (for auth tokens that change). With ``request_timeout_s``
    the server is told the deadline (``grpc-timeout``) unless ``deadline_header`` is False.
    ``first_stream_id`` exists for tests of stream id exhaustion. ``keepalive_s``: (interval,
    timeout) of keepalive PINGs on every connection (:mod:`.keepalive`)."""

    def __init__(self, target: str, path: str, *, metadata: Metadata = (),
                 metadata_hook: Callable[[], Metadata] | None = None, connections: int = 1,
                 connect_timeout_s: float = 10.0, request_timeout_s: float = 0.0,
                 deadline_header: bool = True, first_stream_id: int = 1,
                 keepalive_s: tuple[float, float] | None = None) -> None:
        self.target = target
        self._host, self._port = split_target(target)
        self._base: list[tuple[str, str]] = [
            (":method", "POST"), (":scheme", "http"), (":path", path), (":authority", target),
            ("content-type", "application/grpc"), ("te", "trailers"),
            # what grpcio advertises: a server set to compress its responses compresses ours too
            ("grpc-accept-encoding", ACCEPT_ENCODING), ("user-agent", USER_AGENT)]
        if request_timeout_s > 0 and deadline_header:
            self._base.append(("grpc-timeout", grpc_timeout(request_timeout_s)))
        self._block = encode_headers([*self._base, *metadata])
        self._hook = metadata_hook
        self._hook_blocks: dict[tuple[tuple[str, str], ...], bytes] = {}
        self._n = max(1, connections)
        self._conns: list[Connection | None] = [None] * self._n
        self._connecting: list[asyncio.Task[Connection] | None] = [None] * self._n
        self._rr = 0
        self._connect_timeout = connect_timeout_s or None
        self._timeout = request_timeout_s
        # --request-timeout: the calls in flight (task -> start) checked by one periodic
        # watchdog, no timer per call; the tasks it cancelled
        self._started: dict[asyncio.Task[object], int] = {}
        self._expired: set[asyncio.Task[object]] = set()
        self._watch = Watchdog(request_timeout_s, self._overdue) if request_timeout_s > 0 else None
        # calls started by send_nowait (the watchdog checks them too), and their resends
        self._nowait: set[_Nowait] = set()
        self._resends: set[asyncio.Task[None]] = set()
        self._first_id = first_stream_id
        self._keepalive_s = keepalive_s
        self._old: set[Connection] = set()
        self._loop: asyncio.AbstractEventLoop | None = None  # the callers' loop (_timed)
        #: Connections opened so far (replacements included).
        self.opened = 0
        #: ``await exchange(payload, want_body=False)``: call the method with the serialized
        #: request; (the serialized response when ``want_body`` else None, send_ns, recv_ns).
        #: Raises ClientError subclasses (see the module doc). (An attribute: no timeout, no
        #: extra frame.)
        self.exchange: Exchange = self._timed if request_timeout_s > 0 else self._call

    async def unary(self, payload: bytes, want_body: bool = False) -> bytes | None:
        """The serialized response when ``want_body``, else None (:attr:`exchange` less the
        times)."""
        return (await self.exchange(payload, want_body))[0]

    async def _call(self, payload: bytes, want_body: bool = False) -> Exchanged:
        """One call. send_ns: from just before the call's frames are handed to the connection
        until the last of them was written to the transport (one ``write`` on the fast path;
        with :meth:`Streams.start_slow`, waits for flow-control windows, stream slots and the
        transport's write back-pressure included); bytes the transport still buffers below its
        high-water mark are not waited for. recv_ns: from the handling of the response's
        HEADERS frame to the handling of its trailers (the DATA in between included); 0 for a
        trailers-only answer."""
        i = self._rr
        if self._n > 1:
            self._rr = (i + 1) % self._n
        block = None if self._hook is None else self._headers_now()
        refused = row = turns = 0
        seen: tuple[Connection | None, int] = (None, 0)  # connection, its answers at a refusal
        while turns < MAX_TURNS:
            conn = self._conns[i]
            if conn is None or not conn.usable:
                conn = await self._connection(i)
            try:
                t0 = _clock()
                started = conn.start(payload, want_body, block)
                if started is None:
                    if not conn.usable:
                        turns += 1
                        continue  # stream ids ran out just now: take the next connection
                    started = await conn.start_slow(payload, want_body, block)
                send_ns = _clock() - t0
                sid, fut = started
                try:
                    body = await fut
                    return body, send_ns, conn.recv_times.pop(sid, 0)
                except asyncio.CancelledError:
                    conn.reset(sid)  # RST_STREAM(CANCEL)
                    raise
            except Refused as exc:
                if exc.by_server:
                    refused += 1
                    progress = seen[0] is conn and exc.answered > seen[1]
                    row = 1 if progress else row + 1
                    seen = (conn, exc.answered)
                    if row >= MAX_ATTEMPTS or refused >= MAX_REFUSALS:
                        break
                    # A server refusing streams is often one whose stream count lags behind
                    # the streams it just closed: give it a moment.
                    await asyncio.sleep(REFUSED_BACKOFF_S * 2**row)
                    if conn.usable:
                        continue  # the same connection again: no connection change
            turns += 1
        raise ConnectError(f"the gRPC server at {self.target} did not take the call "
                           f"({refused} refusals, {row} in a row with no call answered; "
                           f"{turns} connection changes)")

    async def _timed(self, payload: bytes, want_body: bool = False) -> Exchanged:
        """:meth:`_call` within the request timeout (connecting and retries included): the
        watchdog cancels the calling task, which resets the call's stream, and the cancellation
        becomes RequestTimeout."""
        # with the loop given, current_task skips get_running_loop (a getpid syscall on 3.11)
        loop = self._loop
        if loop is None or not loop.is_running():
            loop = self._loop = asyncio.get_running_loop()
        task = asyncio.current_task(loop)
        assert task is not None
        started = self._started
        started[task] = _clock()
        watch = self._watch
        assert watch is not None
        if not watch.armed:
            watch.arm()
        try:
            return await self._call(payload, want_body)
        except asyncio.CancelledError:
            if task not in self._expired:
                raise
            uncancel = getattr(task, "uncancel", None)  # Python >= 3.11
            if uncancel is not None:
                uncancel()
            raise self._timeout_error() from None
        finally:
            del started[task]
            if self._expired:
                self._expired.discard(task)

    def _overdue(self, now_ns: int) -> bool:
        """The watchdog's check: cancel the calls in flight longer than the timeout; keep
        ticking while any call is in flight."""
        assert self._watch is not None
        limit = self._watch.timeout_ns
        for task, t0 in self._started.items():
            if now_ns - t0 >= limit and task not in self._expired:
                self._expired.add(task)
                task.cancel()
        if self._nowait:
            for call in [c for c in self._nowait if now_ns - c.t0 >= limit]:
                self._nowait.discard(call)
                assert call.conn is not None
                call.conn.reset(call.sid)  # RST_STREAM(CANCEL)
                call.on_done(call.a, call.b, self._timeout_error())
        return bool(self._started or self._nowait)

    def _timeout_error(self) -> RequestTimeout:
        return RequestTimeout(f"gRPC request timed out after {self._timeout:g} s")

    # -- without a coroutine ----------------------------------------------------------------
    def send_nowait(self, payload: bytes, on_done: OnAnswer, a: int, b: int) -> bool:
        """Start a call now on the next connection when it is open and the call fits in one
        write (else False, nothing done); ``on_done(a, b, answer)`` is called from the loop
        with (send_ns, recv_ns) or the ClientError ``exchange`` would have raised."""
        if self._hook is not None:
            return False
        i = self._rr
        conn = self._conns[i]
        if conn is None or not conn.usable:
            return False
        call = _Nowait(self, payload, on_done, a, b)
        self._nowait.add(call)  # (before the start: the connection asks call.done())
        t0 = _clock()
        started = conn.start(payload, False, None, call)
        if started is None:
            self._nowait.discard(call)
            return False
        call.send_ns = _clock() - t0
        call.t0, call.conn, call.sid = t0, conn, started[0]
        if self._n > 1:
            self._rr = (i + 1) % self._n
        watch = self._watch
        if watch is not None and not watch.armed:
            watch.arm()
        return True

    def _resend(self, call: _Nowait) -> None:
        async def again() -> None:
            try:
                _body, send_ns, recv_ns = await self.exchange(call.payload)
            except ClientError as exc:
                call.on_done(call.a, call.b, exc)
            else:
                call.on_done(call.a, call.b, (send_ns, recv_ns))

        task = asyncio.get_running_loop().create_task(again())
        self._resends.add(task)
        task.add_done_callback(self._resends.discard)

    def cancel_nowait(self) -> int:
        """Reset the calls ``send_nowait`` started that have not answered (and cancel their
        resends); their callbacks are not called. Returns how many."""
        calls, self._nowait = self._nowait, set()
        for call in calls:
            if call.conn is not None:
                call.conn.reset(call.sid)
        resends = list(self._resends)
        for task in resends:
            task.cancel()
        return len(calls) + len(resends)

    def _headers_now(self) -> bytes:
        assert self._hook is not None
        metadata = tuple(self._hook())
        block = self._hook_blocks.get(metadata)
        if block is None:
            if len(self._hook_blocks) > 64:
                self._hook_blocks.clear()
            block = self._hook_blocks[metadata] = encode_headers([*self._base, *metadata])
        return block

    async def connect(self) -> None:
        """Open every connection now (else each opens on first use)."""
        await asyncio.gather(*(self._connection(i) for i in range(self._n)))

    async def _connection(self, i: int) -> Connection:
        """The usable connection of slot ``i``, opening one (shared by all callers waiting)."""
        conn = self._conns[i]
        if conn is not None and conn.usable:
            return conn
        if conn is not None and not conn.closed:
            self._old.add(conn)  # draining: it closes itself when its calls are done
        task = self._connecting[i]
        if task is None:
            task = self._connecting[i] = asyncio.ensure_future(self._open())
            # its waiters may all be gone (timed out, cancelled): the error is theirs, not the loop's
            task.add_done_callback(_consume)
        try:
            new = await asyncio.shield(task)
        finally:
            if self._connecting[i] is task and task.done():
                self._connecting[i] = None
        current = self._conns[i]
        if current is None or not current.usable:  # a later caller may have installed one
            self._conns[i] = current = new
        return current

    async def _open(self) -> Connection:
        loop = asyncio.get_running_loop()
        made: list[Connection] = []

        def factory() -> Connection:
            conn = Connection(self._block, self.target, self._status_error, self._first_id)
            conn.keepalive_s = self._keepalive_s
            made.append(conn)
            return conn

        async def dial() -> None:
            await loop.create_connection(factory, self._host, self._port)
            await made[0].ready

        try:
            await asyncio.wait_for(dial(), self._connect_timeout)
        except asyncio.TimeoutError as exc:
            for conn in made:
                conn.close("connect timeout")
            raise ConnectError(f"cannot connect to the gRPC server at {self.target} "
                               f"within {self._connect_timeout:g} s") from exc
        except OSError as exc:
            raise ConnectError(f"cannot connect to the gRPC server at {self.target}: "
                               f"{exc.strerror or exc}") from exc
        self.opened += 1
        self._old = {c for c in self._old if not c.closed}
        return made[0]

    def _status_error(self, code: int | None, message: str,
                      http_status: int | None) -> ClientError:
        return status_error(code, message, http_status, self.target)

    async def close(self) -> None:
        """Close every connection; calls still running fail with RequestCancelled."""
        for task in self._connecting:
            if task is not None:
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
        if self._watch is not None:
            self._watch.stop()
        for conn in [*self._conns, *self._old]:
            if conn is not None:
                conn.close()
        self._conns = [None] * self._n
        self._connecting = [None] * self._n
        self._old.clear()
