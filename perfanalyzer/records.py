"""The one record type: a request's life as numbers in preallocated numpy columns.

Every request yields one record: intended send time, actual send time, first and last response time (ns on
the ``time.perf_counter_ns`` clock), a status code (0 = success, else an index into :attr:`errors`), the
number of responses and the sequence id. Reports, stability and the gate are all computed from these.

The hot path calls :meth:`RecordBuffer.add` once per completed request: a handful of item writes into
numpy arrays, no allocation except when the buffer doubles.
"""

from __future__ import annotations

import os
import tempfile
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import IO

import numpy as np

#: A send more than this late (ns) behind its schedule counts as late (perf_analyzer's 1 ms).
LATE_SEND_NS = 1_000_000

INITIAL_CAPACITY = 1 << 14
#: Distinct error messages kept; later new ones share one entry (a server could make every
#: message unique and grow the table without bound).
MAX_ERROR_MESSAGES = 1024
OVERFLOW_ERROR = f"other error (more than {MAX_ERROR_MESSAGES} distinct messages)"

COLUMNS: tuple[tuple[str, str], ...] = (
    ("intended", "<i8"),
    ("sent", "<i8"),
    ("first", "<i8"),
    ("last", "<i8"),
    ("status", "<i4"),
    ("responses", "<i4"),
    ("sequence", "<i8"),
    ("send_ns", "<i8"),  # the client send time: writing the request (0 = not measured)
    ("recv_ns", "<i8"),  # the client receive time: first response byte to the complete response
)
RECORD_DTYPE = np.dtype(list(COLUMNS))


