"""HttpClient against the real Triton: shared memory, every datatype and tensor encoding,
requested outputs, request ids and sequence parameters (split from test_client_http.py, whose
server notes apply)."""

from __future__ import annotations

import uuid
from multiprocessing import shared_memory
from typing import Any

import numpy as np
import pytest

from perfanalyzer.client.base import InferRequest, InputTensor, RequestedOutput, ShmRef
from perfanalyzer.errors import ServerError
from tests.support.aio import aio
from tests.support.http_calls import EXPECTED_DTYPE, VALUES, check_add_sub, client, types_request
from tests.support.infer_requests import ADD_SUB, A, B

server = pytest.mark.server


# -- shared memory -----------------------------------------------------------------------------
@server
@aio
async def test_system_shared_memory(triton: Any) -> None:
    region = f"pa_test_{uuid.uuid4().hex[:8]}"
    shm = shared_memory.SharedMemory(create=True, size=256)
    try:
        buf: np.ndarray = np.ndarray((4, 16), dtype=np.int32, buffer=shm.buf)
        buf[0], buf[1], buf[2:] = A[0], B[0], -1
        async with client(triton) as c:
            await c.register_system_shm(region, "/" + shm.name, 256, offset=0)
            try:
                status = await c.system_shm_status(region)
                assert status == [{"name": region, "key": "/" + shm.name, "offset": 0,
                                   "byte_size": 256}]
                assert region in {s["name"] for s in await c.system_shm_status()}
                request = InferRequest(model="add_sub", inputs=(
                    InputTensor("INPUT0", "INT32", (1, 16), shm=ShmRef(region, 64, 0)),
                    InputTensor("INPUT1", "INT32", (1, 16), shm=ShmRef(region, 64, 64)),
                ), outputs=(RequestedOutput("OUTPUT0", shm=ShmRef(region, 64, 128)),
                            RequestedOutput("OUTPUT1", shm=ShmRef(region, 64, 192))))
                result = await c.infer(request)
                assert result.outputs == {}
                assert result.shm_outputs == {"OUTPUT0": ("INT32", (1, 16)),
                                              "OUTPUT1": ("INT32", (1, 16))}
                np.testing.assert_array_equal(buf[2], (A + B)[0])
                np.testing.assert_array_equal(buf[3], (A - B)[0])
            finally:
                await c.unregister_system_shm(region)
            assert region not in {s["name"] for s in await c.system_shm_status()}
            with pytest.raises(ServerError) as err:
                await c.system_shm_status(region)
            assert err.value.status == 404 and region in err.value.message
            with pytest.raises(ServerError, match="no_such_key"):
                await c.register_system_shm(region, "/pa_no_such_key", 64)
        del buf
    finally:
        shm.close()
        shm.unlink()


@server
@aio
async def test_cuda_shared_memory_on_cpu_only_server(triton: Any) -> None:
    async with client(triton) as c:
        assert await c.cuda_shm_status() == []
        with pytest.raises(ServerError) as err:
            await c.cuda_shm_status("pa_cuda")
        assert err.value.status == 404 and "pa_cuda" in err.value.message
        with pytest.raises(ServerError) as err:
            await c.register_cuda_shm("pa_cuda", b"\0" * 64, device_id=0, byte_size=64)
        assert err.value.status == 400
        await c.unregister_cuda_shm()  # unregistering all: nothing to do, no error


# -- datatypes and tensor encodings ------------------------------------------------------------
@server
@pytest.mark.parametrize("dt", list(VALUES))
@aio
async def test_every_datatype_binary(triton: Any, dt: str) -> None:
    async with client(triton) as c:
        result = await c.infer(types_request([dt]))
    out = result.outputs[f"OUTPUT_{dt}"]
    assert list(result.outputs) == [f"OUTPUT_{dt}"]
    assert out.dtype == EXPECTED_DTYPE[dt] and out.shape == (3,)
    assert out.tolist() == VALUES[dt].tolist()


@server
@aio
async def test_all_datatypes_in_one_request_json_vs_binary(triton: Any) -> None:
    json_ok = [dt for dt in VALUES if dt not in ("FP16", "BF16")]
    async with client(triton) as c:
        binary = (await c.infer(types_request(list(VALUES)))).outputs
    async with client(triton, binary_tensors=False) as c:
        plain = (await c.infer(types_request(json_ok))).outputs
        for dt in ("FP16", "BF16"):
            with pytest.raises(ServerError, match=f"{dt} data via JSON is not supported"):
                await c.infer(types_request([dt]))
    assert set(binary) == {f"OUTPUT_{dt}" for dt in VALUES}
    assert set(plain) == {f"OUTPUT_{dt}" for dt in json_ok}
    for dt in VALUES:
        assert binary[f"OUTPUT_{dt}"].tolist() == VALUES[dt].tolist(), dt
    for dt in json_ok:
        name = f"OUTPUT_{dt}"
        assert plain[name].dtype == binary[name].dtype, dt
        assert plain[name].tolist() == binary[name].tolist(), dt


@server
@aio
async def test_requested_outputs_and_classification(triton: Any) -> None:
    async with client(triton) as c:
        only1 = await c.infer(InferRequest(model="add_sub", inputs=ADD_SUB.inputs,
                                           outputs=(RequestedOutput("OUTPUT1"),)))
        assert list(only1.outputs) == ["OUTPUT1"]
        np.testing.assert_array_equal(only1.outputs["OUTPUT1"], A - B)
        for binary in (True, False):
            classes = await c.infer(InferRequest(model="add_sub", inputs=ADD_SUB.inputs, outputs=(
                RequestedOutput("OUTPUT0", binary=binary, class_count=3),
                RequestedOutput("OUTPUT1", binary=binary))))
            # OUTPUT0 = A + B = 3..18; top 3 as "value:index"
            assert classes.outputs["OUTPUT0"].tolist() == [[b"18:15", b"17:14", b"16:13"]]
            np.testing.assert_array_equal(classes.outputs["OUTPUT1"], A - B)


@server
@aio
async def test_request_id_and_model_version_echoed(triton: Any) -> None:
    async with client(triton) as c:
        request = InferRequest(model="add_sub", version="1", inputs=ADD_SUB.inputs,
                               request_id="req-42")
        result = await c.infer(request)
        assert (result.id, result.model_name, result.model_version) == ("req-42", "add_sub", "1")
        check_add_sub(result.outputs)
        assert (await c.infer(ADD_SUB)).id == ""


def _seq(value: int, **flags: Any) -> InferRequest:
    return InferRequest(model="sequence_acc", inputs=(
        InputTensor.from_numpy("INPUT", np.array([value], np.int32)),), **flags)


@server
@aio
async def test_sequence_parameters(triton: Any) -> None:
    sid = 900_000 + uuid.uuid4().int % 100_000
    async with client(triton) as c:
        got = []
        for i, v in enumerate((3, 4, 5)):
            r = await c.infer(_seq(v, sequence_id=sid, sequence_start=i == 0,
                                   sequence_end=i == 2))
            got.append((int(r.outputs["OUTPUT"][0]), int(r.outputs["COUNT"][0])))
        assert got == [(3, 1), (7, 2), (12, 3)]
        with pytest.raises(ServerError) as err:  # the sequence has ended: no START → error
            await c.infer(_seq(1, sequence_id=sid))
        assert err.value.status == 400 and "START" in err.value.message
