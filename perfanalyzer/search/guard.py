"""Locks that keep two searches apart: one on the output folder, one on the server's model.

Both are ``flock`` locks on a small file: the kernel drops them when their process ends, however
it ends (SIGKILL included), so a lock left by a dead search is taken over without guessing from a
pid; the file holds the owner's pid and output folder only to name them in the refusal.

The model lock lives in a per-user folder under the temp directory (mode 0700, checked to be
ours and not a link), keyed by the server URL and the model name. It only sees searches of this
user on this machine; the marker a search puts in the candidate configurations it loads
(:mod:`.control`) is the check every other search can see.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import stat
import tempfile
from pathlib import Path

from ..errors import OptionError, PerfAnalyzerError

#: Opened without following a link and never handed to a child process.
_OPEN_FLAGS = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC


class SearchBusyError(PerfAnalyzerError):
    """Another search holds the folder or the model (exit 99: nothing was changed)."""


def _private_folder() -> Path:
    folder = Path(tempfile.gettempdir()) / f"perfanalyzer-{os.getuid()}" / "search-locks"
    for d in (folder.parent, folder):
        with contextlib.suppress(FileExistsError):
            os.mkdir(d, 0o700)
        st = os.lstat(d)
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o022:
            raise OptionError(f"search lock folder {d} is not a private folder of this user "
                              f"(a link, another owner's, or writable by others): remove it")
    return folder


class Lock:
    """An exclusive, non-blocking lock on ``path``; :meth:`release` (or the process's end) frees
    it."""

    def __init__(self, path: Path, what: str, owner: str) -> None:
        self.path, self.what = path, what
        try:
            self.fd = os.open(path, _OPEN_FLAGS, 0o600)
        except OSError as exc:
            raise OptionError(f"{what}: cannot open the lock file {path} "
                              f"({exc.strerror or exc}; a symbolic link is never followed)") \
                from exc
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = self._holder()
            os.close(self.fd)
            raise SearchBusyError(f"{what} is in use by another search ({holder}): wait for "
                                  f"it to end") from None
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, f"pid {os.getpid()}, {owner}\n".encode(), 0)

    def _holder(self) -> str:
        with contextlib.suppress(OSError, UnicodeDecodeError):
            text = os.pread(self.fd, 1000, 0).decode().strip()
            if text:
                return text.splitlines()[0][:300]
        return "owner unknown"

    def release(self) -> None:
        if self.fd >= 0:
            with contextlib.suppress(OSError):
                os.ftruncate(self.fd, 0)
            os.close(self.fd)  # closing the only descriptor drops the flock
            self.fd = -1


def lock_folder(root: Path) -> Lock:
    """The output folder's lock (``DIR/.search.lock``)."""
    return Lock(root / ".search.lock", f"--output-dir {str(root)[:200]}",
                f"output folder {str(root.resolve())[:200]}")


def lock_model(server_url: str, model: str, root: Path) -> Lock:
    """The lock on ``model`` of the server at ``server_url`` (for this user on this machine)."""
    key = hashlib.sha256(f"{server_url}\0{model}".encode()).hexdigest()[:24]
    return Lock(_private_folder() / f"{key}.lock", f"-m {model} on {server_url}",
                f"output folder {str(root.resolve())[:200]}")
