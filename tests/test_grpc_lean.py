"""The lean gRPC hot path (perfanalyzer/client/h2): LeanChannel and GrpcClient.send over it.

Against the real Triton (``triton`` fixture) wherever it can show the behaviour; an in-process
grpcio server (grpc core's own HTTP/2 stack) for what Triton cannot be made to do on demand:
GOAWAY after a maximum connection age, SETTINGS_MAX_CONCURRENT_STREAMS, keepalive PINGs, and
recording the metadata that arrived. Frames the client writes are recorded by wrapping the
connection's transport.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import numpy as np
import pytest

from perfanalyzer._proto import grpc_service_pb2 as pb
from perfanalyzer.client import _convert
from perfanalyzer.client.base import ClientOptions, InferRequest, InputTensor, TlsOptions
from perfanalyzer.client.grpc import GrpcClient
from perfanalyzer.client.h2 import LeanChannel
from perfanalyzer.client.h2 import frames as fr
from perfanalyzer.client.h2.headers import Decoder
from perfanalyzer.errors import (
    ClientError,
    ConnectError,
    OptionError,
    RequestCancelled,
    RequestTimeout,
    ServerError,
)
from perfanalyzer.server.launcher import free_port as _free_port
from tests.support.aio import aio
from tests.support.grpc_calls import INFER, Recorder, lean_connection, payload
from tests.support.infer_requests import ADD_SUB, DELAY, A, B
from tests.support.paths import TEST_MODELS

server = pytest.mark.server


def add_sub(a: np.ndarray) -> InferRequest:
    return InferRequest(model="add_sub", inputs=(InputTensor.from_numpy("INPUT0", a),
                                                 InputTensor.from_numpy("INPUT1", B)))


async def success_count(c: GrpcClient, model: str) -> int:
    (entry,) = await c.model_statistics(model, "1")
    assert entry.get("fail").count == 0
    return int(entry.get("success").count)


async def success_delta(c: GrpcClient, model: str, before: int, want: int) -> int:
    """Successes since ``before``. Triton counts a request a little after its response left
    (longer on a loaded machine), so wait (5 s at most) for ``want``, then once more."""
    deadline = time.monotonic() + 5.0
    while await success_count(c, model) - before < want and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.05)
    return await success_count(c, model) - before


@asynccontextmanager
async def client(url: str, **options: Any) -> AsyncIterator[GrpcClient]:
    c = GrpcClient(ClientOptions(url=url, **options))
    try:
        yield c
    finally:
        await c.close()


# -- Triton ---------------------------------------------------------------------------------------

@server
@aio
async def test_send_is_lean_and_many_concurrent_streams_share_one_connection(triton: Any) -> None:
    n = 500
    async with client(triton.grpc_url) as c:
        assert isinstance(c._lean, LeanChannel)
        prepared = c.prepare(ADD_SUB)
        before = await success_count(c, "add_sub")
        await asyncio.gather(*(c.send(prepared) for _ in range(n)))
        assert await success_delta(c, "add_sub", before, n) == n
        conn = c._lean._conns[0]
        assert c._lean.opened == 1 and conn is not None
        assert conn._next_id == 2 * n + 1 and not conn._streams


@server
@aio
async def test_concurrent_responses_reach_their_own_callers(triton: Any) -> None:
    inputs = [np.full((1, 16), i, dtype=np.int32) for i in range(64)]
    channel = LeanChannel(triton.grpc_url, INFER)
    try:
        bodies = await asyncio.gather(*(channel.unary(payload(add_sub(a)), want_body=True)
                                        for a in inputs))
    finally:
        await channel.close()
    for a, body in zip(inputs, bodies, strict=True):
        assert body is not None
        out = _convert.decode_infer_response(pb.ModelInferResponse.FromString(body), frozenset())
        np.testing.assert_array_equal(out.outputs["OUTPUT0"], a + B)


@server
@aio
async def test_errors_match_grpc_aio(triton: Any) -> None:
    bad = [
        InferRequest(model="no_such_model", inputs=ADD_SUB.inputs),
        add_sub(A[:, :8]),
        InferRequest(model="add_sub", inputs=(InputTensor.from_numpy("INPUT0", A.astype("f4")),
                                              ADD_SUB.inputs[1])),
    ]
    reference = GrpcClient(ClientOptions(url=triton.grpc_url, grpc_transport="grpcio"))
    assert reference._lean is None and reference.transport == "grpcio"
    async with reference, client(triton.grpc_url) as lean:
        seen = []
        for request in bad:
            with pytest.raises(ServerError) as want:
                await reference.send(reference.prepare(request))
            with pytest.raises(ServerError) as got:
                await lean.send(lean.prepare(request))
            assert (got.value.status, got.value.message) == (want.value.status,
                                                            want.value.message)
            seen.append((got.value.status, got.value.message))
    assert [status for status, _ in seen] == ["NOT_FOUND", "INVALID_ARGUMENT", "INVALID_ARGUMENT"]
    assert seen[0][1] == "Request for unknown model: 'no_such_model' is not found"
    assert "unexpected shape" in seen[1][1] and "data-type is 'FP32'" in seen[2][1]


@server
@aio
async def test_unknown_method_is_unimplemented(triton: Any) -> None:
    channel = LeanChannel(triton.grpc_url, "/inference.GRPCInferenceService/NoSuchMethod")
    try:
        with pytest.raises(ServerError) as err:
            await channel.unary(b"")
        assert err.value.status == "UNIMPLEMENTED"
    finally:
        await channel.close()


@server
@aio
async def test_answer_before_the_request_is_sent_ends_our_half(triton: Any) -> None:
    channel = LeanChannel(triton.grpc_url, "/inference.GRPCInferenceService/NoSuchMethod")
    big = bytes(16 * 2**20)  # 4 x Triton's initial window: the answer comes first
    try:
        conn = await lean_connection(channel)
        rec = Recorder(conn)
        for _ in range(3):  # the same connection each time: the windows still add up
            with pytest.raises(ServerError) as err:
                await channel.unary(big)
            assert err.value.status == "UNIMPLEMENTED"
        assert channel.opened == 1 and not conn.closed
    finally:
        await channel.close()
    for sid in (1, 3, 5):
        assert sum(len(f[3]) for f in rec.of(fr.DATA) if f[2] == sid) < len(big)
    assert [(f[2], fr.u32(f[3])) for f in rec.of(fr.RST_STREAM)] == [
        (1, fr.NO_ERROR), (3, fr.NO_ERROR), (5, fr.NO_ERROR)]


@server
@aio
async def test_64_mib_request_is_split_by_frame_size_and_flow_control(triton: Any) -> None:
    big = np.arange(16 * 2**20, dtype=np.float32).reshape(1, -1)
    request = InferRequest(model="identity_fp32", inputs=(InputTensor.from_numpy("INPUT0", big),))
    async with client(triton.grpc_url) as c:
        prepared = c.prepare(request)
        assert c._lean is not None
        conn = await lean_connection(c._lean)
        rec = Recorder(conn)
        before = await success_count(c, "identity_fp32")
        body = await c._lean.unary(prepared.payload, want_body=True)
        assert body is not None
        out = _convert.decode_infer_response(pb.ModelInferResponse.FromString(body), frozenset())
        np.testing.assert_array_equal(out.outputs["OUTPUT0"], big)
        await c.send(prepared)
        assert await success_delta(c, "identity_fp32", before, 2) == 2
    data = [f for f in rec.of(fr.DATA) if f[2] == 1]
    assert sum(len(f[3]) for f in data) == len(prepared.payload) + 5
    assert max(len(f[3]) for f in data) <= conn._peer_max_frame < len(prepared.payload)
    assert [f[1] & fr.END_STREAM for f in data] == [0] * (len(data) - 1) + [fr.END_STREAM]


@server
@aio
async def test_timeout_raises_request_timeout_and_resets_the_stream(triton: Any) -> None:
    channel = LeanChannel(triton.grpc_url, INFER, request_timeout_s=0.01, deadline_header=False)
    try:
        conn = await lean_connection(channel)
        rec = Recorder(conn)
        t0 = time.perf_counter()
        with pytest.raises(RequestTimeout, match=r"0\.01 s"):
            await channel.unary(payload(DELAY))  # the model sleeps 50 ms
        assert time.perf_counter() - t0 < 0.045
        assert [(f[2], fr.u32(f[3])) for f in rec.of(fr.RST_STREAM)] == [(1, fr.CANCEL)]
        assert not conn._streams
        await asyncio.sleep(0.1)  # the late answer for stream 1 arrives and is dropped
        # add_sub answers in about 1 ms, but a loaded box has taken it past the 10 ms timeout: a
        # timeout resets only its stream, so the same connection must answer within a few tries
        for _ in range(5):
            with contextlib.suppress(RequestTimeout):
                assert await channel.unary(payload(ADD_SUB)) is None
                break
        else:
            pytest.fail("add_sub never answered within 10 ms in 5 tries")
        assert channel.opened == 1 and not conn.closed
    finally:
        await channel.close()


@server
@aio
async def test_grpc_client_timeout_sends_the_deadline(triton: Any) -> None:
    async with client(triton.grpc_url, request_timeout_s=0.01) as c:
        assert c._lean is not None
        rec = Recorder(await lean_connection(c._lean))
        with pytest.raises(RequestTimeout):
            await c.send(c.prepare(DELAY))
        await c.send(c.prepare(ADD_SUB))
    (_t, _f, sid, block), *_ = rec.of(fr.HEADERS)
    assert sid == 1 and ("grpc-timeout", "10000u") in Decoder().decode(block)


@server
@aio
async def test_task_cancellation_resets_the_stream(triton: Any) -> None:
    channel = LeanChannel(triton.grpc_url, INFER)
    try:
        conn = await lean_connection(channel)
        rec = Recorder(conn)
        task = asyncio.ensure_future(channel.unary(payload(DELAY)))
        await asyncio.sleep(0.005)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert [(f[2], fr.u32(f[3])) for f in rec.of(fr.RST_STREAM)] == [(1, fr.CANCEL)]
        assert not conn._streams
        await channel.unary(payload(ADD_SUB))
    finally:
        await channel.close()


@server
@aio
async def test_stream_ids_running_out_move_calls_to_a_new_connection(triton: Any) -> None:
    async with client(triton.grpc_url) as c:
        channel = LeanChannel(triton.grpc_url, INFER, first_stream_id=fr.MAX_STREAM_ID - 8)
        body = payload(ADD_SUB)
        before = await success_count(c, "add_sub")
        try:
            first = await lean_connection(channel)
            for _ in range(12):  # 5 stream ids per connection: 5 + 5 + 2
                await channel.unary(body)
            assert first.closed and channel.opened == 3
            await asyncio.gather(*(channel.unary(body) for _ in range(12)))
            assert channel.opened == 5  # 3 left on the third, then 5 + 4
        finally:
            await channel.close()
        assert await success_delta(c, "add_sub", before, 24) == 24


@server
@aio
async def test_server_killed_with_a_call_in_flight_gives_connect_error() -> None:
    from perfanalyzer.server.launcher import TritonLauncher

    private = TritonLauncher(model_repository=TEST_MODELS, explicit_models=["delay"]).start(
        timeout_s=120)
    try:
        async with client(private.grpc_url) as c:
            prepared = c.prepare(DELAY)
            await c.send(prepared)
            in_flight = asyncio.ensure_future(c.send(prepared))
            await asyncio.sleep(0.01)
            os.killpg(private.process.pid, signal.SIGKILL)
            with pytest.raises(ConnectError, match="lost"):
                await in_flight
            with pytest.raises(ConnectError):  # refused, or reset by a dying process
                await c.send(prepared)
    finally:
        private.stop()


# -- no Triton needed (more in test_grpc_lean_server.py) ---------------------------------------

@aio
async def test_connect_errors() -> None:
    channel = LeanChannel(f"127.0.0.1:{_free_port()}", INFER)
    with pytest.raises(ConnectError, match="cannot connect"):
        await channel.unary(b"")
    with socket.socket() as listener:  # accepts TCP, never speaks HTTP/2
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        silent = LeanChannel(f"127.0.0.1:{listener.getsockname()[1]}", INFER,
                             connect_timeout_s=0.2)
        with pytest.raises(ConnectError, match=r"within 0\.2 s"):
            await silent.unary(b"")
        await silent.close()
        timed = LeanChannel(f"127.0.0.1:{listener.getsockname()[1]}", INFER,
                            connect_timeout_s=5.0, request_timeout_s=0.1)
        t0 = time.perf_counter()
        with pytest.raises(RequestTimeout):  # the request timeout covers connecting too
            await timed.unary(b"")
        assert time.perf_counter() - t0 < 1.0
        await timed.close()


def test_fallback_to_grpc_aio(monkeypatch: pytest.MonkeyPatch) -> None:
    for opts in (dict(compression="gzip"),
                 dict(channel_args=(("grpc.primary_user_agent", "x"),)),
                 dict(tls=TlsOptions(enabled=True))):
        assert GrpcClient(ClientOptions(url="127.0.0.1:1", **opts))._lean is None
    # keepalive: the lean channel sends its own PINGs (tests/test_grpc_keepalive.py)
    assert GrpcClient(ClientOptions(url="127.0.0.1:1", keepalive_time_ms=1000))._lean is not None
    lean = GrpcClient(ClientOptions(url="127.0.0.1:1"))
    assert lean._lean is not None and lean.transport == "grpc-lean"
    assert GrpcClient(ClientOptions(url="127.0.0.1:1", grpc_transport="grpcio"))._lean is None
    with pytest.raises(OptionError, match="--grpc-transport"):
        GrpcClient(ClientOptions(url="127.0.0.1:1", grpc_transport="h3"))
    # an environment variable alone never changes the send path
    monkeypatch.setenv("PERFANALYZER_GRPC_TRANSPORT", "grpcio")
    assert GrpcClient(ClientOptions(url="127.0.0.1:1"))._lean is not None


def test_status_mapping() -> None:
    from perfanalyzer.client.h2 import status_error

    assert isinstance(status_error(4, "late", None), RequestTimeout)
    assert isinstance(status_error(1, "", None), RequestCancelled)
    assert isinstance(status_error(14, "Connection reset by peer", None), ConnectError)
    err = status_error(14, "model is unavailable", None)
    assert isinstance(err, ServerError) and err.status == "UNAVAILABLE"
    err = status_error(None, "", 404)
    assert isinstance(err, ServerError) and err.status == "UNIMPLEMENTED"
    err = status_error(None, "", 200)
    assert isinstance(err, ServerError) and err.status == "INTERNAL"
    assert isinstance(status_error(3, "bad", None), ClientError)


@server
def test_under_uvloop(triton: Any) -> None:
    uvloop = pytest.importorskip("uvloop")
    big = np.arange(2**20, dtype=np.float32).reshape(1, -1)  # 4 MiB: split frames
    large = InferRequest(model="identity_fp32", inputs=(InputTensor.from_numpy("INPUT0", big),))

    async def run() -> None:
        async with client(triton.grpc_url) as c:
            prepared = c.prepare(ADD_SUB)
            before = await success_count(c, "add_sub")
            await asyncio.gather(*(c.send(prepared) for _ in range(50)))
            await c.send(c.prepare(large))
            with pytest.raises(ServerError, match="unknown model"):
                await c.send(c.prepare(InferRequest(model="nope", inputs=ADD_SUB.inputs)))
            assert await success_delta(c, "add_sub", before, 50) == 50

    loop = uvloop.new_event_loop()
    try:
        loop.run_until_complete(run())
    finally:
        loop.close()
