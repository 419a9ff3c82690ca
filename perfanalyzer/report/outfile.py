"""Every file a run writes goes through here: checked before any load, written without harm.

Contract:

* :func:`check_output` runs before any load is sent. The folder must exist and take a new file
  (proved by creating and removing a unique temp file there, which also works as root on a
  read-only file system); the target must not be a folder, a symbolic link, or (for the export,
  as perf_analyzer) exist at all.
* :func:`write_output` writes a regular (or absent) target through a temp file created exclusively
  in the target's folder (``tempfile.mkstemp``: random name, ``O_EXCL``, never follows a link),
  then ``os.replace``. A character device (``/dev/null``, a terminal) or a FIFO is written in
  place and never replaced; a FIFO with no reader is an error, not a hang. Anything else
  (socket, ...) is refused.
* A symbolic link at the target is refused, never written through and never replaced: the user
  named the link, not the file it points to; the message names the file to give instead.
* Text is scrubbed of registered secrets (:mod:`perfanalyzer.redact`) on its way out.
* :func:`save_fallback` keeps measured data whose file could not be written: a new, uniquely
  named file in the temp folder (else the current folder); the caller names it in the error.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from ..errors import OptionError, PerfAnalyzerError
from ..redact import scrub

#: A FIFO is opened without blocking; with no reader that fails at once (ENXIO) instead of hanging.
_FIFO_FLAGS = os.O_WRONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0)


class OutputError(PerfAnalyzerError):
    """An output file could not be written after measuring (exit 99)."""


def _fail(flag: str, path: Path, why: str, *, before_load: bool) -> PerfAnalyzerError:
    text = f"{flag} {str(path)[:200]}: {why}"
    return OptionError(text) if before_load else OutputError(text)


def _target_problem(path: Path, *, must_be_absent: bool) -> str | None:
    """Why ``path`` cannot be the target, judged on what is there now (None: fine)."""
    try:
        st = os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        return f"cannot inspect the path ({exc.strerror or exc})"
    if stat.S_ISLNK(st.st_mode):
        return (f"is a symbolic link; it is never written through: give the file itself "
                f"({os.path.realpath(path)[:200]})")
    if must_be_absent:
        return "path must not already exist"
    if stat.S_ISDIR(st.st_mode):
        return "is a folder, not a file"
    if not (stat.S_ISREG(st.st_mode) or stat.S_ISCHR(st.st_mode) or stat.S_ISFIFO(st.st_mode)):
        return "is neither a regular file, a character device nor a FIFO"
    return None


def _folder_problem(folder: Path) -> str | None:
    if not folder.is_dir():
        return f"folder {str(folder)[:200]} does not exist" if not folder.exists() \
            else f"{str(folder)[:200]} is not a folder"
    try:
        fd, probe = tempfile.mkstemp(prefix=".perfanalyzer-probe-", dir=folder)
    except OSError as exc:
        return f"cannot create a file in {str(folder)[:200]} ({exc.strerror or exc})"
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(probe)
    return None


def check_output(path: str | os.PathLike[str] | None, flag: str, *,
                 must_be_absent: bool = False) -> None:
    """Raise OptionError (one line, naming ``flag``) when ``path`` cannot be written; call it
    before any load is sent."""
    if not path:
        return
    p = Path(path)
    problem = _target_problem(p, must_be_absent=must_be_absent)
    if problem is None:
        try:
            st = os.stat(p)
        except OSError:
            st = None
        if st is not None and not stat.S_ISREG(st.st_mode):
            problem = None if os.access(p, os.W_OK) else "is not writable"
        else:
            problem = _folder_problem(p.parent)
    if problem:
        raise _fail(flag, p, problem, before_load=True)


Data = str | bytes | Iterable[str]


def _pieces(data: Data) -> Iterator[bytes]:
    """``data`` as scrubbed UTF-8 pieces (an iterable of text is written piece by piece)."""
    if isinstance(data, bytes):
        yield data
    elif isinstance(data, str):
        yield scrub(data).encode("utf-8")
    else:
        for piece in data:
            yield scrub(piece).encode("utf-8")


def write_output(path: str | os.PathLike[str], data: Data, flag: str, *,
                 must_be_absent: bool = False) -> None:
    """Write ``data`` to ``path`` as the module docstring says; raises OutputError."""
    p = Path(path)
    raw = _pieces(data)
    problem = _target_problem(p, must_be_absent=must_be_absent)
    if problem:
        raise _fail(flag, p, problem, before_load=False)
    try:
        st = os.lstat(p)
    except (FileNotFoundError, NotADirectoryError):
        st = None
    try:
        if st is not None and not stat.S_ISREG(st.st_mode):
            _write_in_place(p, raw, fifo=stat.S_ISFIFO(st.st_mode))
        else:
            _write_replacing(p, raw, st, must_be_absent=must_be_absent)
    except OSError as exc:
        raise _fail(flag, p, f"cannot write: {exc.strerror or exc}", before_load=False) from exc


def _write_in_place(path: Path, raw: Iterable[bytes], *, fifo: bool) -> None:
    flags = _FIFO_FLAGS if fifo else os.O_WRONLY | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if fifo and exc.errno == 6:  # ENXIO: nobody reads the FIFO
            raise OSError(exc.errno, "the FIFO has no reader") from exc
        raise
    try:
        if fifo:
            os.set_blocking(fd, True)
        for piece in raw:
            view = memoryview(piece)
            while view:
                view = view[os.write(fd, view):]
    finally:
        os.close(fd)


def _write_replacing(path: Path, raw: Iterable[bytes], old: os.stat_result | None, *,
                     must_be_absent: bool) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name[:100]}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            for piece in raw:
                fh.write(piece)
            os.fchmod(fh.fileno(), (old.st_mode & 0o777) if old else _new_file_mode())
        if must_be_absent:
            os.link(tmp, path)  # never clobbers: fails with EEXIST if something appeared
            os.unlink(tmp)
        else:
            os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def open_stream(path: str | os.PathLike[str], flag: str) -> BinaryIO:
    """Open ``path`` for a file written as the run goes (lines flushed as they happen): checked
    as :func:`check_output` (raises OptionError, before any load), then created or truncated in
    place, never through a symbolic link (``O_NOFOLLOW``); a FIFO without a reader is an error,
    not a hang. The caller scrubs what it writes (:func:`scrubbed_line`)."""
    check_output(path, flag)
    p = Path(path)
    try:
        fifo = stat.S_ISFIFO(os.lstat(p).st_mode)
    except OSError:
        fifo = False
    try:
        if fifo:
            fd = os.open(p, _FIFO_FLAGS)
            os.set_blocking(fd, True)
        else:
            fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0),
                         0o666)
    except OSError as exc:
        why = "the FIFO has no reader" if exc.errno == 6 else (exc.strerror or str(exc))
        raise _fail(flag, p, f"cannot open: {why}", before_load=True) from exc
    return os.fdopen(fd, "wb", buffering=0)


def scrubbed_line(text: str) -> bytes:
    """One line of a stream, scrubbed of registered secrets."""
    return (scrub(text) + "\n").encode("utf-8")


def _new_file_mode() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def save_fallback(data: Callable[[], Data], name: str) -> str | None:
    """Keep ``data()`` in a new, uniquely named file (temp folder, else the current folder);
    returns its path, or None when neither place takes it."""
    stem, dot, ext = Path(name).name.rpartition(".")
    prefix, suffix = (f"perfanalyzer-{stem[:60]}-", f".{ext[:10]}") if dot else (
        f"perfanalyzer-{ext[:60]}-", "")
    for folder in (tempfile.gettempdir(), os.getcwd()):
        try:
            fd, path = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=folder)
        except OSError:
            continue
        try:
            with os.fdopen(fd, "wb") as fh:
                for piece in _pieces(data()):
                    fh.write(piece)
            return path
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(path)
    return None


__all__ = ["OutputError", "check_output", "open_stream", "save_fallback", "scrubbed_line",
           "write_output"]
