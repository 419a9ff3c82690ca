"""perfanalyzer.inputs: user data from JSON files and from a directory of files (steps, streams,
encodings, shapes, one-line errors). Model I/O helpers are in test_inputs.py.
"""
from __future__ import annotations

import json
import re
import struct
from pathlib import Path

import numpy as np
import pytest

from perfanalyzer.errors import OptionError
from perfanalyzer.inputs import DataOptions, ModelIO, load_input_data
from tests.support.model_io import DATA, IDENT, MIXED, SEQ, M, arrays, make_io, option_error

# -- JSON files -------------------------------------------------------------------------------

def test_json_steps_with_validation_batched() -> None:
    """-b 2 over 3 steps: request k takes steps (2k mod 3, 2k+1 mod 3); 3 distinct requests."""
    path = str(DATA / "add_sub_steps.json")
    data = load_input_data(M, DataOptions(batch_size=2, input_data=(path,)))
    assert data.user_data and data.has_validation and len(data.streams[0]) == 3
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
    assert [len(s) for s in seq.streams] == [3, 2, 3, 2]
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


def test_json_shape_must_fit_the_shape_flag(tmp_path: Path) -> None:
    """--shape fills dynamic dims; an entry's own "shape" must fit it (perf_analyzer refuses the
    data otherwise, with its sentence); without --shape the entry's shape is used."""
    path = tmp_path / "d.json"
    path.write_text(json.dumps({"data": [{"INPUT0": [1, 2, 3]},
                                         {"INPUT0": {"content": [[5, 6, 7]], "shape": [3]}}]}))
    data = load_input_data(IDENT, DataOptions(input_data=(str(path),), shapes={"INPUT0": (3,)}))
    assert [t.shape for s in data.streams[0] for t in s.inputs] == [(1, 3), (1, 3)]
    path.write_text(json.dumps({"data": [{"INPUT0": {"content": [[5, 6]], "shape": [2]}}]}))
    assert arrays(load_input_data(IDENT, DataOptions(input_data=(str(path),))).step(0, 0)
                  )["INPUT0"].tolist() == [[5.0, 6.0]]
    with pytest.raises(OptionError, match=re.escape(
            "data[0]: shape [2] of 'INPUT0' does not match --shape INPUT0:3 (The supplied shape "
            "of [2] for input \"INPUT0\" is incompatible with the model's input shape of [3])")):
        load_input_data(IDENT, DataOptions(input_data=(str(path),), shapes={"INPUT0": (3,)}))


def test_bf16_and_dynamic_output_inference(tmp_path: Path) -> None:
    io = make_io("bf", [("X", "BF16", [2])], [("Y", "FP16", [-1, 2])])
    path = tmp_path / "bf.json"
    path.write_text(json.dumps({"data": [{"X": [1.5, -2.0]}],
                                "validation_data": [{"Y": [1, 2, 3, 4]}]}))
    step = load_input_data(io, DataOptions(input_data=(str(path),))).step(0, 0)
    assert step.inputs[0].data == struct.pack("<HH", 0x3FC0, 0xC000)
    assert step.expected_outputs["Y"].shape == (2, 2)  # type: ignore[index]


#: perf_analyzer's sentence, which the alignment errors include.
ALIGN = " (The 'validation_data' field doesn't align with 'data' field in the json file)"
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
     "data.json: data[1]: input 'INPUT0' has 15 values, expected 16 for shape [16] (mismatch in "
     "the data provided for INPUT0. Expected: 64 bytes, Got: 60 bytes)"),
    (M, '{"data": [{"INPUT0": {"b64": "AAAA"}, "INPUT1": @V16@}]}',
     "data.json: data[0]: input 'INPUT0' b64 has 3 bytes, expected 64 for shape [16] (INT32; "
     "mismatch in the data provided for INPUT0. Expected: 64 bytes, Got: 3 bytes)"),
    (M, '{"data": [{"INPUT0": {"b64": "A*=="}, "INPUT1": @V16@}]}',
     "data.json: data[0]: input 'INPUT0': invalid base64 (Only base64 data is allowed)"),
    (M, '{"data": [{"INPUT0": {"b64": 5}, "INPUT1": @V16@}]}',
     "data.json: data[0]: input 'INPUT0': 'b64' must be a string"),
    (M, '{"data": [{"INPUT0": {"content": @V16@, "shape": [16.0]}, "INPUT1": @V16@}]}',
     "data.json: data[0]: input 'INPUT0': 'shape' must be a list of integers, got [16.0]"),
    (M, '{"data": [{"INPUT0": {"content": @V16@, "shape": [4, 4]}, "INPUT1": @V16@}]}',
     "data.json: data[0]: shape [4,4] of 'INPUT0' does not match the model shape [16] (The "
     "supplied shape of [4,4] for input \"INPUT0\" is incompatible with the model's input "
     "shape of [16])"),
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
     "data.json: data[0]: input 'INPUT_BYTES' b64 has 1 elements, expected 2 for shape [2] "
     "(mismatch in the data provided for INPUT_BYTES)"),
    (MIXED, '{"data": [{"INPUT_FP32": [1, 2], "INPUT_BYTES": ["a"]}]}',
     "data.json: data[0]: input 'INPUT_FP32' has dynamic shape [-1,2]; give it with --shape "
     'INPUT_FP32:dims or a "shape" in the file'),
    (M, '{"data": [@S@, @S@], "validation_data": [{}]}',
     "data.json: 'validation_data' has 1 steps, 'data' has 2; they must align" + ALIGN),
    (M, '{"data": [[@S@], [@S@]], "validation_data": [[{}]]}',
     "data.json: 'validation_data' has 1 streams, 'data' has 2; they must align" + ALIGN),
    (M, '{"data": [[@S@], [@S@, @S@]], "validation_data": [[{}], [{}]]}',
     "data.json: validation_data[1] has 1 steps, data[1] has 2; they must align" + ALIGN),
    (M, '{"data": [[@S@]], "validation_data": [{}]}',
     "data.json: 'validation_data' does not align with 'data': one is a list of streams, the "
     "other a list of steps" + ALIGN),
    (M, '{"data": [@S@], "validation_data": [{"OUT": [1]}]}',
     "data.json: validation_data[0]: 'OUT' is not an output of model 'm' (outputs: OUTPUT0, "
     "OUTPUT1)"),
    (M, '{"data": [@S@], "validation_data": [{"OUTPUT0": [1]}]}',
     "data.json: validation_data[0]: output 'OUTPUT0' has 1 values, expected 16 for shape [16] "
     "(mismatch in the data provided for OUTPUT0. Expected: 64 bytes, Got: 4 bytes)"),
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
        "-b 2 batches them into one request; give it in all or none of them (For batch sizes "
        "larger than 1, the same set of inputs must be specified for each batch. You cannot use "
        "different set of optional inputs for each individual batch.)")
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
     "{d}/INPUT0: input 'INPUT0' file has 60 bytes, expected 64 for shape [16] (INT32; mismatch "
     "in the data provided for INPUT0. Expected: 64 bytes, Got: 60 bytes)"),
    ({"INPUT0": b"", "INPUT1": bytes(64)}, "{d}/INPUT0: file is empty"),
    ({"INPUT0": bytes(64), "INPUT1": bytes(64), "OUTPUT0": bytes(8)},
     "{d}/OUTPUT0: output 'OUTPUT0' file has 8 bytes, expected 64 for shape [16] (INT32; "
     "mismatch in the data provided for OUTPUT0. Expected: 64 bytes, Got: 8 bytes)"),
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
