"""The MPI hook's decisions and the leader's record merge, against a scripted exchange (no MPI)."""

from __future__ import annotations

import asyncio
import math
import os
import subprocess
import sys
import time
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from perfanalyzer.config import RunConfig
from perfanalyzer.mpi import exchange, guard, world
from perfanalyzer.mpi.exchange import ACTIVE, IDLE, Exchange, RankLost
from perfanalyzer.mpi.merge import LeaderLoad
from perfanalyzer.mpi.sync import MpiSync
from perfanalyzer.mpi.world import Group, rank_info
from perfanalyzer.records import RecordBuffer

Row = tuple[float, float, float]  # kind, stop, value


class ScriptedExchange:
    """Returns the other ranks' rows from ``others(call_index, my_row)``; records my rows."""

    def __init__(self, size: int, rank: int, others: Callable[[int, Row], dict[int, Row]],
                 messages: dict[int, list[dict[str, Any]]] | None = None) -> None:
        self.size, self.rank, self.others = size, rank, others
        self.sent: list[Row] = []
        self.lost: set[int] = set()
        self.local_pids: dict[int, int] = {}
        self.messages = messages or {}

    async def rows(self, kind: float, stop: bool, value: float, timeout_s: float) -> np.ndarray:
        mine = (kind, 1.0 if stop else 0.0, value)
        out = np.zeros((self.size, 4))
        for r, row in {**self.others(len(self.sent), mine), self.rank: mine}.items():
            out[r] = (len(self.sent) + 1, *row)
        self.sent.append(mine)
        return out

    def who(self, rank: int) -> str:
        return f"rank {rank}"

    async def receive(self, rank: int, tag: int, timeout_s: float, what: str) -> Any:
        if not self.messages.get(rank):
            raise RankLost(f"rank {rank} did not reach {what}")
        return self.messages[rank].pop(0)


def _sync(rank: int, ranks: tuple[int, ...], others: Callable[[int, Row], dict[int, Row]],
          size: int = 2) -> tuple[MpiSync, ScriptedExchange, asyncio.Event]:
    ex = ScriptedExchange(size, rank, others)
    infos = [rank_info(RunConfig.of(model="m"), r) for r in range(size)]
    stop = asyncio.Event()
    return MpiSync(ex, Group(ranks=ranks, rank=rank), infos, stop), ex, stop  # type: ignore[arg-type]


def test_a_member_follows_its_leaders_level_and_its_end() -> None:
    levels = iter([5.0, math.nan])
    sync, _, _ = _sync(1, (0, 1), lambda i, mine: {0: (ACTIVE, 0.0, next(levels))})

    async def go() -> list[float | None]:
        return [await sync.next_level(3.0), await sync.next_level(4.0)]

    assert asyncio.run(go()) == [5.0, None]


def test_no_rank_leaves_a_level_before_every_rank_is_done() -> None:
    answers = iter([0.0, 1.0])  # the other rank: not done, then done
    sync, ex, _ = _sync(0, (0,), lambda i, mine: {1: (ACTIVE, 0.0, next(answers))})

    async def go() -> list[bool]:
        return [await sync.decide(True, False), await sync.decide(True, False)]

    assert asyncio.run(go()) == [False, True]
    assert ex.sent[0][2] == 1.0  # this rank said done


def test_a_member_defers_to_its_leader_and_an_idle_rank_is_neutral() -> None:
    sync, ex, _ = _sync(1, (0, 1), lambda i, mine: {0: (ACTIVE, 0.0, 1.0), 2: (IDLE, 0.0, 0.0)},
                        size=3)
    assert asyncio.run(sync.decide(False, False)) is True
    assert ex.sent[0][2] == 1.0  # a member always answers done: the leader judges the merge


def test_an_interrupted_edge_ends_the_level_without_another_exchange() -> None:
    sync, ex, _ = _sync(0, (0,), lambda i, mine: {1: (ACTIVE, 0.0, 0.0)})
    assert asyncio.run(sync.decide(False, True)) is True
    assert ex.sent == []


def test_ctrl_c_on_another_rank_stops_this_one_at_the_next_exchange() -> None:
    sync, _, stop = _sync(0, (0,), lambda i, mine: {1: (ACTIVE, 1.0, 0.0)})
    assert asyncio.run(sync.edge(False)) is True
    assert stop.is_set()


def test_finish_answers_until_every_rank_is_idle() -> None:
    sync, ex, _ = _sync(0, (0,), lambda i, mine: {1: (ACTIVE if i < 3 else IDLE, 0.0, 0.0)})
    asyncio.run(sync.finish())
    assert len(ex.sent) == 4 and all(row[0] == IDLE for row in ex.sent)


