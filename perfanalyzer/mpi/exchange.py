"""Non-blocking collectives with deadlines, built from point-to-point messages.

An MPI collective blocks for ever when a rank has died. Here every rank sends a small row to every
other rank (``Isend``) and polls its receives (``Testall``) from the event loop, so the load keeps
running meanwhile and a wait that passes its deadline names the ranks that did not answer. A rank
that fails announces it (:meth:`Exchange.announce_failure`) so the others stop at once instead of
waiting for the deadline. A rank that is killed announces nothing: an MPI error (the library's
error handler returns errors, see :mod:`.world`) names it, and so does a look at its process while
waiting, for the ranks that share this one's pids (one host); across hosts the deadline does.

A row is four float64: ``[seq, kind, stop, value]``. ``seq`` numbers the exchanges (every rank
makes the same sequence of calls), ``kind`` says whether the rank is still measuring (ACTIVE) or has
no more levels (IDLE), ``stop`` is 1 after Ctrl-C there, ``value`` is the call's payload (a level,
a "done" flag; NaN for none).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import numpy as np

from ..errors import PerfAnalyzerError
from .world import process_gone

ACTIVE, IDLE = 0.0, 1.0
#: Poll period while waiting for the other ranks (the edge skew it adds is at most this).
POLL_S = 0.0005
#: Tags: exchanges cycle through 1..SEQ_TAGS; the others are fixed.
SEQ_TAGS = 30000
FAIL_TAG = 32000
RECORDS_TAG = 32001
OBJECT_TAG = 32002
#: Extra time a message already matched gets to arrive in full.
MATCHED_GRACE_S = 30.0
#: While waiting: how often the processes of the ranks of this host are looked at, and how long
#: one must have been gone (its last messages may still be arriving) before its rank is lost.
ALIVE_POLL_S = 0.2
GONE_GRACE_S = 0.5


class RankLost(PerfAnalyzerError):
    """Another rank died, hung or failed: the run stops and writes what it measured."""


class Exchange:
    """All-to-all rows over ``comm`` (an ``mpi4py`` communicator), each wait with a deadline."""

    def __init__(self, comm: Any, names: dict[int, str] | None = None) -> None:
        self.comm = comm
        self.rank: int = comm.Get_rank()
        self.size: int = comm.Get_size()
        self.seq = 0
        self.names = names or {}
        self.lost: set[int] = set()
        self.failed = False  # this rank told the others it stops
        self.notice_ns: list[int] = []  # per exchange: how late this rank saw it complete, at most
        self._pending: list[tuple[Any, Any]] = []  # sends not known complete, with their data
        #: The ranks whose processes this one can see (same pid space): rank -> pid.
        self.local_pids: dict[int, int] = {}
        self._alive_at = 0.0
        self._gone_since: dict[int, float] = {}

    def who(self, rank: int) -> str:
        return self.names.get(rank, f"rank {rank}")

    async def rows(self, kind: float, stop: bool, value: float, timeout_s: float) -> np.ndarray:
        """Every rank's row for the next exchange, as a (size, 4) array (own row included)."""
        self.seq += 1
        tag = 1 + self.seq % SEQ_TAGS
        out = np.zeros((self.size, 4), dtype=np.float64)
        out[self.rank] = (self.seq, kind, 1.0 if stop else 0.0, value)
        mine = out[self.rank].copy()
        peers = [r for r in range(self.size) if r != self.rank]
        from mpi4py import MPI

        try:
            recvs = [self.comm.Irecv(out[r], source=r, tag=tag) for r in peers]
            self._pending += [(self.comm.Isend(mine, dest=r, tag=tag), mine) for r in peers]
        except MPI.Exception as exc:  # a peer known dead (ERRORS_RETURN, see world)
            raise self._broken(self._failed_peer(), exc) from exc
        await self._wait(recvs, peers, timeout_s, "the exchange")
        self._pending = [(q, keep) for q, keep in self._pending if not _done(q)]
        bad = [r for r in peers if int(out[r, 0]) != self.seq]
        if bad:
            raise self._lost(f"{self.who(bad[0])} is out of step (exchange {int(out[bad[0], 0])}, "
                           f"expected {self.seq}): the ranks' flags make them take different paths")
        return out

    async def _wait(self, requests: list[Any], ranks: list[int], timeout_s: float,
                    what: str) -> None:
        deadline = time.monotonic() + timeout_s
        polled = 0  # when the last poll that found the exchange incomplete ran
        while not self._testall(requests, ranks):
            polled = time.perf_counter_ns()
            self.check_failures()
            if time.monotonic() > deadline:
                missing = [r for r, q in zip(ranks, requests, strict=True) if not _done(q)]
                self.lost.update(missing)
                names = ", ".join(self.who(r) for r in missing)
                raise self._lost(f"{names} did not reach {what} within {timeout_s:g} s "
                               "(died, hung or was stopped): stopping")
            await asyncio.sleep(POLL_S)
        # The last message arrived between the last two polls: this rank saw it at most this late
        # (0 when it was the last to arrive). A bound on its part of the edge skew, on its own clock.
        self.notice_ns.append(time.perf_counter_ns() - polled if polled else 0)

    def _testall(self, requests: list[Any], ranks: list[int]) -> bool:
        from mpi4py import MPI

        try:
            return bool(MPI.Request.Testall(requests))
        except MPI.Exception as exc:  # a peer's connection broke (ERRORS_RETURN, see world)
            missing = [r for r, q in zip(ranks, requests, strict=True) if q != MPI.REQUEST_NULL]
            self.lost.update(missing)
            names = ", ".join(self.who(r) for r in missing) or "a rank"
            raise self._lost(f"{names} stopped answering ({_mpi_error(exc)}): stopping") from exc

    def check_failures(self) -> None:
        """Raise if another rank announced that it failed, or its process is gone."""
        from mpi4py import MPI

        status = MPI.Status()
        try:
            if not self.comm.Iprobe(source=MPI.ANY_SOURCE, tag=FAIL_TAG, status=status):
                self._check_alive()
                return
            rank = status.Get_source()
            message = self.comm.recv(source=rank, tag=FAIL_TAG)  # matched: small, arrived
        except MPI.Exception as exc:  # a dead peer (ERRORS_RETURN, see world)
            raise self._broken(self._failed_peer(), exc) from exc
        self.lost.add(rank)
        raise self._lost(f"{self.who(rank)} failed: {message}")

    def _check_alive(self) -> None:
        """Raise if the process of a rank of this host has been gone for GONE_GRACE_S (killed or
        crashed: MPI may not tell, and the deadline would take up to a minute)."""
        now = time.monotonic()
        if now - self._alive_at < ALIVE_POLL_S:
            return
        self._alive_at = now
        for rank, pid in self.local_pids.items():
            if rank in self.lost or not process_gone(pid):
                self._gone_since.pop(rank, None)
                continue
            if now - self._gone_since.setdefault(rank, now) >= GONE_GRACE_S:
                self.lost.add(rank)
                raise self._lost(f"{self.who(rank)} has ended (killed or crashed: its process is "
                                 "gone): stopping")

    def _failed_peer(self) -> int | None:
        """After an MPI error: the rank it is about, if MPI or the pid look can tell."""
        from mpi4py import MPI

        for rank in range(self.size):
            if rank != self.rank:
                try:
                    self.comm.Iprobe(source=rank, tag=FAIL_TAG)
                except MPI.Exception:
                    return rank
        gone = [r for r, pid in self.local_pids.items() if r not in self.lost and process_gone(pid)]
        return gone[0] if gone else None

    def _broken(self, rank: int | None, exc: Any) -> RankLost:
        """The error for an MPI failure about ``rank`` (None: MPI does not say which)."""
        if rank is not None:
            self.lost.add(rank)
        name = self.who(rank) if rank is not None else "a rank"
        return self._lost(f"{name} stopped answering ({_mpi_error(exc)}): stopping")

    def _lost(self, message: str) -> RankLost:
        """The error to raise; the other ranks are told at once (they may be waiting on this one,
        e.g. a merged group's members on their leader)."""
        self.announce_failure(message)
        return RankLost(message)

    def announce_failure(self, message: str) -> None:
        """Tell every other rank (without waiting) that this one stops with ``message``."""
        if self.failed:
            return
        self.failed = True
        from mpi4py import MPI

        for r in range(self.size):
            if r != self.rank and r not in self.lost:
                with contextlib.suppress(MPI.Exception):  # a dead rank: nobody to tell
                    self._pending.append((self.comm.isend(message, dest=r, tag=FAIL_TAG), None))

    async def objects(self, obj: Any, timeout_s: float) -> list[Any]:
        """Every rank's ``obj`` (an allgather of picklable objects), with a deadline."""
        peers = [r for r in range(self.size) if r != self.rank]
        for r in peers:
            self.send(obj, r, OBJECT_TAG)
        got: dict[int, Any] = {self.rank: obj}
        for r in peers:
            got[r] = await self.receive(r, OBJECT_TAG, timeout_s, "the start")
        return [got[r] for r in range(self.size)]

    async def receive(self, rank: int, tag: int, timeout_s: float, what: str) -> Any:
        """One pickled message from ``rank`` (any size), with a deadline."""
        from mpi4py import MPI

        deadline = time.monotonic() + timeout_s
        while True:
            try:
                message = self.comm.improbe(source=rank, tag=tag)
                request = message.irecv() if message is not None else None
            except MPI.Exception as exc:
                raise self._broken(rank, exc) from exc
            if request is not None:
                while True:  # matched: the sender is alive and the data is on its way
                    done, obj = self._test_one(request, rank)
                    if done:
                        return obj
                    if time.monotonic() > deadline + MATCHED_GRACE_S:
                        break
                    await asyncio.sleep(POLL_S)
            self.check_failures()
            if time.monotonic() > deadline:
                self.lost.add(rank)
                raise self._lost(f"{self.who(rank)} did not reach {what} within {timeout_s:g} s "
                               "(died, hung or was stopped): stopping")
            await asyncio.sleep(POLL_S)

    def _test_one(self, request: Any, rank: int) -> tuple[bool, Any]:
        from mpi4py import MPI

        try:
            return request.test()
        except MPI.Exception as exc:
            raise self._broken(rank, exc) from exc

    def send(self, obj: Any, rank: int, tag: int) -> None:
        """Send without waiting (completion is checked later). To a rank MPI knows dead: nothing
        is sent; the next wait on it names it."""
        from mpi4py import MPI

        with contextlib.suppress(MPI.Exception):
            self._pending.append((self.comm.isend(obj, dest=rank, tag=tag), None))



def _done(request: Any) -> bool:
    """Whether a request completed; a failed one (dead peer) counts as done: nothing to wait for."""
    from mpi4py import MPI

    try:
        return bool(request.Test())
    except MPI.Exception:
        return True


def _mpi_error(exc: Any) -> str:
    """An MPI error's text, on one line."""
    try:
        text = str(exc.Get_error_string())
    except Exception:  # the text only: never hide the error itself
        text = str(exc)
    return " ".join(text.split()) or "MPI error"
