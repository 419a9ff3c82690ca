"""CUDA shared memory.

Without a GPU: the one-line errors (no cuda-python, no driver/GPU, no such device), the raw IPC
handle bytes, and CudaRegion's use of the runtime API checked against a host-memory stand-in for
``cuda.bindings.runtime`` (cudaMalloc → a ctypes buffer, cudaMemcpy → memmove), including the
plan's release when the real (CPU-only) Triton refuses a CUDA registration.

With a GPU (marker ``gpu``; skipped cleanly otherwise): the real runtime, inference through CUDA
regions on the real Triton (HTTP and gRPC), and a ``--shared-memory cuda`` profile.
"""

from __future__ import annotations

import ctypes
import enum
import io
import os
import sys
import types
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from perfanalyzer import cleanup
from perfanalyzer.client import ClientOptions, create_client
from perfanalyzer.config import RunConfig
from perfanalyzer.errors import EXIT_OPTION, ServerError
from perfanalyzer.inputs.setup import requests_for
from perfanalyzer.profile.settings import request_settings, shm_settings
from perfanalyzer.profile.setup import prepare_model
from perfanalyzer.shm import create_region, read_numpy, set_from_numpy
from perfanalyzer.shm import cuda as shm_cuda
from perfanalyzer.shm.plan import ShmPlan, plan_shared_memory
from tests.support.shm import run


def gpu_count() -> int:
    try:
        return shm_cuda.device_count()
    except shm_cuda.CudaUnavailable:
        return 0


GPUS = gpu_count()  # before any test swaps in the stand-in runtime


# -- a host-memory stand-in for cuda.bindings.runtime ------------------------------------------
class cudaError_t(enum.IntEnum):
    cudaSuccess = 0
    cudaErrorMemoryAllocation = 2
    cudaErrorInsufficientDriver = 35
    cudaErrorNoDevice = 100


class cudaMemcpyKind(enum.IntEnum):
    cudaMemcpyHostToHost = 0
    cudaMemcpyHostToDevice = 1
    cudaMemcpyDeviceToHost = 2


class _Handle:
    def __init__(self, raw: bytes) -> None:
        self._buf = ctypes.create_string_buffer(raw, len(raw))

    def getPtr(self) -> int:
        return ctypes.addressof(self._buf)


class FakeRuntime(types.ModuleType):
    """Just enough of the runtime API, with the same call and return conventions."""

    def __init__(self, devices: int = 1, count_error: cudaError_t = cudaError_t.cudaSuccess
                 ) -> None:
        super().__init__("cuda.bindings.runtime")
        self.cudaError_t, self.cudaMemcpyKind = cudaError_t, cudaMemcpyKind
        self.devices, self.count_error = devices, count_error
        self.device = 0
        self.allocations: dict[int, Any] = {}
        self.calls: list[str] = []

    def cudaGetErrorString(self, err: cudaError_t) -> tuple[cudaError_t, bytes]:
        texts = {cudaError_t.cudaErrorNoDevice: b"no CUDA-capable device is detected",
                 cudaError_t.cudaErrorInsufficientDriver:
                     b"CUDA driver version is insufficient for CUDA runtime version"}
        return cudaError_t.cudaSuccess, texts.get(err, b"unknown error")

    def cudaGetDeviceCount(self) -> tuple[cudaError_t, int | None]:
        return (self.count_error, None) if self.count_error else (cudaError_t.cudaSuccess,
                                                                  self.devices)

    def cudaGetDevice(self) -> tuple[cudaError_t, int]:
        return cudaError_t.cudaSuccess, self.device

    def cudaSetDevice(self, device: int) -> tuple[cudaError_t]:
        self.calls.append(f"set{device}")
        self.device = device
        return (cudaError_t.cudaSuccess,)

    def cudaMalloc(self, size: int) -> tuple[cudaError_t, int]:
        if size > 1 << 30:
            return cudaError_t.cudaErrorMemoryAllocation, 0
        buf = ctypes.create_string_buffer(size)
        self.allocations[ctypes.addressof(buf)] = buf
        return cudaError_t.cudaSuccess, ctypes.addressof(buf)

    def cudaIpcGetMemHandle(self, ptr: int) -> tuple[cudaError_t, _Handle]:
        assert ptr in self.allocations
        return cudaError_t.cudaSuccess, _Handle(ptr.to_bytes(8, "little") * 8)

    def cudaMemcpy(self, dst: int, src: int, count: int,
                   kind: cudaMemcpyKind) -> tuple[cudaError_t]:
        self.calls.append(kind.name)
        ctypes.memmove(dst, src, count)
        return (cudaError_t.cudaSuccess,)

    def cudaDeviceSynchronize(self) -> tuple[cudaError_t]:
        self.calls.append("sync")
        return (cudaError_t.cudaSuccess,)

    def cudaFree(self, ptr: int) -> tuple[cudaError_t]:
        del self.allocations[ptr]
        self.calls.append("free")
        return (cudaError_t.cudaSuccess,)


