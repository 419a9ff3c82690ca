"""The lean gRPC channel (perfanalyzer/client/h2/) against a scripted, misbehaving HTTP/2 server
built on the ``h2`` library, on loopback: padding, CONTINUATION frames, frames over our
SETTINGS_MAX_FRAME_SIZE, a flow-control window never reopened, GOAWAY mid-call, RST_STREAM.
Every case ends in a correct result or a clear ClientError: never a hang (every wait has a
deadline) and never another exception."""

from __future__ import annotations

import asyncio
import logging
import struct
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import pytest
from hyperframe.frame import ContinuationFrame, DataFrame, GoAwayFrame, HeadersFrame

from perfanalyzer.client.h2 import LeanChannel
from perfanalyzer.errors import (
    ClientError,
    ConnectError,
    ProtocolError,
    RequestTimeout,
    ServerError,
)
from tests.support.aio import aio_within

DEADLINE_S = 10.0  # for the test's own waits: a hang fails the test, it never blocks the suite
MESSAGE = b"the answer"
RESPONSE_HEADERS = [(":status", "200"), ("content-type", "application/grpc")]
TRAILERS = [("grpc-status", "0")]


@pytest.fixture(autouse=True)
def no_tracebacks(caplog: pytest.LogCaptureFixture) -> Any:
    """Nothing logged by the event loop (unhandled callback or task errors, on either side)."""
    yield
    assert [r.getMessage() for r in caplog.records
            if r.name == "asyncio" and r.levelno >= logging.ERROR] == []


def grpc_message(body: bytes) -> bytes:
    return b"\x00" + struct.pack(">L", len(body)) + body


class Server(asyncio.Protocol):
    """One server connection; ``script(server, stream_id)`` runs when a request is complete.
    ``ack_data``: reopen the flow-control windows for what was received (False: never)."""

    def __init__(self, script: Callable[[Server, int], None], ack_data: bool = True) -> None:
        self.script = script
        self.ack_data = ack_data
        self.h2 = h2.connection.H2Connection(h2.config.H2Configuration(
            client_side=False, header_encoding="utf-8", validate_inbound_headers=False))
        self.transport: asyncio.Transport | None = None
        self.calls = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.h2.initiate_connection()
        self.flush()

    def data_received(self, data: bytes) -> None:
        try:
            events = self.h2.receive_data(data)
        except h2.exceptions.ProtocolError:
            self.close()
            return
        for ev in events:
            if isinstance(ev, h2.events.DataReceived) and self.ack_data:
                self.h2.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
            elif isinstance(ev, h2.events.StreamEnded):
                self.calls += 1
                self.flush()
                self.script(self, ev.stream_id)
        self.flush()

    def flush(self) -> None:
        out = self.h2.data_to_send()
        if out and self.transport is not None and not self.transport.is_closing():
            self.transport.write(out)

    def raw(self, data: bytes) -> None:
        self.flush()  # h2's own frames first: its HPACK state must reach the peer in order
        assert self.transport is not None
        self.transport.write(data)

    def block(self, headers: list[tuple[str, str]]) -> bytes:
        return bytes(self.h2.encoder.encode(headers))

    def answer(self, sid: int, body: bytes = MESSAGE, pad: int = 0) -> None:
        """A complete, correct gRPC answer (DATA padded with ``pad`` octets)."""
        self.h2.send_headers(sid, RESPONSE_HEADERS)
        self.h2.send_data(sid, grpc_message(body), pad_length=pad or None)
        self.h2.send_headers(sid, TRAILERS, end_stream=True)
        self.flush()

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


