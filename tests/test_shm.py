"""System shared memory without a server: the region wrapper and notebook API, stale segments,
the plan's output sizes and layout, and a server without the extension. The profile stage, its
release on every kind of exit, stale-region cleanup and the one-line errors before load are tested
against the real Triton (``triton`` fixture), over HTTP and gRPC, in test_shm_server.py. Triton 2.51
behaviour pinned here: unregistering a region that an in-flight request still uses answers 500
"... it is currently in use" (the release retries); unregistering an unknown name succeeds.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from perfanalyzer.client.base import InferRequest, InputTensor, ShmRef
from perfanalyzer.config import RunConfig
from perfanalyzer.errors import OptionError
from perfanalyzer.inputs import ModelIO, TensorSpec
from perfanalyzer.profile.settings import shm_settings
from perfanalyzer.shm import (
    SystemRegion,
    clean_stale,
    create_region,
    destroy_region,
    owner_pid,
    read_numpy,
    set_from_numpy,
    stale_segments,
)
from perfanalyzer.shm.plan import ALIGN, check_shared_memory, layout_inputs, output_sizes
from tests.support.shm import dead_pid, run

server = pytest.mark.server


# -- the region wrapper and the notebook API (no server) ---------------------------------------
def test_region_roundtrip_every_kind_of_tensor() -> None:
    region = create_region("inputs", 512)
    try:
        assert region.key.startswith(f"pa_{os.getpid()}_") and region.key.endswith("_inputs")
        assert owner_pid(region.key) == os.getpid()
        assert Path("/dev/shm", region.key).stat().st_size == 512
        a = np.arange(16, dtype=np.int32).reshape(2, 8)
        h = np.array([1.5, -2.25, 65504.0], dtype=np.float16)
        s = np.array([b"ab", b"", "héllo"], dtype=object)
        assert set_from_numpy(region, a, 0) == ShmRef("inputs", 64, 0)
        assert set_from_numpy(region, h, 64) == ShmRef("inputs", 6, 64)
        ref = set_from_numpy(region, s, 128)
        assert ref == ShmRef("inputs", 4 * 3 + 2 + 0 + 6, 128)
        got = read_numpy(region, "INT32", (2, 8), offset=0)
        np.testing.assert_array_equal(got, a)
        got[0, 0] = 99  # a writable copy, not a view of the region
        np.testing.assert_array_equal(read_numpy(region, np.int32, [2, 8]), a)
        np.testing.assert_array_equal(read_numpy(region, np.float16, (3,), 64), h)
        assert read_numpy(region, "BYTES", (3,), 128).tolist() == [b"ab", b"", "héllo".encode()]
        with pytest.raises(ValueError, match="outside its 512 bytes"):
            region.write(b"x" * 10, 510)
        with pytest.raises(ValueError, match="outside"):
            region.read(1, 512)
        assert region.read(0, 512) == b""
    finally:
        destroy_region(region)
    assert not Path("/dev/shm", region.key).exists()
    destroy_region(region)  # idempotent
    with pytest.raises(ValueError, match="closed"):
        region.write(b"x")


def test_attach_to_an_existing_segment_never_unlinks_it() -> None:
    with create_region("owner", 64) as owner:
        owner.write(b"\x01\x02\x03", 5)
        other = SystemRegion("viewer", 64, key=owner.key, create=False)
        assert other.read(3, 5) == b"\x01\x02\x03"
        other.write(b"\xff", 0)
        other.destroy()
        assert Path("/dev/shm", owner.key).exists()
        assert owner.read(1) == b"\xff"
    assert not Path("/dev/shm", owner.key).exists()


def test_create_refuses_an_existing_key_and_bad_sizes() -> None:
    with create_region("dup", 64) as first:
        with pytest.raises(FileExistsError):
            SystemRegion("dup2", 64, key=first.key)
        assert Path("/dev/shm", first.key).exists()  # the failed create did not unlink it
    with pytest.raises(ValueError, match="byte_size must be > 0"):
        create_region("empty", 0)
    with pytest.raises(ValueError, match="kind must be one of"):
        create_region("x", 8, kind="tpu")


def test_stale_segments_are_those_of_dead_processes_only() -> None:
    gone = dead_pid()
    stale = SystemRegion("s", 16, key=f"pa_{gone}_0badc0de_in0")
    live_self = SystemRegion("l1", 16, key=f"pa_{os.getpid()}_0badc0de_in0")
    live_parent = SystemRegion("l2", 16, key=f"pa_{os.getppid()}_0badc0de_in0")
    decoy = SystemRegion("d", 16, key=f"pa_triton_{gone}_0badc0de_x")  # python backend naming
    try:
        assert stale.key in stale_segments()
        assert not {live_self.key, live_parent.key, decoy.key} & set(stale_segments())
        local, server_side = run(clean_stale(None))
        assert local >= 1 and server_side == 0
        assert not Path("/dev/shm", stale.key).exists()
        for kept in (live_self, live_parent, decoy):
            assert Path("/dev/shm", kept.key).exists()
    finally:
        for r in (stale, live_self, live_parent, decoy):
            r.destroy()


# -- the plan's pure parts ---------------------------------------------------------------------
def _io(outputs: tuple[TensorSpec, ...], max_batch: int = 8) -> ModelIO:
    return ModelIO(name="m", inputs=(TensorSpec("IN", "FP32", (-1,)),), outputs=outputs,
                   max_batch_size=max_batch)


def test_output_sizes() -> None:
    outs = (TensorSpec("FIXED", "INT32", (16,)), TensorSpec("DYN", "FP32", (-1, 4)),
            TensorSpec("STR", "BYTES", (2,)), TensorSpec("BIG", "FP64", (100, 1000)))
    cfg = RunConfig.of(model="m", batch_size=4)
    assert output_sizes(_io(outs), shm_settings(cfg)) == {"FIXED": 256, "DYN": 4 * 102400, "STR": 4 * 102400,
                                            "BIG": 4 * 800_000}
    assert output_sizes(_io(outs, max_batch=0), shm_settings(cfg.replace(batch_size=1)))["FIXED"] == 64
    small = cfg.replace(output_shared_memory_size=1000, output_shared_memory_size_given=True)
    assert output_sizes(_io(outs[:3]), shm_settings(small)) == {"FIXED": 256, "DYN": 4000, "STR": 4000}
    with pytest.raises(OptionError) as err:
        output_sizes(_io(outs), shm_settings(small))
    assert str(err.value) == ("--output-shared-memory-size 1000: output 'BIG' (FP64 [100, 1000]) "
                              "needs 800000 bytes per batch element")


def test_layout_writes_each_distinct_tensor_once_aligned() -> None:
    big = bytes(range(256)) * 4  # 1024 bytes, reused by every step
    odd = b"\x07" * 10
    steps = [InferRequest(model="m", inputs=(InputTensor("A", "UINT8", (1024,), data=big),
                                             InputTensor("B", "UINT8", (10,), data=d)))
             for d in (odd, b"\x08" * 10, odd)]
    layout = layout_inputs([steps, steps[:1]])
    assert [(n, o) for n, o, _ in layout.blobs] == [("A", 0), ("B", 0), ("B", ALIGN)]
    assert layout.sizes == {"A": 1024, "B": 2 * ALIGN}
    assert layout.offsets[("B", id(odd))] == 0


class _MetaOnly:
    """Answers server metadata only (Triton always lists the extension; this checks the error)."""

    def __init__(self, extensions: list[str]) -> None:
        self.extensions = extensions

    async def server_metadata(self) -> dict[str, Any]:
        return {"name": "kserve", "extensions": self.extensions}


def test_a_server_without_the_extension_is_an_option_error() -> None:
    io_ = _io((TensorSpec("OUT", "FP32", (-1,)),))
    client: Any = _MetaOnly(["binary_tensor_data", "cuda_shared_memory"])
    with pytest.raises(OptionError) as err:
        run(check_shared_memory(client, shm_settings(RunConfig.of(model="m", shared_memory="system")), io_))
    assert str(err.value) == ("--shared-memory system: the server does not support the "
                              "'system_shared_memory' extension (its extensions: "
                              "binary_tensor_data, cuda_shared_memory)")
    client = _MetaOnly(["system_shared_memory"])
    run(check_shared_memory(client, shm_settings(RunConfig.of(model="m", shared_memory="system")), io_))
