"""perfanalyzer.inputs: model I/O, flag checks, generated / JSON / directory data, batching.

Unit tests run on hand-written metadata/config dicts; the ``server`` tests send built requests to
the real Triton to prove their shapes and datatypes are accepted.
"""

from __future__ import annotations

import json
import struct
import tracemalloc
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from perfanalyzer.client import tensors
from perfanalyzer.errors import OptionError
from perfanalyzer.inputs import (
    DataOptions,
    ModelIO,
    Step,
    TensorSpec,
    load_input_data,
    model_io,
    parse_shape,
)
from perfanalyzer.inputs.generate import RANDOM_INT_HIGH, STRING_ALPHABET

DATA = Path(__file__).parent / "data" / "inputs"
MODELS = Path(__file__).parent / "models"
ALL_TYPES = ("BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64",
             "FP16", "FP32", "FP64", "BF16", "BYTES")
Tensor = tuple  # (name, datatype, dims[, optional])


def make_io(name: str, inputs: Sequence[Tensor], outputs: Sequence[Tensor] = (), mbs: int = 0,
            **config: Any) -> ModelIO:
    """ModelIO through model_io(), from Triton-shaped metadata and config dicts."""
    batch = [-1] if mbs > 0 else []

    def meta(t: Tensor) -> dict[str, Any]:
        return {"name": t[0], "datatype": t[1], "shape": batch + list(t[2])}

    def conf(t: Tensor) -> dict[str, Any]:
        return {"name": t[0], "data_type": "TYPE_STRING" if t[1] == "BYTES" else f"TYPE_{t[1]}",
                "dims": list(t[2]), "optional": bool(t[3]) if len(t) > 3 else False}

    metadata = {"name": name, "versions": ["1"], "platform": "python",
                "inputs": [meta(t) for t in inputs], "outputs": [meta(t) for t in outputs]}
    cfg = {"name": name, "max_batch_size": mbs, "input": [conf(t) for t in inputs],
           "output": [conf(t) for t in outputs], **config}
    return model_io(metadata, cfg)


M = make_io("m", [("INPUT0", "INT32", [16]), ("INPUT1", "INT32", [16])],
            [("OUTPUT0", "INT32", [16]), ("OUTPUT1", "INT32", [16])], mbs=8)
IDENT = make_io("identity_fp32", [("INPUT0", "FP32", [-1])], [("OUTPUT0", "FP32", [-1])], mbs=8)
SEQ = make_io("seq", [("INPUT", "INT32", [1])], [("OUTPUT", "INT32", [1])],
              sequence_batching={"max_sequence_idle_microseconds": 1000000})
MIXED = make_io("mixed", [("INPUT_FP32", "FP32", [-1, 2]), ("INPUT_BYTES", "BYTES", [-1]),
                          ("INPUT_INT8", "INT8", [4], True)], [("OUT", "FP32", [-1])])
TYPES = make_io("types", [(f"INPUT_{dt}", dt, [-1], True) for dt in ALL_TYPES])


def arrays(step: Step) -> dict[str, np.ndarray]:
    return {t.name: t.to_numpy() for t in step.inputs}


def option_error(io: ModelIO, **options: Any) -> str:
    with pytest.raises(OptionError) as info:
        load_input_data(io, DataOptions(**options))
    return str(info.value)


# -- model_io ---------------------------------------------------------------------------------

def test_model_io_from_triton_shapes() -> None:
    assert M.inputs == (TensorSpec("INPUT0", "INT32", (16,)), TensorSpec("INPUT1", "INT32", (16,)))
    assert (M.name, M.max_batch_size, M.is_sequence, M.is_decoupled) == ("m", 8, False, False)
    assert IDENT.inputs[0].shape == (-1,) and IDENT.inputs[0].is_dynamic
    assert SEQ.is_sequence and not MIXED.is_sequence
    assert MIXED.input("INPUT_INT8") == TensorSpec("INPUT_INT8", "INT8", (4,), optional=True)


