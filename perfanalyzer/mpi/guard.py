"""A rank's guard: a small process beside each ``--enable-mpi`` rank (standard library only, run as
``python -m perfanalyzer.mpi.guard PID TIMEOUT_S``).

* **MPI start deadline.** ``MPI_Init`` waits, spinning inside C where no Python timer can run, until
  every rank of the ``mpiexec`` line has started MPI; a rank without ``--enable-mpi`` never does.
  Unless the rank writes ``ready`` on the guard's stdin within ``TIMEOUT_S``, the guard prints why
  and ends it.
* **MPI's shared memory.** MPICH unlinks its ``/dev/shm/mpich_shm_*`` segment in ``MPI_Finalize``;
  a rank that is killed, stopped and then ended by ``mpiexec``, or that leaves without finalizing
  (a lost peer: :meth:`~perfanalyzer.mpi.session.MpiSession.leave`) leaves it behind, 2 MB each
  run. The guard notes the segments its rank maps (at start, every few seconds, and as told by the
  rank when it leaves without finalizing), and once the rank and every other rank of this
  host (``peers PID ...`` on stdin) are gone, removes those still there: nobody can use them any
  more. A file is removed only if it is the one noted (same device and inode).

The rank starts it in its own session, so ``mpiexec`` ending the rank's process group or a Ctrl-C on
the terminal leaves it to clean up; it ends by itself once its work is done.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import sys
import time

#: The shared-memory files of the MPI libraries (MPICH's; Open MPI's sm transport).
SEGMENT_PREFIXES = ("mpich_shm_", "sm_segment.", "vader_segment.")
SHM_DIR = "/dev/shm"
POLL_S = 0.25
#: How often the rank's mappings are looked at again while it runs (a library may make its segment
#: after MPI_Init returns, e.g. Open MPI's singleton).
SCAN_S = 2.0
#: Longest the guard waits for the other ranks of this host once its own is gone: a peer still
#: alive then is stopped for good; removing the name does not disturb a mapping already made.
PEERS_TIMEOUT_S = 600.0

Segments = dict[str, tuple[int, int]]  # path -> (st_dev, st_ino)


def mapped_segments(pid: int) -> Segments:
    """The MPI shared-memory files process ``pid`` maps (those still linked)."""
    found: Segments = {}
    try:
        with open(f"/proc/{pid}/maps") as f:
            lines = f.read().splitlines()
    except OSError:
        return found
    for line in lines:
        fields = line.split(maxsplit=5)
        path = fields[5] if len(fields) == 6 else ""
        name = path[len(SHM_DIR) + 1:]
        if (path.startswith(SHM_DIR + "/") and "/" not in name and not any(c.isspace() for c in name)
                and name.startswith(SEGMENT_PREFIXES) and path not in found):
            with contextlib.suppress(OSError):
                st = os.stat(path)
                found[path] = (st.st_dev, st.st_ino)
    return found


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie has ended)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    except (OSError, IndexError):
        return True
    return state not in ("Z", "X", "x")


def remove(segments: Segments) -> None:
    """Unlink each noted file that is still the same file."""
    for path, ident in segments.items():
        with contextlib.suppress(OSError):
            st = os.stat(path, follow_symlinks=False)
            if (st.st_dev, st.st_ino) == ident:
                os.unlink(path)


class Guard:
    """The guard's state: the rank, its deadline, its peers and the segments noted."""

    def __init__(self, pid: int, timeout_s: float) -> None:
        self.pid = pid
        self.deadline = time.monotonic() + timeout_s
        self.timeout_s = timeout_s
        self.ready = False
        self.peers: list[int] = []
        self.segments: Segments = {}
        self._buf = b""
        self._eof = False

    def read_commands(self, wait_s: float) -> None:
        if self._eof:
            time.sleep(wait_s)
            return
        readable, _, _ = select.select([sys.stdin.fileno()], [], [], wait_s)
        if not readable:
            return
        chunk = os.read(sys.stdin.fileno(), 4096)
        if not chunk:  # the rank closed its end: it is gone (or leaving)
            self._eof = True
            return
        self._buf += chunk
        while b"\n" in self._buf:
            line, self._buf = self._buf.split(b"\n", 1)
            word, *args = line.decode().split() or [""]
            if word in ("ready", "peers"):  # MPI has started; a first exchange is made
                self.ready = True
                self.segments.update(mapped_segments(self.pid))
            if word == "peers":
                self.peers = [int(a) for a in args]
            elif word == "segment" and len(args) == 3:  # the rank's own look, as it leaves
                self.segments[args[0]] = (int(args[1]), int(args[2]))

    def watch_rank(self) -> None:
        """Until the rank is gone; ends it if MPI does not start in time."""
        self._watch()
        # Let go of the rank's stderr: mpiexec waits for every holder of it before it exits.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)

    def _watch(self) -> None:
        scanned = time.monotonic()
        while alive(self.pid) and os.getppid() == self.pid:
            if self.ready and time.monotonic() - scanned >= SCAN_S:
                self.segments.update(mapped_segments(self.pid))
                scanned = time.monotonic()
            if not self.ready:
                self.segments.update(mapped_segments(self.pid))
                if time.monotonic() > self.deadline:
                    self.read_commands(0.0)  # "ready" may have just arrived
                if time.monotonic() > self.deadline and not self.ready:
                    sys.stderr.write(
                        f"error: --enable-mpi: MPI did not start within {self.timeout_s:g} s: "
                        "every rank of the mpiexec line must run perfanalyzer --enable-mpi\n")
                    sys.stderr.flush()
                    with contextlib.suppress(OSError):
                        os.kill(self.pid, signal.SIGKILL)
                    return
            self.read_commands(POLL_S)

    def clean_up(self) -> None:
        """Once no rank of this host is left: remove the segments MPI left behind."""
        if not self.segments:
            return
        end = time.monotonic() + PEERS_TIMEOUT_S
        while any(alive(p) for p in self.peers) and time.monotonic() < end:
            time.sleep(POLL_S)
        remove(self.segments)


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    guard = Guard(int(argv[0]), float(argv[1]))
    guard.watch_rank()
    guard.clean_up()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
