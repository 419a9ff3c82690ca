"""Shared-memory regions for notebooks and scripts, in the spirit of tritonclient's utilities.

::

    from perfanalyzer import shm

    region = shm.create_region("inputs", 128)                 # system; kind="cuda" for GPU memory
    a = shm.set_from_numpy(region, np.arange(16, dtype=np.int32), offset=0)      # -> ShmRef
    b = shm.set_from_numpy(region, np.ones(16, dtype=np.int32), offset=64)
    await shm.register(client, region)                         # always with offset 0
    req = InferRequest(model="add_sub", inputs=(
        InputTensor("INPUT0", "INT32", (1, 16), shm=a), InputTensor("INPUT1", "INT32", (1, 16), shm=b)))
    ...
    out = shm.read_numpy(out_region, "INT32", (1, 16), offset=0)
    await shm.unregister(client, region); shm.destroy_region(region)

System regions get a ``/dev/shm`` key ``pa_<pid>_<token>_<name>`` unless ``key`` is given, so a
crashed session's segments can be found and removed by :func:`perfanalyzer.shm.clean_stale`.
"""

from __future__ import annotations

import re
import struct
from typing import TYPE_CHECKING, Any, Literal, overload

import numpy as np

from ..client import tensors
from ..client.base import ShmRef
from .system import SystemRegion, new_run_prefix

if TYPE_CHECKING:
    from ..client.base import InferenceClient
    from .cuda import CudaRegion

Region = Any  # SystemRegion | CudaRegion (CudaRegion is imported lazily)
KINDS = ("system", "cuda")
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


@overload
def create_region(name: str, byte_size: int, kind: Literal["system"] = "system", *,
                  device_id: int = 0, key: str | None = None) -> SystemRegion: ...


@overload
def create_region(name: str, byte_size: int, kind: Literal["cuda"], *, device_id: int = 0,
                  key: str | None = None) -> CudaRegion: ...


@overload
def create_region(name: str, byte_size: int, kind: str, *, device_id: int = 0,
                  key: str | None = None) -> SystemRegion | CudaRegion: ...


def create_region(name: str, byte_size: int, kind: str = "system", *, device_id: int = 0,
                  key: str | None = None) -> SystemRegion | CudaRegion:
    """A new region of ``byte_size`` bytes registered later under ``name``.

    ``kind="system"``: a POSIX segment (``key`` defaults to ``pa_<pid>_<token>_<name>``);
    ``kind="cuda"``: device memory on ``device_id`` (needs cuda-python and a GPU; raises
    :class:`~perfanalyzer.shm.cuda.CudaUnavailable` otherwise).
    """
    if kind == "system":
        return SystemRegion(name, byte_size, key=key or new_run_prefix() + _UNSAFE.sub("_", name))
    if kind == "cuda":
        from .cuda import CudaRegion

        return CudaRegion(name, byte_size, device_id=device_id)
    raise ValueError(f"shared-memory kind must be one of {KINDS}, got {kind!r}")


def raw_bytes(array: np.ndarray | Any, datatype: str | None = None) -> bytes:
    """``array`` as the KServe wire bytes of ``datatype`` (inferred from the dtype if not given;
    BYTES: 4-byte length-prefixed elements)."""
    arr = np.asarray(array)
    dt = tensors.check_datatype(datatype) if datatype else tensors.datatype_of(arr)
    return tensors.to_raw(arr, dt)


def set_from_numpy(region: Region, array: np.ndarray | Any, offset: int = 0,
                   datatype: str | None = None) -> ShmRef:
    """Write ``array`` at ``offset``; returns the :class:`ShmRef` a request input uses."""
    raw = raw_bytes(array, datatype)
    region.write(raw, offset)
    return ShmRef(region.name, len(raw), offset)


def _numpy_datatype(dtype: str | np.dtype | type) -> str:
    if isinstance(dtype, str) and dtype in tensors.NUMPY_DTYPES:
        return dtype
    return tensors.datatype_of(np.empty(0, dtype=dtype))


def _bytes_size(region: Region, count: int, offset: int) -> int:
    """Length of ``count`` length-prefixed BYTES elements starting at ``offset``."""
    size = 0
    for _ in range(count):
        (length,) = struct.unpack("<I", region.read(4, offset + size))
        size += 4 + length
    return size


def read_numpy(region: Region, datatype: str | np.dtype | type, shape: tuple[int, ...] | list[int],
               offset: int = 0) -> np.ndarray:
    """A (writable) copy of the tensor at ``offset``: ``datatype`` is a KServe name ("FP32",
    "BYTES"...) or a numpy dtype; BYTES reads ``prod(shape)`` length-prefixed elements."""
    dt = _numpy_datatype(datatype)
    shape = tuple(int(d) for d in shape)
    count = tensors.element_count(shape)
    size = _bytes_size(region, count, offset) if dt == "BYTES" else count * int(
        tensors.ELEMENT_SIZE[dt] or 0)
    arr = tensors.from_raw(region.read(size, offset), dt, shape)
    return arr if arr.flags.writeable else arr.copy()


async def register(client: InferenceClient, region: Region) -> None:
    """Register ``region`` with the server (registration offset is always 0)."""
    await region.register(client)


async def unregister(client: InferenceClient, region: Region) -> None:
    await region.unregister(client)


def destroy_region(region: Region) -> None:
    """Release the local side: close and unlink (system) or cudaFree (cuda). Idempotent."""
    region.destroy()
