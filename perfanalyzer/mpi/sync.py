"""The :class:`~perfanalyzer.measure.sync.RunSync` hook over MPI: level starts, window edges and the
"every rank is done" decision, each an :class:`~.exchange.Exchange` with a deadline.

perf_analyzer's semantics: every rank starts each load level together, cuts its windows at the
same edges (the exchange is the barrier; each rank reads its edge time right after it), and no
rank stops measuring a level before every rank is done (stable, or out of trials): the "done"
flags are combined with a logical AND after every window. Ctrl-C anywhere stops every rank at the
next exchange. A merged group (see :mod:`.world`) judges stability on its leader's merged windows:
its other ranks answer "done" and follow the leader's levels.

Edge skew: a rank leaves an exchange when the last row reaches it, noticed within ``POLL_S``;
the ranks' edge times differ by that plus one message latency (measured: see docs/mpi.md, Clocks).
"""

from __future__ import annotations

import asyncio
import dataclasses
import math

from ..config import LoadMode
from ..load.base import LoadManager
from ..measure.window import COUNT_WINDOW_CAP_S, PointResult, WindowPlan
from .exchange import ACTIVE, IDLE, Exchange
from .merge import LeaderLoad, MemberLoad
from .world import Group, RankInfo

#: Slack, beyond the longest window of any rank, before a missing rank is declared lost.
EDGE_GRACE_S = 5.0
#: Longest a level start waits (loads start, worker processes spawn, a rank writes its point).
LEVEL_START_TIMEOUT_S = 60.0


class MpiSync:
    """One rank's side. Every rank makes the same sequence of calls (see measure.sync)."""

    def __init__(self, exchange: Exchange, group: Group, infos: list[RankInfo],
                 stop_event: asyncio.Event) -> None:
        self.exchange, self.group, self.stop_event = exchange, group, stop_event
        self.infos = infos
        longest = max(i.interval_s for i in infos)
        if any(i.count_windows for i in infos):
            longest = max(longest, COUNT_WINDOW_CAP_S)
        self.edge_timeout_s = longest + EDGE_GRACE_S
        self._first_edge = True
        #: Each edge's time (perf_counter_ns, read right after the exchange): for skew checks.
        self.edge_times: list[int] = []

    async def _rows(self, kind: float, value: float, timeout_s: float) -> list[tuple[float, ...]]:
        rows = await self.exchange.rows(kind, self.stop_event.is_set(), value, timeout_s)
        if any(row[2] for row in rows):
            self.stop_event.set()  # Ctrl-C on any rank stops them all
        return [tuple(row) for row in rows]

    async def next_level(self, proposed: float | None) -> float | None:
        value = math.nan if proposed is None else float(proposed)
        rows = await self._rows(ACTIVE, value, LEVEL_START_TIMEOUT_S + self.edge_timeout_s)
        self._first_edge = True
        if self.stop_event.is_set():
            return None
        lead = rows[self.group.leader]
        level = lead[3] if lead[1] == ACTIVE else math.nan
        return None if math.isnan(level) else level

    async def edge(self, interrupted: bool) -> bool:
        timeout = self.edge_timeout_s + (LEVEL_START_TIMEOUT_S if self._first_edge else 0.0)
        self._first_edge = False
        await self._rows(ACTIVE, 0.0, timeout)
        self.edge_times.append(_now())
        return self.stop_event.is_set()

    async def decide(self, done: bool, interrupted: bool) -> bool:
        if interrupted:  # agreed at the edge: every rank leaves the level now
            return True
        mine = done if self.group.is_leader else True  # a member follows its leader
        rows = await self._rows(ACTIVE, 1.0 if mine else 0.0, self.edge_timeout_s)
        return self.stop_event.is_set() or all(r[1] == IDLE or r[3] == 1.0 for r in rows)

    async def finish(self) -> None:
        """No more levels here: answer the other ranks' exchanges until they have none either."""
        while True:
            rows = await self._rows(IDLE, math.nan,
                                    LEVEL_START_TIMEOUT_S + 2 * self.edge_timeout_s)
            if all(r[1] == IDLE for r in rows):
                return

    def wrap_load(self, load: LoadManager) -> LoadManager:
        if not self.group.merged:
            return load
        if self.group.is_leader:
            return LeaderLoad(load, self.exchange, self.group.ranks[1:])
        rate = self.infos[self.group.rank].load[0] is not LoadMode.CONCURRENCY
        phase = self.group.ranks.index(self.group.rank) / self.group.size if rate else 0.0
        return MemberLoad(load, self.exchange, self.group.leader, phase)

    def plan(self, plan: WindowPlan) -> WindowPlan:
        return dataclasses.replace(plan, cores=plan.cores * self.group.size)

    def report(self, point: PointResult) -> PointResult:
        """A merged group reports its total load: the per-rank level times the ranks. A stop seen
        at the "done" exchange (Ctrl-C on another rank) marks the point interrupted."""
        if self.stop_event.is_set() and not point.interrupted:
            point = dataclasses.replace(point, interrupted=True)
        if not self.group.merged:
            return point
        return dataclasses.replace(point, level=point.level * self.group.size)


def _now() -> int:
    import time

    return time.perf_counter_ns()
