"""The profile stage that moves request tensors into shared memory (``--shared-memory system|cuda``).

Given the built requests (per stream, per step), :func:`plan_shared_memory`:

* removes what crashed runs left behind (:func:`clean_stale`);
* writes every distinct input tensor once into one region per input: tensors are deduplicated by
  identity, so a 64 MiB tensor every step reuses is written (and held) once; each sits at its own
  64-byte-aligned offset;
* creates one region per output of ``batch × fixed output bytes`` (``--output-shared-memory-size ×
  batch`` for dynamic-shape or BYTES outputs). All requests, including the concurrently in-flight
  ones, share it: outputs are written there and never read, as in perf_analyzer;
* registers every region with offset 0 (Triton 2.51 misreads a non-zero registration offset) and
  returns the requests rewritten to carry :class:`ShmRef` inputs and outputs.

Release is guaranteed: the returned :class:`ShmPlan` is released by the caller (``await
plan.release(client)``) and is also registered with :mod:`perfanalyzer.cleanup`, whose
synchronous path (second Ctrl-C) unregisters with a fresh client in a helper thread and unlinks.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .. import cleanup
from ..client import tensors
from ..client.base import ClientOptions, InferRequest, InputTensor, ShmRef
from ..errors import OptionError, PerfAnalyzerError, ServerError
from .system import SystemRegion, is_stale, new_run_prefix, stale_segments, unlink_segment

if TYPE_CHECKING:
    from ..client.base import InferenceClient
    from ..inputs import ModelIO
    from ..inputs.setup import ModelSetup

ALIGN = 64
EXTENSIONS = {"system": "system_shared_memory", "cuda": "cuda_shared_memory"}
RELEASE_TIMEOUT_S = 10.0
SYNC_RELEASE_TIMEOUT_S = 5.0
#: How long to retry unregistering a region the server still uses for in-flight requests.
IN_USE_RETRY_S = 4.0
CUDA_DEVICE_ID = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class ShmSettings:
    """What the shared-memory stage reads of a run's configuration."""

    #: --shared-memory: "none", "system" or "cuda"
    kind: str
    batch_size: int
    #: --output-shared-memory-size, and whether it was given (not the default)
    output_size: int
    output_size_given: bool
    #: how a fresh client reaches the server to unregister on a second Ctrl-C
    protocol: str
    client: ClientOptions


# -- checks before any load -------------------------------------------------------------------
def output_sizes(io: ModelIO, shm: ShmSettings) -> dict[str, int]:
    """Bytes of each output's region. An ``--output-shared-memory-size`` given explicitly (not
    the default) that is smaller than a fixed-shape output's batch-1 bytes is an OptionError."""
    batch = shm.batch_size if io.max_batch_size > 0 else 1
    per_elem = shm.output_size
    sizes: dict[str, int] = {}
    for spec in io.outputs:
        item = tensors.ELEMENT_SIZE.get(spec.datatype)
        if item is None or spec.is_dynamic:
            sizes[spec.name] = per_elem * batch
            continue
        fixed = tensors.element_count(spec.shape) * item
        if shm.output_size_given and per_elem < fixed:
            raise OptionError(
                f"--output-shared-memory-size {per_elem}: output '{spec.name}' ({spec.datatype} "
                f"{list(spec.shape)}) needs {fixed} bytes per batch element")
        sizes[spec.name] = max(1, fixed * batch)
    return sizes


async def check_shared_memory(client: InferenceClient, shm: ShmSettings, io: ModelIO) -> None:
    """One-line OptionErrors before any load: cuda-python/GPU missing, the server lacks the
    shared-memory extension, an output size too small."""
    kind = shm.kind
    if kind == "none":
        return
    if kind == "cuda":
        from .cuda import check_available

        check_available(CUDA_DEVICE_ID)
    meta = await client.server_metadata()
    extensions = [str(e) for e in meta.get("extensions") or ()]
    if EXTENSIONS[kind] not in extensions:
        have = ", ".join(extensions) or "none listed"
        raise OptionError(f"--shared-memory {kind}: the server does not support the "
                          f"'{EXTENSIONS[kind]}' extension (its extensions: {have})")
    output_sizes(io, shm)