def test_model_io_metadata_only_drops_batch_dim_and_flags() -> None:
    meta = {"name": "e", "inputs": [{"name": "A", "datatype": "FP16", "shape": [-1, 3, 4]}],
            "outputs": [{"name": "B", "datatype": "BYTES", "shape": [-1, 2]}]}
    config = {"max_batch_size": 4, "platform": "ensemble",
              "model_transaction_policy": {"decoupled": True},
              "ensemble_scheduling": {"step": [{"model_name": "add_sub"},
                                               {"model_name": "identity_int32"},
                                               {"model_name": "add_sub"}]}}
    io = model_io(meta, config)
    assert io.inputs == (TensorSpec("A", "FP16", (3, 4)),)
    assert io.outputs == (TensorSpec("B", "BYTES", (2,)),)
    assert io.is_ensemble and io.is_decoupled
    assert io.composing_models == ("add_sub", "identity_int32")


def test_model_io_config_only_and_bad_datatype() -> None:
    io = model_io({"name": "c"}, {"max_batch_size": 0, "input": [
        {"name": "X", "data_type": "TYPE_STRING", "dims": [2], "is_shape_tensor": True}]})
    assert io.inputs == (TensorSpec("X", "BYTES", (2,), is_shape_tensor=True),)
    with pytest.raises(OptionError, match=r"^model 'c': tensor 'X' has unsupported datatype "
                                          r"'TYPE_COMPLEX'$"):
        model_io({"name": "c"}, {"input": [{"name": "X", "data_type": "TYPE_COMPLEX", "dims": []}]})


# -- flags ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("INPUT0:4,4", ("INPUT0", (4, 4))),
    ("ns:name:3", ("ns:name", (3,))),
    ("x: 1, 2", ("x", (1, 2))),
])
def test_parse_shape(text: str, expected: tuple[str, tuple[int, ...]]) -> None:
    assert parse_shape(text) == expected


@pytest.mark.parametrize(("text", "message"), [
    ("INPUT0", "--shape INPUT0: expected name:d1,d2,..."),
    (":4", "--shape :4: expected name:d1,d2,..."),
    ("INPUT0:", "--shape INPUT0:: expected name:d1,d2,..."),
    ("INPUT0:4,x", "--shape INPUT0:4,x: dims must be integers"),
    ("INPUT0:4,0", "--shape INPUT0:4,0: every dim must be > 0"),
    ("INPUT0:-1", "--shape INPUT0:-1: every dim must be > 0"),
])
def test_parse_shape_errors(text: str, message: str) -> None:
    with pytest.raises(OptionError) as info:
        parse_shape(text)
    assert str(info.value) == message


@pytest.mark.parametrize(("io", "options", "message"), [
    (M, {"batch_size": 0}, "-b must be >= 1, got 0"),
    (M, {"batch_size": 9}, "-b 9 exceeds max_batch_size 8 of model 'm'"),
    (MIXED, {"batch_size": 2}, "-b 2: model 'mixed' does not support batching "
                               "(max_batch_size 0)"),
    (make_io("s", [("I", "INT32", [1])], mbs=4, sequence_batching={}), {"batch_size": 2},
     "-b 2: sequence model 's' takes -b 1 only"),
    (M, {"shapes": {"FOO": (16,)}},
     "--shape FOO:16: 'FOO' is not an input of model 'm' (inputs: INPUT0, INPUT1)"),
    (M, {"shapes": {"INPUT0": (8,)}},
     "--shape INPUT0:8: shape [8] of 'INPUT0' does not match the model shape [16]"),
    (IDENT, {"shapes": {"INPUT0": (4, 4)}},
     "--shape INPUT0:4,4: shape [4,4] of 'INPUT0' does not match the model shape [-1]"),
    (IDENT, {"shapes": {"INPUT0": (0,)}},
     "--shape INPUT0:0: every dim of 'INPUT0' must be >= 1, got [0]"),
    (M, {"string_length": -1}, "--string-length must be >= 0, got -1"),
    (IDENT, {}, "input 'INPUT0' has dynamic shape [-1]; give it with --shape INPUT0:dims"),
    (make_io("d", [("X", "FP32", [-1, 16])]), {},
     "input 'X' has dynamic shape [-1,16]; give it with --shape X:dims"),
    (M, {"input_data": ("nowhere.json",)}, "--input-data nowhere.json: no such file or "
                                           "directory (expected 'random', 'zero', a directory "
                                           "or a JSON file)"),
    (TYPES, {}, "model 'types': no input has a known shape; give at least one with "
                "--shape name:dims"),
])
def test_option_errors(io: ModelIO, options: dict[str, Any], message: str) -> None:
    assert option_error(io, **options) == message


