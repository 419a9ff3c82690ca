"""KServe v2 datatypes: numpy mapping, BYTES and BF16 (de)serialization."""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence

import numpy as np

from ..errors import OptionError

#: KServe datatype -> numpy dtype (little-endian). BYTES is object; BF16 travels as uint16 bits.
NUMPY_DTYPES: dict[str, np.dtype] = {
    "BOOL": np.dtype(np.bool_),
    "UINT8": np.dtype("<u1"),
    "UINT16": np.dtype("<u2"),
    "UINT32": np.dtype("<u4"),
    "UINT64": np.dtype("<u8"),
    "INT8": np.dtype("<i1"),
    "INT16": np.dtype("<i2"),
    "INT32": np.dtype("<i4"),
    "INT64": np.dtype("<i8"),
    "FP16": np.dtype("<f2"),
    "FP32": np.dtype("<f4"),
    "FP64": np.dtype("<f8"),
    "BF16": np.dtype("<u2"),
    "BYTES": np.dtype(np.object_),
}

#: Size in bytes of one element; None for BYTES (variable).
ELEMENT_SIZE: dict[str, int | None] = {
    k: (None if k == "BYTES" else v.itemsize) for k, v in NUMPY_DTYPES.items()
}

#: Model-config ``TYPE_*`` names -> KServe datatype.
CONFIG_TYPES: dict[str, str] = {
    "TYPE_BOOL": "BOOL",
    "TYPE_UINT8": "UINT8",
    "TYPE_UINT16": "UINT16",
    "TYPE_UINT32": "UINT32",
    "TYPE_UINT64": "UINT64",
    "TYPE_INT8": "INT8",
    "TYPE_INT16": "INT16",
    "TYPE_INT32": "INT32",
    "TYPE_INT64": "INT64",
    "TYPE_FP16": "FP16",
    "TYPE_FP32": "FP32",
    "TYPE_FP64": "FP64",
    "TYPE_STRING": "BYTES",
    "TYPE_BF16": "BF16",
}


def datatype_of(array: np.ndarray) -> str:
    """KServe datatype for a numpy array (object/str/bytes arrays are BYTES)."""
    kind = array.dtype.kind
    if kind in ("O", "S", "U"):
        return "BYTES"
    for name, dt in NUMPY_DTYPES.items():
        if name in ("BF16", "BYTES"):
            continue
        if dt == array.dtype.newbyteorder("<") or dt == array.dtype:
            return name
    raise OptionError(f"numpy dtype {array.dtype} has no KServe datatype")


def check_datatype(datatype: str) -> str:
    if datatype not in NUMPY_DTYPES:
        raise OptionError(f"unknown datatype {datatype!r}; expected one of {', '.join(NUMPY_DTYPES)}")
    return datatype


def element_count(shape: Sequence[int]) -> int:
    n = 1
    for d in shape:
        n *= int(d)
    return n


def serialize_bytes(values: Iterable[object]) -> bytes:
    """BYTES tensor wire format: each element as a 4-byte little-endian length then its bytes."""
    parts: list[bytes] = []
    for v in values:
        if isinstance(v, str):
            b = v.encode("utf-8")
        elif isinstance(v, (bytes, bytearray, memoryview)):
            b = bytes(v)
        else:
            b = str(v).encode("utf-8")
        parts.append(struct.pack("<I", len(b)))
        parts.append(b)
    return b"".join(parts)


def deserialize_bytes(buf: bytes | memoryview) -> list[bytes]:
    """Inverse of :func:`serialize_bytes`."""
    out: list[bytes] = []
    mv = memoryview(buf)
    i, n = 0, len(mv)
    while i < n:
        if i + 4 > n:
            raise ValueError("truncated BYTES tensor: length prefix cut off")
        (length,) = struct.unpack_from("<I", mv, i)
        i += 4
        if i + length > n:
            raise ValueError("truncated BYTES tensor: element cut off")
        out.append(bytes(mv[i : i + length]))
        i += length
    return out


def float32_to_bf16_bits(array: np.ndarray) -> np.ndarray:
    """FP32 values -> BF16 bit patterns (uint16), round-to-nearest-even."""
    bits = np.ascontiguousarray(array, dtype="<f4").view("<u4").astype(np.uint64)
    rounding = ((bits >> 16) & 1) + 0x7FFF
    return ((bits + rounding) >> 16).astype("<u2")


def bf16_bits_to_float32(bits: np.ndarray) -> np.ndarray:
    return (np.asarray(bits, dtype="<u2").astype("<u4") << 16).view("<f4")


def to_raw(array: np.ndarray, datatype: str) -> bytes:
    """Serialize a numpy array to the raw little-endian bytes of ``datatype``."""
    if datatype == "BYTES":
        return serialize_bytes(np.asarray(array, dtype=np.object_).reshape(-1))
    if datatype == "BF16" and array.dtype.kind == "f":
        return float32_to_bf16_bits(array).tobytes()
    return np.ascontiguousarray(array, dtype=NUMPY_DTYPES[datatype]).tobytes()


def from_raw(raw: bytes | memoryview, datatype: str, shape: Sequence[int]) -> np.ndarray:
    """Deserialize raw bytes into a numpy array (BYTES -> object array of bytes; BF16 -> float32)."""
    if datatype == "BYTES":
        items = deserialize_bytes(raw)
        arr = np.empty(len(items), dtype=np.object_)
        arr[:] = items
        return arr.reshape(tuple(shape))
    dt = NUMPY_DTYPES[datatype]
    arr = np.frombuffer(raw, dtype=dt).reshape(tuple(shape))
    if datatype == "BF16":
        return bf16_bits_to_float32(arr).reshape(tuple(shape))
    return arr


def from_json_values(values: Sequence[object], datatype: str, shape: Sequence[int]) -> np.ndarray:
    """A flat JSON list (KServe JSON tensor ``data``) to a numpy array."""
    if datatype == "BYTES":
        arr = np.empty(len(values), dtype=np.object_)
        arr[:] = [v.encode("utf-8") if isinstance(v, str) else v for v in values]
        return arr.reshape(tuple(shape))
    if datatype == "BF16":
        return np.asarray(values, dtype=np.float32).reshape(tuple(shape))
    return np.asarray(values, dtype=NUMPY_DTYPES[datatype]).reshape(tuple(shape))


def to_json_values(array: np.ndarray, datatype: str) -> list[object]:
    """A numpy array to a flat JSON list (BYTES elements decoded as UTF-8 where possible)."""
    flat = np.asarray(array).reshape(-1)
    if datatype == "BYTES":
        out: list[object] = []
        for v in flat:
            if isinstance(v, (bytes, bytearray)):
                try:
                    out.append(bytes(v).decode("utf-8"))
                except UnicodeDecodeError as exc:
                    raise OptionError("BYTES element is not UTF-8; use the binary format") from exc
            else:
                out.append(str(v))
        return out
    if datatype == "BF16":
        vals = flat if flat.dtype.kind == "f" else bf16_bits_to_float32(flat)
        return [float(x) for x in vals]
    return list(flat.tolist())