class RecordBuffer:
    """Append-only, completion-ordered request records.

    Records are appended in completion order within one event loop, so ``last`` is non-decreasing and a
    time window is a contiguous slice (see :meth:`index_at`).

    Memory stays flat in run length: :meth:`spill_before` moves records no window will read again
    to an anonymous temporary file (created unlinked, never a visible name); :meth:`view` reads them
    back transparently. Indices are always absolute (``0..count``); the columns hold the records
    from ``base`` on.
    """

    __slots__ = (
        "__weakref__",
        "_errors",
        "_first",
        "_index",
        "_intended",
        "_last",
        "_recv_ns",
        "_responses",
        "_send_ns",
        "_sent",
        "_sequence",
        "_spill",
        "_status",
        "base",
        "count",
        "failure",
        "response_times",
        "tensors",
    )

    # The in-memory columns (records ``base..count``); the public names below are absolute.
    _intended: np.ndarray
    _sent: np.ndarray
    _first: np.ndarray
    _last: np.ndarray
    _status: np.ndarray
    _responses: np.ndarray
    _sequence: np.ndarray
    _send_ns: np.ndarray
    _recv_ns: np.ndarray

    def __init__(self, capacity: int = INITIAL_CAPACITY) -> None:
        self.count = 0
        self.base = 0
        self._spill: IO[bytes] | None = None
        self._errors: list[str] = [""]
        self._index: dict[str, int] = {"": 0}
        #: Record index -> every response time, for requests with more than two responses
        #: (streaming); the columns keep only the first and the last.
        self.response_times: dict[int, tuple[int, ...]] = {}
        #: Record index -> (data entry index, decoded outputs), kept with --export-tensors only.
        self.tensors: dict[int, tuple[int, dict[str, np.ndarray]]] = {}
        #: The first error that ends the run (a request error with ``ends_run``), "" while none:
        #: the measurement loop ends the load point at the window that holds it.
        self.failure = ""
        self._alloc(capacity)

    def _alloc(self, capacity: int) -> None:
        old = self.count - self.base
        for name, dt in COLUMNS:
            new = np.zeros(capacity, dtype=dt)
            if old:
                new[:old] = getattr(self, f"_{name}")[:old]
            setattr(self, f"_{name}", new)

    def _grow(self) -> None:
        self._alloc(max(INITIAL_CAPACITY, 2 * len(self._sent)))

    def column(self, name: str) -> np.ndarray:
        """A whole column with absolute indices: the array itself while nothing is spilled
        (writable, capacity long), else records ``0..count`` read back (a copy)."""
        if self.base == 0:
            return getattr(self, f"_{name}")
        return getattr(self.view(0, self.count), name)

    intended = property(lambda self: self.column("intended"))
    sent = property(lambda self: self.column("sent"))
    first = property(lambda self: self.column("first"))
    last = property(lambda self: self.column("last"))
    status = property(lambda self: self.column("status"))
    responses = property(lambda self: self.column("responses"))
    sequence = property(lambda self: self.column("sequence"))
    send_ns = property(lambda self: self.column("send_ns"))
    recv_ns = property(lambda self: self.column("recv_ns"))

    @property
    def capacity(self) -> int:
        """Records the in-memory columns hold before they grow."""
        return len(self._sent)

    def error_code(self, message: str) -> int:
        """Interned index of an error message (0 is reserved for success)."""
        code = self._index.get(message)
        if code is None:
            if len(self._errors) >= MAX_ERROR_MESSAGES - 1 and message != OVERFLOW_ERROR:
                return self.error_code(OVERFLOW_ERROR)
            code = len(self._errors)
            self._errors.append(message)
            self._index[message] = code
        return code

    @property
    def errors(self) -> list[str]:
        return self._errors

    def add(self, intended: int, sent: int, done: int, status: int = 0, send_ns: int = 0,
            recv_ns: int = 0) -> None:
        """One single-response request (first == last)."""
        i = self.count - self.base
        if i == len(self._sent):
            self._grow()
        self._intended[i] = intended
        self._sent[i] = sent
        self._first[i] = done
        self._last[i] = done
        if status:
            self._status[i] = status
        self._responses[i] = 1
        if send_ns:  # (the columns start zeroed: skip the writes where nothing was measured)
            self._send_ns[i] = send_ns
        if recv_ns:
            self._recv_ns[i] = recv_ns
        self.count += 1

    def add_full(self, intended: int, sent: int, first: int, last: int, status: int,
                 responses: int, sequence: int, send_ns: int = 0, recv_ns: int = 0) -> None:
        i = self.count - self.base
        if i == len(self._sent):
            self._grow()
        self._intended[i] = intended
        self._sent[i] = sent
        self._first[i] = first
        self._last[i] = last
        self._status[i] = status
        self._responses[i] = responses
        self._sequence[i] = sequence
        if send_ns:
            self._send_ns[i] = send_ns
        if recv_ns:
            self._recv_ns[i] = recv_ns
        self.count += 1

    def index_at(self, t_ns: int, lo: int = 0) -> int:
        """Number of records whose last response is at or before ``t_ns`` (window edges inclusive)."""
        edge = np.int64(t_ns)
        if lo < self.base:
            spilled = self.view(lo, self.base).last
            n = int(np.searchsorted(spilled, edge, side="right"))
            if n < len(spilled):
                return lo + n
            lo = self.base
        b = self.base
        return lo + int(np.searchsorted(self._last[lo - b : self.count - b], edge, side="right"))

    def last_at(self, i: int) -> int:
        """The last-response time of record ``i``."""
        if i >= self.base:
            return int(self._last[i - self.base])
        return int(self.view(i, i + 1).last[0])

    def view(self, lo: int = 0, hi: int | None = None) -> RecordSlice:
        hi = self.count if hi is None else hi
        if lo < self.base:
            return self._mixed_view(lo, hi)
        a, b = lo - self.base, hi - self.base
        return RecordSlice(
            intended=self._intended[a:b], sent=self._sent[a:b], first=self._first[a:b],
            last=self._last[a:b], status=self._status[a:b], responses=self._responses[a:b],
            sequence=self._sequence[a:b], send_ns=self._send_ns[a:b], recv_ns=self._recv_ns[a:b],
            errors=tuple(self._errors), times=self._times(lo, hi),
        )

    def _times(self, lo: int, hi: int) -> dict[int, tuple[int, ...]]:
        """The kept response times of records ``[lo, hi)``, by index relative to ``lo`` (nothing
        to look at unless the run streamed)."""
        kept = self.response_times
        if not kept:
            return {}
        if len(kept) < hi - lo:
            return {i - lo: t for i, t in kept.items() if lo <= i < hi}
        return {i - lo: t for i in range(lo, hi) if (t := kept.get(i)) is not None}

    def _mixed_view(self, lo: int, hi: int) -> RecordSlice:
        """Records ``[lo, hi)`` when some are spilled: read back from the file, then memory."""
        assert self._spill is not None
        end = min(hi, self.base)
        size = RECORD_DTYPE.itemsize
        raw = os.pread(self._spill.fileno(), (end - lo) * size, lo * size)
        disk = np.frombuffer(raw, dtype=RECORD_DTYPE)
        mem = self.view(self.base, hi) if hi > self.base else None
        cols = {name: (np.concatenate([disk[name], getattr(mem, name)]) if mem is not None
                       else disk[name].copy()) for name, _ in COLUMNS}
        return RecordSlice(**cols, errors=tuple(self._errors), times=self._times(lo, hi))

    def close(self) -> None:
        """Drop the spill file (spilled records can no longer be read)."""
        spill, self._spill = self._spill, None
        if spill is not None:
            spill.close()

    def spill_before(self, index: int) -> None:
        """Move records ``[base, index)`` to the spill file and out of memory."""
        index = min(index, self.count)
        k = index - self.base
        if k <= 0:
            return
        if self._spill is None:
            self._spill = tempfile.TemporaryFile(  # noqa: SIM115  (closed below or in close())
                prefix="perfanalyzer-records-")
            # closed when the buffer goes, also when a reference cycle held it: the collector
            # runs this before it finalizes the file itself (which would warn, unclosed)
            weakref.finalize(self, self._spill.close)
        self._spill.seek(0, os.SEEK_END)
        self._spill.write(self.view(self.base, index).to_structured().tobytes())
        self._spill.flush()
        n = self.count - index
        for name, _ in COLUMNS:
            col = getattr(self, f"_{name}")
            col[:n] = col[k : k + n]
        self.base = index
        if len(self._sent) > 4 * max(n, INITIAL_CAPACITY):  # give memory back after a burst
            self._alloc(max(INITIAL_CAPACITY, 2 * n))

    def extend(self, other: RecordSlice) -> None:
        """Append records from another buffer (e.g. a worker process), remapping error codes."""
        n = len(other.last)
        while self.count - self.base + n > len(self._sent):
            self._grow()
        remap = np.array([self.error_code(m) for m in other.errors] or [0], dtype="<i4")
        lo, hi = self.count - self.base, self.count - self.base + n
        for name in ("intended", "sent", "first", "last", "responses", "sequence", "send_ns",
                     "recv_ns"):
            getattr(self, f"_{name}")[lo:hi] = getattr(other, name)
        self._status[lo:hi] = remap[other.status]
        for i, t in other.times.items():
            self.response_times[self.count + i] = t
        self.count += n


@dataclass(frozen=True)
class RecordSlice:
    """A read-only view of records (numpy column slices) plus the error table."""

    intended: np.ndarray
    sent: np.ndarray
    first: np.ndarray
    last: np.ndarray
    status: np.ndarray
    responses: np.ndarray
    sequence: np.ndarray
    send_ns: np.ndarray
    recv_ns: np.ndarray
    errors: tuple[str, ...]
    #: Every response time of the streamed requests with more than two responses, by index in
    #: this slice (the columns keep the first and the last).
    times: Mapping[int, tuple[int, ...]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.last)

    @property
    def ok(self) -> np.ndarray:
        return self.status == 0

    def to_structured(self) -> np.ndarray:
        out = np.zeros(len(self), dtype=RECORD_DTYPE)
        for name, _ in COLUMNS:
            out[name] = getattr(self, name)
        return out

    @classmethod
    def concat(cls, parts: list[RecordSlice]) -> RecordSlice:
        if not parts:
            return RecordBuffer(1).view()
        buf = RecordBuffer(max(1, sum(len(p) for p in parts)))
        for p in parts:
            buf.extend(p)
        return buf.view()
