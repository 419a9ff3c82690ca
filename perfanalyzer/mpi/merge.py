"""A merged group's records: every member ships its records to the leader at every window edge.

The members run their own load (each at the per-rank level) into their own buffer. At each edge
(the measurer's ``load.sync(t)``, called right after the edge's barrier) a member sends the records
completed since its previous edge, with its edge time ``t``; the leader shifts them onto its own
clock by ``t_leader - t_member`` (the two times are read right after the same barrier, so the shift
is the clock offset, within the edge skew) and appends everything to the group's buffer, sorted by
completion time. A request is thus counted once, in the window its last response arrives in on its
own rank, and its latency is a difference on its own rank's monotonic clock. At stop, members ship
what completed after the last edge (the drain), so the leader's buffer holds every request of the
group: its count equals the server's count delta. The drain has no edge of its own: it is shifted
by the member's last edge offset (the clocks' difference does not change; the two stop times are
not read at a common instant).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import numpy as np

from ..load.base import DEFAULT_DRAIN_TIMEOUT_S, LoadManager
from ..records import COLUMNS, RecordBuffer, RecordSlice
from .exchange import RECORDS_TAG, Exchange, RankLost

#: Longest the leader waits for a member's shipment after its own edge.
SHIPMENT_TIMEOUT_S = 10.0
#: Extra time, beyond the drain, the leader waits for the members' last records at stop.
FINAL_GRACE_S = 10.0

TIME_COLUMNS = ("intended", "sent", "first", "last")


def _cpu_ns(load: LoadManager) -> int:
    return time.process_time_ns() + load.extra_cpu_ns()


async def _inner_sync(load: LoadManager, t_ns: int) -> None:
    await load.sync(t_ns)  # --workers: records reach the buffer late


class MemberLoad(LoadManager):
    """A member's load: its own, plus a shipment to the leader at every edge and at stop."""

    def __init__(self, inner: LoadManager, exchange: Exchange, leader: int,
                 phase: float = 0.0) -> None:
        self.inner, self.exchange, self.leader = inner, exchange, leader
        self.buffer = inner.buffer
        self.sent = self.late = 0  # as of the last edge (when the measurer reads them)
        self._taken = 0
        #: Open-loop modes: this member's share of one send interval (its position in the group
        #: over the group's size), so the ranks' schedules interleave instead of sending together.
        self.phase = phase

    @property
    def in_flight(self) -> int:
        return self.inner.in_flight

    async def apply(self, level: float) -> None:
        if self.phase and level > 0:
            await asyncio.sleep(self.phase / level)
        await self.inner.apply(level)

    async def sync(self, t_ns: int) -> None:
        await _inner_sync(self.inner, t_ns)
        self.sent, self.late = self.inner.sent, self.inner.late
        self._ship(self.buffer.index_at(t_ns, self._taken), t_ns, final=False)

    async def stop(self, drain_timeout_s: float = DEFAULT_DRAIN_TIMEOUT_S) -> None:
        await self.inner.stop(drain_timeout_s)
        # Always (a send does not wait): a leader that failed still collects the drain.
        self._ship(self.buffer.count, time.perf_counter_ns(), final=True)

    def extra_cpu_ns(self) -> int:
        return self.inner.extra_cpu_ns()

    def _ship(self, hi: int, t_ns: int, *, final: bool) -> None:
        part = self.buffer.view(self._taken, hi)
        self._taken = hi
        self.exchange.send({"records": part.to_structured(), "errors": part.errors, "t": t_ns,
                            "times": dict(part.times),  # streaming: every response's time
                            "sent": self.inner.sent, "late": self.inner.late,
                            "cpu": _cpu_ns(self.inner), "final": final},
                           self.leader, RECORDS_TAG)


