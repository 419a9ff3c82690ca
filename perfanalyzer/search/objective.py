"""What "best" means: the objective and constraints from the flags, applied to measured points."""

from __future__ import annotations

from dataclasses import dataclass

from ..measure.window import PointResult
from ..results import RunResult
from .limits import Limit, broken, point_metrics, weighted
from .space import Candidate
from .store import CandidateResult, PointFigures

OBJECTIVES = ("throughput", "latency", "goodput", "weighted")


@dataclass(frozen=True, kw_only=True)
class Objective:
    """``throughput``: the highest throughput of a point within the latency budget.
    ``latency``: the lowest latency of a point reaching ``min_throughput``.
    ``goodput``: the highest goodput (requests within the run's --goodput limits, per second) of
    a point within the budget; a point with none is not a candidate's best.
    ``weighted``: the highest weighted objective (:func:`.limits.weighted`) of ``weights``.
    Latency is the ``percentile`` (the average when -1); a budget of 0 means none. Every point
    must also meet ``constraints`` (Model Analyzer's metric names, :mod:`.limits`)."""

    kind: str = "throughput"
    latency_budget_ms: float = 0.0
    percentile: int = -1
    min_throughput: float = 0.0
    constraints: tuple[Limit, ...] = ()
    weights: tuple[tuple[str, float], ...] = ()

    @property
    def latency_label(self) -> str:
        return f"p{self.percentile} latency" if self.percentile > 0 else "avg latency"

    def latency_ms(self, point: PointResult, run: RunResult) -> float:
        """The point's latency at the objective's percentile, from the send time ``-f`` uses
        (``--latency-from``)."""
        lat = run.judged(point).latency
        ns = lat.p(self.percentile) if self.percentile > 0 else lat.avg_ns
        return float(ns) / 1e6

    def feasible(self, p: PointFigures) -> bool:
        """A point ``-f`` writes (stable, under the budget, which is the sweep's -l) that meets
        the constraints."""
        return p.stable and not self.broken(p) and p.throughput > 0 \
            and (self.kind != "weighted" or weighted(self.weights, p.metrics) is not None) \
            and (self.kind != "goodput" or (p.goodput or 0.0) > 0)

    def broken(self, p: PointFigures) -> list[str]:
        """The limits (budget, minimum throughput, constraints) the point broke."""
        out = []
        if self.latency_budget_ms > 0 and p.latency_ms > self.latency_budget_ms:
            out.append(f"{self.latency_label} {p.latency_ms:.4g} > budget "
                       f"{self.latency_budget_ms:g} ms")
        if p.throughput < self.min_throughput:
            out.append(f"throughput {p.throughput:.4g} < {self.min_throughput:g}")
        return out + broken(self.constraints, p.metrics)

    def why_infeasible(self, points: tuple[PointFigures, ...], level_name: str) -> str:
        """Why no point of a candidate counted: its stable point that broke the fewest limits."""
        stable = [p for p in points if p.stable]
        if not stable:
            return "no stable point (its profile.csv holds none)"
        p = min(stable, key=lambda q: (len(self.broken(q)), -q.throughput))
        return f"at {level_name.lower()} {p.level:g}: " + "; ".join(self.broken(p) or
                                                                    ["no figure to rank by"])

    @property
    def higher_better(self) -> bool:
        return self.kind != "latency"

    @property
    def figure_label(self) -> str:
        if self.kind == "weighted":
            return "weighted objective (" + ", ".join(f"{n}:{w:g}" for n, w in self.weights) + ")"
        if self.kind == "goodput":
            return "goodput (infer/s)"
        return "throughput (infer/s)" if self.kind == "throughput" \
            else f"{self.latency_label} (ms)"

    def figure(self, p: PointFigures) -> float:
        """The figure the objective ranks by (throughput, latency in ms, goodput, or the
        weighted objective)."""
        if self.kind == "weighted":
            w = weighted(self.weights, p.metrics)
            return w if w is not None else float("nan")
        if self.kind == "goodput":
            return p.goodput or 0.0
        return p.throughput if self.kind == "throughput" else p.latency_ms

    def score(self, p: PointFigures) -> float:
        return self.figure(p) if self.higher_better else -self.figure(p)

    def judge(self, candidate: Candidate, run: RunResult) -> CandidateResult:
        """The candidate's measured points, its best feasible point and score. A point counts
        only when the candidate's ``profile.csv`` holds it: the same decision as ``-f``."""
        points = tuple(PointFigures(level=p.level, throughput=p.merged.throughput,
                                    latency_ms=self.latency_ms(p, run),
                                    stable=run.judged(p).stable, goodput=p.merged.goodput,
                                    metrics=point_metrics(p, run.judged(p).latency))
                       for p in run.points if p.merged.completed > 0)
        ok = [p for p in points if self.feasible(p)]
        best = max(ok, key=self.score) if ok else None
        return CandidateResult(candidate=candidate, points=points, best=best,
                               score=self.score(best) if best else None, error=run.failure)
