"""One cleartext HTTP/2 connection carrying gRPC unary calls (an ``asyncio.Protocol``): the receiving
side; sending and the stream table are in :mod:`.streams`. Frames are parsed in
:meth:`Connection.data_received`; the future of a stream is resolved when its trailers (or a
trailers-only response) arrive: with the response message (or ``None`` when the body was not asked
for) for grpc-status 0, else with the error ``status_error`` maps it to. Header blocks are HPACK-
decoded in order (the dynamic table must follow the server's), but a block that left the table
untouched is remembered with its decoded summary, so the constant blocks of ordinary responses
cost a dict lookup. Our receive windows are as large as HTTP/2 allows (2^31-1) and the connection
window is topped up when half of it is used, so flow control costs no frame per call. PINGs are
answered (and sent, with keepalive: :mod:`.keepalive`); RST_STREAM and GOAWAY fail the streams
concerned, or, for streams the server never processed, refuse them (:class:`~.streams.Refused`,
safe to send again elsewhere); losing the connection fails its streams with ConnectError; a
protocol violation by the server sends GOAWAY and fails them with ProtocolError.
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Callable
from time import perf_counter_ns as _clock
from typing import Any, cast
from urllib.parse import unquote

from ...errors import ClientError, ConnectError, ProtocolError, RequestCancelled
from . import frames as f
from .headers import HpackError
from .keepalive import Keepalive
from .streams import Refused, Streams, Summary

_REFILL = f.MAX_WINDOW // 2
_U32 = f._U32
#: HEADERS flags handled inline: END_HEADERS, with or without END_STREAM, nothing else.
_PLAIN_HEADERS = f.END_HEADERS | f.END_STREAM


class _Abort(Exception):
    """A connection error (protocol violation by the peer): the connection is torn down."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


