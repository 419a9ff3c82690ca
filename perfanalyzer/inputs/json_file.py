"""``--input-data FILE.json``: perf_analyzer's input-data JSON format, read and validated.

Layout: a top-level object with ``"data"`` (a list of step objects = one stream, or a list of lists
of step objects = one stream per list; mixing the two is an error) and optionally
``"validation_data"`` with the same layout, giving expected outputs. A step maps a tensor name to a
flat (or nested, row-major) list, ``{"b64": "..."}`` (little-endian bytes; BYTES elements each with
a 4-byte little-endian length prefix) or ``{"content": list | {"b64": ...}, "shape": [...]}``
(``shape`` must fit ``--shape``, as in perf_analyzer). Every error is one OptionError line naming
the file and the position, e.g. ``data.json: data[0][2]: input 'INPUT1' missing``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ..errors import OptionError
from .budget import default_limit
from .model import ModelIO, TensorSpec
from .options import dynamic_shape_error, fit_given_shape, fit_shape, not_an_input
from .samples import (
    RawStep,
    RawStream,
    Sample,
    check_raw,
    decode_b64,
    element_count_of,
    flatten,
    infer_dims,
    show,
    to_array,
    values_to_raw,
)

#: Step keys that are not tensors and are accepted (and ignored here).
NON_TENSOR_KEYS = frozenset({"model", "timestamp"})
TOP_LEVEL_KEYS = ("data", "validation_data")
_TENSOR_KEYS = frozenset({"content", "shape", "b64"})
#: perf_analyzer's sentence for misaligned validation data (scripts grep for it).
NOT_ALIGNED = "The 'validation_data' field doesn't align with 'data' field in the json file"

#: One stream as read: (position like ``data[0][2]``, step object) pairs.
_Layout = list[list[tuple[str, Any]]]


def read_json_file(path: str, io: ModelIO,
                   shapes: Mapping[str, tuple[int, ...]]) -> list[RawStream]:
    """Read one JSON data file into its streams (a flat ``data`` list is one stream).

    ``shapes`` are the inputs' shapes after ``--shape`` (see ``check_options``).
    """
    doc = _load(path)
    if not isinstance(doc, dict):
        raise OptionError(f"{path}: the top level must be an object with a 'data' list")
    unknown = [k for k in doc if k not in TOP_LEVEL_KEYS]
    if unknown:
        raise OptionError(f"{path}: unknown top-level key {show(unknown[0])} "
                          "(expected 'data' and optionally 'validation_data')")
    if "data" not in doc:
        raise OptionError(f"{path}: no 'data' field")
    data, nested = _layout(doc["data"], path, "data")
    validation: _Layout | None = None
    if "validation_data" in doc:
        validation, v_nested = _layout(doc["validation_data"], path, "validation_data")
        _check_alignment(data, nested, validation, v_nested, path)
    streams: list[RawStream] = []
    for s, steps in enumerate(data):
        stream: RawStream = []
        for k, (pos, obj) in enumerate(steps):
            where = f"{path}: {pos}"
            outputs = None
            if validation is not None:
                v_pos, v_obj = validation[s][k]
                outputs = _read_outputs(v_obj, f"{path}: {v_pos}", io)
            stream.append(RawStep(origin=where, inputs=_read_inputs(obj, where, io, shapes),
                                  outputs=outputs))
        streams.append(stream)
    return streams


#: Memory a JSON document takes once parsed, per byte of file (Python objects), roughly.
JSON_MEMORY_FACTOR = 8


def _load(path: str) -> Any:
    try:
        size = Path(path).stat().st_size
    except OSError as exc:
        raise OptionError(f"{path}: cannot read: {exc.strerror or exc}") from None
    limit = default_limit()
    if size * JSON_MEMORY_FACTOR > limit:  # refuse before reading, not MemoryError
        raise OptionError(f"{path}: {size / 2**20:,.0f} MB is too large to load (parsed JSON "
                          f"takes about {JSON_MEMORY_FACTOR}x its size; "
                          f"{limit / 2**20:,.0f} MB available for input data)")
    try:
        text = Path(path).read_bytes()
    except OSError as exc:
        raise OptionError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise OptionError(f"{path}: invalid JSON at line {exc.lineno}, column {exc.colno}: "
                          f"{exc.msg}") from None
    except UnicodeDecodeError:
        raise OptionError(f"{path}: not UTF-8 text") from None
    except RecursionError:  # no traceback for hostile nesting
        raise OptionError(f"{path}: JSON nested too deeply") from None


def _layout(value: Any, path: str, key: str) -> tuple[_Layout, bool]:
    """Streams of (position, step) from a ``data``-shaped value, and whether it was nested."""
    if not isinstance(value, list):
        raise OptionError(f"{path}: '{key}' must be a list of steps (objects) or of streams "
                          "(lists of steps)")
    if not value:
        raise OptionError(f"{path}: '{key}' is empty")
    nested = isinstance(value[0], list)
    for i, entry in enumerate(value):
        if isinstance(entry, list) != nested:
            raise OptionError(f"{path}: {key}[{i}]: '{key}' mixes streams (lists) and steps "
                              "(objects); use one form for every entry")
    if not nested:
        return [[(f"{key}[{i}]", obj) for i, obj in enumerate(value)]], False
    for i, entry in enumerate(value):
        if not entry:
            raise OptionError(f"{path}: {key}[{i}]: the stream is empty")
    return [[(f"{key}[{i}][{k}]", obj) for k, obj in enumerate(entry)]
            for i, entry in enumerate(value)], True


def _check_alignment(data: _Layout, nested: bool, validation: _Layout, v_nested: bool,
                     path: str) -> None:
    if nested != v_nested:
        raise OptionError(f"{path}: 'validation_data' does not align with 'data': one is a list "
                          f"of streams, the other a list of steps ({NOT_ALIGNED})")
    unit = "streams" if nested else "steps"
    sizes = (len(validation), len(data)) if nested else (len(validation[0]), len(data[0]))
    if sizes[0] != sizes[1]:
        raise OptionError(f"{path}: 'validation_data' has {sizes[0]} {unit}, 'data' has "
                          f"{sizes[1]}; they must align ({NOT_ALIGNED})")
    for i, (d, v) in enumerate(zip(data, validation, strict=True)):
        if len(d) != len(v):
            raise OptionError(f"{path}: validation_data[{i}] has {len(v)} steps, data[{i}] has "
                              f"{len(d)}; they must align ({NOT_ALIGNED})")


def _read_inputs(obj: Any, where: str, io: ModelIO,
                 shapes: Mapping[str, tuple[int, ...]]) -> dict[str, Sample]:
    if not isinstance(obj, dict):
        raise OptionError(f"{where}: a step must be an object mapping input names to values")
    for key in obj:
        if io.input(key) is None and key not in NON_TENSOR_KEYS:
            raise OptionError(f"{where}: {not_an_input(io, key)}")
    samples: dict[str, Sample] = {}
    for spec in io.inputs:
        if spec.name not in obj:
            if spec.optional:
                continue
            raise OptionError(f"{where}: input {spec.name!r} missing")
        samples[spec.name] = _read_tensor(obj[spec.name], spec, shapes[spec.name], where, "input")
    return samples


def _read_outputs(obj: Any, where: str, io: ModelIO) -> dict[str, Any]:
    """Expected outputs of one step (any subset of the model's outputs) as numpy arrays."""
    if not isinstance(obj, dict):
        raise OptionError(f"{where}: a step must be an object mapping output names to values")
    arrays = {}
    for key, value in obj.items():
        spec = io.output(key)
        if spec is None:
            if key in NON_TENSOR_KEYS:
                continue
            raise OptionError(f"{where}: {show(key)} is not an output of model {io.name!r} "
                              f"(outputs: {', '.join(io.output_names)})")
        sample = _read_tensor(value, spec, spec.shape, where, "output")
        arrays[key] = to_array(sample, spec.datatype)
    return arrays


def _read_tensor(value: Any, spec: TensorSpec, shape: tuple[int, ...], where: str,
                 kind: str) -> Sample:
    label = f"{kind} {spec.name!r}"
    if isinstance(value, list):
        content: Any = value
    elif isinstance(value, dict):
        extra = sorted(set(value) - _TENSOR_KEYS)
        if extra:
            raise OptionError(f"{where}: {label}: unknown key {show(extra[0])} "
                              "(expected 'content', 'shape' or 'b64')")
        if "shape" in value:
            supplied = fit_shape(spec, _json_shape(value["shape"], where, label), where, min_dim=0)
            shape = fit_given_shape(spec, supplied, shape, where) if kind == "input" else supplied
        if "b64" in value:
            content = {"b64": value["b64"]}
        elif "content" in value:
            content = value["content"]
        else:
            raise OptionError(f"{where}: {label} has no 'content'")
    else:
        raise OptionError(f'{where}: {label} must be a list, {{"b64": ...}} or '
                          f'{{"content": ..., "shape": [...]}}, got {show(value)}')
    if isinstance(content, list):
        values = flatten(content)
        shape = _resolve(spec, shape, lambda: len(values), where, kind)
        return Sample(shape, values_to_raw(values, spec, shape, where, label))
    if isinstance(content, dict) and set(content) == {"b64"}:
        raw = decode_b64(content["b64"], where, label)
        shape = _resolve(spec, shape, lambda: _count(raw, spec.datatype), where, kind)
        check_raw(raw, spec, shape, where, label)
        return Sample(shape, raw)
    raise OptionError(f"{where}: {label}: 'content' must be a list or {{\"b64\": ...}}")


def _resolve(spec: TensorSpec, shape: tuple[int, ...], count: Callable[[], int], where: str,
             kind: str) -> tuple[int, ...]:
    """A fully known shape: inputs must have one; an output's single -1 is taken from the data."""
    if all(d >= 0 for d in shape):
        return shape
    if kind == "input":
        raise dynamic_shape_error(spec, where, also=' or a "shape" in the file')
    return infer_dims(spec, count(), where, f"{kind} {spec.name!r}")


def _count(raw: bytes, datatype: str) -> int:
    try:
        return element_count_of(raw, datatype)
    except ValueError:
        return 0  # malformed BYTES: check_raw reports it


def _json_shape(value: Any, where: str, label: str) -> tuple[int, ...]:
    if not isinstance(value, list) or any(
        isinstance(d, bool) or not isinstance(d, int) for d in value
    ):
        raise OptionError(f"{where}: {label}: 'shape' must be a list of integers, "
                          f"got {show(value)}")
    return tuple(value)
