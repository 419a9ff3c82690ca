"""GrpcClient against the real Triton (``triton`` fixture), plus an in-process grpc.aio server for
what Triton cannot show (which metadata arrived, TLS handshakes), plus converter unit tests.

Server behaviour pinned here (Triton 2.51 over gRPC):

* ModelReady for an unknown model answers ready=False (no error); inference or metadata for it
  answers NOT_FOUND "Request for unknown model: 'x' is not found";
* raw_output_contents has one entry per output, an empty one for an output written to shm;
* ``sequence_id`` must be int64_param or string_param (uint64_param is refused);
* CUDA shared memory on this CPU-only server: status is ``[]``, registering fails INVALID_ARGUMENT;
* stream error responses carry the failed request's id in ``infer_response.id``.
"""

from __future__ import annotations

import asyncio
import functools
import json
import shutil
import socket
import subprocess
import time
import urllib.request
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from multiprocessing import shared_memory
from pathlib import Path
from typing import Any

import grpc
import grpc.aio
import numpy as np
import pytest

from perfanalyzer._proto import grpc_service_pb2 as pb
from perfanalyzer._proto import model_config_pb2 as mc
from perfanalyzer.client import _convert, tensors
from perfanalyzer.client.base import (
    ClientOptions,
    InferenceClient,
    InferRequest,
    InferResult,
    InputTensor,
    RequestedOutput,
    ShmRef,
    TlsOptions,
    basic_auth,
)
from perfanalyzer.client.grpc import GrpcClient, PreparedInfer, StreamResponseError
from perfanalyzer.errors import (
    ClientError,
    ConnectError,
    OptionError,
    RequestTimeout,
    ServerError,
    TransportError,
)

from .settle import settled_delta

server = pytest.mark.server
TEST_MODELS = Path(__file__).with_name("models")
A = np.arange(16, dtype=np.int32).reshape(1, 16)
B = np.full((1, 16), 3, dtype=np.int32)
ADD_SUB = InferRequest(model="add_sub", inputs=(InputTensor.from_numpy("INPUT0", A),
                                                InputTensor.from_numpy("INPUT1", B)))
DELAY = InferRequest(model="delay", inputs=(InputTensor.from_numpy("INPUT0",
                                                                   np.ones(4, np.float32)),))


