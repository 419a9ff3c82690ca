"""The stream table and the sending side of one HTTP/2 connection (base of
:class:`~.connection.Connection`, which adds the receiving side).

:meth:`Streams.start` writes a whole call (HEADERS + one DATA frame with END_STREAM) in one
``transport.write`` and returns ``(stream id, future)``; only the stream id differs between
calls, so the header block is encoded once and the framed message is cached per payload. Calls
that do not fit in one frame or in the current flow-control windows go through
:meth:`Streams.start_slow`, which splits DATA by the peer's SETTINGS_MAX_FRAME_SIZE, waits for
WINDOW_UPDATEs (and for a free stream when SETTINGS_MAX_CONCURRENT_STREAMS is reached) and
respects the transport's write back-pressure.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from ...errors import ClientError, ConnectError, RequestCancelled
from . import frames as f
from .headers import Decoder

_WIRE_CACHE = 256
_U32 = f._U32
#: (stream id, future) of a started call.
Started = tuple[int, "asyncio.Future[Any]"]
#: (":status", grpc-status, grpc-message) of one header block.
Summary = tuple[int | None, int | None, str]


class Refused(Exception):
    """The call was not processed, so it may be sent again on another connection:
    ``by_server`` (GOAWAY past its stream, REFUSED_STREAM) or not (the connection stopped taking
    calls while this one waited for a stream slot); ``answered``: the connection's calls answered
    when the refusal arrived (its progress, see :attr:`Streams.answered`)."""

    def __init__(self, by_server: bool = True, answered: int = 0) -> None:
        super().__init__("refused by the server" if by_server else "connection draining")
        self.by_server = by_server
        self.answered = answered


class Streams:
    """Calls in flight on one connection, and how new ones are written. ``usable`` is False
    once it takes no new calls (closed, GOAWAY received, stream ids exhausted); it then closes
    when its calls are done."""

    def __init__(self, header_block: bytes, target: str, status_error: Callable[..., Exception],
                 first_stream_id: int = 1) -> None:
        self._loop = asyncio.get_running_loop()
        self._transport: asyncio.Transport | None = None
        self._block = header_block
        self._block_head = f.frame_head(len(header_block), f.HEADERS, f.END_HEADERS, 0)[:5]
        self._target = target
        self._status_error = status_error
        self._streams: dict[int, asyncio.Future[Any]] = {}
        self._bodies: dict[int, list[bytes]] = {}
        self._http_status: dict[int, int] = {}
        self._send_windows: dict[int, int] = {}
        self._rx_first: dict[int, int] = {}  # stream -> when its response headers were handled
        #: Stream -> receive time (ns) of a call that succeeded, until its caller pops it.
        self.recv_times: dict[int, int] = {}
        #: Calls the server answered (trailers received, any status): its progress.
        self.answered = 0
        self._next_id = first_stream_id
        self._peer_window = f.DEFAULT_WINDOW
        self._peer_max_frame = f.DEFAULT_MAX_FRAME
        self._peer_max_streams = f.MAX_STREAM_ID
        self._send_window = f.DEFAULT_WINDOW
        self._recv_unacked = 0
        self._decoder = Decoder()
        self._hcache: dict[bytes, Summary] = {}
        self._wires: dict[bytes, tuple[bytes, bytes, int]] = {}
        self._continuation: tuple[int, int, list[bytes]] | None = None
        self._chunks: list[bytes] | None = None
        self._have = self._need = 0
        self._waiters: list[asyncio.Future[None]] = []
        self._paused = False
        self.ready: asyncio.Future[None] = self._loop.create_future()
        self.usable = True
        self.closed = False
        self._closing: ClientError | None = None  # why we closed it ourselves
        self._goaway = ""  # the server's GOAWAY error, if any

    # -- back-pressure ----------------------------------------------------------------------
    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        self._wake()

    # -- sending --------------------------------------------------------------------------------
    def start(self, payload: bytes, want_body: bool = False,
              block: bytes | None = None, call: Any = None) -> Started | None:
        """Write a call in one go, or return None when it needs :meth:`start_slow`. ``call``:
        an object with a future's ``done``, ``set_result`` and ``set_exception`` that is told
        the outcome at once, in place of a new future (the channel's ``send_nowait``)."""
        if len(payload) + 5 > self._peer_max_frame:
            return None  # (checked first: no hashing of large payloads)
        wire = self._wires.get(payload)
        if wire is None:
            wire = self._wire(payload)
        head, rest, n = wire
        sid = self._next_id
        if (n > self._send_window or n > self._peer_window or not self.usable
                or len(self._streams) >= self._peer_max_streams):
            return None
        if block is None:
            block, block_head = self._block, self._block_head
        elif len(block) <= self._peer_max_frame:
            block_head = f.frame_head(len(block), f.HEADERS, f.END_HEADERS, 0)[:5]
        else:
            return None
        self._next_id = sid + 2
        if sid + 2 > f.MAX_STREAM_ID:
            self.usable = False
        self._send_window -= n
        sidb = _U32.pack(sid)
        assert self._transport is not None
        self._transport.write(b"".join((block_head, sidb, block, head, sidb, rest)))
        fut = self._loop.create_future() if call is None else call
        self._streams[sid] = fut
        if want_body:
            self._bodies[sid] = []
        return sid, fut

    def _wire(self, payload: bytes) -> tuple[bytes, bytes, int]:
        """(DATA frame head less the stream id, frame payload, its length) for ``payload``,
        cached: prepared payloads are sent again and again."""
        n = len(payload) + 5
        wire = (f.frame_head(n, f.DATA, f.END_STREAM, 0)[:5],
                b"\x00" + _U32.pack(len(payload)) + payload, n)
        if len(self._wires) >= _WIRE_CACHE:
            self._wires.clear()
        self._wires[payload] = wire
        return wire

    async def start_slow(self, payload: bytes, want_body: bool = False,
                         block: bytes | None = None) -> Started:
        """Start a call that waits for a stream slot and flow-control window as needed."""
        while len(self._streams) >= self._peer_max_streams and self.usable:
            await self._wait()
        if not self.usable:
            if self.closed:
                raise self._closing or ConnectError(
                    f"connection to the gRPC server at {self._target} lost{self._goaway}")
            raise Refused(by_server=False)
        sid = self._next_id
        self._next_id = sid + 2
        if sid + 2 > f.MAX_STREAM_ID:
            self.usable = False
        fut = self._loop.create_future()
        self._streams[sid] = fut
        if want_body:
            self._bodies[sid] = []
        self._send_windows[sid] = self._peer_window
        self._write_headers(sid, self._block if block is None else block)
        try:
            prefix = b"\x00" + _U32.pack(len(payload))
            await self._send_data(sid, memoryview(prefix), not payload)
            if payload:
                await self._send_data(sid, memoryview(payload), True)
        except BaseException:
            self.reset(sid)
            raise
        finally:
            self._send_windows.pop(sid, None)
        return sid, fut

    def _write_headers(self, sid: int, block: bytes) -> None:
        step = self._peer_max_frame
        parts = [block[i:i + step] for i in range(0, len(block), step)] or [b""]
        out = [f.frame(f.HEADERS, f.END_HEADERS if len(parts) == 1 else 0, sid, parts[0])]
        for i, part in enumerate(parts[1:], 2):
            out.append(f.frame(f.CONTINUATION, f.END_HEADERS if i == len(parts) else 0, sid,
                               part))
        assert self._transport is not None
        self._transport.write(b"".join(out))

    async def _send_data(self, sid: int, view: memoryview, last: bool) -> None:
        pos, total = 0, len(view)
        while pos < total:
            if sid not in self._streams:
                return  # answered early, reset, or the connection failed: stop sending
            size = min(self._send_window, self._send_windows[sid], self._peer_max_frame,
                       total - pos)
            if size <= 0 or self._paused:
                await self._wait()
                continue
            end = pos + size
            flags = f.END_STREAM if last and end == total else 0
            assert self._transport is not None
            self._transport.writelines((f.frame_head(size, f.DATA, flags, sid), view[pos:end]))
            self._send_window -= size
            self._send_windows[sid] -= size
            pos = end

    async def _wait(self) -> None:
        waiter = self._loop.create_future()
        self._waiters.append(waiter)
        await waiter

    def _wake(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    # -- stream ends ----------------------------------------------------------------------------
    def reset(self, sid: int) -> None:
        """Abandon a call (caller cancelled, timed out): RST_STREAM(CANCEL) if still open."""
        fut = self._streams.pop(sid, None)
        self._bodies.pop(sid, None)
        self._http_status.pop(sid, None)
        self._rx_first.pop(sid, None)
        self.recv_times.pop(sid, None)
        if fut is not None:
            if not self.closed and self._transport is not None:
                self._transport.write(f.rst_stream(sid, f.CANCEL))
            self._stream_closed()

    def _stream_closed(self) -> None:
        if self._waiters:
            self._wake()
        if not self.usable and not self._streams and not self.closed:
            self.close("no more streams")

    def _fail(self, sid: int, exc: Exception) -> None:
        fut = self._streams.pop(sid, None)
        self._bodies.pop(sid, None)
        self._http_status.pop(sid, None)
        self._rx_first.pop(sid, None)
        if fut is not None:
            if not fut.done():
                fut.set_exception(exc)
            self._stream_closed()

    def close(self, reason: str = "") -> None:
        """Send GOAWAY and close; calls still open fail with RequestCancelled."""
        if self.closed:
            return
        self._closing = RequestCancelled(
            f"connection closed by the client ({reason})" if reason else
            "connection closed by the client")
        if self._transport is not None:
            self._transport.write(f.goaway(0, f.NO_ERROR))
            self._transport.close()
        self._shut(self._closing)

    def _shut(self, exc: ClientError) -> None:
        self.closed = True
        self.usable = False
        if not self.ready.done():
            self.ready.set_exception(exc)
            self.ready.exception()  # retrieved: the connect attempt may have been abandoned
        streams, self._streams = self._streams, {}
        self._bodies.clear()
        self._rx_first.clear()
        for fut in streams.values():
            if not fut.done():
                fut.set_exception(exc)
        self._wake()

