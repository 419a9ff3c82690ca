"""GrpcClient against the real Triton: sequence parameters, bidirectional streams (decoupled
responses, error responses, cancel), server errors, timeouts, cancellation, compression and
connection failures. The pinned server behaviour is in test_client_grpc.py.
"""
from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import numpy as np
import pytest

from perfanalyzer.client.base import ClientOptions, InferRequest, InferResult, InputTensor, TlsOptions
from perfanalyzer.client.grpc import GrpcClient, StreamResponseError
from perfanalyzer.errors import ClientError, ConnectError, RequestTimeout, ServerError, TransportError
from tests.support.aio import aio
from tests.support.grpc_calls import client
from tests.support.infer_requests import ADD_SUB, DELAY, A, B
from tests.support.paths import TEST_MODELS

server = pytest.mark.server


def _seq(value: int, sid: int | str, start: bool = False, end: bool = False) -> InferRequest:
    return InferRequest(model="sequence_acc", sequence_id=sid, sequence_start=start,
                        sequence_end=end, inputs=(InputTensor.from_numpy(
                            "INPUT", np.array([value], np.int32)),))


@server
@aio
async def test_sequence_parameters(triton: Any) -> None:
    async with client(triton) as c:
        for sid in (1000 + uuid.uuid4().int % 10**6, f"seq-{uuid.uuid4().hex[:8]}", 2**64 - 7):
            got = []
            for i, value in enumerate((5, 7, 11)):
                r = await c.infer(_seq(value, sid, start=i == 0, end=i == 2))
                got.append((int(r.outputs["OUTPUT"][0]), int(r.outputs["COUNT"][0])))
            assert got == [(5, 1), (12, 2), (23, 3)], sid
        with pytest.raises(ServerError, match="START") as err:
            await c.infer(_seq(1, 987654321))
        assert err.value.status == "INVALID_ARGUMENT"


# -- streaming -----------------------------------------------------------------------------------

def _repeat(values: list[int], rid: str, final: bool = True) -> InferRequest:
    params = {"triton_enable_empty_final_response": True} if final else {}
    return InferRequest(model="repeat", request_id=rid, parameters=params,
                        inputs=(InputTensor.from_numpy("IN", np.array(values, np.int32)),))


async def _collect(stream: Any, count: int) -> list[InferResult | BaseException]:
    items: list[InferResult | BaseException] = []
    async for item in stream.responses():
        items.append(item)
        if len(items) == count:
            break
    return items


@server
@aio
async def test_stream_decoupled_responses_and_final_flag(triton: Any) -> None:
    async with client(triton) as c, c.stream() as s:
        await s.write(_repeat([4, 5, 6, 7], "a"))
        await s.write(c.prepare(_repeat([9], "b")))
        items = await _collect(s, 4 + 1 + 1 + 1)
    results = [i for i in items if isinstance(i, InferResult)]
    assert len(results) == len(items)
    a = [r for r in results if r.id == "a"]
    b = [r for r in results if r.id == "b"]
    assert [int(r.outputs["OUT"][0]) for r in a[:4]] == [4, 5, 6, 7]
    assert [int(r.outputs["IDX"][0]) for r in a[:4]] == [0, 1, 2, 3]
    assert a[0].outputs["IDX"].dtype == np.uint32
    assert [r.final for r in a] == [False] * 4 + [True]
    assert a[4].outputs == {} and a[4].parameters["triton_final_response"] is True
    assert [r.final for r in b] == [False, True]


@server
@aio
async def test_stream_error_response_and_drain_on_close(triton: Any) -> None:
    async with client(triton) as c:
        s = c.stream()
        await s.open()
        await s.write(_seq(1, 55555555))  # not a START: the server refuses it
        await s.write(InferRequest(model="no_such_model", request_id="x", inputs=ADD_SUB.inputs))
        await s.write(_repeat([1, 2], "ok"))
        await s.close()  # half-close, then wait for every response
        items = await _collect(s, 100)
    errors = [i for i in items if isinstance(i, BaseException)]
    assert len(items) == 2 + 3
    assert all(isinstance(e, StreamResponseError) for e in errors) and len(errors) == 2
    unknown = next(e for e in errors if isinstance(e, StreamResponseError) and e.request_id == "x")
    assert "no_such_model" in unknown.message
    assert [i.id for i in items if isinstance(i, InferResult)] == ["ok"] * 3


