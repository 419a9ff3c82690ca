"""Stateful models: sequence ids, lengths, flags, and the closed loop that drives sequences.

A *sequence* is a run of requests that share a sequence id; the first carries ``sequence_start``,
the last ``sequence_end``. :class:`SequenceIds` hands out ids from ``--sequence-id-range`` (an id is
live from its sequence's start until its end request *completed*; only then can it be handed out
again, so no two live sequences ever share an id). :class:`SequenceSource` makes sequences (data
stream round-robin, seeded length within ±variation % of ``--sequence-length``, or the data
stream's length for user data without a length) and the prepared request of each step, cached per
(data step, id, flags) so the hot path does a dict lookup instead of a serialization (building a
request per send measured ~14 µs over gRPC and ~25-36 µs over HTTP on the 2-core box; released ids
are reused first, which keeps the cache's key space to about the number of live sequences).

:class:`~perfanalyzer.load.concurrency.ClosedLoopManager` drives sequences in concurrency mode: each
worker drives one sequence at a time (at most one request in flight per sequence, as perf_analyzer).
A worker that retires (lower level, stop) ends its sequence with an early ``sequence_end`` request
instead of abandoning it on the server.

The rate-mode counterpart is :class:`SequenceSlots` (``--num-of-sequences`` live sequences, requests
assigned round-robin), used by :class:`~perfanalyzer.load.request_rate.RequestRateManager`.
As in perf_analyzer (its rate workers pick a sequence with a context-id tracker that is "always
available" unless ``--serial-sequences``), a step leaves on schedule even while its sequence's
previous step is in flight; the server may then run the steps out of order and refuse one that
overtook its START or came after its END. ``--serial-sequences`` holds a step until its
predecessor returned (the wait counts against its intended time: late). Either way an id is reused
only after every request of its previous sequence completed, so a straggler never lands on the
id's next sequence.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..client.base import InferRequest
from ..config.defaults import DEFAULT_SEQUENCE_LENGTH, DEFAULT_SEQUENCE_LENGTH_VARIATION
from ..errors import OptionError
from .request_rate import Job, RequestRateManager

#: Prepared payloads kept per (stream, step, id, start, end); the cache is dropped when it grows past.
PAYLOAD_CACHE_MAX = 8192
ID_FLAG = "--sequence-id-range"


@dataclass(frozen=True, kw_only=True)
class SequenceOptions:
    """How sequences are made (the ``--sequence-*`` flags)."""

    length: int = DEFAULT_SEQUENCE_LENGTH
    variation_pct: float = DEFAULT_SEQUENCE_LENGTH_VARIATION
    length_given: bool = False
    id_start: int = 1
    id_end: int = 0  # 0 = unbounded
    serial: bool = False
    seed: int = 0

    @property
    def id_capacity(self) -> int | None:
        """How many ids the range holds (None: unbounded)."""
        return None if self.id_end == 0 else self.id_end - self.id_start + 1

    def check(self, live: int) -> None:
        """OptionError (one line naming the flag) unless ``live`` sequences can run at once."""
        if self.length < 1:
            raise OptionError(f"--sequence-length must be >= 1, got {self.length}")
        if self.variation_pct < 0:
            raise OptionError(f"--sequence-length-variation must be >= 0, got {self.variation_pct:g}")
        if self.id_start < 1:
            raise OptionError(f"{ID_FLAG}: sequence ids start at 1 (0 means 'no sequence' to the "
                              f"server), got start {self.id_start}")
        cap = self.id_capacity
        if cap is not None and cap < live:
            raise OptionError(f"{ID_FLAG} {self.id_start}:{self.id_end} holds {cap} ids, fewer "
                              f"than the {live} sequences that are live at once")


class SequenceIds:
    """Sequence ids from ``start`` to ``end`` (inclusive; 0 = unbounded).

    Ids released (after their end request completed) are handed out again first, oldest first;
    then fresh ids in increasing order. When the range is exhausted, :meth:`acquire` waits.
    """

    def __init__(self, start: int, end: int = 0) -> None:
        self._next = start
        self._end = end
        self._free: deque[int] = deque()
        self._waiters: deque[asyncio.Future[int]] = deque()
        self.live: set[int] = set()

    def try_acquire(self) -> int | None:
        if self._free:
            sid = self._free.popleft()
        elif self._end == 0 or self._next <= self._end:
            sid = self._next
            self._next += 1
        else:
            return None
        self.live.add(sid)
        return sid

    async def acquire(self) -> int:
        sid = self.try_acquire()
        if sid is not None:
            return sid
        fut: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        try:
            return await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():
                self.release(fut.result())  # handed over as we were cancelled: give it back
            raise

    def release(self, sid: int) -> None:
        """The sequence ``sid`` is over on the server; its id may be reused."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(sid)  # stays live: handed straight to the waiter
                return
        self.live.discard(sid)
        self._free.append(sid)