def test_shape_tensor_needs_user_data() -> None:
    io = model_io({"name": "t"}, {"input": [
        {"name": "S", "data_type": "TYPE_INT32", "dims": [2], "is_shape_tensor": True}]})
    assert option_error(io) == ("input 'S' is a shape tensor; random or zero data cannot be "
                                "generated for it, give it with --input-data FILE.json")


# -- generated data ---------------------------------------------------------------------------

def test_random_is_seeded_deterministic_and_in_range() -> None:
    a = load_input_data(M, DataOptions())
    b = load_input_data(M, DataOptions())
    c = load_input_data(M, DataOptions(seed=1))
    assert [t.data for t in a.step(0, 0).inputs] == [t.data for t in b.step(0, 0).inputs]
    assert a.step(0, 0).inputs[0].data != c.step(0, 0).inputs[0].data
    x0, x1 = arrays(a.step(0, 0)).values()
    assert x0.shape == (1, 16) and x0.dtype == np.int32
    assert x0.min() >= 0 and x0.max() < RANDOM_INT_HIGH
    assert not np.array_equal(x0, x1)  # drawn per input, unlike perf_analyzer's shared buffer
    assert len(a.streams) == 1 and a.stream_length(0) == 1 and not a.user_data


def test_random_every_datatype() -> None:
    shapes = {f"INPUT_{dt}": (64,) for dt in ALL_TYPES}
    data = load_input_data(TYPES, DataOptions(shapes=shapes, string_length=5))
    got = arrays(data.step(0, 0))
    assert list(got) == [f"INPUT_{dt}" for dt in ALL_TYPES]
    for dt in ALL_TYPES:
        arr = got[f"INPUT_{dt}"]
        assert arr.shape == (64,)
        if dt == "BYTES":
            assert all(len(v) == 5 and set(v) <= set(STRING_ALPHABET) for v in arr)
            assert len(set(arr)) > 1
        elif dt == "BOOL":
            assert set(arr.tolist()) == {False, True}
        elif dt.startswith(("FP", "BF")):
            assert arr.min() >= 0.0 and arr.max() < 1.0 and len(set(arr.tolist())) > 1
        else:
            assert arr.dtype == tensors.NUMPY_DTYPES[dt]
            assert arr.min() >= 0 and arr.max() < RANDOM_INT_HIGH and len(set(arr.tolist())) > 1


def test_optional_input_without_shape_is_left_out() -> None:
    data = load_input_data(TYPES, DataOptions(shapes={"INPUT_INT16": (3,)}))
    (tensor,) = data.step(0, 0).inputs
    assert (tensor.name, tensor.datatype, tensor.shape, len(tensor.data or b"")) == \
        ("INPUT_INT16", "INT16", (3,), 6)


def test_zero_data_and_string_options() -> None:
    io = make_io("z", [("N", "FP32", [3]), ("S", "BYTES", [2])])
    zero = arrays(load_input_data(io, DataOptions(input_data=("random", "zero"))).step(0, 0))
    assert zero["N"].tolist() == [0.0, 0.0, 0.0]
    # BYTES are not zeroed (perf_analyzer behaviour): random strings of --string-length
    assert [len(v) for v in zero["S"]] == [128, 128] and zero["S"][0] != zero["S"][1]
    fixed = load_input_data(io, DataOptions(input_data=("zero",), string_data="héllo"))
    assert fixed.step(0, 0).inputs[1].data == struct.pack("<I", 6) + "héllo".encode() \
        + struct.pack("<I", 6) + "héllo".encode()
    empty = arrays(load_input_data(io, DataOptions(string_length=0)).step(0, 0))
    assert empty["S"].tolist() == [b"", b""]


def test_random_batching_tiles_one_buffer() -> None:
    data = load_input_data(M, DataOptions(batch_size=4))
    step = data.step(0, 0)
    x0 = arrays(step)["INPUT0"]
    assert x0.shape == (4, 16) and step.inputs[0].data == x0.tobytes()
    assert all(np.array_equal(row, x0[0]) for row in x0)
    assert data.step(0, 7) is step and data.step(3, 0) is step


def test_large_random_tensor_is_one_bytes_object() -> None:
    io = make_io("big", [("X", "FP32", [4096, 4096])], mbs=8)  # 64 MiB at batch 1
    tracemalloc.start()
    try:
        data = load_input_data(io, DataOptions(batch_size=1))
        held, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    tensor = data.step(0, 0).inputs[0]
    assert tensor.shape == (1, 4096, 4096) and len(tensor.data or b"") == 64 * 2**20
    assert data.step(0, 99).inputs[0].data is tensor.data
    # one 64 MiB bytes object is kept; building it needs the numpy array once more at most
    assert held < 65 * 2**20 and peak < 129 * 2**20


