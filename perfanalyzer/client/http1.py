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
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl as ssl_module

from ..errors import ConnectError, ProtocolError, RequestTimeout
from .http1_wire import Response, field, header_value, server_error, wire_request
from .http1_wire import decompress as decode_body

#: Longest response head (status line + headers) accepted.
MAX_HEAD = 64 * 1024
_UNTIL_CLOSE = -2  # body length unknown: read until the server closes the connection
_CHUNKED = -3


class _Conn(asyncio.Protocol):
    """One keep-alive connection; at most one request in flight. The answer's status resolves
    ``fut``; the kept body (if any) is in ``body``."""

    def __init__(self, pool: Http1Pool) -> None:
        self.pool = pool
        self.loop = pool.loop
        self.transport: asyncio.Transport | None = None
        self.fut: asyncio.Future[int] | None = None
        self.closed = False
        self.reusable = True
        self.keep = False  # keep the body even for status 200
        self.status = 0
        self.head = b""
        self.body = b""
        self._pending = b""  # partial head (or chunked raw bytes)
        self._need = -1  # remaining body bytes; -1 while reading the head
        self._parts: list[bytes] = []

    # -- asyncio callbacks --------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # (uvloop's is no subclass)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.reusable = False
        self.pool._forget(self)
        fut = self.fut
        if fut is None or fut.done():
            return
        if self._need == _UNTIL_CLOSE:
            self._finish()
            return
        why = f": {exc}" if exc else ""
        err = ConnectError(f"{self.pool.name}: connection closed by the server before the "
                           f"answer was complete{why}")
        if exc is not None:
            err.__cause__ = exc
        fut.set_exception(err)

    def eof_received(self) -> bool | None:
        self.closed = True  # the transport closes itself; connection_lost follows
        self.reusable = False
        return None

    def data_received(self, data: bytes) -> None:
        try:
            self._receive(data)
        except ProtocolError as exc:
            self._fail(exc)

    # -- request ------------------------------------------------------------------------------
    def start(self, data: bytes, keep: bool) -> asyncio.Future[int]:
        """Write a complete request; the returned future resolves to the answer's status."""
        assert self.transport is not None
        fut = self.fut = self.loop.create_future()
        self.keep = keep
        self._need = -1
        self.transport.write(data)
        return fut

    def abort(self) -> None:
        """Close now (cancelled / timed out / broken): the connection is never reused."""
        self.reusable = False
        if self.transport is not None:
            self.transport.abort()

    # -- parsing ------------------------------------------------------------------------------
    def _receive(self, data: bytes) -> None:
        need = self._need
        if need >= 0:  # body with a known length
            n = len(data)
            if n < need:
                self._need = need - n
                if self.keep or self.status != 200:
                    self._parts.append(data)
                return
            if n > need:
                raise ProtocolError(f"{self.pool.name}: {n - need} bytes after the answer")
            if self.keep or self.status != 200:
                self._parts.append(data)
            self._finish()
            return
        if need == -1:
            self._receive_head(data)
        elif need == _CHUNKED:
            self._pending += data
            self._dechunk()
        else:  # until close
            self._parts.append(data)

    def _receive_head(self, data: bytes) -> None:
        if self.fut is None or self.fut.done():
            raise ProtocolError(f"{self.pool.name}: data from the server with no request")
        if self._pending:
            data, self._pending = self._pending + data, b""
        end = data.find(b"\r\n\r\n")
        if end < 0:
            if len(data) > MAX_HEAD:
                raise ProtocolError(f"{self.pool.name}: response head over {MAX_HEAD} bytes")
            self._pending = data
            if len(data) >= 12 and not data.startswith(b"HTTP/1."):
                raise ProtocolError(f"{self.pool.name}: Bad status line {data[:40]!r}")
            return
        self._parse_head(data[:end])
        start = end + 4
        n = len(data) - start
        need = self._need
        if need >= 0:  # known length: on the hot path (200, body not kept) only count
            if n > need:
                raise ProtocolError(f"{self.pool.name}: {n - need} bytes after the answer")
            if n and (self.keep or self.status != 200):
                self._parts.append(data[start:])
            if n == need:
                self._finish()
            else:
                self._need = need - n
        elif n:
            self._receive(data[start:])

    def _parse_head(self, head: bytes) -> None:
        line_end = head.find(b"\r\n")
        status_line = head if line_end < 0 else head[:line_end]
        code = status_line[9:12]  # "HTTP/1.x NNN[ reason]"
        if (not status_line.startswith(b"HTTP/1.") or status_line[8:9] != b" "
                or not code.isdigit() or status_line[12:13] not in (b" ", b"")):
            raise ProtocolError(f"{self.pool.name}: Bad status line {status_line[:80]!r}")
        status = self.status = int(code)
        fields = b"" if line_end < 0 else head[line_end:]  # starts with CRLF
        self.head = fields
        lower = fields.lower()
        if status < 200 or status in (204, 304):
            self._need = 0
        else:
            i = lower.find(b"\r\ncontent-length:")
            if i >= 0:
                j = lower.find(b"\r\n", i + 17)
                try:
                    self._need = int(lower[i + 17: j if j >= 0 else None])
                except ValueError as exc:
                    raise ProtocolError(f"{self.pool.name}: bad Content-Length") from exc
            elif b"chunked" in (field(lower, b"transfer-encoding") or b""):
                self._need = _CHUNKED
            else:
                self._need = _UNTIL_CLOSE
        conn = field(lower, b"connection")
        if (conn is not None and b"close" in conn) or (
                status_line.startswith(b"HTTP/1.0") and (conn is None or b"keep-alive" not in conn)):
            self.reusable = False

    def _dechunk(self) -> None:
        raw, pos = self._pending, 0
        while True:
            eol = raw.find(b"\r\n", pos)
            if eol < 0:
                break
            try:
                size = int(raw[pos:eol].split(b";", 1)[0], 16)
            except ValueError as exc:
                raise ProtocolError(f"{self.pool.name}: bad chunk size") from exc
            if size == 0:
                if raw.startswith(b"\r\n", eol + 2):
                    pos = eol + 4
                else:
                    end = raw.find(b"\r\n\r\n", eol)
                    if end < 0:
                        break
                    pos = end + 4
                self._pending = b""
                self._finish()
                return
            if len(raw) < eol + 2 + size + 2:
                break
            self._parts.append(raw[eol + 2: eol + 2 + size])
            pos = eol + 2 + size + 2
        self._pending = raw[pos:]

    def _finish(self) -> None:
        parts = self._parts
        if parts:
            self._parts = []
            self.body = parts[0] if len(parts) == 1 else b"".join(parts)
        else:
            self.body = b""
        self._need = -1
        if not self.reusable and self.transport is not None:
            self.transport.close()
        fut = self.fut
        if fut is not None and not fut.done():
            fut.set_result(self.status)

    def _fail(self, exc: BaseException) -> None:
        self.abort()
        fut = self.fut
        if fut is not None and not fut.done():
            fut.set_exception(exc)