class Connection(Streams, asyncio.Protocol):
    """The client side of one h2c connection: :class:`~.streams.Streams` plus the protocol
    callbacks and frame handling."""

    #: (interval, timeout) in seconds of gRPC keepalive PINGs, set before the connection is
    #: made; None: no keepalive.
    keepalive_s: tuple[float, float] | None = None
    _keepalive: Keepalive | None = None

    # -- asyncio.Protocol -----------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # cast, not isinstance: uvloop's transports are no asyncio.Transport subclasses
        self._transport = cast(asyncio.Transport, transport)
        self._transport.write(f.PREFACE + f.settings({
            f.SETTINGS_ENABLE_PUSH: 0, f.SETTINGS_INITIAL_WINDOW_SIZE: f.MAX_WINDOW,
        }) + f.window_update(0, f.MAX_WINDOW - f.DEFAULT_WINDOW))
        if self.keepalive_s is not None:
            self._keepalive = Keepalive(*self.keepalive_s, send=self._transport.write,
                                        dead=self._keepalive_dead)

    def connection_lost(self, exc: Exception | None) -> None:
        why = self._goaway or (f": {exc}" if exc else "")
        self._shut(self._closing or ConnectError(
            f"connection to the gRPC server at {self._target} lost{why}"))

    def _shut(self, exc: ClientError) -> None:
        if self._keepalive is not None:
            self._keepalive.stop()
        super()._shut(exc)

    def _keepalive_dead(self, why: str) -> None:
        if self.closed:
            return
        self._closing = ConnectError(f"connection to the gRPC server at {self._target} given "
                                     f"up: {why}")
        if self._transport is not None:
            self._transport.close()
        self._shut(self._closing)

    def data_received(self, data: bytes) -> None:
        if self._chunks is not None:
            self._chunks.append(data)
            self._have += len(data)
            if self._have < self._need:
                return
            data = b"".join(self._chunks)
            self._chunks = None
        try:
            pos = self._frames(data)
        except _Abort as exc:
            self._abort(exc.code, str(exc))
            return
        if pos < len(data):
            rest = data[pos:]
            self._chunks, self._have = [rest], len(rest)
            self._need = 9 + ((rest[0] << 16) | (rest[1] << 8) | rest[2]) if len(rest) >= 9 else 9

    def _abort(self, code: int, message: str) -> None:
        if self.closed:
            return
        self._closing = ProtocolError(
            f"the gRPC server at {self._target} broke the HTTP/2 protocol: {message}")
        if self._transport is not None:
            self._transport.write(f.goaway(0, code, message.encode()[:200]))
            self._transport.close()
        self._shut(self._closing)

    # -- receiving ------------------------------------------------------------------------------
    def _frames(self, data: bytes) -> int:
        """Handle every whole frame in ``data``; return the offset of the first partial one.

        The frames of a typical response (HEADERS, DATA, trailers, the server's connection
        WINDOW_UPDATE) are handled inline; everything else goes through ``_control``."""
        pos, n = 0, len(data)
        unpack = f.HEAD.unpack_from
        hcache = self._hcache
        while n - pos >= 9:
            hi, lo, ftype, flags, sid = unpack(data, pos)
            if hi:  # over 65535 octets: over the 16384 we advertise (we never raise it)
                raise _Abort(f.FRAME_SIZE_ERROR, f"a frame of {(hi << 16) | lo} octets exceeds "
                             f"SETTINGS_MAX_FRAME_SIZE {f.DEFAULT_MAX_FRAME}")
            start = pos + 9
            end = start + lo
            if lo > f.DEFAULT_MAX_FRAME:
                raise _Abort(f.FRAME_SIZE_ERROR, f"a frame of {lo} octets exceeds "
                             f"SETTINGS_MAX_FRAME_SIZE {f.DEFAULT_MAX_FRAME}")
            if end > n:
                break
            pos = end
            sid &= f.MAX_STREAM_ID
            if ftype == f.HEADERS:
                if (flags | f.END_STREAM) != _PLAIN_HEADERS or self._continuation is not None:
                    self._headers(sid, flags, data[start:end])
                    continue
                block = data[start:end]
                summary = hcache.get(block)
                if summary is None:
                    summary = self._summarize(block)
                if flags & f.END_STREAM:
                    self._end(sid, summary)
                else:
                    self._rx_first[sid] = _clock()
                    if summary[0] != 200 and summary[0] is not None:
                        self._http_status[sid] = summary[0]
            elif ftype == f.DATA:
                self._recv_unacked += end - start
                if self._recv_unacked >= _REFILL:
                    self._refill()
                if self._bodies and sid in self._bodies:
                    self._body(sid, flags, data[start:end])
                if flags & f.END_STREAM:
                    self._fail(sid, ProtocolError("gRPC response ended without trailers"))
            elif ftype == f.WINDOW_UPDATE and sid == 0:
                self._send_window += _U32.unpack_from(data, start)[0] & f.MAX_WINDOW
                if self._waiters:
                    self._wake()
            else:
                self._control(ftype, flags, sid, data[start:end])
        return pos

    def _refill(self) -> None:
        assert self._transport is not None
        self._transport.write(f.window_update(0, self._recv_unacked))
        self._recv_unacked = 0

    def _body(self, sid: int, flags: int, payload: bytes) -> None:
        if flags & f.PADDED:
            payload = _unpad(payload)
        self._bodies[sid].append(payload)

    def _headers(self, sid: int, flags: int, payload: bytes) -> None:
        if self._continuation is not None:
            raise _Abort(f.PROTOCOL_ERROR, "HEADERS while a header block was incomplete")
        if flags & f.PADDED:
            payload = _unpad(payload)
        if flags & f.PRIORITY_FLAG:
            payload = payload[5:]
        if not flags & f.END_HEADERS:
            self._continuation = (sid, flags, [payload])
            return
        self._header_block(sid, flags & f.END_STREAM, payload)

    def _header_block(self, sid: int, end_stream: int, block: bytes) -> None:
        summary = self._hcache.get(block)
        if summary is None:
            summary = self._summarize(block)
        if end_stream:
            self._end(sid, summary)
        else:
            self._rx_first[sid] = _clock()
            if summary[0] != 200 and summary[0] is not None:
                self._http_status[sid] = summary[0]

    def _end(self, sid: int, summary: Summary) -> None:
        """The stream's last header block (trailers, or a trailers-only response) arrived;
        a successful call's receive time (its response headers to now) goes to ``recv_times``."""
        now = _clock()
        first = self._rx_first.pop(sid, now) if self._rx_first else now
        fut = self._streams.pop(sid, None)
        if fut is None:
            return
        self.answered += 1
        body = self._bodies.pop(sid, None) if self._bodies else None
        status, code, message = summary
        if code == 0 and not self._http_status:
            if not fut.done():
                self.recv_times[sid] = now - first
                if body is None:
                    fut.set_result(None)
                else:
                    _set_message(fut, body)
        else:
            status = self._http_status.pop(sid, status)
            if not fut.done():
                fut.set_exception(self._status_error(code, message, status))
        if self._send_windows and sid in self._send_windows and self._transport is not None:
            # answered while we were still sending: end our half too (RFC 9113 8.1)
            self._transport.write(f.rst_stream(sid, f.NO_ERROR))
        if self._waiters or not self.usable:
            self._stream_closed()

    def _summarize(self, block: bytes) -> Summary:
        try:
            headers = self._decoder.decode(block)
        except HpackError as exc:
            raise _Abort(f.COMPRESSION_ERROR, f"bad header block: {exc}") from exc
        status: int | None = None
        code: int | None = None
        message = ""
        for name, value in headers:
            if name == ":status":
                status = int(value) if value.isdigit() else 0
            elif name == "grpc-status":
                code = int(value) if value.isdigit() else 2
            elif name == "grpc-message":
                message = unquote(value, errors="replace")
        summary = (status, code, message)
        if self._decoder.mutated:
            self._hcache.clear()  # indices moved: cached decodings are stale
        elif len(self._hcache) < 64:
            self._hcache[block] = summary
        return summary

    def _control(self, ftype: int, flags: int, sid: int, payload: bytes) -> None:
        handler = _CONTROL.get(ftype)
        if handler is not None:
            handler(self, flags, sid, payload)

    def _on_continuation(self, flags: int, sid: int, payload: bytes) -> None:
        pending = self._continuation
        if pending is None or pending[0] != sid:
            raise _Abort(f.PROTOCOL_ERROR, "unexpected CONTINUATION")
        pending[2].append(payload)
        if flags & f.END_HEADERS:
            self._continuation = None
            self._header_block(sid, pending[1] & f.END_STREAM, b"".join(pending[2]))

    def _on_rst(self, flags: int, sid: int, payload: bytes) -> None:
        code = f.u32(payload)
        name = f.ERROR_NAMES.get(code, hex(code))
        exc: Exception
        if code == f.REFUSED_STREAM:
            exc = Refused(answered=self.answered)
        elif code == f.CANCEL:
            exc = RequestCancelled("the server cancelled the stream (RST_STREAM CANCEL)")
        else:
            exc = self._status_error(f.RST_TO_GRPC.get(code, 13),
                                     f"stream reset by the server ({name})", None)
        self._fail(sid, exc)

    def _on_settings(self, flags: int, sid: int, payload: bytes) -> None:
        if flags & f.ACK:
            return
        try:
            values = f.parse_settings(payload)
        except ValueError as exc:
            raise _Abort(f.FRAME_SIZE_ERROR, str(exc)) from exc
        window = values.get(f.SETTINGS_INITIAL_WINDOW_SIZE)
        if window is not None:
            if window > f.MAX_WINDOW:
                raise _Abort(f.FLOW_CONTROL_ERROR, "initial window size too large")
            delta, self._peer_window = window - self._peer_window, window
            for key in self._send_windows:
                self._send_windows[key] += delta
        if f.SETTINGS_MAX_FRAME_SIZE in values:
            self._peer_max_frame = values[f.SETTINGS_MAX_FRAME_SIZE]
            self._wires.clear()
        self._peer_max_streams = values.get(f.SETTINGS_MAX_CONCURRENT_STREAMS,
                                            self._peer_max_streams)
        assert self._transport is not None
        self._transport.write(f.SETTINGS_ACK)
        if not self.ready.done():
            self.ready.set_result(None)
        self._wake()

    def _on_ping(self, flags: int, sid: int, payload: bytes) -> None:
        if flags & f.ACK:
            if self._keepalive is not None:
                self._keepalive.acked(payload)
        elif self._transport is not None:
            self._transport.write(f.frame(f.PING, f.ACK, 0, payload))

    def _on_goaway(self, flags: int, sid: int, payload: bytes) -> None:
        last = f.u32(payload) & f.MAX_STREAM_ID
        code = f.u32(payload, 4)
        self.usable = False
        if code != f.NO_ERROR:
            debug = payload[8:].decode("utf-8", "replace")
            self._goaway = f" (GOAWAY {f.ERROR_NAMES.get(code, hex(code))}: {debug})"
        for stream in [s for s in self._streams if s > last]:
            self._fail(stream, Refused(answered=self.answered))
        if not self._streams:
            self.close("server sent GOAWAY")
        self._wake()

    def _on_window_update(self, flags: int, sid: int, payload: bytes) -> None:
        increment = f.u32(payload) & f.MAX_WINDOW
        if sid == 0:
            self._send_window += increment
        elif sid in self._send_windows:
            self._send_windows[sid] += increment
        if self._waiters:
            self._wake()

    def _on_push_promise(self, flags: int, sid: int, payload: bytes) -> None:
        raise _Abort(f.PROTOCOL_ERROR, "PUSH_PROMISE although push is disabled")