@asynccontextmanager
async def serving(script: Callable[[Server, int], None], **kw: Any) -> AsyncIterator[
        tuple[LeanChannel, list[Server]]]:
    servers: list[Server] = []

    def factory() -> Server:
        servers.append(Server(script, **kw))
        return servers[-1]

    srv = await asyncio.get_running_loop().create_server(factory, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    channel = LeanChannel(f"127.0.0.1:{port}", "/inference.GRPCInferenceService/ModelInfer",
                          connect_timeout_s=5, request_timeout_s=1)
    try:
        yield channel, servers
    finally:
        await asyncio.wait_for(channel.close(), DEADLINE_S)
        for s in servers:
            s.close()
        srv.close()
        await asyncio.wait_for(srv.wait_closed(), DEADLINE_S)


aio = aio_within(2 * DEADLINE_S)


async def call(channel: LeanChannel, payload: bytes = b"req") -> bytes | None:
    return await asyncio.wait_for(channel.unary(payload, want_body=True), DEADLINE_S)


# -- correct answers in unusual framing ------------------------------------------------------------

@aio
async def test_padded_data_and_padded_headers() -> None:
    def script(s: Server, sid: int) -> None:
        head = HeadersFrame(sid, data=s.block(RESPONSE_HEADERS), pad_length=7,
                            flags=["END_HEADERS", "PADDED"])
        data = DataFrame(sid, data=grpc_message(MESSAGE), pad_length=200, flags=["PADDED"])
        tail = HeadersFrame(sid, data=s.block(TRAILERS), pad_length=1,
                            flags=["END_HEADERS", "END_STREAM", "PADDED"])
        s.raw(head.serialize() + data.serialize() + tail.serialize())

    async with serving(script) as (channel, _):
        assert await call(channel) == MESSAGE
        assert await call(channel) == MESSAGE  # the connection is still in step


@aio
async def test_headers_split_into_continuation_frames() -> None:
    def script(s: Server, sid: int) -> None:
        block = s.block([*RESPONSE_HEADERS, ("x-long", "v" * 300)])
        step = max(1, len(block) // 3)  # (at least 2 parts even once HPACK indexed it all)
        parts = [block[i:i + step] for i in range(0, len(block), step)]
        frames = HeadersFrame(sid, data=parts[0]).serialize()
        for i, part in enumerate(parts[1:], 2):
            frames += ContinuationFrame(sid, data=part,
                                        flags=["END_HEADERS"] if i == len(parts) else []
                                        ).serialize()
        frames += DataFrame(sid, data=grpc_message(MESSAGE)).serialize()
        tb = s.block(TRAILERS)
        frames += HeadersFrame(sid, data=tb[:1], flags=["END_STREAM"]).serialize()
        frames += ContinuationFrame(sid, data=tb[1:], flags=["END_HEADERS"]).serialize()
        s.raw(frames)

    async with serving(script) as (channel, _):
        assert await call(channel) == MESSAGE
        assert await call(channel) == MESSAGE


@aio
async def test_data_padding_through_the_h2_library() -> None:
    async with serving(lambda s, sid: s.answer(sid, pad=255)) as (channel, _):
        assert await call(channel) == MESSAGE


# -- protocol errors: a clear error, never a hang --------------------------------------------------

@aio
async def test_frame_over_our_max_frame_size_is_a_protocol_error() -> None:
    def script(s: Server, sid: int) -> None:
        s.h2.send_headers(sid, RESPONSE_HEADERS)
        s.raw(DataFrame(sid, data=grpc_message(b"x" * 20_000)).serialize())  # > 16384

    async with serving(script) as (channel, _):
        with pytest.raises(ProtocolError, match="exceeds SETTINGS_MAX_FRAME_SIZE 16384"):
            await call(channel)


@aio
async def test_padding_longer_than_the_frame_is_a_protocol_error() -> None:
    def script(s: Server, sid: int) -> None:
        s.h2.send_headers(sid, RESPONSE_HEADERS)
        # a PADDED DATA frame whose pad length (200) exceeds its payload
        s.raw(struct.pack(">BHBBL", 0, 3, 0, 0x8, sid) + b"\xc8ab")

    async with serving(script) as (channel, _):
        with pytest.raises(ProtocolError, match="padding"):
            await call(channel)


@aio
async def test_continuation_for_another_stream_is_a_protocol_error() -> None:
    def script(s: Server, sid: int) -> None:
        block = s.block(RESPONSE_HEADERS)
        s.raw(HeadersFrame(sid, data=block[:1]).serialize()
              + ContinuationFrame(sid + 2, data=block[1:], flags=["END_HEADERS"]).serialize())

    async with serving(script) as (channel, _):
        with pytest.raises(ProtocolError, match="CONTINUATION"):
            await call(channel)


# -- flow control, GOAWAY, RST_STREAM --------------------------------------------------------------

@aio
async def test_flow_control_window_never_reopened_ends_by_the_call_timeout() -> None:
    async with serving(lambda s, sid: s.answer(sid), ack_data=False) as (channel, servers):
        big = b"x" * 200_000  # over the 65535-octet initial windows, which are never reopened
        with pytest.raises(RequestTimeout, match="1 s"):
            await call(channel, big)
        assert servers[0].calls == 0


@aio
async def test_goaway_mid_call_for_a_processed_stream_is_a_connect_error() -> None:
    def script(s: Server, sid: int) -> None:
        s.h2.send_headers(sid, RESPONSE_HEADERS)
        s.h2.close_connection(error_code=2, additional_data=b"going down",
                              last_stream_id=sid)
        s.flush()
        s.close()

    async with serving(script) as (channel, _):
        with pytest.raises(ConnectError, match="GOAWAY INTERNAL_ERROR: going down"):
            await call(channel)


@aio
async def test_goaway_for_an_unprocessed_stream_is_sent_again() -> None:
    def script(s: Server, sid: int) -> None:
        if s.calls == 1 and s is first[0]:
            s.h2.close_connection(error_code=0, last_stream_id=0)  # never processed it
            s.flush()
        else:
            s.answer(sid)

    first: list[Server] = []
    async with serving(script) as (channel, servers):
        await channel.connect()
        first.append(servers[0])
        assert await call(channel) == MESSAGE
        assert len(servers) == 2 and channel.opened == 2


@aio
async def test_graceful_goaway_still_answers_the_call_in_flight() -> None:
    def script(s: Server, sid: int) -> None:
        s.h2.send_headers(sid, RESPONSE_HEADERS)
        s.raw(GoAwayFrame(0, last_stream_id=sid, error_code=0).serialize())  # mid-answer
        s.h2.send_data(sid, grpc_message(MESSAGE))
        s.h2.send_headers(sid, TRAILERS, end_stream=True)
        s.flush()

    async with serving(script) as (channel, _):
        assert await call(channel) == MESSAGE
        assert await call(channel) == MESSAGE  # on a new connection


@pytest.mark.parametrize(("code", "error", "match"), [
    (2, ServerError, "INTERNAL"),  # INTERNAL_ERROR
    (0xB, ServerError, "RESOURCE_EXHAUSTED"),  # ENHANCE_YOUR_CALM
    (8, ClientError, "cancelled"),  # CANCEL
])
def test_rst_stream_is_a_clear_error(code: int, error: type[Exception], match: str) -> None:
    @aio
    async def go() -> None:
        def script(s: Server, sid: int) -> None:
            s.h2.send_headers(sid, RESPONSE_HEADERS)
            s.h2.reset_stream(sid, error_code=code)
            s.flush()

        async with serving(script) as (channel, _):
            with pytest.raises(error, match=match):
                await call(channel)
            with pytest.raises(error, match=match):
                await call(channel)  # the connection survives a stream reset

    go()


@aio
async def test_refused_stream_is_sent_again() -> None:
    def script(s: Server, sid: int) -> None:
        if s.calls == 1:
            s.h2.reset_stream(sid, error_code=7)  # REFUSED_STREAM: not processed
            s.flush()
        else:
            s.answer(sid)

    async with serving(script) as (channel, servers):
        assert await call(channel) == MESSAGE
        assert sum(s.calls for s in servers) == 2


@aio
async def test_refusals_give_up_only_without_progress() -> None:
    """A server refusing every stream is given up on after MAX_ATTEMPTS refusals in a row; one
    refusing each stream once while it answers others (grpcio's back-pressure) never is."""
    from perfanalyzer.client.h2.channel import MAX_ATTEMPTS

    def refuse_all(s: Server, sid: int) -> None:
        s.h2.reset_stream(sid, error_code=7)
        s.flush()

    async with serving(refuse_all) as (channel, servers):
        with pytest.raises(ConnectError, match=f"{MAX_ATTEMPTS} in a row"):
            await call(channel)
        assert sum(s.calls for s in servers) == MAX_ATTEMPTS

    def refuse_most(s: Server, sid: int) -> None:  # MAX_ATTEMPTS - 1 refused, one answered, ...
        if s.calls % MAX_ATTEMPTS:
            s.h2.reset_stream(sid, error_code=7)
            s.flush()
        else:
            s.answer(sid)

    async with serving(refuse_most) as (channel, _):
        answers = await asyncio.gather(*(call(channel) for _ in range(3 * MAX_ATTEMPTS)))
        assert answers == [MESSAGE] * (3 * MAX_ATTEMPTS)


@aio
async def test_server_that_never_answers_ends_by_the_call_timeout() -> None:
    async with serving(lambda s, sid: None) as (channel, _):
        with pytest.raises(RequestTimeout):
            await call(channel)