def _install(monkeypatch: pytest.MonkeyPatch, rt: types.ModuleType | None) -> None:
    pkg = types.ModuleType("cuda")
    bindings = types.ModuleType("cuda.bindings")
    if rt is None:  # as if cuda-python were not installed at all
        for name in ("cuda", "cuda.bindings", "cuda.bindings.runtime", "cuda.cudart"):
            monkeypatch.setitem(sys.modules, name, None)
        return
    bindings.runtime = rt  # type: ignore[attr-defined]
    pkg.bindings = bindings  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "cuda", pkg)
    monkeypatch.setitem(sys.modules, "cuda.bindings", bindings)
    monkeypatch.setitem(sys.modules, "cuda.bindings.runtime", rt)


@pytest.fixture
def fake_rt(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeRuntime]:
    rt = FakeRuntime()
    _install(monkeypatch, rt)
    yield rt
    assert rt.allocations == {}, "a region was not freed"


# -- errors before load ------------------------------------------------------------------------
def test_without_cuda_python(monkeypatch: pytest.MonkeyPatch) -> None:
    _install(monkeypatch, None)
    with pytest.raises(shm_cuda.CudaUnavailable) as err:
        shm_cuda.check_available()
    assert str(err.value) == ("--shared-memory cuda needs cuda-python, which is not installed "
                              "(pip install 'perfanalyzer[cuda]')")
    assert err.value.exit_code == EXIT_OPTION
    with pytest.raises(shm_cuda.CudaUnavailable):
        create_region("x", 64, kind="cuda")


@pytest.mark.parametrize("error, text", [
    (cudaError_t.cudaErrorNoDevice, "cudaErrorNoDevice: no CUDA-capable device is detected"),
    (cudaError_t.cudaErrorInsufficientDriver,
     "cudaErrorInsufficientDriver: CUDA driver version is insufficient for CUDA runtime version"),
])
def test_without_a_gpu(monkeypatch: pytest.MonkeyPatch, error: cudaError_t, text: str) -> None:
    _install(monkeypatch, FakeRuntime(count_error=error))
    with pytest.raises(shm_cuda.CudaUnavailable) as err:
        shm_cuda.check_available()
    assert str(err.value) == f"--shared-memory cuda: no usable CUDA GPU (cudaGetDeviceCount: {text})"


def test_device_count_zero_or_too_few(monkeypatch: pytest.MonkeyPatch) -> None:
    _install(monkeypatch, FakeRuntime(devices=0))
    with pytest.raises(shm_cuda.CudaUnavailable, match=r"^--shared-memory cuda: no CUDA GPU found"):
        shm_cuda.check_available()
    _install(monkeypatch, FakeRuntime(devices=1))
    with pytest.raises(shm_cuda.CudaUnavailable,
                       match=r"^--shared-memory cuda: device 1 does not exist \(1 CUDA device"):
        shm_cuda.check_available(1)
    shm_cuda.check_available(0)


def test_raw_handle_bytes_from_every_binding_shape() -> None:
    raw = bytes(range(64))
    assert shm_cuda._handle_bytes(_Handle(raw)) == raw  # cuda-bindings 13: getPtr only
    assert shm_cuda._handle_bytes(types.SimpleNamespace(reserved=raw)) == raw  # 12.x: bytes
    signed = [b - 256 for b in range(192, 256)]  # a list of C chars
    assert shm_cuda._handle_bytes(types.SimpleNamespace(reserved=signed)) == bytes(range(192, 256))


# -- CudaRegion against the stand-in -----------------------------------------------------------
def test_region_calls_the_runtime_as_documented(fake_rt: FakeRuntime) -> None:
    fake_rt.device = 3
    region = create_region("gpu_in", 256, kind="cuda", device_id=0)
    assert fake_rt.device == 3 and fake_rt.calls == ["set0", "set3"]  # previous device restored
    ptr = next(iter(fake_rt.allocations))
    assert region.raw_handle == ptr.to_bytes(8, "little") * 8 and len(region.raw_handle) == 64
    a = np.arange(16, dtype=np.float32)
    assert set_from_numpy(region, a, offset=64).byte_size == 64
    assert ctypes.string_at(ptr + 64, 64) == a.tobytes()  # at the offset, in device memory
    assert "cudaMemcpyHostToDevice" in fake_rt.calls and "sync" in fake_rt.calls
    np.testing.assert_array_equal(read_numpy(region, "FP32", (4, 4), offset=64), a.reshape(4, 4))
    assert "cudaMemcpyDeviceToHost" in fake_rt.calls
    with pytest.raises(ValueError, match="outside its 256 bytes"):
        region.write(b"x" * 2, 255)
    region.destroy()
    region.destroy()
    assert fake_rt.calls.count("free") == 1
    with pytest.raises(ValueError, match="freed"):
        region.read(4)


def test_allocation_failure_is_a_cuda_error(fake_rt: FakeRuntime) -> None:
    with pytest.raises(shm_cuda.CudaError, match="cudaMalloc failed: cudaErrorMemoryAllocation"):
        create_region("huge", 2 << 30, kind="cuda")


