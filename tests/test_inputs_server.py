"""perfanalyzer.inputs against the real Triton: built requests (generated, JSON, every datatype,
sequence streams) are accepted and validation data matches the server's outputs.
"""
from __future__ import annotations

import json
import urllib.request
from typing import Any

import numpy as np
import pytest

from perfanalyzer.client import tensors
from perfanalyzer.inputs import DataOptions, ModelIO, Step, load_input_data, model_io
from tests.support.model_io import ALL_TYPES, DATA, arrays
from tests.support.paths import TEST_MODELS

# -- the real server accepts what we build ----------------------------------------------------

def get_json(triton: Any, path: str) -> Any:
    with urllib.request.urlopen(f"http://{triton.http_url}{path}", timeout=30) as resp:
        return json.loads(resp.read())


def infer_json(triton: Any, model: str, step: Step, parameters: dict[str, Any] | None = None
               ) -> dict[str, np.ndarray]:
    """One KServe v2 JSON-tensor request; returns the outputs as numpy arrays."""
    body: dict[str, Any] = {"inputs": [
        {"name": t.name, "datatype": t.datatype, "shape": list(t.shape),
         "data": tensors.to_json_values(t.to_numpy(), t.datatype)} for t in step.inputs]}
    if parameters:
        body["parameters"] = parameters
    req = urllib.request.Request(f"http://{triton.http_url}/v2/models/{model}/infer",
                                 data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        answer = json.loads(resp.read())
    return {o["name"]: tensors.from_json_values(o["data"], o["datatype"], o["shape"])
            for o in answer["outputs"]}


def infer_binary(triton: Any, model: str, step: Step) -> dict[str, np.ndarray]:
    """One request with the binary tensor extension: the raw ``data`` bytes go on the wire as
    built; outputs come back binary too."""
    header = {"inputs": [{"name": t.name, "datatype": t.datatype, "shape": list(t.shape),
                          "parameters": {"binary_data_size": len(t.data or b"")}}
                         for t in step.inputs],
              "parameters": {"binary_data_output": True}}
    head = json.dumps(header).encode()
    req = urllib.request.Request(
        f"http://{triton.http_url}/v2/models/{model}/infer", method="POST",
        data=head + b"".join(t.data or b"" for t in step.inputs),
        headers={"Content-Type": "application/octet-stream",
                 "Inference-Header-Content-Length": str(len(head))})
    with urllib.request.urlopen(req, timeout=30) as resp:
        body = resp.read()
        head_len = int(resp.headers["Inference-Header-Content-Length"])
    answer, offset, outputs = json.loads(body[:head_len]), head_len, {}
    for o in answer["outputs"]:
        size = o["parameters"]["binary_data_size"]
        outputs[o["name"]] = tensors.from_raw(body[offset:offset + size], o["datatype"], o["shape"])
        offset += size
    return outputs


def server_io(triton: Any, model: str) -> ModelIO:
    if not (TEST_MODELS / model).is_dir():
        pytest.skip(f"test model {model} not in tests/models yet")
    return model_io(get_json(triton, f"/v2/models/{model}"),
                    get_json(triton, f"/v2/models/{model}/config"))


@pytest.mark.server
@pytest.mark.parametrize(("model", "options"), [
    ("add_sub", DataOptions(batch_size=4)),
    ("identity_fp32", DataOptions(batch_size=2, shapes={"INPUT0": (5,)})),
    ("identity_int32", DataOptions(batch_size=8, shapes={"INPUT0": (3,)}, input_data=("zero",))),
    ("identity_bytes", DataOptions(batch_size=3, shapes={"INPUT0": (2,)}, string_length=7)),
])
def test_server_accepts_generated_requests(triton: Any, model: str, options: DataOptions) -> None:
    io = server_io(triton, model)
    step = load_input_data(io, options).step(0, 0)
    sent = arrays(step)
    out = infer_json(triton, model, step)
    if model == "add_sub":
        assert io.max_batch_size == 8 and sent["INPUT0"].shape == (4, 16)
        np.testing.assert_array_equal(out["OUTPUT0"], sent["INPUT0"] + sent["INPUT1"])
        np.testing.assert_array_equal(out["OUTPUT1"], sent["INPUT0"] - sent["INPUT1"])
    else:
        assert out["OUTPUT0"].shape == (options.batch_size, *options.shapes["INPUT0"])
        np.testing.assert_array_equal(out["OUTPUT0"], sent["INPUT0"])


@pytest.mark.server
def test_server_outputs_match_validation_data(triton: Any) -> None:
    io = server_io(triton, "add_sub")
    data = load_input_data(io, DataOptions(batch_size=2,
                                           input_data=(str(DATA / "add_sub_steps.json"),)))
    for k in range(len(data.streams[0])):
        step = data.step(0, k)
        out = infer_json(triton, "add_sub", step)
        assert step.expected_outputs is not None
        for name, expected in step.expected_outputs.items():
            np.testing.assert_array_equal(out[name], expected)


@pytest.mark.server
def test_server_sequence_streams(triton: Any) -> None:
    io = server_io(triton, "sequence_acc")
    data = load_input_data(io, DataOptions(input_data=(str(DATA / "sequence_streams.json"),)))
    assert io.is_sequence and len(data.streams) == 2
    for stream, seq_id in ((0, 9101), (1, 9102)):
        n = len(data.streams[stream])
        for k in range(n):
            step = data.step(stream, k)
            out = infer_json(triton, "sequence_acc", step, {
                "sequence_id": seq_id, "sequence_start": k == 0, "sequence_end": k == n - 1})
            assert step.expected_outputs is not None
            np.testing.assert_array_equal(out["OUTPUT"], step.expected_outputs["OUTPUT"])


@pytest.mark.server
def test_server_accepts_every_datatype_binary(triton: Any) -> None:
    io = server_io(triton, "identity_types")
    shapes = {f"INPUT_{dt}": (3 + i,) for i, dt in enumerate(ALL_TYPES)}
    step = load_input_data(io, DataOptions(shapes=shapes, string_length=4, seed=7)).step(0, 0)
    assert [t.datatype for t in step.inputs] == list(ALL_TYPES)
    out = infer_binary(triton, "identity_types", step)
    assert sorted(out) == sorted(f"OUTPUT_{dt}" for dt in ALL_TYPES)
    for tensor in step.inputs:
        echoed = out[tensor.name.replace("INPUT_", "OUTPUT_")]
        assert echoed.shape == tensor.shape
        np.testing.assert_array_equal(echoed, tensor.to_numpy())
