"""One real request to every test model in tests/models, over plain HTTP (urllib + json), checking
the numbers. These tests pin the models' contracts that the rest of the suite relies on."""

from __future__ import annotations

import json
import struct
import urllib.error
import urllib.request
import uuid
from typing import Any

import numpy as np
import pytest

pytestmark = pytest.mark.server

RawTensor = tuple[str, list[int], bytes]  # (datatype, shape, raw little-endian bytes)


def _post(url: str, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, Any, bytes]:
    req = urllib.request.Request(url, data=body, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read()


def infer_json(server: Any, model: str, inputs: list[dict[str, Any]],
               parameters: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
    """POST a JSON-only inference request; returns (HTTP status, decoded body)."""
    body: dict[str, Any] = {"inputs": inputs}
    if parameters:
        body["parameters"] = parameters
    status, _, data = _post(f"http://{server.http_url}/v2/models/{model}/infer",
                            json.dumps(body).encode())
    return status, json.loads(data)


def outputs_by_name(body: dict[str, Any]) -> dict[str, Any]:
    return {o["name"]: o for o in body["outputs"]}


def infer_binary(server: Any, model: str, inputs: dict[str, RawTensor],
                 outputs: list[str]) -> dict[str, RawTensor]:
    """Inference with the binary tensor data extension (needed for FP16/BF16)."""
    head = {
        "inputs": [{"name": n, "datatype": dt, "shape": shape,
                    "parameters": {"binary_data_size": len(raw)}}
                   for n, (dt, shape, raw) in inputs.items()],
        "outputs": [{"name": o, "parameters": {"binary_data": True}} for o in outputs],
    }
    hb = json.dumps(head).encode()
    body = hb + b"".join(raw for _, _, raw in inputs.values())
    status, headers, data = _post(
        f"http://{server.http_url}/v2/models/{model}/infer", body,
        {"Inference-Header-Content-Length": str(len(hb)),
         "Content-Type": "application/octet-stream"})
    assert status == 200, data
    hl = int(headers["Inference-Header-Content-Length"])
    result: dict[str, RawTensor] = {}
    offset = hl
    for out in json.loads(data[:hl])["outputs"]:
        size = out["parameters"]["binary_data_size"]
        result[out["name"]] = (out["datatype"], out["shape"], data[offset:offset + size])
        offset += size
    assert offset == len(data)
    return result


def model_stats(server: Any, model: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://{server.http_url}/v2/models/{model}/stats",
                                timeout=10) as resp:
        stats: dict[str, Any] = json.loads(resp.read())["model_stats"][0]
    return stats


def test_add_sub(triton: Any) -> None:
    a, b = list(range(16)), [3] * 16
    status, body = infer_json(triton, "add_sub", [
        {"name": "INPUT0", "datatype": "INT32", "shape": [1, 16], "data": a},
        {"name": "INPUT1", "datatype": "INT32", "shape": [1, 16], "data": b}])
    assert status == 200, body
    out = outputs_by_name(body)
    assert out["OUTPUT0"]["data"] == [x + 3 for x in a]
    assert out["OUTPUT1"]["data"] == [x - 3 for x in a]


def test_delay_echoes(triton: Any) -> None:
    status, body = infer_json(triton, "delay", [
        {"name": "INPUT0", "datatype": "FP32", "shape": [4], "data": [1.5, 2, 3, 4]}])
    assert status == 200, body
    assert outputs_by_name(body)["OUTPUT0"]["data"] == [1.5, 2.0, 3.0, 4.0]


def test_identity_fp32_one_execution_per_request(triton: Any) -> None:
    before = model_stats(triton, "identity_fp32")
    data = [0.5, -1.25, 3.0, 1e-3, 7.0, 8.5]
    status, body = infer_json(triton, "identity_fp32", [
        {"name": "INPUT0", "datatype": "FP32", "shape": [2, 3], "data": data}])
    assert status == 200, body
    out = outputs_by_name(body)["OUTPUT0"]
    assert (out["datatype"], out["shape"]) == ("FP32", [2, 3])
    assert np.array_equal(np.array(out["data"], np.float32), np.array(data, np.float32))
    after = model_stats(triton, "identity_fp32")
    assert after["inference_count"] - before["inference_count"] == 2  # batch of 2
    assert after["execution_count"] - before["execution_count"] == 1


def test_identity_int32(triton: Any) -> None:
    data = [2**31 - 1, -(2**31), 0, 42]
    status, body = infer_json(triton, "identity_int32", [
        {"name": "INPUT0", "datatype": "INT32", "shape": [1, 4], "data": data}])
    assert status == 200, body
    out = outputs_by_name(body)["OUTPUT0"]
    assert (out["datatype"], out["shape"], out["data"]) == ("INT32", [1, 4], data)


def test_identity_bytes(triton: Any) -> None:
    data = ["hello", "", "a b c"]
    status, body = infer_json(triton, "identity_bytes", [
        {"name": "INPUT0", "datatype": "BYTES", "shape": [1, 3], "data": data}])
    assert status == 200, body
    out = outputs_by_name(body)["OUTPUT0"]
    assert (out["datatype"], out["shape"], out["data"]) == ("BYTES", [1, 3], data)


def _bytes_tensor(items: list[bytes]) -> bytes:
    return b"".join(struct.pack("<I", len(s)) + s for s in items)


def _all_types() -> dict[str, RawTensor]:
    rng = np.random.default_rng(7)
    tensors: dict[str, RawTensor] = {}
    for dt, np_type in (("UINT8", np.uint8), ("UINT16", np.uint16), ("UINT32", np.uint32),
                        ("UINT64", np.uint64), ("INT8", np.int8), ("INT16", np.int16),
                        ("INT32", np.int32), ("INT64", np.int64)):
        info = np.iinfo(np_type)
        arr = np.array([info.min, info.max, 1, 2, 3], dtype=np_type)
        tensors[dt] = (dt, [5], arr.tobytes())
    for dt, float_type in (("FP16", np.float16), ("FP32", np.float32), ("FP64", np.float64)):
        arr = rng.standard_normal(6).astype(float_type)
        tensors[dt] = (dt, [6], arr.tobytes())
    f32 = np.array([1.5, -2.25, 3.0e10, -0.0], dtype=np.float32)
    tensors["BF16"] = ("BF16", [4], (f32.view(np.uint32) >> 16).astype("<u2").tobytes())
    tensors["BOOL"] = ("BOOL", [3], np.array([True, False, True]).tobytes())
    tensors["BYTES"] = ("BYTES", [3], _bytes_tensor([b"ab", b"", b"\x00\xff\x80"]))
    return tensors


def test_identity_types_round_trips_every_datatype(triton: Any) -> None:
    tensors = _all_types()
    assert len(tensors) == 14
    result = infer_binary(triton, "identity_types",
                          {f"INPUT_{dt}": t for dt, t in tensors.items()},
                          [f"OUTPUT_{dt}" for dt in tensors])
    assert result == {f"OUTPUT_{dt}": t for dt, t in tensors.items()}


def test_identity_types_only_sent_inputs_come_back(triton: Any) -> None:
    status, body = infer_json(triton, "identity_types", [
        {"name": "INPUT_INT8", "datatype": "INT8", "shape": [2], "data": [-128, 127]}])
    assert status == 200, body
    assert [(o["name"], o["data"]) for o in body["outputs"]] == [("OUTPUT_INT8", [-128, 127])]


def _seq(server: Any, seq_id: int, value: int, *, start: bool = False,
         end: bool = False) -> tuple[int, dict[str, Any]]:
    return infer_json(server, "sequence_acc",
                      [{"name": "INPUT", "datatype": "INT32", "shape": [1], "data": [value]}],
                      {"sequence_id": seq_id, "sequence_start": start, "sequence_end": end})


def _sum_count(reply: tuple[int, dict[str, Any]]) -> tuple[int, int]:
    status, body = reply
    assert status == 200, body
    out = outputs_by_name(body)
    return out["OUTPUT"]["data"][0], out["COUNT"]["data"][0]


def test_sequence_acc_keeps_state_per_sequence(triton: Any) -> None:
    a, b = (uuid.uuid4().int % 2**62 + 1 for _ in range(2))
    assert _sum_count(_seq(triton, a, 5, start=True)) == (5, 1)
    assert _sum_count(_seq(triton, b, 100, start=True)) == (100, 1)
    assert _sum_count(_seq(triton, a, 3)) == (8, 2)
    assert _sum_count(_seq(triton, b, -1)) == (99, 2)
    assert _sum_count(_seq(triton, a, 2, end=True)) == (10, 3)
    assert _sum_count(_seq(triton, b, 1, end=True)) == (100, 3)
    # END removed the state: a new START begins from zero.
    assert _sum_count(_seq(triton, a, 7, start=True, end=True)) == (7, 1)


def test_sequence_acc_errors(triton: Any) -> None:
    seq_id = uuid.uuid4().int % 2**62 + 1
    status, body = _seq(triton, seq_id, 1)
    assert status == 400 and "START" in body["error"], body
    assert _sum_count(_seq(triton, seq_id, 4, start=True)) == (4, 1)
    status, body = _seq(triton, seq_id, 1, start=True)
    assert status == 400 and "still live" in body["error"], body
    # The failed START left the live sequence as it was.
    assert _sum_count(_seq(triton, seq_id, 6, end=True)) == (10, 2)
    status, body = _seq(triton, seq_id, 1)
    assert status == 400 and "START" in body["error"], body
    status, body = infer_json(triton, "sequence_acc", [
        {"name": "INPUT", "datatype": "INT32", "shape": [1], "data": [1]}])
    assert status == 400 and "correlation ID" in body["error"], body


def _generate_stream(server: Any, model: str, payload: dict[str, Any]) -> list[dict[str, Any]]:
    """Server-sent events from the generate_stream extension; the stream only ends once the model
    has sent its COMPLETE_FINAL flag."""
    status, _, data = _post(f"http://{server.http_url}/v2/models/{model}/generate_stream",
                            json.dumps(payload).encode())
    assert status == 200, data
    return [json.loads(line[len("data: "):]) for line in data.decode().splitlines()
            if line.startswith("data: ")]


def test_repeat_one_response_per_element(triton: Any) -> None:
    events = _generate_stream(triton, "repeat", {"IN": [4, -5, 6, 6]})
    assert [(e["IDX"], e["OUT"]) for e in events] == [(0, 4), (1, -5), (2, 6), (3, 6)]
    assert _generate_stream(triton, "repeat", {"IN": []}) == []


def test_repeat_is_decoupled(triton: Any) -> None:
    with urllib.request.urlopen(f"http://{triton.http_url}/v2/models/repeat/config",
                                timeout=10) as resp:
        config = json.loads(resp.read())
    assert config["model_transaction_policy"]["decoupled"] is True


@pytest.mark.parametrize("model", ["ensemble_add_sub", "ensemble_nested"])
def test_ensembles_compute_add_sub_and_count_composing_models(triton: Any, model: str) -> None:
    composing = ("add_sub", "identity_int32", "ensemble_add_sub", "ensemble_nested")
    before = {m: model_stats(triton, m)["inference_count"] for m in composing}
    a = np.arange(32, dtype=np.int32).reshape(2, 16)
    b = np.full((2, 16), 10, dtype=np.int32)
    status, body = infer_json(triton, model, [
        {"name": "INPUT0", "datatype": "INT32", "shape": [2, 16], "data": a.ravel().tolist()},
        {"name": "INPUT1", "datatype": "INT32", "shape": [2, 16], "data": b.ravel().tolist()}])
    assert status == 200, body
    out = outputs_by_name(body)
    assert out["OUTPUT0"]["shape"] == [2, 16] and out["OUTPUT1"]["shape"] == [2, 16]
    assert out["OUTPUT0"]["data"] == (a + b).ravel().tolist()
    assert out["OUTPUT1"]["data"] == (a - b).ravel().tolist()
    after = {m: model_stats(triton, m)["inference_count"] for m in composing}
    nested = model == "ensemble_nested"
    assert {m: after[m] - before[m] for m in composing} == {
        "add_sub": 2, "identity_int32": 2, "ensemble_add_sub": 2, "ensemble_nested": 2 * nested}


def test_paced_stream_answers_every_element_then_ends(triton: Any) -> None:
    events = _generate_stream(triton, "paced_stream", {"IN": [7, 8, 9]})
    assert [(e["IDX"], e["OUT"]) for e in events] == [(0, 7), (1, 8), (2, 9)]