# -- JSON files -------------------------------------------------------------------------------

def test_json_steps_with_validation_batched() -> None:
    """-b 2 over 3 steps: request k takes steps (2k mod 3, 2k+1 mod 3); 3 distinct requests."""
    path = str(DATA / "add_sub_steps.json")
    data = load_input_data(M, DataOptions(batch_size=2, input_data=(path,)))
    assert data.user_data and data.has_validation and data.stream_length(0) == 3
    firsts = [arrays(data.step(0, k))["INPUT0"][:, 0].tolist() for k in range(4)]
    assert firsts == [[0, 16], [32, 0], [16, 32], [0, 16]]
    step = data.step(0, 1)
    x0, x1 = arrays(step).values()
    assert x0.shape == (2, 16) and x1[:, 0].tolist() == [3, 1]
    assert step.expected_outputs is not None
    np.testing.assert_array_equal(step.expected_outputs["OUTPUT0"], x0 + x1)
    np.testing.assert_array_equal(step.expected_outputs["OUTPUT1"], x0 - x1)


def test_json_batch_one_has_batch_dim_and_each_step() -> None:
    data = load_input_data(M, DataOptions(input_data=(str(DATA / "add_sub_steps.json"),)))
    assert [arrays(data.step(0, k))["INPUT0"].shape for k in range(3)] == [(1, 16)] * 3
    assert [int(arrays(data.step(0, k))["INPUT1"][0, 0]) for k in range(4)] == [1, 2, 3, 1]


def test_json_streams_kept_for_sequence_models_and_flattened_otherwise() -> None:
    path = str(DATA / "sequence_streams.json")
    seq = load_input_data(SEQ, DataOptions(input_data=(path, path)))
    assert [seq.stream_length(s) for s in range(4)] == [3, 2, 3, 2]
    assert [int(seq.step(1, k).inputs[0].to_numpy()[0]) for k in range(3)] == [10, 20, 10]
    assert seq.step(0, 2).expected_outputs["OUTPUT"].tolist() == [6]  # type: ignore[index]
    flat_io = make_io("f", [("INPUT", "INT32", [1])], [("OUTPUT", "INT32", [1])])
    flat = load_input_data(flat_io, DataOptions(input_data=(path,)))
    assert len(flat.streams) == 1
    assert [int(flat.step(0, k).inputs[0].to_numpy()[0]) for k in range(5)] == [1, 2, 3, 10, 20]


def test_json_encodings() -> None:
    data = load_input_data(MIXED, DataOptions(input_data=(str(DATA / "encodings.json"),)))
    first, second = arrays(data.step(0, 0)), arrays(data.step(0, 1))
    assert first["INPUT_FP32"].tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert first["INPUT_BYTES"].tolist() == [b"alpha", b"beta", b"gamma"]
    assert "INPUT_INT8" not in first  # optional, absent
    assert second["INPUT_FP32"].tolist() == [[0.5, 1.5]]
    assert second["INPUT_BYTES"].tolist() == [b"hi", b"\x00\xffraw"]
    assert second["INPUT_INT8"].tolist() == [-1, 2, -3, 4]
    assert data.step(0, 0).expected_outputs is None


def test_json_shape_flag_fills_dynamic_dims_and_file_shape_wins(tmp_path: Path) -> None:
    path = tmp_path / "d.json"
    path.write_text(json.dumps({"data": [{"INPUT0": [1, 2, 3]},
                                         {"INPUT0": {"content": [[5, 6]], "shape": [2]}}]}))
    data = load_input_data(IDENT, DataOptions(input_data=(str(path),), shapes={"INPUT0": (3,)}))
    assert [t.shape for s in data.streams[0] for t in s.inputs] == [(1, 3), (1, 2)]
    assert arrays(data.step(0, 1))["INPUT0"].tolist() == [[5.0, 6.0]]


