"""Shared memory for request tensors: system (POSIX ``/dev/shm``) and CUDA (cuda-python) regions.

Notebook / script API (see :mod:`perfanalyzer.shm.api`)::

    region = create_region("in", nbytes, kind="system")      # or kind="cuda"
    ref = set_from_numpy(region, array, offset=0)           # -> ShmRef for an InputTensor
    await register(client, region)
    ...
    read_numpy(region, "FP32", shape, offset=0)
    await unregister(client, region); destroy_region(region)

The profile stage that uses them for ``--shared-memory`` is :mod:`perfanalyzer.shm.plan`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .api import (
    create_region,
    destroy_region,
    raw_bytes,
    read_numpy,
    register,
    set_from_numpy,
    unregister,
)
from .system import SystemRegion, new_run_prefix, owner_pid, stale_segments

if TYPE_CHECKING:
    from ..client.base import InferenceClient


async def clean_stale(client: InferenceClient | None = None, kinds: tuple[str, ...] = ("system",)
                      ) -> tuple[int, int]:
    """Remove what crashed perfanalyzer runs left: local ``/dev/shm/pa_<pid>_*`` segments whose
    process is gone and, with a client, their server-side registrations. Returns the counts."""
    from .plan import clean_stale as _clean

    return await _clean(client, kinds)


__all__ = [
    "SystemRegion",
    "clean_stale",
    "create_region",
    "destroy_region",
    "new_run_prefix",
    "owner_pid",
    "raw_bytes",
    "read_numpy",
    "register",
    "set_from_numpy",
    "stale_segments",
    "unregister",
]
