"""``--input-data DIR``: one file per tensor, named after it (perf_analyzer's directory form).

A numeric input's file holds its batch-1 raw little-endian bytes; a BYTES input's file is text with
one element per line. Files named after outputs, when present, are the expected outputs. The
directory is one stream of one step. Every non-optional input needs a file; any other file (except
hidden ones) is an error, as in perf_analyzer.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from ..client import tensors
from ..errors import OptionError
from .model import ModelIO, TensorSpec, format_shape
from .options import dynamic_shape_error
from .samples import (
    RawStep,
    RawStream,
    Sample,
    check_raw,
    element_count_of,
    infer_dims,
    to_array,
)


def read_directory(path: str, io: ModelIO,
                   shapes: Mapping[str, tuple[int, ...]]) -> list[RawStream]:
    """Read a data directory into one stream of one step (see the module docstring)."""
    root = Path(path)
    try:
        names = sorted(p.name for p in root.iterdir() if not p.name.startswith("."))
    except OSError as exc:
        raise OptionError(f"{path}: cannot read directory: {exc.strerror or exc}") from None
    known = set(io.input_names) | set(io.output_names)
    for name in names:
        if name not in known:
            raise OptionError(f"{path}: file {name!r} is not an input or output of model "
                              f"{io.name!r} (inputs: {', '.join(io.input_names)}; outputs: "
                              f"{', '.join(io.output_names)})")
    inputs: dict[str, Sample] = {}
    for spec in io.inputs:
        if spec.name not in names:
            if spec.optional:
                continue
            raise OptionError(f"{path}: no file for input {spec.name!r}")
        shape = shapes[spec.name]
        if any(d < 0 for d in shape):
            raise dynamic_shape_error(spec, f"{root / spec.name}")
        file = root / spec.name
        inputs[spec.name] = Sample(shape, _check_file(_read_raw(file, spec), file, spec, shape))
    outputs: dict[str, np.ndarray] = {}
    for spec in io.outputs:
        if spec.name in names:
            outputs[spec.name] = _read_output(root / spec.name, spec)
    step = RawStep(origin=str(path), inputs=inputs, outputs=outputs or None)
    return [[step]]


def _check_file(raw: bytes, file: Path, spec: TensorSpec, shape: tuple[int, ...],
                kind: str = "input") -> bytes:
    """``raw`` (as returned by :func:`_read_raw`) must hold exactly ``shape``'s elements."""
    label = f"{kind} {spec.name!r}"
    if spec.datatype == "BYTES":
        count, expected = len(tensors.deserialize_bytes(raw)), tensors.element_count(shape)
        if count != expected:
            raise OptionError(f"{file}: {label} has {count} lines, expected {expected} "
                              f"for shape {format_shape(shape)}")
    else:
        check_raw(raw, spec, shape, str(file), label, unit="file")
    return raw


def _read_output(file: Path, spec: TensorSpec) -> np.ndarray:
    raw = _read_raw(file, spec)
    shape = spec.shape
    if any(d < 0 for d in shape):
        shape = infer_dims(spec, element_count_of(raw, spec.datatype), str(file),
                           f"output {spec.name!r}")
    _check_file(raw, file, spec, shape, "output")
    return to_array(Sample(shape, raw), spec.datatype)


def _read_raw(file: Path, spec: TensorSpec) -> bytes:
    """The file's bytes; for BYTES, its lines serialized as a BYTES tensor."""
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise OptionError(f"{file}: cannot read: {exc.strerror or exc}") from None
    if not data:
        raise OptionError(f"{file}: file is empty")
    if spec.datatype != "BYTES":
        return data
    lines = data.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    return tensors.serialize_bytes(lines)
