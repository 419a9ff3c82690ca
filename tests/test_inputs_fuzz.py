"""Hostile input files and flag values: one OptionError line or success,
never a traceback — a property-based fuzz of the JSON input-data loader (>= 300 files) plus the
cases found by hand (nesting >= 1000 deep, null in a tensor list, huge --string-length and
--shape)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from perfanalyzer.errors import OptionError
from perfanalyzer.inputs import DataOptions, load_input_data
from perfanalyzer.inputs.budget import check_budget
from tests.support.model_io import MIXED, TYPES, M, make_io

IOS = [M, MIXED, TYPES]
NAMES = ["INPUT0", "INPUT1", "INPUT_FP32", "INPUT_BYTES", "INPUT_INT8", "INPUT_BOOL", "INPUT_FP16",
         "INPUT_INT64", "INPUT_UINT8", "content", "shape", "b64", "data", "validation_data", "x"]

scalars = (st.none() | st.booleans() | st.integers(min_value=-2**70, max_value=2**70)
           | st.floats(allow_nan=False) | st.text(max_size=8))
values = st.recursive(
    scalars,
    lambda inner: (st.lists(inner, max_size=6)
                   | st.dictionaries(st.sampled_from(NAMES) | st.text(max_size=4), inner,
                                     max_size=4)),
    max_leaves=30)
tensor = (st.lists(scalars, max_size=20)
          | st.fixed_dictionaries({"content": values},
                                  optional={"shape": st.lists(st.integers(-3, 40), max_size=4)
                                            | values})
          | st.fixed_dictionaries({"b64": st.text(alphabet="QUJD=+/", max_size=16) | values})
          | values)
step = st.dictionaries(st.sampled_from(NAMES), tensor, max_size=4) | values
document = (st.fixed_dictionaries({"data": st.lists(step, max_size=4)
                                   | st.lists(st.lists(step, max_size=3), max_size=3) | values},
                                  optional={"validation_data": st.lists(step, max_size=3)
                                            | values})
            | values)


def _load(tmp_path: Path, io_index: int, doc: Any, batch: int = 1) -> None:
    path = tmp_path / "data.json"
    path.write_text(json.dumps(doc))
    try:
        load_input_data(IOS[io_index], DataOptions(batch_size=batch, input_data=(str(path),)))
    except OptionError as exc:
        assert "\n" not in str(exc) and len(str(exc)) < 1000


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(io_index=st.integers(0, len(IOS) - 1), doc=document, batch=st.sampled_from([1, 2, 8]))
def test_fuzzed_input_files_give_one_line_or_success(tmp_path: Path, io_index: int, doc: Any,
                                                     batch: int) -> None:
    _load(tmp_path, io_index, doc, batch)


@pytest.mark.parametrize("depth", [1000, 100_000])
def test_deeply_nested_json_is_one_line(tmp_path: Path, depth: int) -> None:
    path = tmp_path / "deep.json"
    path.write_text('{"data": [{"INPUT0": ' + "[" * depth + "]" * depth + "}]}")
    with pytest.raises(OptionError, match=r"nested too deeply|INPUT0"):
        load_input_data(M, DataOptions(input_data=(str(path),)))


@pytest.mark.parametrize("dt", ["INT32", "FP32", "BOOL", "BYTES"])
def test_null_in_a_tensor_list_is_one_line(tmp_path: Path, dt: str) -> None:
    io = make_io("n", [("X", dt, [3])])
    path = tmp_path / "null.json"
    path.write_text(json.dumps({"data": [{"X": [None, None, None]}]}))
    with pytest.raises(OptionError, match=r"data\[0\]: input 'X' .* got None"):
        load_input_data(io, DataOptions(input_data=(str(path),)))


def test_huge_string_length_and_shape_are_refused_before_allocating() -> None:
    io = make_io("s", [("S", "BYTES", [-1]), ("F", "FP32", [-1])])
    with pytest.raises(OptionError, match=r"needs .* MB, above the limit"):
        load_input_data(io, DataOptions(string_length=1_000_000_000,
                                        shapes={"S": (64,), "F": (1,)}))
    with pytest.raises(OptionError, match="--input-memory-limit"):
        load_input_data(io, DataOptions(shapes={"S": (1,), "F": (1 << 40,)}))
    check_budget(io, {"S": (2,), "F": (2,)}, batch_size=1, string_length=8, string_data=None,
                 limit_bytes=1000)
    with pytest.raises(OptionError):
        check_budget(io, {"S": (2,), "F": (1000,)}, batch_size=1, string_length=8,
                     string_data=None, limit_bytes=1000)


def test_a_huge_bad_value_is_truncated_in_the_message(tmp_path: Path) -> None:
    path = tmp_path / "big.json"
    path.write_text(json.dumps({"data": [{"INPUT0": {"content": "x" * 1_000_000}}]}))
    with pytest.raises(OptionError) as info:
        load_input_data(M, DataOptions(input_data=(str(path),)))
    assert len(str(info.value)) < 400


def test_a_json_file_too_large_for_memory_is_refused_before_reading(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from perfanalyzer.inputs import json_file

    monkeypatch.setattr(json_file, "default_limit", lambda: 1000)
    path = tmp_path / "big.json"
    path.write_text(json.dumps({"data": [{"INPUT0": list(range(16)), "INPUT1": [0] * 16}]}))
    with pytest.raises(OptionError, match="too large to load"):
        load_input_data(M, DataOptions(input_data=(str(path),)))