def test_bf16_and_dynamic_output_inference(tmp_path: Path) -> None:
    io = make_io("bf", [("X", "BF16", [2])], [("Y", "FP16", [-1, 2])])
    path = tmp_path / "bf.json"
    path.write_text(json.dumps({"data": [{"X": [1.5, -2.0]}],
                                "validation_data": [{"Y": [1, 2, 3, 4]}]}))
    step = load_input_data(io, DataOptions(input_data=(str(path),))).step(0, 0)
    assert step.inputs[0].data == struct.pack("<HH", 0x3FC0, 0xC000)
    assert step.expected_outputs["Y"].shape == (2, 2)  # type: ignore[index]


JSON_ERRORS: list[tuple[ModelIO, str, str]] = [
    (M, '{"data": [\n  {"INPUT0": [1,]}\n]}',
     "data.json: invalid JSON at line 2, column 17: Expecting value"),
    (M, "[1, 2]", "data.json: the top level must be an object with a 'data' list"),
    (M, '{"validation_data": []}', "data.json: no 'data' field"),
    (M, '{"data": [], "extra": 1}', "data.json: unknown top-level key 'extra' (expected 'data' "
                                    "and optionally 'validation_data')"),
    (M, '{"data": {}}', "data.json: 'data' must be a list of steps (objects) or of streams "
                        "(lists of steps)"),
    (M, '{"data": []}', "data.json: 'data' is empty"),
    (M, '{"data": [[], {}]}', "data.json: data[1]: 'data' mixes streams (lists) and steps "
                              "(objects); use one form for every entry"),
    (M, '{"data": [[]]}', "data.json: data[0]: the stream is empty"),
    (M, '{"data": [5]}', "data.json: data[0]: a step must be an object mapping input names to "
                         "values"),
    (M, '{"data": [@S@, @S@, @S@, {"INPUT0": @V16@}]}',
     "data.json: data[3]: input 'INPUT1' missing"),
    (M, '{"data": [[@S@, @S@, {"INPUT0": @V16@, "INPUT1": @V16@, "FOO": [1]}]]}',
     "data.json: data[0][2]: 'FOO' is not an input of model 'm' (inputs: INPUT0, INPUT1)"),
    (M, '{"data": [@S@, {"INPUT0": @V15@, "INPUT1": @V16@}]}',
     "data.json: data[1]: input 'INPUT0' has 15 values, expected 16 for shape [16]"),
    (M, '{"data": [{"INPUT0": {"b64": "AAAA"}, "INPUT1": @V16@}]}',
     "data.json: data[0]: input 'INPUT0' b64 has 3 bytes, expected 64 for shape [16] (INT32)"),
    (M, '{"data": [{"INPUT0": {"b64": "A*=="}, "INPUT1": @V16@}]}',
     "data.json: data[0]: input 'INPUT0': invalid base64 (Only base64 data is allowed)"),
    (M, '{"data": [{"INPUT0": {"b64": 5}, "INPUT1": @V16@}]}',
     "data.json: data[0]: input 'INPUT0': 'b64' must be a string"),
    (M, '{"data": [{"INPUT0": {"content": @V16@, "shape": [16.0]}, "INPUT1": @V16@}]}',
     "data.json: data[0]: input 'INPUT0': 'shape' must be a list of integers, got [16.0]"),
    (M, '{"data": [{"INPUT0": {"content": @V16@, "shape": [4, 4]}, "INPUT1": @V16@}]}',
     "data.json: data[0]: shape [4,4] of 'INPUT0' does not match the model shape [16]"),
    (M, '{"data": [{"INPUT0": {"shape": [16]}, "INPUT1": @V16@}]}',
     "data.json: data[0]: input 'INPUT0' has no 'content'"),
    (M, '{"data": [{"INPUT0": {"content": @V16@, "dims": [16]}, "INPUT1": @V16@}]}',
     "data.json: data[0]: input 'INPUT0': unknown key 'dims' (expected 'content', 'shape' or "
     "'b64')"),
    (M, '{"data": [{"INPUT0": 7, "INPUT1": @V16@}]}',
     'data.json: data[0]: input \'INPUT0\' must be a list, {"b64": ...} or {"content": ..., '
     '"shape": [...]}, got 7'),
    (M, '{"data": [{"INPUT0": {"content": "abc"}, "INPUT1": @V16@}]}',
     "data.json: data[0]: input 'INPUT0': 'content' must be a list or {\"b64\": ...}"),
    (M, '{"data": [{"INPUT0": ["1", 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16], '
        '"INPUT1": @V16@}]}',
     "data.json: data[0]: input 'INPUT0' is INT32; values must be numbers, got '1'"),
    (M, '{"data": [{"INPUT0": [1.5, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16], '
        '"INPUT1": @V16@}]}',
     "data.json: data[0]: input 'INPUT0' is INT32; values must be integers, got 1.5"),
    (make_io("i8", [("X", "INT8", [2])]), '{"data": [{"X": [1, 200]}]}',
     "data.json: data[0]: input 'X' is INT8; value 200 is out of range [-128, 127]"),
    (make_io("b", [("X", "BOOL", [2])]), '{"data": [{"X": [true, 2]}]}',
     "data.json: data[0]: input 'X' is BOOL; values must be true/false, got 2"),
    (MIXED, '{"data": [{"INPUT_FP32": {"content": [1, 2], "shape": [1, 2]}, '
            '"INPUT_BYTES": {"content": [1], "shape": [1]}}]}',
     "data.json: data[0]: input 'INPUT_BYTES' is BYTES; values must be strings, got 1"),
    (MIXED, '{"data": [{"INPUT_FP32": {"content": [1, 2], "shape": [1, 2]}, '
            '"INPUT_BYTES": {"b64": "BQAAAGFi", "shape": [1]}}]}',
     "data.json: data[0]: input 'INPUT_BYTES' b64 is not a BYTES tensor (truncated BYTES "
     "tensor: element cut off); each element needs a 4-byte little-endian length prefix"),
    (MIXED, '{"data": [{"INPUT_FP32": {"content": [1, 2], "shape": [1, 2]}, '
            '"INPUT_BYTES": {"b64": "AQAAAGE=", "shape": [2]}}]}',
     "data.json: data[0]: input 'INPUT_BYTES' b64 has 1 elements, expected 2 for shape [2]"),
    (MIXED, '{"data": [{"INPUT_FP32": [1, 2], "INPUT_BYTES": ["a"]}]}',
     "data.json: data[0]: input 'INPUT_FP32' has dynamic shape [-1,2]; give it with --shape "
     'INPUT_FP32:dims or a "shape" in the file'),
    (M, '{"data": [@S@, @S@], "validation_data": [{}]}',
     "data.json: 'validation_data' has 1 steps, 'data' has 2; they must align"),
    (M, '{"data": [[@S@], [@S@]], "validation_data": [[{}]]}',
     "data.json: 'validation_data' has 1 streams, 'data' has 2; they must align"),
    (M, '{"data": [[@S@], [@S@, @S@]], "validation_data": [[{}], [{}]]}',
     "data.json: validation_data[1] has 1 steps, data[1] has 2; they must align"),
    (M, '{"data": [[@S@]], "validation_data": [{}]}',
     "data.json: 'validation_data' does not align with 'data': one is a list of streams, the "
     "other a list of steps"),
    (M, '{"data": [@S@], "validation_data": [{"OUT": [1]}]}',
     "data.json: validation_data[0]: 'OUT' is not an output of model 'm' (outputs: OUTPUT0, "
     "OUTPUT1)"),
    (M, '{"data": [@S@], "validation_data": [{"OUTPUT0": [1]}]}',
     "data.json: validation_data[0]: output 'OUTPUT0' has 1 values, expected 16 for shape [16]"),
    (make_io("o2", [("X", "INT32", [1])], [("Y", "INT32", [-1, -1])]),
     '{"data": [{"X": [1]}], "validation_data": [{"Y": [1, 2]}]}',
     "data.json: validation_data[0]: output 'Y' has dynamic shape [-1,-1]; give its \"shape\" "
     "in the file"),
]


