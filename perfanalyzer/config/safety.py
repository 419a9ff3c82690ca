"""Checks of the safety options that need no server: timeouts, the concurrency ceiling, workers
against the cores, and the file-descriptor limit (raised as far as the hard limit allows).

Ceilings (refused unless ``--force``): concurrency above :data:`MAX_CONCURRENCY`; ``--workers``
above the machine's cores. Without ``--force`` or with it, a concurrency whose connections cannot
fit under the file-descriptor hard limit is refused (it would fail most requests).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from ..errors import OptionError
from .defaults import (
    DEFAULT_CONNECT_TIMEOUT_S,
    DEFAULT_REQUEST_TIMEOUT_S,
    DEFAULT_STARTUP_TIMEOUT_S,
    MAX_CONCURRENCY,
)

if TYPE_CHECKING:
    from .table.grouped import GroupedConfig
#: File descriptors kept for everything but the load's connections (logs, shm, pipes, TLS...).
FD_RESERVE = 128


def raise_fd_limit(pid: int = 0) -> tuple[int, int]:
    """Raise the soft RLIMIT_NOFILE of this process, or of the child ``pid`` (Linux: prlimit;
    OSError if it has already gone), to the hard limit; returns (soft, hard) after."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not POSIX
        return (1 << 30, 1 << 30)
    nofile = resource.RLIMIT_NOFILE
    soft, hard = resource.prlimit(pid, nofile) if pid else resource.getrlimit(nofile)
    want = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
    if soft != resource.RLIM_INFINITY and soft < want:
        try:
            if pid:
                resource.prlimit(pid, nofile, (want, hard))
            else:
                resource.setrlimit(nofile, (want, hard))
            soft = want
        except (ValueError, OSError):
            pass
    inf = resource.RLIM_INFINITY
    return (1 << 30 if soft == inf else soft, 1 << 30 if hard == inf else hard)


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise OptionError(message)


def peak_concurrency(cfg: GroupedConfig) -> int:
    """The most requests the run keeps in flight at once (concurrency mode; else --max-threads)."""
    if cfg.load.mode.value == "concurrency":
        start, end, _ = cfg.load.concurrency_range
        return int(max(start, end))
    if cfg.load.periodic_concurrency_range is not None:
        return int(cfg.load.periodic_concurrency_range[1])
    return int(cfg.load.max_threads)


def validate_safety(cfg: GroupedConfig) -> None:
    """Raise OptionError (one line) before any load; see the module docstring."""
    peak = peak_concurrency(cfg)
    flag = ("--periodic-concurrency-range" if cfg.load.periodic_concurrency_range
            else "--concurrency-range")
    _check(cfg.load.force or peak <= MAX_CONCURRENCY,
           f"{flag}: {peak} is above the ceiling of {MAX_CONCURRENCY} concurrent "
           f"requests (add --force to go beyond)")


def check_fd_room(cfg: GroupedConfig) -> None:
    """Checks of this machine before any load: --workers against its cores (unless --force);
    the soft descriptor limit raised, then a concurrency whose HTTP connections cannot fit
    refused (gRPC multiplexes requests over a few connections)."""
    cores = os.cpu_count() or 1
    _check(cfg.load.force or cfg.load.workers <= cores,
           f"--workers {cfg.load.workers}: more than the {cores} cores of this machine "
           f"(add --force to allow)")
    if cfg.server.protocol != "http":
        return
    peak = peak_concurrency(cfg)
    soft, hard = raise_fd_limit()
    need = peak + FD_RESERVE
    _check(need <= soft,
           f"--concurrency-range: {peak} concurrent HTTP requests need about {need} open files, "
           f"above the open-file limit of {soft} (hard limit {hard}); lower the concurrency "
           f"or raise the limit (ulimit -n)")


__all__ = ["DEFAULT_CONNECT_TIMEOUT_S", "DEFAULT_REQUEST_TIMEOUT_S", "DEFAULT_STARTUP_TIMEOUT_S",
           "FD_RESERVE", "MAX_CONCURRENCY", "check_fd_room", "peak_concurrency",
           "raise_fd_limit", "validate_safety"]
