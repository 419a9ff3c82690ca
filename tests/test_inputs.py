"""perfanalyzer.inputs: model I/O, flag checks, generated data, batching.

Unit tests run on hand-written metadata/config dicts. JSON / directory data are tested in
test_inputs_files.py; test_inputs_server.py sends built requests to the real Triton to prove their
shapes and datatypes are accepted.
"""

from __future__ import annotations

import struct
import tracemalloc
from typing import Any

import numpy as np
import pytest

from perfanalyzer.client import tensors
from perfanalyzer.errors import OptionError
from perfanalyzer.inputs import DataOptions, ModelIO, TensorSpec, load_input_data, model_io, parse_shape
from perfanalyzer.inputs.generate import RANDOM_INT_HIGH, STRING_ALPHABET
from tests.support.model_io import ALL_TYPES, IDENT, MIXED, SEQ, TYPES, M, arrays, make_io, option_error

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
     "--shape INPUT0:8: shape [8] of 'INPUT0' does not match the model shape [16] (unexpected "
     "shape for input 'INPUT0' for model 'm'. Expected [16], got [8])"),
    (IDENT, {"shapes": {"INPUT0": (4, 4)}},
     "--shape INPUT0:4,4: shape [4,4] of 'INPUT0' does not match the model shape [-1] "
     "(unexpected shape for input 'INPUT0' for model 'identity_fp32'. Expected [-1], got "
     "[4,4])"),
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
    assert len(a.streams) == 1 and len(a.streams[0]) == 1 and not a.user_data


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
