"""What "best" means: the objective and constraints from the flags, applied to measured points."""

from __future__ import annotations

from dataclasses import dataclass

from ..measure.result import RunResult
from ..measure.status import STABLE, Judging, judged_stats, point_status
from ..measure.window import PointResult
from .space import Candidate
from .store import CandidateResult, PointFigures

OBJECTIVES = ("throughput", "latency")


@dataclass(frozen=True, kw_only=True)
class Objective:
    """``throughput``: the highest throughput of a point within the latency budget.
    ``latency``: the lowest latency of a point reaching ``min_throughput``.
    Latency is the ``percentile`` (the average when -1); a budget of 0 means none."""

    kind: str = "throughput"
    latency_budget_ms: float = 0.0
    percentile: int = -1
    min_throughput: float = 0.0

    @property
    def latency_label(self) -> str:
        return f"p{self.percentile} latency" if self.percentile > 0 else "avg latency"

    def latency_ms(self, point: PointResult, judging: Judging) -> float:
        """The point's latency at the objective's percentile, from the send time ``-f`` uses
        (``--latency-from``)."""
        lat = judged_stats(point.merged, judging.latency_from)
        ns = lat.p(self.percentile) if self.percentile > 0 else lat.avg_ns
        return float(ns) / 1e6

    def feasible(self, p: PointFigures) -> bool:
        """A point ``-f`` writes (stable, under the budget, which is the sweep's -l) that meets
        the constraints."""
        within = self.latency_budget_ms <= 0 or p.latency_ms <= self.latency_budget_ms
        return p.stable and within and p.throughput >= self.min_throughput and p.throughput > 0

    @property
    def higher_better(self) -> bool:
        return self.kind == "throughput"

    @property
    def figure_label(self) -> str:
        return "throughput (infer/s)" if self.kind == "throughput" \
            else f"{self.latency_label} (ms)"

    def figure(self, p: PointFigures) -> float:
        """The figure the objective ranks by (throughput, or latency in ms)."""
        return p.throughput if self.kind == "throughput" else p.latency_ms

    def score(self, p: PointFigures) -> float:
        return p.throughput if self.kind == "throughput" else -p.latency_ms

    def judge(self, candidate: Candidate, run: RunResult) -> CandidateResult:
        """The candidate's measured points, its best feasible point and score. A point counts
        only when the candidate's ``profile.csv`` holds it: the same decision as ``-f``."""
        judging = Judging.of(run.config, run.percentile)
        points = tuple(PointFigures(level=p.level, throughput=p.merged.throughput,
                                    latency_ms=self.latency_ms(p, judging),
                                    stable=point_status(p, judging) == STABLE)
                       for p in run.points if p.merged.completed > 0)
        ok = [p for p in points if self.feasible(p)]
        best = max(ok, key=self.score) if ok else None
        return CandidateResult(candidate=candidate, points=points, best=best,
                               score=self.score(best) if best else None, error=run.failure)
