"""CUDA shared-memory regions: device memory from ``cudaMalloc``, shared with the server through a
``cudaIpcGetMemHandle`` handle (the ``cuda`` extra: ``pip install 'perfanalyzer[cuda]'``).

cuda-python is imported lazily, on first use, from ``cuda.bindings.runtime`` (cuda-python 12.6+ and
13) or the older ``cuda.cudart``. Every runtime call returns ``(cudaError_t, *values)``; :func:`_call`
turns a non-success status into :class:`CudaError`. A missing package or GPU raises
:class:`CudaUnavailable`, an :class:`~perfanalyzer.errors.OptionError` (exit 3) with a
one-line message.
"""

from __future__ import annotations

import contextlib
import ctypes
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import OptionError, PerfAnalyzerError

if TYPE_CHECKING:
    from ..client.base import InferenceClient

#: Size of a CUDA IPC memory handle (``CUDA_IPC_HANDLE_SIZE``).
IPC_HANDLE_SIZE = 64
INSTALL_HINT = "pip install 'perfanalyzer[cuda]'"


class CudaUnavailable(OptionError):
    """cuda-python is not installed, or no CUDA GPU can be used."""


class CudaError(PerfAnalyzerError):
    """A CUDA runtime call failed."""


def runtime() -> Any:
    """The cuda-python runtime module (imported on first use)."""
    try:
        from cuda.bindings import runtime as rt
    except ImportError:
        try:
            from cuda import cudart as rt
        except ImportError as exc:
            raise CudaUnavailable(f"--shared-memory cuda needs cuda-python, which is not "
                                  f"installed ({INSTALL_HINT})") from exc
    return rt


def _error_text(rt: Any, err: Any) -> str:
    name = getattr(err, "name", str(err))
    try:
        _status, text = rt.cudaGetErrorString(err)
        return f"{name}: {text.decode() if isinstance(text, bytes) else text}"
    except Exception:  # pragma: no cover - only the name then
        return str(name)


def _call(rt: Any, fn_name: str, *args: Any) -> Any:
    """Call ``rt.<fn_name>(*args)``; return its value(s) after the status, raise CudaError."""
    result = getattr(rt, fn_name)(*args)
    err, values = result[0], result[1:]
    if err != rt.cudaError_t.cudaSuccess:
        raise CudaError(f"{fn_name} failed: {_error_text(rt, err)}")
    if not values:
        return None
    return values[0] if len(values) == 1 else values


def device_count() -> int:
    """Number of usable CUDA devices; raises CudaUnavailable without cuda-python, driver or GPU."""
    rt = runtime()
    err, *rest = rt.cudaGetDeviceCount()
    if err != rt.cudaError_t.cudaSuccess:
        raise CudaUnavailable(f"--shared-memory cuda: no usable CUDA GPU (cudaGetDeviceCount: "
                              f"{_error_text(rt, err)})")
    return int(rest[0])


def check_available(device_id: int = 0) -> None:
    """Raise CudaUnavailable (one line) unless cuda-python is there and ``device_id`` exists."""
    count = device_count()
    if count == 0:
        raise CudaUnavailable("--shared-memory cuda: no CUDA GPU found (cudaGetDeviceCount is 0)")
    if not 0 <= device_id < count:
        raise CudaUnavailable(f"--shared-memory cuda: device {device_id} does not exist "
                              f"({count} CUDA device(s))")


def _handle_bytes(handle: Any) -> bytes:
    """The 64 raw bytes of a ``cudaIpcMemHandle_t`` (what Triton's ``raw_handle`` carries)."""
    reserved = getattr(handle, "reserved", None)
    if isinstance(reserved, (bytes, bytearray)):
        return bytes(reserved[:IPC_HANDLE_SIZE])
    if reserved is not None:  # a sequence of signed chars
        return bytes(int(b) & 0xFF for b in reserved)[:IPC_HANDLE_SIZE]
    return ctypes.string_at(int(handle.getPtr()), IPC_HANDLE_SIZE)