@pytest.mark.parametrize(("io", "text", "message"), JSON_ERRORS)
def test_json_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, io: ModelIO, text: str,
                     message: str) -> None:
    v16 = json.dumps(list(range(16)))
    text = (text.replace("@S@", '{"INPUT0": @V16@, "INPUT1": @V16@}')
            .replace("@V16@", v16).replace("@V15@", json.dumps(list(range(15)))))
    monkeypatch.chdir(tmp_path)
    Path("data.json").write_text(text)
    assert option_error(io, input_data=("data.json",)) == message


def test_json_batch_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("shapes.json").write_text(json.dumps({"data": [
        {"INPUT0": {"content": [1, 2], "shape": [2]}},
        {"INPUT0": {"content": [1], "shape": [1]}}]}))
    assert option_error(IDENT, batch_size=2, input_data=("shapes.json",)) == (
        "shapes.json: data[1]: input 'INPUT0' has shape [1] but shapes.json: data[0] has [2]; "
        "-b 2 batches them into one request, so their shapes must match")
    io = make_io("o", [("A", "INT32", [1]), ("B", "INT32", [1], True)], mbs=4)
    Path("opt.json").write_text(json.dumps({"data": [{"A": [1], "B": [2]}, {"A": [3]}]}))
    assert option_error(io, batch_size=2, input_data=("opt.json",)) == (
        "opt.json: data[1]: optional input 'B' is missing, but opt.json: data[0] has it and "
        "-b 2 batches them into one request; give it in all or none of them")
    assert [t.name for t in load_input_data(io, DataOptions(input_data=("opt.json",)))
            .step(0, 1).inputs] == ["A"]


