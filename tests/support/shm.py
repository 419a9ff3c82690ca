"""Helpers for the system shared-memory tests: this process's segments, the cleanups still
registered, the server's registered regions, and the ``perfanalyzer`` script."""

from __future__ import annotations

import asyncio
import glob
import os
import subprocess
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

from perfanalyzer import cleanup
from perfanalyzer.client import ClientOptions, create_client
from perfanalyzer.shm.plan import ShmPlan

T = TypeVar("T")
PERFANALYZER = [str(Path(sys.executable).with_name("perfanalyzer"))]


def run(coro: Coroutine[Any, Any, T]) -> T:
    """The coroutine's result, run in a fresh event loop."""
    return asyncio.run(coro)


def perfanalyzer(*args: str) -> subprocess.CompletedProcess[str]:
    """The installed ``perfanalyzer`` script in a subprocess, its output captured."""
    return subprocess.run([*PERFANALYZER, *args], capture_output=True, text=True, timeout=120)


def segments(pid: int) -> list[str]:
    """This pid's perfanalyzer segments in /dev/shm."""
    return sorted(os.path.basename(p) for p in glob.glob(f"/dev/shm/pa_{pid}_*"))


def dead_pid() -> int:
    """The pid of a process that has exited (a stale segment's owner)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def plan_cleanups() -> list[Any]:
    """Shared-memory cleanups still registered (none once a run has released its regions)."""
    return [fn for fn in cleanup._CLEANUPS if isinstance(getattr(fn, "__self__", None), ShmPlan)]


def url_of(triton: Any, protocol: str) -> str:
    """The server fixture's URL for ``protocol`` (http or grpc)."""
    return str(triton.grpc_url if protocol == "grpc" else triton.http_url)


async def registered(url: str, protocol: str, prefix: str) -> list[dict[str, Any]]:
    """The server's registered system shared-memory regions whose names start with ``prefix``."""
    client = create_client(protocol, ClientOptions(url=url))
    try:
        return [r for r in await client.system_shm_status()
                if str(r["name"]).startswith(prefix)]
    finally:
        await client.close()
