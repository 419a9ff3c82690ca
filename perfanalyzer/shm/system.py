"""POSIX (system) shared-memory regions in ``/dev/shm``, and the naming scheme that lets a later run
find what a crashed one left behind.

Every segment perfanalyzer creates for a run is named ``pa_<pid>_<token>_<suffix>``: ``pid`` is the
creating process, ``token`` is random per run. :func:`owner_pid` reads the pid back, so stale
segments (owner gone) can be unlinked without touching those of a concurrent, live run. The python
backend's own segments (``pa_triton_...``, see :mod:`perfanalyzer.server.launcher`) never match.

The wrapper talks to ``_posixshmem`` (what :mod:`multiprocessing.shared_memory` uses) directly, so no
resource-tracker process is started and the segment's lifetime is ours: :meth:`SystemRegion.destroy`
closes and unlinks, idempotently.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..client.base import InferenceClient

try:  # CPython on POSIX; the fallback opens the tmpfs path directly (Linux)
    import _posixshmem
except ImportError:  # pragma: no cover - every Linux CPython has it
    _posixshmem = None

PREFIX = "pa_"
SHM_DIR = Path("/dev/shm")
_OWNED = re.compile(r"^pa_(\d+)_([0-9a-f]{4,})_")


def new_run_prefix() -> str:
    """``pa_<pid>_<token>_``: the prefix of every region name of one run."""
    return f"{PREFIX}{os.getpid()}_{secrets.token_hex(4)}_"


def owner_pid(name: str) -> int | None:
    """The pid encoded in a perfanalyzer region name or key (leading ``/`` allowed), else None."""
    m = _OWNED.match(name.lstrip("/"))
    return int(m.group(1)) if m else None


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists (a process of another user counts as alive)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_stale(name: str) -> bool:
    """Ours (``pa_<pid>_<token>_``) and its creating process is gone."""
    pid = owner_pid(name)
    return pid is not None and pid != os.getpid() and not pid_alive(pid)


def stale_segments(directory: Path = SHM_DIR) -> list[str]:
    """Names of the ``/dev/shm`` segments of crashed perfanalyzer runs."""
    try:
        names = [p.name for p in directory.iterdir()]
    except OSError:
        return []
    return sorted(n for n in names if is_stale(n))


def unlink_segment(key: str) -> bool:
    """Unlink ``/dev/shm/<key>``; False when it was not there."""
    path = "/" + key.lstrip("/")
    try:
        if _posixshmem is not None:
            _posixshmem.shm_unlink(path)
        else:  # pragma: no cover
            os.unlink(SHM_DIR / path.lstrip("/"))
    except FileNotFoundError:
        return False
    return True


def _shm_open(key: str, byte_size: int, create: bool) -> int:
    path = "/" + key.lstrip("/")
    flags = os.O_RDWR | (os.O_CREAT | os.O_EXCL if create else 0)
    if _posixshmem is not None:
        fd = int(_posixshmem.shm_open(path, flags, mode=0o600))
    else:  # pragma: no cover
        fd = os.open(SHM_DIR / path.lstrip("/"), flags, 0o600)
    if create:
        try:
            os.ftruncate(fd, byte_size)
        except OSError:
            os.close(fd)
            unlink_segment(key)
            raise
    return fd


class SystemRegion:
    """A ``/dev/shm`` segment of ``byte_size`` bytes.

    ``name`` is the region's name on the server; ``key`` the segment name (``/dev/shm/<key>``),
    ``name`` unless given. ``create=False`` attaches to an existing segment and never unlinks it
    unless :meth:`unlink` is called explicitly. Registration always uses offset 0 (Triton 2.51
    misreads a non-zero registration offset); tensors live at per-tensor offsets inside.

    Reads and writes go through the segment's file descriptor (``pwrite``/``pread``), not a
    mapping: the pages live in tmpfs (and in the server's mapping) without also counting in this
    process's resident memory, and closing never fails on a view still in use.
    """

    kind = "system"

    def __init__(self, name: str, byte_size: int, *, key: str | None = None,
                 create: bool = True) -> None:
        if byte_size <= 0:
            raise ValueError(f"shared-memory region {name!r}: byte_size must be > 0, got {byte_size}")
        self.name = name
        self.key = (key or name).lstrip("/")
        self.byte_size = int(byte_size)
        self._owner = create
        self._fd: int | None = _shm_open(self.key, self.byte_size, create)

    def __repr__(self) -> str:
        state = "closed" if self._fd is None else "open"
        return f"SystemRegion(name={self.name!r}, key={self.key!r}, byte_size={self.byte_size}, {state})"

    @property
    def closed(self) -> bool:
        return self._fd is None

    def _checked_fd(self, offset: int, size: int) -> int:
        if self._fd is None:
            raise ValueError(f"shared-memory region {self.name!r} is closed")
        if offset < 0 or size < 0 or offset + size > self.byte_size:
            raise ValueError(f"shared-memory region {self.name!r}: [{offset}, {offset + size}) is "
                             f"outside its {self.byte_size} bytes")
        return self._fd

    def write(self, data: bytes | bytearray | memoryview, offset: int = 0) -> int:
        """Copy ``data`` in at ``offset``; returns the number of bytes written."""
        view = memoryview(data).cast("B")
        fd = self._checked_fd(offset, view.nbytes)
        done = 0
        while done < view.nbytes:
            done += os.pwrite(fd, view[done:], offset + done)
        return view.nbytes

    def read(self, size: int, offset: int = 0) -> bytes:
        """A copy of ``size`` bytes at ``offset``."""
        fd = self._checked_fd(offset, size)
        data = os.pread(fd, size, offset) if size else b""
        while len(data) < size:  # tmpfs answers in one go; be safe anyway
            chunk = os.pread(fd, size - len(data), offset + len(data))
            if not chunk:
                raise OSError(f"shared-memory region {self.name!r}: short read at {offset + len(data)}")
            data += chunk
        return data

    async def register(self, client: InferenceClient) -> None:
        await client.register_system_shm(self.name, "/" + self.key, self.byte_size, 0)

    async def unregister(self, client: InferenceClient) -> None:
        await client.unregister_system_shm(self.name)

    def close(self) -> None:
        """Close the descriptor (the segment itself stays until unlinked)."""
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)

    def unlink(self) -> None:
        unlink_segment(self.key)
        self._owner = False

    def destroy(self) -> None:
        """Close, and unlink if this object created the segment. Safe to call twice."""
        self.close()
        if self._owner:
            self.unlink()

    def __enter__(self) -> SystemRegion:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.destroy()