def _set_message(fut: asyncio.Future[Any], body: list[bytes]) -> None:
    """Resolve ``fut`` with the one length-prefixed gRPC message in ``body`` (the DATA frames'
    payloads), copying the message once; a compressed message (gzip or deflate, the encodings
    the channel accepts) is decompressed."""
    if body and len(body[0]) < 5:
        body = [b"".join(body)]
    head = body[0] if body else b""
    size = sum(len(part) for part in body) - 5
    if len(head) < 5 or head[0] > 1 or f.u32(head, 1) != size:
        fut.set_exception(ProtocolError("the gRPC response body is not one gRPC message"))
        return
    body[0] = head[5:]
    message = b"".join(body) if len(body) > 1 else body[0]
    if head[0] == 1:
        try:  # gRPC's gzip is RFC 1952, its deflate RFC 1950 (zlib): wbits 32+ reads both
            message = zlib.decompress(message, 32 + zlib.MAX_WBITS)
        except zlib.error as exc:
            fut.set_exception(ProtocolError(f"the gRPC response message cannot be "
                                            f"decompressed (gzip or deflate): {exc}"))
            return
    fut.set_result(message)


def _unpad(payload: bytes) -> bytes:
    pad = payload[0] if payload else 0
    if pad >= len(payload):
        raise _Abort(f.PROTOCOL_ERROR, "padding longer than the frame")
    return payload[1:len(payload) - pad]


_CONTROL: dict[int, Callable[[Connection, int, int, bytes], None]] = {
    f.RST_STREAM: Connection._on_rst,
    f.SETTINGS: Connection._on_settings,
    f.PING: Connection._on_ping,
    f.GOAWAY: Connection._on_goaway,
    f.WINDOW_UPDATE: Connection._on_window_update,
    f.CONTINUATION: Connection._on_continuation,
    f.PUSH_PROMISE: Connection._on_push_promise,
}
