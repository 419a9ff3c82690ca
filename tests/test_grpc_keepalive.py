"""--grpc-keepalive-time / --grpc-keepalive-timeout and --grpc-channel-arg: keepalive PINGs on
both gRPC transports (the lean channel's own, grpcio's channel arguments), a connection whose
PING goes unanswered given up, and channel arguments that reach grpc.aio."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from perfanalyzer.cli.main import cli, profile_config
from perfanalyzer.client import _convert
from perfanalyzer.client.grpc import GrpcClient
from perfanalyzer.client.h2 import LeanChannel
from perfanalyzer.errors import ConnectError
from perfanalyzer.profile.settings import client_options
from tests.support.aio import aio
from tests.support.grpc_calls import INFER, grpc_server, lean_connection, payload
from tests.support.infer_requests import ADD_SUB

DEADLINE_S = 20.0  # the test's own waits: a hang fails the test, never blocks the suite
#: A grpcio server that lets clients PING as often as they like.
PING_FRIENDLY = [("grpc.keepalive_permit_without_calls", 1),
                 ("grpc.http2.min_ping_interval_without_data_ms", 1),
                 ("grpc.http2.max_ping_strikes", 0)]


def _cfg(*args: str) -> Any:
    return profile_config(cli.commands["profile"].make_context("profile", ["-m", "m", *args]
                                                               ).params)


@aio
async def test_lean_channel_pings_and_keeps_the_connection() -> None:
    async with grpc_server(PING_FRIENDLY) as (port, state):
        cfg = _cfg("-i", "grpc", "-u", f"127.0.0.1:{port}", "--grpc-keepalive-time", "100",
                   "--grpc-keepalive-timeout", "5000")
        async with GrpcClient(client_options(cfg)) as c:
            assert c.transport == "grpc-lean"
            prepared = c.prepare(ADD_SUB)
            await c.send(prepared)
            assert c._lean is not None
            conn = await lean_connection(c._lean)
            assert conn._keepalive is not None
            deadline = time.monotonic() + DEADLINE_S
            # a PING is sent again only once the last one was acknowledged
            while conn._keepalive.pings < 3 and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            assert conn._keepalive.pings >= 3
            assert conn.usable
            await c.send(prepared)
            assert c._lean.opened == 1 and state["calls"] == 2


@aio
async def test_an_unanswered_ping_gives_the_connection_up() -> None:
    """A server that completes the HTTP/2 handshake and then stays silent: the pending call
    fails with ConnectError naming the keepalive, instead of waiting forever."""
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"\x00\x00\x00\x04\x00\x00\x00\x00\x00")  # an empty SETTINGS frame
        await writer.drain()
        while await reader.read(65536):
            pass
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    channel = LeanChannel(f"127.0.0.1:{port}", INFER, keepalive_s=(0.1, 0.2))
    try:
        with pytest.raises(ConnectError, match=r"keepalive PING within 0\.2 s"):
            await asyncio.wait_for(channel.unary(payload(ADD_SUB)), DEADLINE_S)
    finally:
        await channel.close()
        server.close()
        await server.wait_closed()


@aio
async def test_channel_args_and_keepalive_reach_grpcio() -> None:
    async with grpc_server(PING_FRIENDLY) as (port, state):
        cfg = _cfg("-i", "grpc", "-u", f"127.0.0.1:{port}", "--grpc-keepalive-time", "100",
                   "--grpc-channel-arg", "grpc.primary_user_agent=pa-channel-arg-test",
                   "--grpc-channel-arg", "grpc.max_send_message_length=-1")
        opts = client_options(cfg)
        args = dict(_convert.channel_args(opts))
        assert args["grpc.keepalive_time_ms"] == 100
        assert args["grpc.keepalive_timeout_ms"] == 20000
        assert args["grpc.max_send_message_length"] == -1
        async with GrpcClient(opts) as c:
            assert c.transport == "grpcio"  # channel arguments are grpc.aio's
            await c.send(c.prepare(ADD_SUB))
        assert state["meta"][0]["user-agent"].startswith("pa-channel-arg-test")


@pytest.mark.parametrize(("args", "message"), [
    (["--grpc-keepalive-time", "100"], "--grpc-keepalive-time: gRPC only"),
    (["-i", "grpc", "--grpc-keepalive-timeout", "100"], "needs --grpc-keepalive-time"),
    (["-i", "grpc", "--grpc-transport", "lean", "--grpc-channel-arg", "a=1"],
     "the lean transport has none"),
    (["-i", "grpc", "--grpc-channel-arg", "novalue"], "expected NAME=VALUE"),
])
def test_refusals(args: list[str], message: str) -> None:
    from perfanalyzer.errors import OptionError

    with pytest.raises(OptionError, match=message):
        _cfg(*args)
