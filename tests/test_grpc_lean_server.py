"""The lean gRPC channel against a grpcio server (grpc core's own HTTP/2 stack) for what Triton
cannot be made to do on demand: GOAWAY and refused streams, max connection age, stream limits,
keepalive pings, metadata and auth hooks."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from perfanalyzer.client.base import ClientOptions
from perfanalyzer.client.grpc import GrpcClient
from perfanalyzer.client.h2 import LeanChannel
from perfanalyzer.client.h2 import frames as fr
from perfanalyzer.errors import RequestCancelled, ServerError
from tests.support.aio import aio
from tests.support.grpc_calls import INFER, grpc_server, lean_connection
from tests.support.infer_requests import ADD_SUB

# -- no Triton needed -----------------------------------------------------------------------------

async def started(state: dict[str, Any], calls: int) -> None:
    while state["calls"] < calls or not state["active"]:
        await asyncio.sleep(0.001)


@aio
async def test_goaway_and_refused_streams_are_sent_again() -> None:
    """GOAWAY / RST_STREAM frames injected as if the server had sent them, while the server
    really runs the call: refused calls run again on a new connection / a new stream."""
    async with grpc_server(delay_s=0.05) as (port, state):
        channel = LeanChannel(f"127.0.0.1:{port}", INFER)
        try:
            conn = await lean_connection(channel)
            task = asyncio.ensure_future(channel.unary(b""))
            await started(state, 1)
            conn.data_received(fr.goaway(0, fr.NO_ERROR))  # stream 1 was not processed
            assert await task is None
            assert channel.opened == 2 and conn.closed and state["calls"] == 2
            second = channel._conns[0]
            assert second is not None
            task = asyncio.ensure_future(channel.unary(b""))
            await started(state, 3)
            second.data_received(fr.rst_stream(3, fr.REFUSED_STREAM))
            assert await task is None and channel.opened == 2  # same connection, stream 5
            task = asyncio.ensure_future(channel.unary(b""))
            await started(state, 5)
            second.data_received(fr.rst_stream(7, fr.INTERNAL_ERROR))
            with pytest.raises(ServerError, match="INTERNAL_ERROR") as err:
                await task
            assert err.value.status == "INTERNAL"
        finally:
            await channel.close()
        assert state["calls"] == 5


@aio
async def test_goaway_at_max_connection_age_reconnects() -> None:
    options = [("grpc.max_connection_age_ms", 150), ("grpc.max_connection_age_grace_ms", 5000)]
    async with grpc_server(options) as (port, state):
        channel = LeanChannel(f"127.0.0.1:{port}", INFER)
        sent, end = 0, time.monotonic() + 1.0
        try:
            while time.monotonic() < end:
                await asyncio.gather(*(channel.unary(b"") for _ in range(4)))
                sent += 4
        finally:
            await channel.close()
        assert state["calls"] == sent
        assert channel.opened >= 3 and len(state["peers"]) == channel.opened


@aio
async def test_max_concurrent_streams_is_respected() -> None:
    async with grpc_server([("grpc.max_concurrent_streams", 4)], delay_s=0.01) as (port, state):
        channel = LeanChannel(f"127.0.0.1:{port}", INFER)
        try:
            conn = await lean_connection(channel)
            assert conn._peer_max_streams == 4
            await asyncio.gather(*(channel.unary(b"") for _ in range(40)))
        finally:
            await channel.close()
        assert state["calls"] == 40 and state["peak"] <= 4 and channel.opened == 1


@aio
async def test_keepalive_pings_are_answered() -> None:
    options = [("grpc.keepalive_time_ms", 100), ("grpc.keepalive_timeout_ms", 200),
               ("grpc.keepalive_permit_without_calls", 1),
               ("grpc.http2.max_pings_without_data", 0),
               ("grpc.http2.min_ping_interval_without_data_ms", 50)]
    async with grpc_server(options) as (port, state):
        channel = LeanChannel(f"127.0.0.1:{port}", INFER)
        try:
            conn = await lean_connection(channel)
            pings: list[int] = []
            receive = conn.data_received

            def counting(data: bytes) -> None:
                pos = 0
                while pos + 9 <= len(data):
                    hi, lo, ftype, flags, _sid = fr.HEAD.unpack_from(data, pos)
                    if ftype == fr.PING and not flags & fr.ACK:
                        pings.append(1)
                    pos += 9 + ((hi << 16) | lo)
                receive(data)

            conn.data_received = counting  # type: ignore[method-assign]
            await channel.unary(b"")
            await asyncio.sleep(1.0)
            await channel.unary(b"")
        finally:
            await channel.close()
        assert len(pings) >= 3  # the server pinged while idle ...
        assert channel.opened == 1 and state["calls"] == 2  # ... and kept the connection


@aio
async def test_metadata_and_auth_hook_and_round_robin() -> None:
    tokens = iter(range(1, 100))

    def hook(headers: dict[str, str]) -> None:
        headers["X-Token"] = f"t{next(tokens)}"

    async with grpc_server() as (port, state):
        opts = ClientOptions(url=f"127.0.0.1:{port}", headers={"X-Run": "r1"}, auth=hook,
                             connections=3)
        c = GrpcClient(opts)
        async with c:
            assert c._lean is not None
            prepared = c.prepare(ADD_SUB)
            for _ in range(6):
                await c.send(prepared)
            assert c._lean.opened == 3
        assert [(m["x-run"], m["x-token"]) for m in state["meta"]] == [
            ("r1", f"t{i}") for i in range(1, 7)]
        assert all(m["user-agent"].startswith("perfanalyzer-grpc-lean") for m in state["meta"])
        assert len(state["peers"]) == 3


@aio
async def test_close_fails_calls_in_flight() -> None:
    async with grpc_server(delay_s=5.0) as (port, _state):
        channel = LeanChannel(f"127.0.0.1:{port}", INFER)
        task = asyncio.ensure_future(channel.unary(b""))
        await asyncio.sleep(0.2)
        await channel.close()
        with pytest.raises(RequestCancelled):
            await task