class Http1Pool:
    """Keep-alive connections to one server. ``name`` prefixes error messages (e.g. the URL)."""

    def __init__(self, host: str, port: int, *, ssl: ssl_module.SSLContext | None = None,
                 server_hostname: str | None = None, connect_timeout_s: float = 0.0,
                 request_timeout_s: float = 0.0, limit: int = 0, name: str = "") -> None:
        self.host, self.port = host, port
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

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        return self._loop

    @property
    def connections(self) -> int:
        """Connections open now (idle or busy)."""
        return len(self._all)

    async def send(self, data: bytes) -> None:
        """Hot path: write a complete request, wait for the whole answer, keep nothing.
        Raises ServerError for any status but 200, TransportError subclasses otherwise."""
        idle = self._idle
        conn = idle.pop() if idle else None
        if conn is None or conn.closed:
            conn = await self._acquire()
        if self.request_timeout_s > 0 or self._waiters:
            status = await self._exchange(conn, data, False)
        else:  # _exchange inlined: one coroutine less per request
            try:
                status = await conn.start(data, False)
            except BaseException:
                conn.abort()
                self._release(conn)
                raise
            conn.fut = None
            if conn.reusable and not conn.closed:
                idle.append(conn)
            else:
                self._release(conn)
        if status != 200:
            raise server_error(status, conn.body)

    async def request(self, data: bytes, decompress: bool = True) -> Response:
        """Write a complete request and return the whole answer, whatever its status."""
        conn = await self._acquire()
        status = await self._exchange(conn, data, True)
        head, body = conn.head[2:], conn.body
        conn.body = b""
        if decompress:
            body = decode_body(body, header_value(head, "Content-Encoding"))
        return Response(status, head, body)

    async def _exchange(self, conn: _Conn, data: bytes, keep: bool) -> int:
        fut = conn.start(data, keep)
        timer = None
        if self.request_timeout_s > 0:
            timer = self.loop.call_later(self.request_timeout_s, self._timeout, conn, fut)
        try:
            status = await fut
        except BaseException:
            conn.abort()
            self._release(conn)
            raise
        finally:
            if timer is not None:
                timer.cancel()
        conn.fut = None
        if conn.reusable and not conn.closed:
            if self._waiters:
                self._hand_over(conn)
            else:
                self._idle.append(conn)
        else:
            self._release(conn)
        return status

    def _timeout(self, conn: _Conn, fut: asyncio.Future[int]) -> None:
        if not fut.done():
            err = RequestTimeout(f"{self.name}: request timed out after {self.request_timeout_s:g} s")
            err.__cause__ = TimeoutError()
            fut.set_exception(err)

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
        conn = _Conn(self)
        self._all.add(conn)  # counts against the limit while connecting
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
        for conn in conns:
            if conn.transport is not None:
                conn.transport.close()
        if conns:
            await asyncio.sleep(0)  # let connection_lost run
        self._all.clear()


__all__ = ["MAX_HEAD", "Http1Pool", "Response", "header_value", "server_error", "wire_request"]
