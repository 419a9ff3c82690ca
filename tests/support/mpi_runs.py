"""Helpers for the --enable-mpi tests: running mpiexec, reading exports, network namespaces."""

from __future__ import annotations

import contextlib
import csv
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

MPIEXEC = shutil.which("mpiexec", path=str(Path(sys.executable).parent)) or shutil.which("mpiexec")
PA = [sys.executable, "-m", "perfanalyzer"]
#: Window edges of two ranks differ by when each is scheduled to read its clock after the barrier:
#: a few ms here, up to ~70 ms seen with this shared 2-core machine at load average 10 (docs/mpi.md).
#: Without the barriers they would differ by the ranks' start-up (seconds) and drift apart.
SKEW_TOL_NS = 200_000_000


def need_mpi() -> str:
    if importlib.util.find_spec("mpi4py") is None:
        pytest.skip("mpi4py is not installed (the mpi extra)")
    if MPIEXEC is None:
        pytest.skip("mpiexec is not on PATH (the mpich wheel of the mpi extra)")
    return MPIEXEC


def mpiexec(*segments: list[str], timeout: float = 180, extra: tuple[str, ...] = (),
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``mpiexec -n 1 SEG1 : -n 1 SEG2 ...`` (each segment one rank's command line)."""
    cmd = [need_mpi(), *extra]
    for i, seg in enumerate(segments):
        cmd += ([":"] if i else []) + ["-n", "1", *seg]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False,
                          env={**os.environ, **(env or {})})


def rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def export_requests(path: Path) -> int:
    """Every request in a profile export (windows, before them, and the drain)."""
    d = json.loads(path.read_text())
    pa = d["perfanalyzer"]
    return (sum(len(e["requests"]) for e in d["experiments"])
            + sum(len(p.get("unwindowed_requests", [])) for p in pa["points"])
            + len(pa.get("trailing_requests", [])))


def window_edges(path: Path) -> list[list[int]]:
    return [e["window_boundaries"] for e in json.loads(path.read_text())["experiments"]]


def error_lines(text: str) -> list[str]:
    return [ln for ln in text.splitlines() if ln.startswith("error:")]


@dataclass(frozen=True)
class Net:
    """A bridge in this namespace (``server`` address) and one namespace per client "host"."""

    server: str
    namespaces: tuple[str, ...]


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


@contextlib.contextmanager
def namespaces(count: int) -> Iterator[Net]:
    """``count`` network namespaces, each joined by a veth pair to a bridge holding 10.231.x.1/24
    (only addresses made here; everything deleted on exit). Skips when it cannot be made."""
    if shutil.which("ip") is None:
        pytest.skip("the ip command is not available")
    tag = uuid.uuid4().hex[:5]
    bridge, subnet = f"pab{tag}", f"10.231.{int(tag, 16) % 200 + 20}"
    made: list[tuple[str, ...]] = []
    try:
        try:
            _ip("link", "add", bridge, "type", "bridge")
        except (subprocess.CalledProcessError, OSError) as exc:
            pytest.skip(f"cannot create network devices here: {exc}")
        made.append(("link", "del", bridge))
        _ip("addr", "add", f"{subnet}.1/24", "dev", bridge)
        _ip("link", "set", bridge, "up")
        names = []
        for i in range(count):
            ns, veth = f"pans{tag}{i}", f"pav{tag}{i}"
            _ip("netns", "add", ns)
            made.append(("netns", "del", ns))
            _ip("link", "add", veth, "type", "veth", "peer", "name", f"{veth}p")
            _ip("link", "set", f"{veth}p", "netns", ns)
            _ip("link", "set", veth, "master", bridge, "up")
            _ip("-n", ns, "addr", "add", f"{subnet}.{i + 2}/24", "dev", f"{veth}p")
            _ip("-n", ns, "link", "set", f"{veth}p", "up")
            _ip("-n", ns, "link", "set", "lo", "up")
            names.append(ns)
        yield Net(server=f"{subnet}.1", namespaces=tuple(names))
    finally:
        for args in reversed(made):
            with contextlib.suppress(subprocess.CalledProcessError, OSError):
                _ip(*args)


SHM = Path("/dev/shm")
#: The shared-memory files MPI libraries make there (MPICH; Open MPI's sm transport).
MPI_SEGMENTS = ("mpich_shm_*", "sm_segment.*", "vader_segment.*")


def mpi_segments() -> set[Path]:
    return {p for pattern in MPI_SEGMENTS for p in SHM.glob(pattern)}


def _mapped_segments() -> set[Path]:
    """MPI segments some live process maps (another run, still going: not a leftover)."""
    mapped: set[Path] = set()
    for maps in Path("/proc").glob("[0-9]*/maps"):
        with contextlib.suppress(OSError):
            for line in maps.read_text().splitlines():
                fields = line.split(maxsplit=5)
                path = fields[5] if len(fields) == 6 else ""
                if path.startswith("/dev/shm/"):
                    mapped.add(Path(path))
    return mapped


def leftover_segments(before: set[Path], timeout_s: float = 15.0) -> set[Path]:
    """MPI segments made since ``before`` that no process maps any more, after the ranks' guards
    had ``timeout_s`` to remove them (they do so once the last rank of the host is gone)."""
    deadline = time.monotonic() + timeout_s
    while True:
        left = mpi_segments() - before - _mapped_segments()
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.2)


def rank_pid(text: str, rank: int) -> int | None:
    """The pid perfanalyzer prints for ``rank`` at start ("perfanalyzer rank R (host, pid P)"),
    anywhere in a line: mpiexec may join two ranks' lines (seen: "...ranks 0, 1perfanalyzer rank
    1 (vm, pid 28654) ...")."""
    found = re.search(rf"perfanalyzer rank {rank} \([^()]*, pid (\d+)\)", text)
    return int(found.group(1)) if found else None


__all__: list[Any] = ["MPIEXEC", "PA", "SKEW_TOL_NS", "Net", "export_requests", "mpiexec",
                      "namespaces", "need_mpi", "rank_pid", "rows", "window_edges"]
