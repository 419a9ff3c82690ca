"""The one record type: a request's life as numbers in preallocated numpy columns.

Every request yields one record: intended send time, actual send time, first and last response time (ns on
the ``time.perf_counter_ns`` clock), a status code (0 = success, else an index into :attr:`errors`), the
number of responses and the sequence id. Reports, stability and the gate are all computed from these.

The hot path calls :meth:`RecordBuffer.add` once per completed request: a handful of item writes into
numpy arrays, no allocation except when the buffer doubles.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: A send more than this late (ns) behind its schedule counts as late (perf_analyzer's 1 ms).
LATE_SEND_NS = 1_000_000

INITIAL_CAPACITY = 1 << 14

COLUMNS: tuple[tuple[str, str], ...] = (
    ("intended", "<i8"),
    ("sent", "<i8"),
    ("first", "<i8"),
    ("last", "<i8"),
    ("status", "<i4"),
    ("responses", "<i4"),
    ("sequence", "<i8"),
)
RECORD_DTYPE = np.dtype(list(COLUMNS))


class RecordBuffer:
    """Append-only, completion-ordered request records.

    Records are appended in completion order within one event loop, so ``last`` is non-decreasing and a
    time window is a contiguous slice (see :meth:`index_at`).
    """

    __slots__ = ("_errors", "_index", "count", "first", "intended", "last", "responses",
                 "sent", "sequence", "status")

    intended: np.ndarray
    sent: np.ndarray
    first: np.ndarray
    last: np.ndarray
    status: np.ndarray
    responses: np.ndarray
    sequence: np.ndarray

    def __init__(self, capacity: int = INITIAL_CAPACITY) -> None:
        self.count = 0
        self._errors: list[str] = [""]
        self._index: dict[str, int] = {"": 0}
        self._alloc(capacity)

    def _alloc(self, capacity: int) -> None:
        old = self.count
        for name, dt in COLUMNS:
            new = np.zeros(capacity, dtype=dt)
            if old:
                new[:old] = getattr(self, name)[:old]
            setattr(self, name, new)

    def _grow(self) -> None:
        self._alloc(max(INITIAL_CAPACITY, 2 * len(self.sent)))

    def error_code(self, message: str) -> int:
        """Interned index of an error message (0 is reserved for success)."""
        code = self._index.get(message)
        if code is None:
            code = len(self._errors)
            self._errors.append(message)
            self._index[message] = code
        return code

    @property
    def errors(self) -> list[str]:
        return self._errors

    def add(self, intended: int, sent: int, done: int, status: int = 0) -> None:
        """One single-response request (first == last)."""
        i = self.count
        if i == len(self.sent):
            self._grow()
        self.intended[i] = intended
        self.sent[i] = sent
        self.first[i] = done
        self.last[i] = done
        if status:
            self.status[i] = status
        self.responses[i] = 1
        self.count = i + 1

    def add_full(self, intended: int, sent: int, first: int, last: int, status: int,
                 responses: int, sequence: int) -> None:
        i = self.count
        if i == len(self.sent):
            self._grow()
        self.intended[i] = intended
        self.sent[i] = sent
        self.first[i] = first
        self.last[i] = last
        self.status[i] = status
        self.responses[i] = responses
        self.sequence[i] = sequence
        self.count = i + 1

    def index_at(self, t_ns: int, lo: int = 0) -> int:
        """Number of records whose last response is at or before ``t_ns`` (window edges inclusive)."""
        edge = np.int64(t_ns)
        return lo + int(np.searchsorted(self.last[lo : self.count], edge, side="right"))

    def view(self, lo: int = 0, hi: int | None = None) -> RecordSlice:
        hi = self.count if hi is None else hi
        return RecordSlice(
            intended=self.intended[lo:hi], sent=self.sent[lo:hi], first=self.first[lo:hi],
            last=self.last[lo:hi], status=self.status[lo:hi], responses=self.responses[lo:hi],
            sequence=self.sequence[lo:hi], errors=tuple(self._errors),
        )

    def extend(self, other: RecordSlice) -> None:
        """Append records from another buffer (e.g. a worker process), remapping error codes."""
        n = len(other.last)
        while self.count + n > len(self.sent):
            self._grow()
        remap = np.array([self.error_code(m) for m in other.errors] or [0], dtype="<i4")
        lo, hi = self.count, self.count + n
        for name in ("intended", "sent", "first", "last", "responses", "sequence"):
            getattr(self, name)[lo:hi] = getattr(other, name)
        self.status[lo:hi] = remap[other.status]
        self.count = hi


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
    errors: tuple[str, ...]

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
