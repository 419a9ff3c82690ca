"""The measurement loop's synchronisation hook: where several perfanalyzer processes (MPI ranks)
meet. The default, :data:`NO_SYNC`, does nothing: a single run behaves exactly as without it.

The conductor (``profile.run``) and the :class:`~perfanalyzer.measure.window.Measurer` call the
hook at fixed points, in the same order on every process, so an implementation can match the
calls of all processes one to one (``perfanalyzer.mpi.sync`` does, with deadlines):

* :meth:`RunSync.next_level` before each load level (start it together; a merged group follows
  its leader's level; None ends the sweep);
* :meth:`RunSync.edge` at every window edge, the first included (the edge's time is read right
  after it); it returns whether the run is interrupted anywhere;
* :meth:`RunSync.decide` after judging a window: whether every process is done with the level;
* :meth:`RunSync.finish` once a process has no more levels (it keeps answering the others);
* :meth:`RunSync.wrap_load`, :meth:`RunSync.plan`, :meth:`RunSync.report` adapt the load, the
  window plan and a measured point (a merged group's leader sees every rank's records).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from ..load.base import LoadManager
    from .point import PointResult, WindowPlan


class RunSync(Protocol):
    async def next_level(self, proposed: float | None) -> float | None: ...

    async def edge(self, interrupted: bool) -> bool: ...

    async def decide(self, done: bool, interrupted: bool) -> bool: ...

    async def finish(self) -> None: ...

    def wrap_load(self, load: LoadManager) -> LoadManager: ...

    def plan(self, plan: WindowPlan) -> WindowPlan: ...

    def report(self, point: PointResult) -> PointResult: ...


class NoSync:
    """One process: every hook is the identity."""

    async def next_level(self, proposed: float | None) -> float | None:
        return proposed

    async def edge(self, interrupted: bool) -> bool:
        return interrupted

    async def decide(self, done: bool, interrupted: bool) -> bool:
        return done or interrupted

    async def finish(self) -> None:
        return None

    def wrap_load(self, load: LoadManager) -> LoadManager:
        return load

    def plan(self, plan: WindowPlan) -> WindowPlan:
        return plan

    def report(self, point: PointResult) -> PointResult:
        return point


NO_SYNC: RunSync = NoSync()

__all__ = ["NO_SYNC", "NoSync", "RunSync"]