class _Inner:
    def __init__(self) -> None:
        self.buffer = RecordBuffer()
        self.sent = self.late = 0
        self.in_flight = 0

    async def apply(self, level: float) -> None:
        return None

    async def stop(self, drain_timeout_s: float = 0.0) -> None:
        return None

    async def sync(self, t_ns: int) -> None:
        return None

    def extra_cpu_ns(self) -> int:
        return 0


def _shipment(lasts: list[int], t: int, final: bool = False) -> dict[str, Any]:
    b = RecordBuffer()
    for x in lasts:
        b.add(x - 10, x - 10, x)
    return {"records": b.view().to_structured(), "errors": b.view().errors, "t": t,
            "sent": len(lasts), "late": 0, "cpu": 7, "final": final}


def test_the_leader_merges_member_records_onto_its_clock_in_completion_order() -> None:
    inner = _Inner()
    for x in (100, 300):
        inner.buffer.add(x - 10, x - 10, x)
    # The member's clock runs 1000 ahead: its edge at 1400 is the leader's 400.
    ex = ScriptedExchange(2, 0, lambda i, m: {}, {1: [_shipment([1150, 1390], 1400),
                                                      _shipment([1450], 1500, final=True)]})
    load = LeaderLoad(inner, ex, (1,))  # type: ignore[arg-type]
    asyncio.run(load.sync(400))
    assert load.buffer.last[:load.buffer.count].tolist() == [100, 150, 300, 390]
    assert (load.buffer.last - load.buffer.sent)[:4].tolist() == [10, 10, 10, 10]  # latency kept
    assert load.sent == 2 and load.extra_cpu_ns() == 7
    asyncio.run(load.stop())
    assert load.buffer.count == 5  # the member's drain too: every request of the group
    # The drain is on the leader's clock by the last edge's offset, not by the two ranks' stop
    # times (read at no common instant).
    assert load.buffer.last[4] == 450
    assert load.buffer.last[4] - load.buffer.sent[4] == 10


def test_a_drain_without_a_common_edge_keeps_the_shared_clock_of_one_host() -> None:
    ex = ScriptedExchange(2, 0, lambda i, m: {}, {1: [_shipment([1450], 1500, final=True)]})
    ex.local_pids = {1: os.getpid()}
    load = LeaderLoad(_Inner(), ex, (1,))  # type: ignore[arg-type]
    asyncio.run(load.stop())
    assert load.buffer.last[:load.buffer.count].tolist() == [1450]


def test_streamed_response_times_follow_their_records_into_the_group() -> None:
    """A member's streamed requests keep every response time, shifted onto the leader's clock
    and re-indexed with the merge's completion order (the inter-response gaps need them)."""
    inner = _Inner()
    inner.buffer.add_full(0, 0, 20, 200, 0, 3, 0)
    inner.buffer.response_times[0] = (20, 50, 200)
    member = RecordBuffer()
    member.add_full(1000, 1000, 1010, 1100, 0, 3, 0)
    member.response_times[0] = (1010, 1030, 1100)
    shipment = {"records": member.view().to_structured(), "errors": member.view().errors,
                "t": 1400, "times": dict(member.view().times), "sent": 1, "late": 0, "cpu": 0,
                "final": False}
    ex = ScriptedExchange(2, 0, lambda i, m: {}, {1: [shipment]})
    load = LeaderLoad(inner, ex, (1,))  # type: ignore[arg-type]
    asyncio.run(load.sync(400))
    assert load.buffer.last[:2].tolist() == [100, 200]
    assert load.buffer.response_times == {0: (10, 30, 100), 1: (20, 50, 200)}


def test_a_member_missing_at_an_edge_is_named() -> None:
    ex = ScriptedExchange(2, 0, lambda i, m: {}, {1: []})
    load = LeaderLoad(_Inner(), ex, (1,))  # type: ignore[arg-type]
    with pytest.raises(RankLost, match="rank 1"):
        asyncio.run(load.sync(400))


# ---- a killed rank of this host: its process is looked at (no MPI) -----------------------------

class _FakeMPI(types.ModuleType):
    """Stands in for ``mpi4py.MPI`` (what the liveness path touches), so no MPI is started."""

    class Exception(Exception):
        pass

    def __init__(self) -> None:
        super().__init__("mpi4py.MPI")


class _Comm:
    def __init__(self, size: int, rank: int) -> None:
        self.size, self.rank = size, rank
        self.told: list[tuple[int, str]] = []

    def Get_rank(self) -> int:
        return self.rank

    def Get_size(self) -> int:
        return self.size

    def isend(self, obj: Any, dest: int, tag: int) -> object:
        self.told.append((dest, obj))
        return object()


def _ended_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()  # reaped: the pid is free
    return child.pid


def test_process_gone_tells_a_running_a_zombie_and_an_ended_process() -> None:
    assert not world.process_gone(os.getpid())
    assert world.process_gone(_ended_pid())
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        deadline = time.monotonic() + 30
        while not world.process_gone(child.pid):  # exited, not reaped yet: a zombie
            assert time.monotonic() < deadline
            time.sleep(0.02)
    finally:
        child.wait()
    assert world.pid_space() == world.pid_space() != ""