# -- stale regions ----------------------------------------------------------------------------
async def clean_stale(client: InferenceClient | None, kinds: Sequence[str] = ("system",)
                      ) -> tuple[int, int]:
    """Remove regions of crashed runs (``pa_<pid>_...`` whose pid is gone): unlink local
    ``/dev/shm`` segments and unregister server-side regions (by name or key). Regions of live
    processes, this one included, are kept. Returns (segments unlinked, regions unregistered)."""
    local = sum(unlink_segment(name) for name in stale_segments())
    server = 0
    if client is None:
        return local, server
    for kind in kinds:
        status_fn, unreg_fn = ((client.system_shm_status, client.unregister_system_shm)
                               if kind == "system" else
                               (client.cuda_shm_status, client.unregister_cuda_shm))
        try:
            regions = await status_fn()
        except ServerError:
            continue
        for entry in regions:
            name = str(entry.get("name", ""))
            if is_stale(name) or is_stale(str(entry.get("key", ""))):
                with contextlib.suppress(ServerError):
                    await unreg_fn(name)
                    server += 1
    return local, server


# -- the plan ---------------------------------------------------------------------------------
@dataclass
class InputLayout:
    """Where each distinct input tensor goes: region size per input, offset per (input, data)."""

    sizes: dict[str, int] = field(default_factory=dict)
    offsets: dict[tuple[str, int], int] = field(default_factory=dict)
    blobs: list[tuple[str, int, bytes]] = field(default_factory=list)