class Seq:
    """One live sequence: its id, data stream, length and the next step to send."""

    __slots__ = ("ended", "id", "in_flight", "length", "lock", "step", "stream")

    def __init__(self, sid: int, stream: int, length: int, serial: bool) -> None:
        self.id = sid
        self.stream = stream
        self.length = length
        self.step = 0
        self.ended = False
        self.in_flight = 0  # rate mode: steps handed out whose request has not completed
        self.lock: asyncio.Lock | None = asyncio.Lock() if serial else None

    @property
    def started(self) -> bool:
        return self.step > 0


class SequenceSource:
    """Makes sequences and their per-step prepared requests.

    ``requests[s][k]`` is data step k of data stream s; sequence n uses stream ``n mod streams`` and
    its step j sends data step ``j mod len(stream)``.
    """

    def __init__(self, prepare: Callable[[InferRequest], Any],
                 requests: Sequence[Sequence[InferRequest]], options: SequenceOptions,
                 *, user_data: bool = False) -> None:
        if not requests or not all(requests):
            raise ValueError("no requests")
        self._prepare = prepare
        self._requests = [list(s) for s in requests]
        self.options = options
        self._from_stream = user_data and not options.length_given
        self._rng = np.random.default_rng([options.seed & 0xFFFF_FFFF, 0x5E0])
        self._count = 0
        self._cache: dict[tuple[int, int, int, bool, bool], Any] = {}
        self.ids = SequenceIds(options.id_start, options.id_end)
        #: Told (payload, data stream, data step) of each payload prepared (validation_data).
        self.on_prepare: Callable[[Any, int, int], None] | None = None

    def draw_length(self) -> int:
        """Uniform within ±variation % of the base length (at least 1); seeded, in draw order."""
        base, var = self.options.length, self.options.variation_pct / 100.0
        lo, hi = max(1, round(base * (1 - var))), max(1, round(base * (1 + var)))
        return int(self._rng.integers(lo, hi + 1)) if hi > lo else lo

    def new(self, sid: int) -> Seq:
        stream = self._count % len(self._requests)
        self._count += 1
        length = len(self._requests[stream]) if self._from_stream else self.draw_length()
        return Seq(sid, stream, length, self.options.serial)

    def next_step(self, seq: Seq, *, force_end: bool = False) -> Job:
        """The job for ``seq``'s next step (advances it); ``force_end`` ends the sequence here."""
        step = seq.step
        start = step == 0
        end = force_end or step + 1 >= seq.length
        seq.step = step + 1
        seq.ended = end
        steps = self._requests[seq.stream]
        k = step % len(steps)
        key = (seq.stream, k, seq.id, start, end)
        prepared = self._cache.get(key)
        if prepared is None:
            if len(self._cache) >= PAYLOAD_CACHE_MAX:
                self._cache.clear()
            prepared = self._prepare(dataclasses.replace(
                steps[k], sequence_id=seq.id, sequence_start=start, sequence_end=end))
            self._cache[key] = prepared
            if self.on_prepare is not None:
                self.on_prepare(prepared, seq.stream, k)
        return Job(prepared, seq.id, seq, end)


class SequenceSlots:
    """Rate mode: ``live`` sequences, requests assigned to them round-robin.

    A slot whose sequence has handed out its last step gets a new sequence on its next turn; the
    new id comes from :class:`SequenceIds` (waiting if the range is exhausted: that wait delays the
    schedule and shows as late sends).
    """

    def __init__(self, source: SequenceSource, live: int) -> None:
        self.source = source
        self._slots: list[Seq | None] = [None] * live
        self._turn = 0

    def next_nowait(self) -> Job | None:
        return self._take(None)

    async def next(self) -> Job:
        job = self._take(None)
        if job is None:  # the slot needs a new sequence and every id is live: wait for one
            job = self._take(await self.source.ids.acquire())
        assert job is not None
        return job

    def _step(self, seq: Seq, *, force_end: bool = False) -> Job:
        seq.in_flight += 1
        return self.source.next_step(seq, force_end=force_end)

    def _take(self, sid: int | None) -> Job | None:
        i = self._turn
        seq = self._slots[i]
        if seq is None or seq.ended:
            sid = self.source.ids.try_acquire() if sid is None else sid
            if sid is None:
                return None
            seq = self._slots[i] = self.source.new(sid)
        self._turn = (i + 1) % len(self._slots)
        return self._step(seq)

    def done(self, job: Job) -> None:
        """``job``'s request completed. The id is released once its sequence's end request
        completed and no other step of it is still in flight: without --serial-sequences an end
        can overtake earlier steps, and a step still on its way must never land on the id's
        next sequence."""
        seq = job.seq
        seq.in_flight -= 1
        if seq.ended and seq.in_flight == 0:
            self.source.ids.release(job.sequence)

    async def finish(self, manager: RequestRateManager) -> None:
        """At stop (nothing in flight): end every started sequence with one end request."""
        for seq in self.unfinished():
            await manager.send_now(self._step(seq, force_end=True))

    def unfinished(self) -> list[Seq]:
        """Sequences that started but whose end request was never handed out."""
        return [s for s in self._slots if s is not None and s.started and not s.ended]