@server
@aio
async def test_stream_cancel(triton: Any) -> None:
    async with client(triton) as c:
        s = c.stream()
        await s.open()
        await s.write(DELAY)
        s.cancel()
        assert await _collect(s, 10) == []
        with pytest.raises(ClientError):
            await s.write(DELAY)
        await s.close()
        assert await c.is_server_live()  # the client survives


# -- errors, timeouts, cancellation --------------------------------------------------------------

@server
@aio
async def test_server_errors(triton: Any) -> None:
    async with client(triton) as c:
        with pytest.raises(ServerError, match="no_such_model") as err:
            await c.infer(InferRequest(model="no_such_model", inputs=ADD_SUB.inputs))
        assert err.value.status == "NOT_FOUND"
        with pytest.raises(ServerError, match="unexpected shape") as err:
            await c.send(c.prepare(InferRequest(model="add_sub", inputs=(
                InputTensor.from_numpy("INPUT0", A[:, :8]),
                InputTensor.from_numpy("INPUT1", B[:, :8])))))
        assert err.value.status == "INVALID_ARGUMENT"
        with pytest.raises(ServerError, match="data-type is 'FP32'") as err:
            await c.infer(InferRequest(model="add_sub", inputs=(
                InputTensor.from_numpy("INPUT0", A.astype(np.float32)), ADD_SUB.inputs[1])))
        assert err.value.status == "INVALID_ARGUMENT"
        with pytest.raises(ServerError, match="no_such_model"):
            await c.model_config("no_such_model")


@server
@aio
async def test_request_timeout(triton: Any) -> None:
    async with client(triton, request_timeout_s=0.01) as c:
        t0 = time.perf_counter()
        with pytest.raises(RequestTimeout):
            await c.infer(DELAY)  # the model sleeps 50 ms
        assert time.perf_counter() - t0 < 0.045
        await c.send(c.prepare(ADD_SUB))  # a fast model still answers in time


@server
@aio
async def test_task_cancellation_cancels_the_call(triton: Any) -> None:
    async with client(triton) as c:
        await c.is_server_live()  # connected
        task = asyncio.ensure_future(c.infer(DELAY))
        await asyncio.sleep(0.005)
        t0 = time.perf_counter()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert time.perf_counter() - t0 < 0.03
        assert (await c.infer(DELAY)).outputs["OUTPUT0"].tolist() == [1.0] * 4


@server
@aio
async def test_compression_round_trips(triton: Any) -> None:
    for algorithm in ("gzip", "deflate"):
        async with client(triton, compression=algorithm) as c:
            r = await c.infer(ADD_SUB)
            np.testing.assert_array_equal(r.outputs["OUTPUT1"], A - B)


@server
@aio
async def test_tls_against_plain_server_is_a_transport_error(triton: Any) -> None:
    async with client(triton, tls=TlsOptions(enabled=True)) as c:
        with pytest.raises(TransportError):
            await c.is_server_live()


@server
@aio
async def test_server_stopped_gives_connect_error() -> None:
    from perfanalyzer.server.launcher import TritonLauncher

    private = TritonLauncher(model_repository=TEST_MODELS, explicit_models=[]).start(timeout_s=120)
    try:
        async with GrpcClient(ClientOptions(url=private.grpc_url)) as c:
            assert await c.is_server_live()
            private.stop()
            with pytest.raises(ConnectError):
                await c.is_server_ready()
            with pytest.raises(ConnectError):
                await c.send(c.prepare(ADD_SUB))
    finally:
        private.stop()
