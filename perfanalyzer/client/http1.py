"""A lean HTTP/1.1 keep-alive client for the inference hot path, on raw asyncio protocols.

Why: aiohttp spends ~150-250 µs of CPU per request (URL and header objects, a response object,
a stream reader, a task per timeout...). Here a prepared request is one ``bytes`` object (request
line, headers and body, built once by :func:`wire_request`); sending it is one ``transport.write``
and the answer is parsed as far as needed: the status line, ``Content-Length`` (or chunked
transfer coding, or read-until-close), ``Connection: close``, and the body bytes. On the hot path
(:meth:`Http1Pool.send`) a successful answer's body is counted, never kept or copied.

Connections: one per request in flight, kept alive and reused (LIFO, so a steady load of N
requests uses N connections); ``limit`` > 0 caps them (requests then wait for a free one). The
pool belongs to the event loop it is first used in.

Errors (the client error tree):

* connection refused / reset / closed before the answer is complete, TLS failure →
  :class:`ConnectError`; connect timeout and request timeout → :class:`RequestTimeout` (caused by
  :class:`TimeoutError`); an answer that is not HTTP/1.x → :class:`ProtocolError`
  ("Bad status line ..."); a non-2xx status is returned to the caller (:meth:`Http1Pool.send` raises
  :class:`ServerError` for anything but 200, with the JSON ``"error"`` text as message).
* Retry semantics: a pooled connection that the server closed while it was idle is dropped and the
  request goes out on another (or a new) connection, without error. A connection that closes
  *after* the request was written and before its answer is complete raises :class:`ConnectError`
  and the request is **not** retried: the server may have executed it, and a silent retry would
  break the exact request counts (client records == server statistics) the harness relies on.
* Cancelling the awaiting task closes that connection (it is never reused) and lets
  :class:`asyncio.CancelledError` propagate unchanged.

:meth:`Http1Pool.send_nowait` is the same exchange without a coroutine (the open loop's hot path):
it starts the request on an idle connection and calls back with what :meth:`Http1Pool.send` would
have returned or raised; :meth:`Http1Pool.cancel_nowait` aborts those still in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl as ssl_module
from collections.abc import Callable
from time import perf_counter_ns as _clock
from typing import Any

from ..errors import ConnectError, ProtocolError, RequestTimeout
from .http1_parse import HEAD, MAX_HEAD, ResponseParser
from .http1_wire import Response, header_value, server_error, wire_request
from .http1_wire import decompress as decode_body
from .watchdog import Watchdog


class _Conn(ResponseParser, asyncio.Protocol):
    """One keep-alive connection; at most one request in flight. The answer's status resolves
    ``fut``; the kept body (if any) is in ``body``; parsing is :class:`ResponseParser`'s.

    Per request it measures ``send_ns``: from just before the request is handed to the
    transport until the transport's buffer is empty (the write buffer limits are 0, so the
    transport calls ``pause_writing`` whenever it holds back bytes and ``resume_writing`` once
    they all went to the kernel; without that, until ``write`` returns), and ``recv_ns``: from
    the arrival of the answer's first bytes (``data_received``) to its last being parsed."""

    def __init__(self, pool: Http1Pool) -> None:
        ResponseParser.__init__(self)
        self.pool = pool
        self.where = pool.name
        self.loop = pool.loop
        self.transport: asyncio.Transport | None = None
        self.fut: asyncio.Future[int] | None = None
        self.closed = False
        self.send_ns = self.recv_ns = self._t_send = self._t_recv = 0
        self.expecting = False
        #: The callback of a request started by ``send_nowait`` (None: a future, or none), and
        #: the two values it is called with.
        self.on_done: Callable[[int, int, Any], None] | None = None
        self.tag_a = self.tag_b = 0

    # -- asyncio callbacks --------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # (uvloop's is no subclass)
        with contextlib.suppress(AttributeError, NotImplementedError):
            self.transport.set_write_buffer_limits(high=0)  # type: ignore[union-attr]
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def pause_writing(self) -> None:
        pass  # the transport holds back part of the request: resume_writing ends the send

    def resume_writing(self) -> None:
        self.send_ns = _clock() - self._t_send

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.reusable = False
        self.pool._forget(self)
        fut = self.fut
        if self.on_done is None and (fut is None or fut.done()):
            return
        try:
            if self.feed_eof():
                return
        except ProtocolError as error:
            self._settle_error(error)
            return
        why = f": {exc}" if exc else ""
        err = ConnectError(f"{self.pool.name}: connection closed by the server before the "
                           f"answer was complete{why}")
        if exc is not None:
            err.__cause__ = exc
        self._settle_error(err)

    def eof_received(self) -> bool | None:
        self.closed = True  # the transport closes itself; connection_lost follows
        self.reusable = False
        return None

    def data_received(self, data: bytes) -> None:
        if self._need == HEAD and not self._pending:
            self._t_recv = _clock()  # the answer's first bytes
        try:
            self.feed(data)
        except ProtocolError as exc:
            self._fail(exc)

    # -- request ------------------------------------------------------------------------------
    def start(self, data: bytes, keep: bool) -> asyncio.Future[int]:
        """Write a complete request; the returned future resolves to the answer's status."""
        assert self.transport is not None
        fut = self.fut = self.loop.create_future()
        self.keep = keep
        self.expecting = True
        self._need = HEAD
        t = self._t_send = _clock()
        self.transport.write(data)
        self.send_ns = _clock() - t  # (resume_writing replaces it if bytes were held back)
        return fut

    def start_nowait(self, data: bytes, on_done: Callable[[int, int, Any], None], a: int,
                     b: int) -> None:
        """:meth:`start` for ``send_nowait``: ``on_done(a, b, ...)`` instead of a future."""
        assert self.transport is not None
        self.on_done, self.tag_a, self.tag_b = on_done, a, b
        self.keep = False
        self.expecting = True
        self._need = HEAD
        t = self._t_send = _clock()
        self.transport.write(data)
        self.send_ns = _clock() - t

    def abort(self) -> None:
        """Close now (cancelled / timed out / broken): the connection is never reused."""
        self.reusable = False
        if self.transport is not None:
            self.transport.abort()

    # -- parser hooks -------------------------------------------------------------------------
    def complete(self) -> None:
        self.recv_ns = _clock() - self._t_recv
        self.expecting = False
        if not self.reusable and self.transport is not None:
            self.transport.close()
        on_done = self.on_done
        if on_done is not None:
            self.on_done = None
            self.pool._answered(self, on_done)
            return
        fut = self.fut
        if fut is not None and not fut.done():
            fut.set_result(self.status)

    def _fail(self, exc: BaseException) -> None:
        self.expecting = False
        self.abort()
        self._settle_error(exc)

    def _settle_error(self, exc: BaseException) -> None:
        """The request in flight failed: its callback (the connection is then aborted and given
        up) or its future (the awaiting side does that)."""
        on_done = self.on_done
        if on_done is not None:
            self.on_done = None
            self.abort()
            self.pool._release(self)
            on_done(self.tag_a, self.tag_b, exc)
            return
        fut = self.fut
        if fut is not None and not fut.done():
            fut.set_exception(exc)


