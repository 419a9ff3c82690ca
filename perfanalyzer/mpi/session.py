"""What ``perfanalyzer --enable-mpi`` does around a run: join the world, form the groups, check the
flags (before any load), and give the conductor its sync hook; at the end, leave without waiting
on a lost rank."""

from __future__ import annotations

import asyncio
import io
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TextIO

from .. import cleanup
from ..config import RunConfig
from ..profile.flow import Outcome, conclude
from ..results import RunResult
from .exchange import Exchange
from .sync import MpiSync
from .world import Group, RankGuard, RankInfo, form_group, init_world, rank_info

#: Longest the ranks wait for each other at start (connecting is done after this).
START_TIMEOUT_S = 60.0


@dataclass
class MpiSession:
    """This rank's place in the run."""

    cfg: RunConfig  # a merged group's members write nothing: their outputs are cleared
    sync: MpiSync
    group: Group
    infos: list[RankInfo]
    exchange: Exchange
    guard: RankGuard | None = None
    out: TextIO = field(default_factory=lambda: sys.stdout)

    @property
    def rank(self) -> int:
        return self.group.rank

    def fail(self, message: str) -> None:
        """Tell the other ranks this one stops with an error (they stop too, naming it)."""
        self.exchange.announce_failure(message)

    def leave(self, code: int) -> int:
        """After the outputs are written. With a lost or failed rank, MPI_Finalize could wait for
        ever: exit now (outputs flushed) instead."""
        if self.exchange.lost or self.exchange.failed:
            if self.guard is not None:
                self.guard.note_segments()  # no MPI_Finalize: the guard removes them
            cleanup.exit_now(code)
        return code


async def start(cfg: RunConfig, stop_event: asyncio.Event) -> MpiSession:
    """Join the MPI world and form the groups; OptionError (one line) on bad flags, before any
    load."""
    comm, guard = init_world()
    rank = comm.Get_rank()
    exchange = Exchange(comm)
    infos = await exchange.objects(rank_info(cfg, rank), START_TIMEOUT_S)
    exchange.names = {i.rank: i.name for i in infos}
    me = infos[rank]
    # A killed rank of this host is seen gone at once (MPI may not tell; the deadline is long).
    exchange.local_pids = {i.rank: i.pid for i in infos
                           if i.rank != rank and me.pid_space and i.pid_space == me.pid_space}
    # MPI's shared memory of this host is removed once all of these are gone, if left behind.
    guard.tell("peers " + " ".join(str(p) for p in exchange.local_pids.values()))
    group = form_group(infos, rank)
    role = ("leads the merged load of ranks " + ", ".join(map(str, group.ranks))
            if group.merged and group.is_leader else
            f"merges its load into rank {group.leader}'s results" if group.merged else
            "measures on its own")
    print(f"perfanalyzer {me.name} of {comm.Get_size()}: model '{cfg.server.model}' at "
          f"{cfg.server.server_url}; {role}", file=sys.stderr, flush=True)
    out: TextIO = sys.stdout
    if group.merged and not group.is_leader:
        cfg = cfg.replace(filename=None, profile_export_file=None, baseline=None, html=None,
                          events=None)
        out = io.StringIO()  # one console summary per group: the leader's
    sync = MpiSync(exchange, group, infos, stop_event)
    return MpiSession(cfg=cfg, sync=sync, group=group, infos=infos, exchange=exchange,
                      guard=guard, out=out)


def finish(session: MpiSession, run: RunResult, write: Callable[[], int]) -> int:
    """Write this rank's outputs (a merged group's members have none) and leave."""
    if run.failure:
        session.fail(run.failure)
    run.provenance["mpi"] = {  # which processes this result is made of (in the export)
        "world_size": len(session.infos), "rank": session.rank,
        "group": [session.infos[r].name for r in session.group.ranks],
        "lost": sorted(session.infos[r].name for r in session.exchange.lost),
        "edge_notice_ms": _notice(session.exchange.notice_ns),
        # Each window edge on this rank's monotonic clock, read right after the barrier (ranks of
        # one host share that clock: their differences are the edge skew).
        "edges_clock_ns": session.sync.edge_times}
    if session.group.merged and not session.group.is_leader:
        # a member writes nothing and judges nothing: its leader's code says whether the
        # group's points were stable
        return session.leave(conclude(Outcome(failure=run.failure, interrupted=run.interrupted)))
    return session.leave(write())


def _notice(values: list[int]) -> dict[str, float]:
    """How late this rank saw its exchanges complete, at most (ms): its share of the edge skew."""
    if not values:
        return {}
    ordered = sorted(values)
    return {"p50": ordered[len(ordered) // 2] / 1e6, "max": ordered[-1] / 1e6,
            "exchanges": float(len(ordered))}