def test_a_rank_whose_process_is_gone_is_named_and_the_others_are_told(
        monkeypatch: pytest.MonkeyPatch) -> None:
    fake = _FakeMPI()
    monkeypatch.setitem(sys.modules, "mpi4py", types.ModuleType("mpi4py"))
    monkeypatch.setitem(sys.modules, "mpi4py.MPI", fake)
    comm = _Comm(3, 0)
    ex = Exchange(comm, {1: "rank 1 (h, pid 11)", 2: "rank 2 (h, pid 22)"})
    ex.local_pids = {1: _ended_pid(), 2: os.getpid()}
    ex._check_alive()  # gone: the grace (its last messages may still arrive) starts
    assert not ex.lost and not comm.told
    ex._alive_at -= exchange.ALIVE_POLL_S
    ex._gone_since[1] -= exchange.GONE_GRACE_S
    with pytest.raises(RankLost, match=r"^rank 1 \(h, pid 11\) has ended"):
        ex._check_alive()
    assert ex.lost == {1} and ex.failed
    assert [dest for dest, _ in comm.told] == [2]  # the living rank is told; the dead one not
    ex._alive_at -= exchange.ALIVE_POLL_S
    ex._check_alive()  # a lost rank is not reported again; the living one is fine


def test_the_guard_removes_only_the_segment_it_noted(tmp_path: Path) -> None:
    kept, gone = tmp_path / "replaced", tmp_path / "same"
    kept.write_bytes(b"a")
    gone.write_bytes(b"b")
    noted = {str(p): (p.stat().st_dev, p.stat().st_ino) for p in (kept, gone)}
    kept.rename(tmp_path / "moved")  # (kept: its inode cannot be reused)
    kept.write_bytes(b"c")  # the name now holds another file: not the guard's
    guard.remove(noted)
    assert kept.read_bytes() == b"c" and not gone.exists()
    guard.remove(noted)  # already gone: nothing to do


def test_the_guard_notes_the_mpi_segments_a_process_maps() -> None:
    import mmap

    path = Path(guard.SHM_DIR) / f"mpich_shm_test_{os.getpid()}"
    try:
        with open(path, "wb+") as f:
            f.write(b"\0" * 4096)
            f.flush()
            with mmap.mmap(f.fileno(), 4096):
                assert str(path) in guard.mapped_segments(os.getpid())
    finally:
        path.unlink(missing_ok=True)


@pytest.mark.parametrize("ready", [False, True])
def test_the_guard_ends_a_rank_whose_mpi_does_not_start_in_time(ready: bool) -> None:
    rank = ("import time\nfrom perfanalyzer.mpi.world import RankGuard\ng = RankGuard(1.0)\n"
            + ("g.tell('ready')\n" if ready else "") + "time.sleep(3)\n")
    r = subprocess.run([sys.executable, "-c", rank], capture_output=True, text=True, timeout=60,
                       check=False)
    if ready:
        assert r.returncode == 0 and not r.stderr
    else:
        assert r.returncode == -9
        assert r.stderr.startswith("error: --enable-mpi: MPI did not start within 1 s")


@pytest.mark.parametrize("told", [False, True])
def test_the_guard_removes_a_segment_left_by_a_rank_that_exits_without_finalize(
        told: bool) -> None:
    """A segment made after the guard's first look: the rank names it as it leaves (os._exit, as
    after a lost rank), or the guard's next look finds it while the rank runs."""
    path = Path(guard.SHM_DIR) / f"mpich_shm_test_{os.getpid()}_{int(told)}"
    rank = ("import mmap, os, time\nfrom perfanalyzer.mpi.world import RankGuard\n"
            "g = RankGuard(30.0)\ng.tell('ready')\ng.tell('peers')\ntime.sleep(0.5)\n"
            f"f = open({str(path)!r}, 'wb+')\nf.write(bytes(4096))\nf.flush()\n"
            "m = mmap.mmap(f.fileno(), 4096)\n"
            + ("g.note_segments()\n" if told else f"time.sleep({guard.SCAN_S} + 1)\n")
            + "os._exit(0)\n")
    try:
        subprocess.run([sys.executable, "-c", rank], timeout=60, check=True)
        deadline = time.monotonic() + 30
        while path.exists():
            assert time.monotonic() < deadline, "the guard left the segment"
            time.sleep(0.05)
    finally:
        path.unlink(missing_ok=True)


def test_a_rank_whose_guard_is_gone_goes_on() -> None:
    g = world.RankGuard(30.0)
    g.stop()
    g.tell("ready")  # a broken pipe: ignored
    g.tell("peers 1")
    g.note_segments()