class _WatchedConn(_Conn):
    """A connection that hands every final answer's header block to its pool's ``on_head``
    (--orca-format); the plain :class:`_Conn` keeps the hot path free of it."""

    def complete(self) -> None:
        self.pool.on_head(self.head)  # type: ignore[misc]  # (set whenever this class is used)
        super().complete()


class Http1Pool:
    """Keep-alive connections to one server. ``name`` prefixes error messages (e.g. the URL)."""

    def __init__(self, host: str, port: int, *, ssl: ssl_module.SSLContext | None = None,
                 server_hostname: str | None = None, connect_timeout_s: float = 0.0,
                 request_timeout_s: float = 0.0, limit: int = 0, name: str = "",
                 on_head: Callable[[bytes], None] | None = None) -> None:
        self.host, self.port = host, port
        #: Given every final answer's header block, when set (its connections are watched).
        self.on_head = on_head
        self._conn_class = _Conn if on_head is None else _WatchedConn
        self.ssl = ssl
        self.server_hostname = server_hostname if ssl is not None else None
        self.connect_timeout_s = connect_timeout_s
        self.request_timeout_s = request_timeout_s
        self.limit = max(0, limit)
        self.name = name or f"{host}:{port}"
        self._idle: list[_Conn] = []
        self._open = 0  # connections opened and not yet closed (limit accounting)
        self._waiters: list[asyncio.Future[_Conn | None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._all: set[_Conn] = set()
        # --request-timeout: one periodic check of the busy connections, no timer per request
        self._watch = Watchdog(request_timeout_s, self._overdue) if request_timeout_s > 0 else None

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        return self._loop

    @property
    def connections(self) -> int:
        """Connections open now (idle or busy)."""
        return len(self._all)

    async def send(self, data: bytes) -> tuple[int, int]:
        """Hot path: write a complete request, wait for the whole answer, keep nothing; return
        (send_ns, recv_ns) as :class:`_Conn` measures them. Raises ServerError for any status
        but 200, TransportError subclasses otherwise."""
        idle = self._idle
        conn = idle.pop() if idle else None
        if conn is None or conn.closed:
            conn = await self._acquire()
        if self._waiters:
            status = await self._exchange(conn, data, False)
        else:  # _exchange inlined: one coroutine less per request
            try:
                status = await conn.start(data, False)
            except BaseException:
                conn.abort()
                self._release(conn)
                raise
            conn.fut = None
            if conn.reusable and not conn.closed and not self._waiters:
                idle.append(conn)
            else:  # to a caller that began waiting meanwhile, or given up
                self._give_back(conn)
        if status != 200:
            raise server_error(status, conn.body)
        return conn.send_ns, conn.recv_ns

    def send_nowait(self, data: bytes, on_done: Callable[[int, int, Any], None], a: int,
                    b: int) -> bool:
        """:meth:`send` without a coroutine, when an idle live connection is at hand (else False,
        nothing done): the request goes out now and ``on_done(a, b, answer)`` is called from the
        loop with (send_ns, recv_ns), or with the error :meth:`send` would have raised."""
        idle = self._idle
        if not idle or self._waiters or idle[-1].closed:
            return False
        idle.pop().start_nowait(data, on_done, a, b)
        return True

    def _answered(self, conn: _Conn, on_done: Callable[[int, int, Any], None]) -> None:
        status = conn.status
        answer = (conn.send_ns, conn.recv_ns) if status == 200 else \
            server_error(status, conn.body)
        self._give_back(conn)
        on_done(conn.tag_a, conn.tag_b, answer)

    def _give_back(self, conn: _Conn) -> None:
        """A connection whose answer is complete: to the oldest waiter, or idle, or given up
        when it cannot carry another request."""
        if conn.reusable and not conn.closed:
            if self._waiters:
                self._hand_over(conn)
            else:
                self._idle.append(conn)
        else:
            self._release(conn)

    def cancel_nowait(self) -> int:
        """Abort the requests ``send_nowait`` started that are still in flight (their callbacks
        are not called); return how many."""
        cut = 0
        for conn in list(self._all):
            if conn.on_done is not None:
                conn.on_done = None
                conn.abort()
                self._release(conn)
                cut += 1
        return cut

    async def request(self, data: bytes, decompress: bool = True) -> Response:
        """Write a complete request and return the whole answer, whatever its status."""
        conn = await self._acquire()
        status = await self._exchange(conn, data, True)
        head, body = conn.head[2:], conn.body
        conn.body = b""
        if decompress:
            body = decode_body(body, header_value(head, "Content-Encoding"))
        return Response(status, head, body, conn.send_ns, conn.recv_ns)

    async def stream(self, data: bytes, sink: Any) -> tuple[int, int, int]:
        """Write a request whose answer body goes to ``sink.append`` as it arrives (a streamed
        answer: ``sink`` is falsy, so the parser keeps nothing of its own); return (status,
        send_ns, recv_ns) whatever the status."""
        conn = await self._acquire()
        conn._parts = sink  # (the parser appends body bytes to _parts)
        try:
            status = await self._exchange(conn, data, True)
        finally:
            conn._parts = []
        return status, conn.send_ns, conn.recv_ns

    async def _exchange(self, conn: _Conn, data: bytes, keep: bool) -> int:
        fut = conn.start(data, keep)
        try:
            status = await fut
        except BaseException:
            conn.abort()
            self._release(conn)
            raise
        conn.fut = None
        self._give_back(conn)
        return status

    def _overdue(self, now_ns: int) -> bool:
        """The watchdog's check: fail the requests in flight longer than the timeout (their
        connection is then aborted by the awaiting side); keep ticking while any is open."""
        assert self._watch is not None
        limit = self._watch.timeout_ns
        for conn in list(self._all):
            fut = conn.fut
            if (conn.on_done is not None or (fut is not None and not fut.done())) and \
                    now_ns - conn._t_send >= limit:
                err = RequestTimeout(f"{self.name}: request timed out after "
                                     f"{self.request_timeout_s:g} s")
                err.__cause__ = TimeoutError()
                conn._settle_error(err)
        return bool(self._all)

    # -- connections --------------------------------------------------------------------------
    async def _acquire(self) -> _Conn:
        """An idle live connection, else a new one (waiting for a free slot under ``limit``)."""
        while self._idle:
            conn = self._idle.pop()
            if not conn.closed:
                return conn
        if self.limit and len(self._all) >= self.limit:
            waiter: asyncio.Future[_Conn | None] = self.loop.create_future()
            self._waiters.append(waiter)
            try:
                got = await waiter
            except BaseException:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
                elif waiter.done() and not waiter.cancelled() and waiter.result() is not None:
                    self._hand_over(waiter.result())  # pass it on to the next waiter
                raise
            if got is not None and not got.closed:
                return got
            return await self._acquire()
        return await self._connect()

    def _hand_over(self, conn: _Conn | None) -> None:
        """Give a free connection (or None: a free slot) to the oldest waiter."""
        while self._waiters:
            waiter = self._waiters.pop(0)
            if not waiter.done():
                waiter.set_result(conn)
                return
        if conn is not None:
            self._idle.append(conn)

    def _release(self, conn: _Conn) -> None:
        self._forget(conn)

    def _forget(self, conn: _Conn) -> None:
        if conn in self._all:
            self._all.discard(conn)
            if conn in self._idle:
                self._idle.remove(conn)
            if self._waiters:
                self._hand_over(None)

    async def _connect(self) -> _Conn:
        loop = self.loop
        conn = self._conn_class(self)
        self._all.add(conn)  # counts against the limit while connecting
        if self._watch is not None:
            self._watch.arm()
        try:
            coro = loop.create_connection(lambda: conn, self.host, self.port, ssl=self.ssl,
                                          server_hostname=self.server_hostname)
            if self.connect_timeout_s > 0:
                await asyncio.wait_for(coro, self.connect_timeout_s)
            else:
                await coro
        except TimeoutError as exc:
            self._forget(conn)
            raise RequestTimeout(f"{self.name}: connection timed out") from exc
        except (OSError, ssl_module.SSLError) as exc:
            self._forget(conn)
            raise ConnectError(f"{self.name}: {exc or type(exc).__name__}") from exc
        except BaseException:
            self._forget(conn)
            raise
        return conn

    async def close(self) -> None:
        """Close every connection (requests in flight fail with ConnectError)."""
        conns = list(self._all)
        self._idle.clear()
        if self._watch is not None:
            self._watch.stop()
        for conn in conns:
            if conn.transport is not None:
                conn.transport.close()
        if conns:
            await asyncio.sleep(0)  # let connection_lost run
        self._all.clear()


__all__ = ["MAX_HEAD", "Http1Pool", "Response", "header_value", "server_error", "wire_request"]
