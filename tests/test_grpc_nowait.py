"""The lean gRPC channel's call without a coroutine (``LeanChannel.send_nowait``, the open loop's
hot path) against grpcio's server: answers and errors through the callback as ``exchange`` gives
them, refused calls sent again and answered once, the request timeout, the cancel the drain uses,
and a close with calls in flight."""

from __future__ import annotations

import asyncio
from typing import Any

from perfanalyzer.client.base import ClientOptions
from perfanalyzer.client.grpc import GrpcClient
from perfanalyzer.client.h2 import LeanChannel
from perfanalyzer.client.h2 import frames as fr
from perfanalyzer.errors import RequestCancelled, RequestTimeout, ServerError
from tests.support.aio import aio
from tests.support.grpc_calls import INFER, Recorder, grpc_server, lean_connection
from tests.support.infer_requests import ADD_SUB
from tests.support.scripted import Answers


async def _running(state: dict[str, Any], calls: int) -> None:
    async with asyncio.timeout(5.0):
        while state["calls"] < calls or not state["active"]:
            await asyncio.sleep(0.001)


@aio
async def test_answers_refusals_and_errors_come_through_the_callback() -> None:
    async with grpc_server(delay_s=0.05) as (port, state):
        channel = LeanChannel(f"127.0.0.1:{port}", INFER)
        answers = Answers()
        try:
            assert not channel.send_nowait(b"", answers, 0, 0)  # not connected yet
            conn = await lean_connection(channel)
            for i in range(1, 21):
                assert channel.send_nowait(b"", answers, i, 0)
            await answers.wait(20)
            assert all(answers.answer(i).__class__ is tuple and len(answers.answer(i)) == 2
                       for i in range(1, 21))
            assert state["calls"] == 20 and channel.opened == 1 and not conn._streams
            # refused (GOAWAY: not processed): sent again on a new connection, answered once
            assert channel.send_nowait(b"", answers, 21, 0)
            await _running(state, 21)
            conn.data_received(fr.goaway(0, fr.NO_ERROR))
            await answers.wait(21)
            assert answers.answer(21).__class__ is tuple
            assert channel.opened == 2 and conn.closed and state["calls"] == 22
            second = channel._conns[0]
            assert second is not None
            assert channel.send_nowait(b"", answers, 22, 0)
            await _running(state, 23)
            second.data_received(fr.rst_stream(second._next_id - 2, fr.INTERNAL_ERROR))
            await answers.wait(22)
            err = answers.answer(22)
            assert isinstance(err, ServerError) and err.status == "INTERNAL"
            assert channel.cancel_nowait() == 0
        finally:
            await channel.close()


@aio
async def test_the_timeout_resets_the_stream_and_the_cancel_calls_nothing_back() -> None:
    async with grpc_server(delay_s=0.3) as (port, _state):
        channel = LeanChannel(f"127.0.0.1:{port}", INFER, request_timeout_s=0.02,
                              deadline_header=False)
        answers = Answers()
        try:
            conn = await lean_connection(channel)
            rec = Recorder(conn)
            loop = asyncio.get_running_loop()
            t0 = loop.time()
            assert channel.send_nowait(b"", answers, 1, 0)
            await answers.wait(1)
            assert isinstance(answers.answer(1), RequestTimeout)
            assert "0.02 s" in str(answers.answer(1))
            assert 0.02 <= loop.time() - t0 < 0.25
            assert [(f[2], fr.u32(f[3])) for f in rec.of(fr.RST_STREAM)] == [(1, fr.CANCEL)]
            assert not conn._streams and not channel._nowait
            # the cancel (a drain past its deadline): reset, and never called back
            assert channel.send_nowait(b"", answers, 2, 0)
            assert channel.cancel_nowait() == 1
            assert [f[2] for f in rec.of(fr.RST_STREAM)] == [1, 3]
            await asyncio.sleep(0.4)  # past the server's answer time
            assert set(answers.got) == {1} and not conn.closed and channel.opened == 1
        finally:
            await channel.close()


@aio
async def test_a_close_fails_the_calls_in_flight_and_the_client_says_when_it_cannot() -> None:
    async with grpc_server(delay_s=0.3) as (port, _state):
        channel = LeanChannel(f"127.0.0.1:{port}", INFER)
        answers = Answers()
        await lean_connection(channel)
        assert channel.send_nowait(b"", answers, 1, 0)
        await channel.close()
        await answers.wait(1)
        assert isinstance(answers.answer(1), RequestCancelled)
        hooked = GrpcClient(ClientOptions(url=f"127.0.0.1:{port}", auth=lambda h: None))
        aio_client = GrpcClient(ClientOptions(url=f"127.0.0.1:{port}", grpc_transport="grpcio"))
        try:
            assert hooked._lean is not None
            await lean_connection(hooked._lean)
            # metadata made per call: awaited; grpc.aio: no lean channel
            assert not hooked.send_nowait(hooked.prepare(ADD_SUB), answers, 2, 0)
            assert not aio_client.send_nowait(aio_client.prepare(ADD_SUB), answers, 3, 0)
            assert hooked.cancel_nowait() == aio_client.cancel_nowait() == 0
        finally:
            await hooked.close()
            await aio_client.close()