class LeaderLoad(LoadManager):
    """The leader's load: its own, and the group's buffer (every member's records merged)."""

    def __init__(self, inner: LoadManager, exchange: Exchange, members: tuple[int, ...],
                 drain_timeout_s: float = DEFAULT_DRAIN_TIMEOUT_S) -> None:
        self.inner, self.exchange, self.members = inner, exchange, members
        self.buffer = RecordBuffer()
        self.sent = self.late = 0  # the group's, as of the last edge (when the measurer reads them)
        self._taken = 0
        self._counters: dict[int, tuple[int, int, int]] = {m: (0, 0, 0) for m in members}
        self._final: set[int] = set()
        #: Per member, its clock's offset from the leader's at their last common edge.
        self._offsets: dict[int, int] = {}

    @property
    def in_flight(self) -> int:
        return self.inner.in_flight

    async def apply(self, level: float) -> None:
        await self.inner.apply(level)

    def extra_cpu_ns(self) -> int:
        return self.inner.extra_cpu_ns() + sum(c[2] for c in self._counters.values())

    async def sync(self, t_ns: int) -> None:
        await _inner_sync(self.inner, t_ns)
        hi = self.inner.buffer.index_at(t_ns, self._taken)
        parts = [self.inner.buffer.view(self._taken, hi)]
        self._taken = hi
        for m in self.members:
            msg = await self.exchange.receive(m, RECORDS_TAG, SHIPMENT_TIMEOUT_S,
                                              "the window edge's record shipment")
            if msg["final"]:
                self._final.add(m)
                raise RankLost(f"{self.exchange.who(m)} stopped measuring before the group's "
                               "leader did")
            self._offsets[m] = t_ns - int(msg["t"])
            parts.append(self._shifted(m, msg, self._offsets[m]))
        self._append(parts)
        self.sent = self.inner.sent + sum(c[0] for c in self._counters.values())
        self.late = self.inner.late + sum(c[1] for c in self._counters.values())

    async def stop(self, drain_timeout_s: float = DEFAULT_DRAIN_TIMEOUT_S) -> None:
        await self.inner.stop(drain_timeout_s)
        parts = [self.inner.buffer.view(self._taken, self.inner.buffer.count)]
        self._taken = self.inner.buffer.count
        now = time.perf_counter_ns()
        for m in self.members:
            if m in self.exchange.lost or m in self._final:
                continue
            with contextlib.suppress(RankLost):  # what arrived is kept; the run says why
                while True:
                    msg = await self.exchange.receive(m, RECORDS_TAG,
                                                      drain_timeout_s + FINAL_GRACE_S,
                                                      "the end of the run")
                    parts.append(self._shifted(m, msg, self._drain_offset(m, now, msg)))
                    if msg["final"]:
                        break
        self._append(parts)

    def _drain_offset(self, member: int, now: int, msg: dict[str, Any]) -> int:
        """The shift of records shipped at stop: the last common edge's offset. Without one (the
        run stopped before its first edge): none on this host (one monotonic clock), else the
        stop times' difference, the only estimate left."""
        if member in self._offsets:
            return self._offsets[member]
        return 0 if member in self.exchange.local_pids else now - int(msg["t"])

    def _shifted(self, member: int, msg: dict[str, Any], offset: int) -> RecordSlice:
        self._counters[member] = (int(msg["sent"]), int(msg["late"]), int(msg["cpu"]))
        rec = msg["records"]
        cols = {name: (rec[name] + np.int64(offset) if name in TIME_COLUMNS else rec[name])
                for name, _ in COLUMNS}
        times = {int(i): tuple(int(x) + offset for x in t)
                 for i, t in (msg.get("times") or {}).items()}
        return RecordSlice(**cols, errors=tuple(msg["errors"]), times=times)

    def _append(self, parts: list[RecordSlice]) -> None:
        merged = RecordSlice.concat(parts)
        order = np.argsort(merged.last, kind="stable")
        where = np.empty_like(order)
        where[order] = np.arange(len(order))  # old index -> its place in completion order
        self.buffer.extend(RecordSlice(
            **{name: getattr(merged, name)[order] for name, _ in COLUMNS}, errors=merged.errors,
            times={int(where[i]): t for i, t in merged.times.items()}))