class _Device:
    """Make ``device_id`` current for a block, then restore the previous device."""

    def __init__(self, rt: Any, device_id: int) -> None:
        self.rt, self.device_id, self.prev = rt, device_id, None

    def __enter__(self) -> None:
        self.prev = _call(self.rt, "cudaGetDevice")
        if self.prev != self.device_id:
            _call(self.rt, "cudaSetDevice", self.device_id)

    def __exit__(self, *exc: object) -> None:
        if self.prev is not None and self.prev != self.device_id:
            self.rt.cudaSetDevice(self.prev)


class CudaRegion:
    """``byte_size`` bytes of device memory on ``device_id``, shareable through its IPC handle.

    Registration carries the whole allocation (Triton's CUDA registration has no offset); tensors
    live at per-tensor offsets inside. :meth:`destroy` frees the memory and is safe to call twice.
    """

    kind = "cuda"

    def __init__(self, name: str, byte_size: int, *, device_id: int = 0) -> None:
        if byte_size <= 0:
            raise ValueError(f"shared-memory region {name!r}: byte_size must be > 0, got {byte_size}")
        self.name = name
        self.byte_size = int(byte_size)
        self.device_id = device_id
        self._rt = rt = runtime()
        self._ptr: int | None = None
        with _Device(rt, device_id):
            ptr = int(_call(rt, "cudaMalloc", self.byte_size))
            try:
                handle = _call(rt, "cudaIpcGetMemHandle", ptr)
                self.raw_handle = _handle_bytes(handle)
            except BaseException:
                rt.cudaFree(ptr)
                raise
        self._ptr = ptr

    def __repr__(self) -> str:
        state = "freed" if self._ptr is None else "allocated"
        return (f"CudaRegion(name={self.name!r}, byte_size={self.byte_size}, "
                f"device_id={self.device_id}, {state})")

    @property
    def closed(self) -> bool:
        return self._ptr is None

    def _address(self, offset: int, size: int) -> int:
        if self._ptr is None:
            raise ValueError(f"shared-memory region {self.name!r} is freed")
        if offset < 0 or size < 0 or offset + size > self.byte_size:
            raise ValueError(f"shared-memory region {self.name!r}: [{offset}, {offset + size}) is "
                             f"outside its {self.byte_size} bytes")
        return self._ptr + offset

    def write(self, data: bytes | bytearray | memoryview, offset: int = 0) -> int:
        """Copy host ``data`` to the device at ``offset`` and wait until it is there."""
        host = np.frombuffer(memoryview(data).cast("B"), dtype=np.uint8)
        dst = self._address(offset, host.nbytes)
        if host.nbytes:
            kind = self._rt.cudaMemcpyKind.cudaMemcpyHostToDevice
            with _Device(self._rt, self.device_id):
                _call(self._rt, "cudaMemcpy", dst, host.ctypes.data, host.nbytes, kind)
                # pageable-host copies may return before the DMA lands; the server reads next
                _call(self._rt, "cudaDeviceSynchronize")
        return host.nbytes

    def read(self, size: int, offset: int = 0) -> bytes:
        """A host copy of ``size`` bytes at ``offset``."""
        src = self._address(offset, size)
        host = np.empty(size, dtype=np.uint8)
        if size:
            kind = self._rt.cudaMemcpyKind.cudaMemcpyDeviceToHost
            with _Device(self._rt, self.device_id):
                _call(self._rt, "cudaMemcpy", host.ctypes.data, src, size, kind)
        return host.tobytes()

    async def register(self, client: InferenceClient) -> None:
        await client.register_cuda_shm(self.name, self.raw_handle, self.device_id, self.byte_size)

    async def unregister(self, client: InferenceClient) -> None:
        await client.unregister_cuda_shm(self.name)

    def destroy(self) -> None:
        """Free the device memory (best effort: a failing cudaFree is not raised)."""
        ptr, self._ptr = self._ptr, None
        if ptr is not None:
            with contextlib.suppress(CudaError), _Device(self._rt, self.device_id):
                self._rt.cudaFree(ptr)

    def close(self) -> None:
        self.destroy()

    def __enter__(self) -> CudaRegion:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.destroy()