def aio(fn: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an async test function in a fresh event loop (fixtures pass through)."""
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        asyncio.run(fn(*args, **kwargs))
    return wrapper


def client(triton: Any, **kw: Any) -> GrpcClient:
    return GrpcClient(ClientOptions(url=triton.grpc_url, **kw))


def http_json(triton: Any, path: str) -> Any:
    with urllib.request.urlopen(f"http://{triton.http_url}{path}", timeout=30) as resp:
        return json.load(resp)


async def stats(c: InferenceClient, model: str) -> Any:
    (entry,) = await c.model_statistics(model, "1")
    return entry


# -- health, metadata, config -------------------------------------------------------------------

@server
@aio
async def test_health_and_metadata(triton: Any) -> None:
    async with client(triton) as c:
        assert await c.is_server_live() is True
        assert await c.is_server_ready() is True
        assert await c.is_model_ready("add_sub") is True
        assert await c.is_model_ready("add_sub", "1") is True
        assert await c.is_model_ready("no_such_model") is False
        meta = await c.server_metadata()
        assert meta["name"] == "triton" and meta["version"] == "2.51.0"
        assert {"system_shared_memory", "statistics", "sequence"} <= set(meta["extensions"])
        assert await c.model_metadata("add_sub") == {
            "name": "add_sub", "versions": ["1"], "platform": "python",
            "inputs": [{"name": f"INPUT{i}", "datatype": "INT32", "shape": [-1, 16]}
                       for i in (0, 1)],
            "outputs": [{"name": f"OUTPUT{i}", "datatype": "INT32", "shape": [-1, 16]}
                        for i in (0, 1)],
        }
        assert await c.model_metadata("add_sub") == http_json(triton, "/v2/models/add_sub")


@server
@aio
async def test_model_config_equals_http_json(triton: Any) -> None:
    """Every test model's config over gRPC is exactly the HTTP endpoint's JSON."""
    names = sorted(p.name for p in TEST_MODELS.iterdir() if (p / "config.pbtxt").exists())
    assert len(names) >= 10
    async with client(triton) as c:
        for name in names:
            assert await c.model_config(name) == http_json(triton, f"/v2/models/{name}/config")


@server
@aio
async def test_model_config_fields(triton: Any) -> None:
    async with client(triton) as c:
        add_sub = await c.model_config("add_sub")
        assert add_sub["max_batch_size"] == 8
        assert [(i["name"], i["data_type"], i["dims"]) for i in add_sub["input"]] == [
            ("INPUT0", "TYPE_INT32", [16]), ("INPUT1", "TYPE_INT32", [16])]
        assert "dynamic_batching" in add_sub and "sequence_batching" not in add_sub
        assert add_sub["instance_group"][0]["kind"] == "KIND_CPU"
        assert "model_transaction_policy" not in add_sub  # unset sub-message, as over HTTP
        assert (await c.model_config("repeat"))["model_transaction_policy"]["decoupled"] is True
        delay = await c.model_config("delay")
        assert delay["parameters"] == {"delay_ms": {"string_value": "50"}}
        assert delay["max_batch_size"] == 0
        seq = (await c.model_config("sequence_acc"))["sequence_batching"]
        assert seq["max_sequence_idle_microseconds"] == 5000000
        assert seq["oldest"]["max_candidate_sequences"] == 64
        controls = {ci["name"]: ci["control"][0] for ci in seq["control_input"]}
        assert controls["START"]["kind"] == "CONTROL_SEQUENCE_START"
        assert controls["START"]["int32_false_true"] == [0, 1]
        assert controls["CORRID"]["data_type"] == "TYPE_UINT64"
        ens = await c.model_config("ensemble_add_sub")
        steps = ens["ensemble_scheduling"]["step"]
        assert [s["model_name"] for s in steps] == ["add_sub", "identity_int32"]
        assert [s["model_version"] for s in steps] == [-1, -1]
        assert steps[0]["output_map"] == {"OUTPUT0": "sum", "OUTPUT1": "OUTPUT1"}
        assert ens["platform"] == "ensemble"


@server
@aio
async def test_repository_index_unload_and_load(triton: Any) -> None:
    model = "identity_fp32"
    async with client(triton) as c:
        index = {m["name"]: m for m in await c.repository_index()}
        assert index[model] == {"name": model, "version": "1", "state": "READY", "reason": ""}
        assert {p.name for p in TEST_MODELS.iterdir() if p.is_dir()} <= set(index)
        original = await c.model_config(model)
        try:
            await c.unload_model(model)
            assert await c.is_model_ready(model) is False
            ready = {m["name"] for m in await c.repository_index(ready_only=True)}
            assert model not in ready and "add_sub" in ready
            with pytest.raises(ServerError, match=model) as err:
                await c.infer(InferRequest(model=model, inputs=(
                    InputTensor.from_numpy("INPUT0", np.ones((1, 2), np.float32)),)))
            assert err.value.status == "NOT_FOUND"
            await c.load_model(model)
            assert await c.is_model_ready(model) is True
            # Reload with an overriding config (a plain reload keeps the loaded config).
            await c.load_model(model, json.dumps({**original, "max_batch_size": 4}))
            assert (await c.model_config(model))["max_batch_size"] == 4
        finally:
            await c.load_model(model, json.dumps(original))
        assert await c.is_model_ready(model) is True
        assert await c.model_config(model) == original


@server
@aio
async def test_statistics_exact_delta(triton: Any) -> None:
    k = 7
    async with client(triton) as c:
        before = await stats(c, "add_sub")
        for _ in range(k):
            await c.infer(ADD_SUB)
        delta = await settled_delta(c, "add_sub", before, k)
        assert delta.inference_count == k
        assert delta.get("success").count == k
        assert delta.get("fail").count == 0
        assert delta.get("compute_infer").count >= 1 and delta.get("success").ns > 0
        everything = {(s.name, s.version) for s in await c.model_statistics()}
        assert ("add_sub", "1") in everything and ("repeat", "1") in everything


# -- shared memory -------------------------------------------------------------------------------

@server
@aio
async def test_system_shared_memory(triton: Any) -> None:
    name = f"pa_test_{uuid.uuid4().hex[:8]}"
    region = shared_memory.SharedMemory(create=True, size=256)
    buf = region.buf
    assert buf is not None
    try:
        buf[0:64] = A.tobytes()
        buf[64:128] = B.tobytes()
        async with client(triton) as c:
            await c.register_system_shm(name, "/" + region.name, 256, offset=0)
            try:
                assert await c.system_shm_status(name) == [
                    {"name": name, "key": "/" + region.name, "offset": 0, "byte_size": 256}]
                req = InferRequest(model="add_sub", inputs=(
                    InputTensor("INPUT0", "INT32", (1, 16), shm=ShmRef(name, 64, 0)),
                    InputTensor("INPUT1", "INT32", (1, 16), shm=ShmRef(name, 64, 64))),
                    outputs=(RequestedOutput("OUTPUT0", shm=ShmRef(name, 64, 128)),
                             RequestedOutput("OUTPUT1", shm=ShmRef(name, 64, 192))))
                result = await c.infer(req)
                assert result.outputs == {}
                assert result.shm_outputs == {"OUTPUT0": ("INT32", (1, 16)),
                                              "OUTPUT1": ("INT32", (1, 16))}
                out = np.frombuffer(bytes(buf[128:256]), dtype="<i4").reshape(2, 16)
                np.testing.assert_array_equal(out[0], (A + B)[0])
                np.testing.assert_array_equal(out[1], (A - B)[0])
            finally:
                await c.unregister_system_shm(name)
            assert await c.system_shm_status() == []
    finally:
        region.close()
        region.unlink()


@server
@aio
async def test_cuda_shared_memory_on_cpu_server(triton: Any) -> None:
    async with client(triton) as c:
        assert await c.cuda_shm_status() == []
        with pytest.raises(ServerError) as err:
            await c.register_cuda_shm("gpu_region", b"\0" * 64, 0, 64)
        assert err.value.status == "INVALID_ARGUMENT"
        await c.unregister_cuda_shm()  # nothing registered: still OK


# -- inference -----------------------------------------------------------------------------------

TYPE_SAMPLES: dict[str, np.ndarray] = {
    "BOOL": np.array([True, False, True]),
    "UINT8": np.array([0, 7, 255], np.uint8),
    "UINT16": np.array([0, 7, 65535], np.uint16),
    "UINT32": np.array([0, 7, 2**32 - 1], np.uint32),
    "UINT64": np.array([0, 7, 2**64 - 1], np.uint64),
    "INT8": np.array([-128, 0, 127], np.int8),
    "INT16": np.array([-32768, 0, 32767], np.int16),
    "INT32": np.array([-(2**31), 0, 2**31 - 1], np.int32),
    "INT64": np.array([-(2**63), 0, 2**63 - 1], np.int64),
    "FP16": np.array([-1.5, 0.0, 65504.0], np.float16),
    "FP32": np.array([-1.25, 0.0, 3.0e38], np.float32),
    "FP64": np.array([-1.0e300, 0.0, np.pi], np.float64),
    "BF16": np.array([-2.0, 0.15625, 3.0e38], np.float32),  # sent as BF16, back as float32
    "BYTES": np.array([b"", b"abc", "\u00e9t\u00e9".encode()], np.object_),
}


@server
@aio
async def test_every_datatype_round_trips(triton: Any) -> None:
    inputs = tuple(InputTensor.from_numpy(f"INPUT_{dt}", v, dt) for dt, v in TYPE_SAMPLES.items())
    async with client(triton) as c:
        result = await c.infer(InferRequest(model="identity_types", inputs=inputs))
    assert set(result.outputs) == {f"OUTPUT_{dt}" for dt in TYPE_SAMPLES}
    for dt, sent in TYPE_SAMPLES.items():
        got = result.outputs[f"OUTPUT_{dt}"]
        expected = tensors.bf16_bits_to_float32(tensors.float32_to_bf16_bits(sent)) \
            if dt == "BF16" else sent
        assert got.shape == (3,), dt
        assert got.dtype == (np.float32 if dt == "BF16" else tensors.NUMPY_DTYPES[dt]), dt
        assert got.tolist() == expected.tolist(), dt
    assert result.outputs["OUTPUT_BF16"].tolist()[:2] == [-2.0, 0.15625]


@server
@aio
async def test_requested_outputs_class_count_and_request_id(triton: Any) -> None:
    async with client(triton) as c:
        one = await c.infer(InferRequest(model="add_sub", inputs=ADD_SUB.inputs,
                                         outputs=(RequestedOutput("OUTPUT1"),), request_id="r-42"))
        assert set(one.outputs) == {"OUTPUT1"} and one.id == "r-42"
        assert (one.model_name, one.model_version) == ("add_sub", "1")
        np.testing.assert_array_equal(one.outputs["OUTPUT1"], A - B)
        top = await c.infer(InferRequest(
            model="identity_fp32",
            inputs=(InputTensor.from_numpy("INPUT0", np.array([[0.5, 3.0, 1.0]], np.float32)),),
            outputs=(RequestedOutput("OUTPUT0", class_count=2),)))
        assert top.outputs["OUTPUT0"].tolist() == [[b"3.000000:1", b"1.000000:2"]]


@server
@aio
async def test_prepared_request_and_large_tensor(triton: Any) -> None:
    async with client(triton) as c:
        prepared = c.prepare(ADD_SUB)
        assert isinstance(prepared, PreparedInfer)
        await c.send(prepared)  # answers nothing: the response is not decoded
        result = await c.infer(prepared)
        np.testing.assert_array_equal(result.outputs["OUTPUT0"], A + B)
        big = np.arange(3 * 2**20, dtype=np.float32).reshape(1, -1)  # 12 MiB > gRPC's 4 MiB default
        echo = await c.infer(InferRequest(model="identity_fp32",
                                          inputs=(InputTensor.from_numpy("INPUT0", big),)))
        np.testing.assert_array_equal(echo.outputs["OUTPUT0"], big)


@server
@aio
async def test_prepared_sent_concurrently_exact_statistics(triton: Any) -> None:
    n = 100
    async with client(triton, connections=2) as c:
        prepared = c.prepare(ADD_SUB)
        before = await stats(c, "add_sub")
        await asyncio.gather(*(c.send(prepared) for _ in range(n)))
        delta = await settled_delta(c, "add_sub", before, n)
    assert delta.inference_count == n
    assert delta.get("success").count == n
    assert delta.get("fail").count == 0
    assert delta.execution_count <= n


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


# -- no Triton needed ----------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@aio
async def test_refused_connection_fails_fast() -> None:
    async with GrpcClient(ClientOptions(url=f"127.0.0.1:{_free_port()}")) as c:
        t0 = time.perf_counter()
        with pytest.raises(ConnectError):
            await c.is_server_live()
        assert time.perf_counter() - t0 < 2.0


@aio
async def test_connect_timeout_against_a_silent_listener() -> None:
    with socket.socket() as listener:  # accepts TCP, never speaks HTTP/2
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        url = f"127.0.0.1:{listener.getsockname()[1]}"
        async with GrpcClient(ClientOptions(url=url, connect_timeout_s=0.3)) as c:
            t0 = time.perf_counter()
            with pytest.raises(ConnectError, match=r"within 0\.3 s"):
                await c.send(c.prepare(ADD_SUB))
            assert 0.25 < time.perf_counter() - t0 < 2.0


@asynccontextmanager
async def fake_server(seen: list[dict[str, str]],
                      credentials: grpc.ServerCredentials | None = None) -> AsyncIterator[int]:
    """An in-process gRPC server answering ServerLive and ModelInfer (an empty response),
    recording each call's metadata plus ``:peer`` (the client's address: one per connection)."""
    def record(context: grpc.aio.ServicerContext) -> None:
        meta = {k: str(v) for k, v in context.invocation_metadata() or ()}
        seen.append({**meta, ":peer": context.peer()})

    async def live(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        record(context)
        return pb.ServerLiveResponse(live=True).SerializeToString()

    async def infer(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        record(context)
        return pb.ModelInferResponse(model_name="fake").SerializeToString()

    srv = grpc.aio.server()
    srv.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(
        "inference.GRPCInferenceService",
        {"ServerLive": grpc.unary_unary_rpc_method_handler(live),
         "ModelInfer": grpc.unary_unary_rpc_method_handler(infer)}),))
    addr = "127.0.0.1:0"
    port = srv.add_secure_port(addr, credentials) if credentials else srv.add_insecure_port(addr)
    await srv.start()
    try:
        yield port
    finally:
        await srv.stop(None)


@aio
async def test_connections_are_separate_channels_used_round_robin() -> None:
    seen: list[dict[str, str]] = []
    async with fake_server(seen) as port:
        for connections, peers in ((0, 1), (3, 3)):
            seen.clear()
            opts = ClientOptions(url=f"127.0.0.1:{port}", connections=connections)
            async with GrpcClient(opts) as c:
                prepared = c.prepare(ADD_SUB)
                for _ in range(6):
                    await c.send(prepared)
            by_peer = [m[":peer"] for m in seen]
            assert len(set(by_peer)) == peers
            assert all(by_peer.count(p) == 6 // peers for p in set(by_peer))


@aio
async def test_wait_until_ready_times_out_without_server() -> None:
    async with GrpcClient(ClientOptions(url=f"127.0.0.1:{_free_port()}")) as c:
        with pytest.raises(RequestTimeout, match="server not ready"):
            await c.wait_until_ready(0.3)


@aio
async def test_headers_and_auth_hook_travel_as_metadata() -> None:
    seen: list[dict[str, str]] = []
    calls = []

    def hook(headers: dict[str, str]) -> None:
        calls.append(1)
        headers["X-Token"] = f"t{len(calls)}"

    async with fake_server(seen) as port:
        opts = ClientOptions(url=f"127.0.0.1:{port}", headers={"X-Run": "r1"}, auth=hook)
        async with GrpcClient(opts) as c:
            assert await c.is_server_live() and await c.is_server_live()
        async with GrpcClient(ClientOptions(url=f"grpc://127.0.0.1:{port}",
                                            auth=basic_auth("user", "pw"))) as c:
            assert await c.is_server_live()
    assert [(m["x-run"], m["x-token"]) for m in seen[:2]] == [("r1", "t1"), ("r1", "t2")]
    assert seen[2]["authorization"] == "Basic dXNlcjpwdw=="


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    d = tmp_path_factory.mktemp("tls")
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                   check=True, capture_output=True)
    return cert, key


@aio
async def test_tls_and_mutual_tls(tls_files: tuple[Path, Path]) -> None:
    cert, key = tls_files
    pair = [(key.read_bytes(), cert.read_bytes())]
    mutual = grpc.ssl_server_credentials(pair, root_certificates=cert.read_bytes(),
                                         require_client_auth=True)
    seen: list[dict[str, str]] = []
    async with fake_server(seen, mutual) as port:
        url = f"127.0.0.1:{port}"
        full = TlsOptions(enabled=True, ca_file=str(cert), cert_file=str(cert), key_file=str(key))
        async with GrpcClient(ClientOptions(url=url, tls=full)) as c:
            assert await c.is_server_live() is True
        no_cert = TlsOptions(enabled=True, ca_file=str(cert))
        async with GrpcClient(ClientOptions(url=url, tls=no_cert)) as c:
            with pytest.raises(ConnectError):
                await c.is_server_live()
        async with GrpcClient(ClientOptions(url=url)) as c:  # plain text to a TLS server
            with pytest.raises(TransportError):
                await c.is_server_live()
    assert len(seen) == 1


def test_option_errors() -> None:
    with pytest.raises(OptionError, match="compression"):
        GrpcClient(ClientOptions(url="x:1", compression="brotli"))
    with pytest.raises(OptionError, match="verify"):
        GrpcClient(ClientOptions(url="x:1", tls=TlsOptions(enabled=True, verify_peer=False)))
    with pytest.raises(OptionError, match="CA"):
        GrpcClient(ClientOptions(url="x:1", tls=TlsOptions(enabled=True, ca_file="/no/such")))


def test_channel_args() -> None:
    args = dict(_convert.channel_args(ClientOptions(
        url="x:1", keepalive_time_ms=5000, connections=4,
        channel_args=(("grpc.max_receive_message_length", 1234), ("grpc.primary_user_agent", "pa")))))
    assert args["grpc.max_send_message_length"] == 2**31 - 1
    assert args["grpc.max_receive_message_length"] == 1234  # the user's value wins
    assert args["grpc.keepalive_time_ms"] == 5000 and args["grpc.keepalive_timeout_ms"] == 20000
    assert args["grpc.use_local_subchannel_pool"] == 1 and args["grpc.primary_user_agent"] == "pa"
    assert "grpc.keepalive_time_ms" not in dict(_convert.channel_args(ClientOptions(url="x:1")))


def test_message_to_dict_ints_enums_defaults() -> None:
    cfg = mc.ModelConfig(name="m", max_batch_size=4)
    cfg.input.add(name="I", data_type=mc.TYPE_INT64, dims=[-1, 2**40])
    cfg.dynamic_batching.max_queue_delay_microseconds = 2**63 - 1
    cfg.dynamic_batching.priority_queue_policy[3].max_queue_size = 9
    d = _convert.message_to_dict(cfg)
    assert d["input"][0]["dims"] == [-1, 2**40] and d["input"][0]["data_type"] == "TYPE_INT64"
    assert d["input"][0]["format"] == "FORMAT_NONE" and d["input"][0]["optional"] is False
    assert d["dynamic_batching"]["max_queue_delay_microseconds"] == 2**63 - 1
    assert d["dynamic_batching"]["priority_queue_policy"]["3"]["max_queue_size"] == 9
    assert d["output"] == [] and d["parameters"] == {} and d["backend"] == ""
    assert "sequence_batching" not in d and "optimization" not in d
    seq = mc.ModelSequenceBatching()
    seq.control_input.add(name="S").control.add(fp32_false_true=[0.1, 1.0])
    assert _convert.message_to_dict(seq)["control_input"][0]["control"][0][
        "fp32_false_true"] == [0.1, 1.0]


def test_build_request_parameters_and_raw_contents() -> None:
    req = InferRequest(model="m", version="2", request_id="q", sequence_id=2**64 - 1,
                       sequence_start=True, priority=3, timeout_us=500,
                       parameters={"flag": True, "ratio": 0.5, "tag": "x"},
                       inputs=(InputTensor.from_numpy("A", np.array([1, 2], np.int32)),
                               InputTensor("S", "FP32", (4,), shm=ShmRef("r", 16, 8)),
                               InputTensor.from_numpy("B", np.array([b"hi"], np.object_))),
                       outputs=(RequestedOutput("O", class_count=2),
                                RequestedOutput("P", shm=ShmRef("r", 8))))
    msg = _convert.build_infer_request(req)
    params = _convert.params_to_dict(msg.parameters)
    assert params == {"flag": True, "ratio": 0.5, "tag": "x", "sequence_id": -1,
                      "sequence_start": True, "sequence_end": False, "priority": 3,
                      "timeout": 500}
    assert msg.parameters["sequence_id"].WhichOneof("parameter_choice") == "int64_param"
    assert list(msg.raw_input_contents) == [np.array([1, 2], "<i4").tobytes(), b"\x02\0\0\0hi"]
    assert _convert.params_to_dict(msg.inputs[1].parameters) == {
        "shared_memory_region": "r", "shared_memory_byte_size": 16, "shared_memory_offset": 8}
    assert _convert.params_to_dict(msg.outputs[0].parameters) == {"classification": 2}
    assert "shared_memory_offset" not in msg.outputs[1].parameters
    assert (msg.model_name, msg.model_version, msg.id) == ("m", "2", "q")
