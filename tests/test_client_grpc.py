"""GrpcClient against the real Triton (``triton`` fixture): health, metadata, model config,
repository, statistics, shared memory, datatypes and prepared requests; the shared helpers.
Streams and errors are in test_client_grpc_stream.py; the in-process grpc.aio server for what
Triton cannot show (which metadata arrived, TLS handshakes) and the converter unit tests are in
test_client_grpc_channel.py.

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
import json
import urllib.request
import uuid
from multiprocessing import shared_memory
from typing import Any

import numpy as np
import pytest

from perfanalyzer.client import tensors
from perfanalyzer.client.base import (
    InferRequest,
    InputTensor,
    RequestedOutput,
    ShmRef,
)
from perfanalyzer.client.grpc import PreparedInfer
from perfanalyzer.errors import ServerError
from tests.support.aio import aio
from tests.support.grpc_calls import client
from tests.support.infer_requests import ADD_SUB, A, B
from tests.support.paths import TEST_MODELS
from tests.support.triton_stats import settled_delta, stats

server = pytest.mark.server


def http_json(triton: Any, path: str) -> Any:
    with urllib.request.urlopen(f"http://{triton.http_url}{path}", timeout=30) as resp:
        return json.load(resp)


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