def layout_inputs(requests: Sequence[Sequence[InferRequest]]) -> InputLayout:
    """Place every distinct (by identity) input ``bytes`` once, 64-byte aligned, per input name."""
    layout = InputLayout()
    for stream in requests:
        for req in stream:
            for t in req.inputs:
                if t.data is None or (t.name, id(t.data)) in layout.offsets:
                    continue
                offset = layout.sizes.get(t.name, 0)
                layout.offsets[(t.name, id(t.data))] = offset
                layout.blobs.append((t.name, offset, t.data))
                layout.sizes[t.name] = offset + -(-len(t.data) // ALIGN) * ALIGN
    return layout


@dataclass
class ShmPlan:
    """The regions of one run and the requests that use them. Release with :meth:`release`."""

    kind: str
    prefix: str
    protocol: str
    client_options: Any
    requests: list[list[InferRequest]] = field(default_factory=list)
    regions: list[Any] = field(default_factory=list)
    #: Regions the server may still hold (registered or being registered).
    pending: list[Any] = field(default_factory=list)

    async def release(self, client: InferenceClient) -> None:
        """Unregister on the server (bounded time; errors ignored), then free locally."""
        try:
            await asyncio.wait_for(self._unregister(client), RELEASE_TIMEOUT_S)
        except (PerfAnalyzerError, asyncio.TimeoutError):
            pass  # the sync cleanup still has them pending and tries once more
        finally:
            self._destroy_local()
        if not self.pending:
            cleanup.unregister(self.release_sync)

    async def _unregister(self, client: InferenceClient) -> None:
        for region in list(self.pending):
            await unregister_region(client, region.kind, region.name)
            self.pending.remove(region)

    def _destroy_local(self) -> None:
        for region in self.regions:
            with contextlib.suppress(Exception):
                region.destroy()

    def release_sync(self) -> None:
        """For :mod:`perfanalyzer.cleanup` (also from a signal handler inside the running
        loop): unregister with a fresh client in a helper thread, wait a bounded time, unlink."""
        try:
            if self.pending:
                worker = threading.Thread(target=_unregister_in_thread, daemon=True,
                                          args=(self.protocol, self.client_options,
                                                [(r.kind, r.name) for r in self.pending]))
                worker.start()
                worker.join(SYNC_RELEASE_TIMEOUT_S)
                self.pending.clear()
        finally:
            self._destroy_local()
            cleanup.unregister(self.release_sync)


async def unregister_region(client: InferenceClient, kind: str, name: str,
                            retry_s: float = IN_USE_RETRY_S) -> bool:
    """Unregister one region. Triton refuses while an in-flight request still uses the region
    ("... it is currently in use"): retry every 20 ms for up to ``retry_s``. Other server errors
    give up (False); transport errors propagate."""
    unreg = client.unregister_cuda_shm if kind == "cuda" else client.unregister_system_shm
    deadline = asyncio.get_running_loop().time() + retry_s
    while True:
        try:
            await unreg(name)
            return True
        except ServerError as exc:
            if "in use" not in exc.message or asyncio.get_running_loop().time() >= deadline:
                return False
        await asyncio.sleep(0.02)


def _unregister_in_thread(protocol: str, options: Any, regions: list[tuple[str, str]]) -> None:
    from ..client import create_client

    async def run() -> None:
        client = create_client(protocol, options)
        try:
            for kind, name in regions:
                await unregister_region(client, kind, name)
        finally:
            await client.close()

    with contextlib.suppress(Exception):
        asyncio.run(run())


def _new_region(kind: str, name: str, byte_size: int) -> Any:
    if kind == "cuda":
        from .cuda import CudaRegion

        return CudaRegion(name, max(1, byte_size), device_id=CUDA_DEVICE_ID)
    return SystemRegion(name, max(1, byte_size))


async def plan_shared_memory(client: InferenceClient, shm: ShmSettings, setup: ModelSetup,
                             requests: Sequence[Sequence[InferRequest]]) -> ShmPlan:
    """Create, fill and register the regions; return the plan with the rewritten requests.
    On any failure, whatever was created is released before the error propagates."""
    kind = shm.kind
    await clean_stale(client, ("system", "cuda") if kind == "cuda" else ("system",))
    out_sizes = output_sizes(setup.io, shm)
    layout = layout_inputs(requests)
    plan = ShmPlan(kind=kind, prefix=new_run_prefix(), protocol=shm.protocol,
                   client_options=shm.client)
    cleanup.register(plan.release_sync)
    try:
        in_regions = _make_regions(plan, "in", layout.sizes)
        for name, offset, data in layout.blobs:
            in_regions[name].write(data, offset)
        out_regions = _make_regions(plan, "out", out_sizes)
        for region in plan.regions:
            plan.pending.append(region)
            try:
                await region.register(client)
            except ServerError as exc:
                raise ServerError(exc.status, f"--shared-memory {kind}: the server could not "
                                  f"register region '{region.name}': {exc.message}") from exc
        plan.requests = [[_rewrite(req, layout, in_regions, out_regions) for req in stream]
                         for stream in requests]
    except BaseException:
        await plan.release(client)
        raise
    return plan


def _make_regions(plan: ShmPlan, what: str, sizes: dict[str, int]) -> dict[str, Any]:
    regions: dict[str, Any] = {}
    for k, (tensor, size) in enumerate(sizes.items()):
        region = _new_region(plan.kind, f"{plan.prefix}{what}{k}", size)
        plan.regions.append(region)
        regions[tensor] = region
    return regions


def _rewrite(req: InferRequest, layout: InputLayout, in_regions: dict[str, Any],
             out_regions: dict[str, Any]) -> InferRequest:
    inputs = tuple(
        t if t.data is None else InputTensor(
            name=t.name, datatype=t.datatype, shape=t.shape,
            shm=ShmRef(in_regions[t.name].name, len(t.data), layout.offsets[(t.name, id(t.data))]))
        for t in req.inputs)
    outputs = tuple(
        dataclasses.replace(o, shm=ShmRef(out_regions[o.name].name, out_regions[o.name].byte_size))
        if o.name in out_regions else o
        for o in req.outputs)
    return dataclasses.replace(req, inputs=inputs, outputs=outputs)