async def _plan_cuda_on_cpu_server(url: str, protocol: str) -> str:
    cfg = RunConfig.of(model="add_sub", url=url, protocol=protocol, shared_memory="cuda").validate()
    client = create_client(protocol, ClientOptions(url=url))
    try:
        setup = await prepare_model(client, cfg)
        try:
            await plan_shared_memory(client, shm_settings(cfg), setup,
                                     requests_for(request_settings(cfg), setup))
        except ServerError as exc:
            return exc.message
        raise AssertionError("a CPU-only Triton accepted a CUDA registration")
    finally:
        await client.close()


@pytest.mark.server
@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_plan_releases_everything_when_registration_fails(triton: Any, fake_rt: FakeRuntime,
                                                          protocol: str) -> None:
    """The CPU-only Triton refuses CUDA registrations: the one-line error names the region, and
    every region is freed (checked by the fixture) and unregistered from the cleanups."""
    if GPUS:
        pytest.skip("needs a CPU-only server")
    url = triton.grpc_url if protocol == "grpc" else triton.http_url
    message = run(_plan_cuda_on_cpu_server(url, protocol))
    assert message.startswith(f"--shared-memory cuda: the server could not register region "
                              f"'pa_{os.getpid()}_")
    assert "\n" not in message
    assert [f for f in cleanup._CLEANUPS if isinstance(getattr(f, "__self__", None), ShmPlan)] == []


# -- with a GPU --------------------------------------------------------------------------------
gpu = pytest.mark.gpu
needs_gpu = pytest.mark.skipif(GPUS == 0, reason="needs cuda-python and a CUDA GPU")


@gpu
@needs_gpu
def test_real_region_roundtrip() -> None:
    region = create_region("gpu_rt", 1024, kind="cuda")
    try:
        assert len(region.raw_handle) == 64 and any(region.raw_handle)
        a = np.arange(64, dtype=np.int32)
        set_from_numpy(region, a, offset=256)
        np.testing.assert_array_equal(read_numpy(region, "INT32", (64,), offset=256), a)
        s = np.array([b"gpu", b"shm"], dtype=object)
        set_from_numpy(region, s, offset=640)
        assert read_numpy(region, "BYTES", (2,), offset=640).tolist() == [b"gpu", b"shm"]
    finally:
        region.destroy()


async def _infer_through_cuda(url: str, protocol: str) -> tuple[np.ndarray, ...]:
    cfg = RunConfig.of(model="add_sub", url=url, protocol=protocol, batch_size=2,
                    shared_memory="cuda").validate()
    client = create_client(protocol, ClientOptions(url=url))
    try:
        setup = await prepare_model(client, cfg)
        plain = requests_for(request_settings(cfg), setup)
        plan = await plan_shared_memory(client, shm_settings(cfg), setup, plain)
        try:
            status = await client.cuda_shm_status()
            assert {r["name"] for r in status} >= {r.name for r in plan.regions}
            req = plan.requests[0][0]
            await client.infer(req)
            regions = {r.name: r for r in plan.regions}
            outs = [read_numpy(regions[o.shm.region], "INT32", (2, 16), o.shm.offset)
                    for o in req.outputs if o.shm is not None]
        finally:
            await plan.release(client)
        left = [r for r in await client.cuda_shm_status() if r["name"].startswith(plan.prefix)]
        assert left == []
        a, b = (t.to_numpy() for t in plain[0][0].inputs)
        return a, b, *outs
    finally:
        await client.close()


@gpu
@needs_gpu
@pytest.mark.server
@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_infer_through_cuda_regions(triton: Any, protocol: str) -> None:
    url = triton.grpc_url if protocol == "grpc" else triton.http_url
    a, b, out0, out1 = run(_infer_through_cuda(url, protocol))
    np.testing.assert_array_equal(out0, a + b)
    np.testing.assert_array_equal(out1, a - b)


@gpu
@needs_gpu
@pytest.mark.server
@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_profile_with_cuda_shm(triton: Any, protocol: str) -> None:
    from perfanalyzer.profile.run import profile

    url = triton.grpc_url if protocol == "grpc" else triton.http_url
    cfg = RunConfig.of(model="add_sub", url=url, protocol=protocol, concurrency_range=(2, 2, 1),
                    measurement_interval_ms=300, max_trials=3, shared_memory="cuda").validate()

    async def go() -> tuple[int, int, int, list[Any]]:
        client = create_client(protocol, ClientOptions(url=url))
        try:
            before = (await client.model_statistics("add_sub"))[0].inference_count
            result = await profile(cfg, out=io.StringIO())
            after = (await client.model_statistics("add_sub"))[0].inference_count
            left = [r for r in await client.cuda_shm_status()
                    if str(r["name"]).startswith(f"pa_{os.getpid()}_")]
        finally:
            await client.close()
        assert result.buffer is not None
        status = result.buffer.status[:result.buffer.count]
        return after - before, int((status == 0).sum()), int((status != 0).sum()), left

    delta, ok, failed, left = run(go())
    assert failed == 0 and ok > 0 and delta == ok
    assert left == []
