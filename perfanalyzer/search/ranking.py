"""Noise-aware ranking, the arithmetic: the finalists' objective as a 95 % t-interval across their
replicate runs, which of them are within noise of the best, and the change against the default as
an interval (Welch on log ratios, the gate's :func:`~perfanalyzer.gate.stats.change_interval`).

A replicate run's figure counts only when ``-f`` would write its point (stable, under the budget,
meeting the constraints): a run whose point it leaves out gives no figure.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass

from ..gate.stats import ChangeInterval, change_interval
from ..measure.tdist import MeanInterval, mean_interval
from .objective import Objective
from .store import CandidateResult, Final

CONFIDENCE = 0.95


@dataclass(frozen=True, kw_only=True)
class Row:
    """One ranked candidate. ``interval``: its objective across replicate runs (None: not
    re-measured); ``vs_default``: relative change of the objective's figure against the default
    (None: not re-measured, or no interval possible)."""

    result: CandidateResult
    final: Final | None = None
    interval: MeanInterval | None = None
    vs_default: ChangeInterval | None = None
    within_noise: bool = False


def values(obj: Objective, final: Final) -> list[float]:
    """The objective's figure of each replicate run whose point counts."""
    return [obj.figure(p) for p in final.points if p is not None and obj.feasible(p)]


def _bounds(iv: MeanInterval) -> tuple[float, float]:
    half = iv.half_width or 0.0
    return iv.mean - half, iv.mean + half


def overlaps(a: MeanInterval, b: MeanInterval) -> bool:
    (alo, ahi), (blo, bhi) = _bounds(a), _bounds(b)
    return alo <= bhi and blo <= ahi


def better(obj: Objective, change: ChangeInterval | None) -> bool:
    """Whether ``change`` (a finalist against the default) excludes zero in the good direction."""
    if change is None:
        return False
    return change.lo > 0 if obj.higher_better else change.hi < 0


def _change(obj: Objective, base: list[float], vs: list[float]) -> ChangeInterval | None:
    """The relative change of the objective's figure; a weighted objective is a mean of
    logarithms, so its difference is a log ratio (shown as the weighted relative change)."""
    if obj.kind != "weighted":
        return change_interval(base, vs, relative=True, confidence=CONFIDENCE)
    d = change_interval(base, vs, relative=False, confidence=CONFIDENCE)
    if d is None:
        return None
    return dataclasses.replace(d, estimate=math.expm1(d.estimate), lo=math.expm1(d.lo),
                               hi=math.expm1(d.hi))


def rank(obj: Objective, results: Sequence[CandidateResult], finals: dict[str, Final],
         default_key: str) -> list[Row]:
    """Every candidate with a best point (and the default when its replicates counted): the
    re-measured ones first, by their replicate mean
    (a finalist none of whose runs counted goes after them), then the rest by their exploration
    figure."""
    sign = 1.0 if obj.higher_better else -1.0
    base = finals.get(default_key)
    base_values = values(obj, base) if base is not None else []
    rows, rest = [], []
    for r in results:
        f = finals.get(r.candidate.key)
        if r.best is None and (r.candidate.key != default_key or f is None):
            continue  # the default is ranked on its replicates even without an explored point
        vs = values(obj, f) if f is not None else []
        if not vs:
            if r.best is not None:
                rest.append(Row(result=r, final=f))
            continue
        iv = mean_interval(vs, CONFIDENCE)
        change = _change(obj, base_values, vs) \
            if base_values and r.candidate.key != default_key else None
        rows.append(Row(result=r, final=f, interval=iv, vs_default=change))
    rows.sort(key=lambda row: -sign * row.interval.mean)  # type: ignore[union-attr]
    rest.sort(key=lambda row: -obj.score(row.result.best))  # type: ignore[arg-type]
    if rows and rows[0].interval is not None and rows[0].interval.half_width is not None:
        top = rows[0].interval
        rows = [rows[0]] + [Row(result=x.result, final=x.final, interval=x.interval,
                                vs_default=x.vs_default,
                                within_noise=x.interval is not None
                                and x.interval.half_width is not None
                                and overlaps(x.interval, top)) for x in rows[1:]]
    return rows + rest


def beats_default(obj: Objective, rows: Sequence[Row]) -> list[Row]:
    """The finalists measurably better than the default (their change's interval excludes 0)."""
    return [r for r in rows if better(obj, r.vs_default)]
