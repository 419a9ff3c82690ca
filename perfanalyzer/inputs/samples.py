"""Batch-1 tensors read from user data, before they are batched into requests.

Every reader (JSON file, directory) produces :class:`RawStep` values: batch-1 input tensors as raw
wire bytes plus their shape, optional expected outputs, and ``origin`` (file and position) for
error messages raised later, when steps are batched together.
"""

from __future__ import annotations

import base64
import binascii
import math
import reprlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..client import tensors
from ..errors import OptionError
from .model import TensorSpec, format_shape

#: Datatypes whose JSON values are floats (BF16 travels as uint16 bits but is written as floats).
FLOAT_TYPES = frozenset({"FP16", "FP32", "FP64", "BF16"})


@dataclass(frozen=True)
class Sample:
    """One batch-1 tensor: ``shape`` without the batch dimension, ``raw`` in wire format
    (BYTES: 4-byte little-endian length before each element)."""

    shape: tuple[int, ...]
    raw: bytes


@dataclass(frozen=True)
class RawStep:
    """One step of user data: input samples, expected outputs (batch-1 arrays) or None."""

    origin: str
    inputs: dict[str, Sample]
    outputs: dict[str, np.ndarray] | None = None


RawStream = list[RawStep]

_SHOW = reprlib.Repr()
_SHOW.maxlevel, _SHOW.maxstring, _SHOW.maxother, _SHOW.maxlist, _SHOW.maxdict = 3, 60, 60, 6, 4
_MISSING = object()


def show(value: object, limit: int = 100) -> str:
    """A user value in a message: bounded in length and depth (a value can be megabytes long or
    nested thousands deep)."""
    text = _SHOW.repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def flatten(value: object) -> list[object]:
    """Nested JSON lists to one flat row-major list (a flat list comes back as is)."""
    if isinstance(value, list) and not any(isinstance(v, list) for v in value):
        return value
    out: list[object] = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(reversed(item))
        else:
            out.append(item)
    return out


def values_to_raw(values: Sequence[object], spec: TensorSpec, shape: tuple[int, ...],
                  where: str, label: str) -> bytes:
    """JSON values of ``spec.datatype`` to wire bytes; the count must match ``shape``.

    ``where`` is the position prefix and ``label`` names the tensor (``input 'X'``) in messages.
    """
    expected = tensors.element_count(shape)
    if len(values) != expected:
        raise OptionError(f"{where}: {label} has {len(values)} values, expected {expected} "
                          f"for shape {format_shape(shape)} ({_mismatch(spec, expected, values)})")
    dt = spec.datatype
    if dt == "BYTES":
        bad = next((v for v in values if not isinstance(v, str)), _MISSING)
        if bad is not _MISSING:
            raise OptionError(f"{where}: {label} is BYTES; values must be strings, "
                              f"got {show(bad)}")
        return tensors.serialize_bytes(values)
    bad = next((v for v in values if not isinstance(v, (int, float))), _MISSING)
    if bad is not _MISSING:  # null included: no TypeError later
        raise OptionError(f"{where}: {label} is {dt}; values must be numbers, got {show(bad)}")
    if dt == "BOOL":
        bad = next((v for v in values if v not in (0, 1)), _MISSING)
        if bad is not _MISSING:
            raise OptionError(f"{where}: {label} is BOOL; values must be true/false, "
                              f"got {show(bad)}")
    elif dt not in FLOAT_TYPES:
        _check_integers(values, dt, where, label)
    else:
        values = [float(v) for v in values]  # type: ignore[arg-type]  # numbers, checked above
    with np.errstate(over="ignore"):  # 1e300 as FP16 is inf, as in any cast
        array = np.asarray(values, dtype=np.float32 if dt == "BF16" else tensors.NUMPY_DTYPES[dt])
    return tensors.to_raw(array, dt)


def _mismatch(spec: TensorSpec, expected: int, values: Sequence[object]) -> str:
    """perf_analyzer's sentence for data of the wrong size (scripts grep for it), in bytes where
    the datatype has a fixed size."""
    size = tensors.ELEMENT_SIZE[spec.datatype]
    if size is None:
        return f"mismatch in the data provided for {spec.name}"
    return (f"mismatch in the data provided for {spec.name}. Expected: {expected * size} bytes, "
            f"Got: {len(values) * size} bytes")


def _check_integers(values: Sequence[object], dt: str, where: str, label: str) -> None:
    info = np.iinfo(tensors.NUMPY_DTYPES[dt])
    for v in values:
        if isinstance(v, float) and not (math.isfinite(v) and v.is_integer()):
            raise OptionError(f"{where}: {label} is {dt}; values must be integers, got {v!r}")
        if not info.min <= int(v) <= info.max:  # type: ignore[call-overload]
            raise OptionError(f"{where}: {label} is {dt}; value {v!r} is out of range "
                              f"[{info.min}, {info.max}]")


def decode_b64(text: object, where: str, label: str) -> bytes:
    if not isinstance(text, str):
        raise OptionError(f"{where}: {label}: 'b64' must be a string")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise OptionError(f"{where}: {label}: invalid base64 ({exc})") from None


def check_raw(raw: bytes, spec: TensorSpec, shape: tuple[int, ...], where: str, label: str,
              unit: str = "b64") -> None:
    """Raw wire bytes must hold exactly ``shape``'s elements (BYTES: well-formed prefixes)."""
    expected = tensors.element_count(shape)
    size = tensors.ELEMENT_SIZE[spec.datatype]
    if size is not None:
        if len(raw) != expected * size:
            raise OptionError(f"{where}: {label} {unit} has {len(raw)} bytes, expected "
                              f"{expected * size} for shape {format_shape(shape)} "
                              f"({spec.datatype}; mismatch in the data provided for {spec.name}. "
                              f"Expected: {expected * size} bytes, Got: {len(raw)} bytes)")
        return
    try:
        count = len(tensors.deserialize_bytes(raw))
    except ValueError as exc:
        raise OptionError(f"{where}: {label} {unit} is not a BYTES tensor ({exc}); each element "
                          "needs a 4-byte little-endian length prefix") from None
    if count != expected:
        raise OptionError(f"{where}: {label} {unit} has {count} elements, expected {expected} "
                          f"for shape {format_shape(shape)} (mismatch in the data provided for "
                          f"{spec.name})")


def infer_dims(spec: TensorSpec, raw_count: int, where: str, label: str) -> tuple[int, ...]:
    """Fill a single -1 in ``spec.shape`` from an element count (expected outputs only)."""
    dynamic = [i for i, d in enumerate(spec.shape) if d < 0]
    fixed = tensors.element_count([d for d in spec.shape if d >= 0])
    if len(dynamic) != 1 or fixed == 0 or raw_count % fixed:
        raise OptionError(f"{where}: {label} has dynamic shape {format_shape(spec.shape)}; "
                          'give its "shape" in the file')
    shape = list(spec.shape)
    shape[dynamic[0]] = raw_count // fixed
    return tuple(shape)


def element_count_of(raw: bytes, datatype: str) -> int:
    """How many elements raw wire bytes hold (rounded down for a ragged fixed-size buffer)."""
    size = tensors.ELEMENT_SIZE[datatype]
    if size is None:
        return len(tensors.deserialize_bytes(raw))
    return len(raw) // size


def to_array(sample: Sample, datatype: str) -> np.ndarray:
    """A sample as a numpy array (BYTES: object array of bytes; BF16: float32)."""
    return tensors.from_raw(sample.raw, datatype, sample.shape)