# -- directories ------------------------------------------------------------------------------

def write_dir(root: Path, files: dict[str, bytes]) -> str:
    root.mkdir()
    for name, content in files.items():
        (root / name).write_bytes(content)
    return str(root)


def test_directory_input(tmp_path: Path) -> None:
    io = make_io("dir", [("N", "INT16", [2, 2]), ("S", "BYTES", [3]), ("O", "FP32", [2], True)],
                 [("OUT", "INT16", [-1]), ("OUT_S", "BYTES", [2])], mbs=2)
    path = write_dir(tmp_path / "d", {
        "N": np.arange(4, dtype="<i2").tobytes(), "S": b"one\ntwo words\n\n",
        "OUT": np.arange(6, dtype="<i2").tobytes(), "OUT_S": b"a\nb", ".hidden": b"x"})
    data = load_input_data(io, DataOptions(batch_size=2, input_data=(path,)))
    step = data.step(0, 0)
    got = arrays(step)
    assert list(got) == ["N", "S"]  # optional O has no file
    assert got["N"].tolist() == [[[0, 1], [2, 3]]] * 2
    assert got["S"].tolist() == [[b"one", b"two words", b""]] * 2
    assert step.expected_outputs is not None
    assert step.expected_outputs["OUT"].tolist() == [[0, 1, 2, 3, 4, 5]] * 2
    assert step.expected_outputs["OUT_S"].tolist() == [[b"a", b"b"]] * 2


@pytest.mark.parametrize(("files", "message"), [
    ({"INPUT0": bytes(64)}, "{d}: no file for input 'INPUT1'"),
    ({"INPUT0": bytes(64), "INPUT1": bytes(64), "INPUT2": b"x"},
     "{d}: file 'INPUT2' is not an input or output of model 'm' (inputs: INPUT0, INPUT1; "
     "outputs: OUTPUT0, OUTPUT1)"),
    ({"INPUT0": bytes(60), "INPUT1": bytes(64)},
     "{d}/INPUT0: input 'INPUT0' file has 60 bytes, expected 64 for shape [16] (INT32)"),
    ({"INPUT0": b"", "INPUT1": bytes(64)}, "{d}/INPUT0: file is empty"),
    ({"INPUT0": bytes(64), "INPUT1": bytes(64), "OUTPUT0": bytes(8)},
     "{d}/OUTPUT0: output 'OUTPUT0' file has 8 bytes, expected 64 for shape [16] (INT32)"),
])
def test_directory_errors(tmp_path: Path, files: dict[str, bytes], message: str) -> None:
    path = write_dir(tmp_path / "d", files)
    assert option_error(M, input_data=(path,)) == message.format(d=path)


def test_directory_bytes_count_and_dynamic_shape(tmp_path: Path) -> None:
    io = make_io("s", [("S", "BYTES", [-1])])
    path = write_dir(tmp_path / "d", {"S": b"a\nb\n"})
    assert option_error(io, input_data=(path,)) == (
        f"{path}/S: input 'S' has dynamic shape [-1]; give it with --shape S:dims")
    assert option_error(io, input_data=(path,), shapes={"S": (3,)}) == (
        f"{path}/S: input 'S' has 2 lines, expected 3 for shape [3]")
    data = load_input_data(io, DataOptions(input_data=(path,), shapes={"S": (2,)}))
    assert arrays(data.step(0, 0))["S"].tolist() == [b"a", b"b"]


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
    if not (MODELS / model).is_dir():
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
    for k in range(data.stream_length(0)):
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
        n = data.stream_length(stream)
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
