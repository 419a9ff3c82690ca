"""The comparison itself: match load points, apply the checks, judge significance → a verdict.

Pure: :func:`compare` takes two :class:`~perfanalyzer.gate.inputs.Side` objects and returns a
:class:`Comparison`; it reads no file and prints nothing. Rules:

* Both sides must have the same load mode (first CSV column) and share at least one load point;
  otherwise CompareError (exit 2). Points on one side only are listed in the notes and ignored.
* Each check compares the reported (merged) figures: it fails when the change goes its way by more
  than its amount, and a change as large the other way is an improvement.
* Significance: when both sides have per-window figures for the metric (JSON runs) and enough of
  them that the two-sided Mann–Whitney test can reach ``alpha`` (at 0.05: 4 vs 4 windows, or 3 vs
  5; 3 vs 3 gives 0.1 at best), a change that is not significant (p > alpha) is "within noise" and
  never fails. The bootstrap CI of the change of the mean window figure (same units as the check)
  is shown; the reported change is that of the merged (last) windows, so for a point that drifted
  between windows the two can disagree — the test uses every window, not the last ones. Otherwise the
  thresholds alone decide and the row says why significance could not be judged ("n/a (CSV)",
  "n/a (3 vs 3 windows: too few)").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from ..errors import EXIT_CANNOT_COMPARE, EXIT_OK, EXIT_REGRESSION, CompareError
from .checks import Check, bind_checks, relative_change
from .inputs import PointData, Side
from .provenance import provenance_notes, provenance_warnings
from .stats import bootstrap_change_ci, mann_whitney_u, min_p_value

DEFAULT_ALPHA = 0.05
OK, REGRESSION, IMPROVEMENT, NOISE, INFO = "ok", "REGRESSION", "improvement", "within noise", "-"
Status = Literal["pass", "regression", "error"]


@dataclass(frozen=True)
class Significance:
    """``judged``: a test was possible. ``ci``: bootstrap CI of the change, in percent for relative
    checks (and unchecked metrics), in the column's unit for absolute checks."""

    judged: bool
    significant: bool = False
    p_value: float | None = None
    ci: tuple[float, float] | None = None
    ci_relative: bool = True
    samples: tuple[int, int] = (0, 0)
    reason: str = ""


@dataclass(frozen=True)
class Row:
    """One metric at one load point (per check; unchecked metrics have ``check=None``)."""

    level: float
    metric: str
    baseline: float
    current: float
    check: Check | None
    significance: Significance
    verdict: str

    @property
    def change_pct(self) -> float:
        return relative_change(self.baseline, self.current) * 100.0

    @property
    def delta(self) -> float:
        return self.current - self.baseline


@dataclass(frozen=True)
class Comparison:
    """The verdict. ``error`` set means the runs could not be compared (exit 2)."""

    baseline: str
    current: str
    level_name: str = ""
    rows: tuple[Row, ...] = ()
    checks: tuple[Check, ...] = ()
    warnings: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    only_baseline: tuple[float, ...] = ()
    only_current: tuple[float, ...] = ()
    alpha: float = DEFAULT_ALPHA
    error: str = ""
    matched: tuple[float, ...] = field(default_factory=tuple)

    @classmethod
    def failed(cls, baseline: str, current: str, error: str) -> Comparison:
        return cls(baseline=baseline, current=current, error=error)

    @property
    def regressions(self) -> list[Row]:
        return [r for r in self.rows if r.verdict == REGRESSION]

    @property
    def improvements(self) -> list[Row]:
        return [r for r in self.rows if r.verdict == IMPROVEMENT]

    @property
    def status(self) -> Status:
        if self.error:
            return "error"
        return "regression" if self.regressions else "pass"

    @property
    def exit_code(self) -> int:
        return {"pass": EXIT_OK, "regression": EXIT_REGRESSION,
                "error": EXIT_CANNOT_COMPARE}[self.status]


def compare(baseline: Side, current: Side, checks: Sequence[Check] = (), *,
            defaults: bool = True, alpha: float = DEFAULT_ALPHA, all_metrics: bool = False,
            seed: int = 0) -> Comparison:
    """Compare ``current`` against ``baseline``. Raises CompareError when they cannot be compared."""
    if not 0 < alpha < 1:
        raise CompareError(f"--alpha must be between 0 and 1, got {alpha}")
    if baseline.level_name != current.level_name:
        raise CompareError(f"{current.label}: load mode {current.level_name!r} does not match "
                           f"{baseline.level_name!r} of {baseline.label}")
    matched = sorted(set(baseline.points) & set(current.points))
    if not matched:
        raise CompareError(f"{current.label}: no common load point with {baseline.label} "
                           f"({baseline.level_name} {_levels(baseline.points)} vs "
                           f"{_levels(current.points)})")
    columns = [c for c in baseline.columns if c in current.columns]
    bound = bind_checks(checks, columns, defaults=defaults)
    if not bound:
        raise CompareError("no check to apply: give --fail-on METRIC:+N% (default checks are off "
                           "or their columns are missing)")
    rows: list[Row] = []
    for key in matched:
        b, c = baseline.points[key], current.points[key]
        rows += _point_rows(b, c, columns, bound, alpha, all_metrics, seed)
    only_b = tuple(sorted(set(baseline.points) - set(current.points)))
    only_c = tuple(sorted(set(current.points) - set(baseline.points)))
    return Comparison(
        baseline=baseline.label, current=current.label, level_name=baseline.level_name,
        rows=tuple(rows), checks=tuple(bound),
        warnings=tuple(provenance_warnings(baseline, current)),
        notes=tuple(_notes(baseline, current, only_b, only_c, rows)),
        only_baseline=only_b, only_current=only_c, alpha=alpha, matched=tuple(matched))


def _levels(points: Mapping[float, PointData]) -> str:
    return "{" + ", ".join(f"{k:g}" for k in sorted(points)) + "}"


def _point_rows(b: PointData, c: PointData, columns: Sequence[str], checks: Sequence[Check],
                alpha: float, all_metrics: bool, seed: int) -> list[Row]:
    rows: list[Row] = []
    for column in columns:
        if column not in b.values or column not in c.values:
            continue
        mine = [k for k in checks if k.column == column]
        if not mine and not all_metrics:
            continue
        bv, cv = b.values[column], c.values[column]
        todo: list[Check | None] = [*mine] if mine else [None]
        for check in todo:
            sig = judge_significance(b, c, column, check, alpha, seed)
            rows.append(Row(level=b.level, metric=column, baseline=bv, current=cv, check=check,
                            significance=sig, verdict=row_verdict(bv, cv, check, sig)))
    return rows


def row_verdict(baseline: float, current: float, check: Check | None, sig: Significance) -> str:
    """REGRESSION / improvement / within noise / ok (``-`` for an unchecked metric)."""
    if check is None:
        return INFO
    if sig.judged and not sig.significant:
        return NOISE
    if check.fails(baseline, current):
        return REGRESSION
    if check.improves(baseline, current):
        return IMPROVEMENT
    return OK


def judge_significance(b: PointData, c: PointData, column: str, check: Check | None,
                       alpha: float, seed: int = 0) -> Significance:
    """Mann–Whitney U and a bootstrap CI on the window figures of ``column``, when possible."""
    if b.samples is None or c.samples is None:
        return Significance(judged=False, reason="n/a (CSV)")
    xb = _finite(b.samples.get(column))
    xc = _finite(c.samples.get(column))
    n = (len(xb), len(xc))
    relative = check is None or check.relative
    if min(n) == 0:
        return Significance(judged=False, samples=n, reason="n/a (no window figures)")
    ci = bootstrap_change_ci(xb, xc, relative=relative, seed=seed)
    if relative:
        ci = (ci[0] * 100.0, ci[1] * 100.0)
    if min_p_value(*n) > alpha:
        return Significance(judged=False, ci=ci, ci_relative=relative, samples=n,
                            reason=f"n/a ({n[0]} vs {n[1]} windows: too few)")
    p = mann_whitney_u(xc, xb).p_value
    return Significance(judged=True, significant=p <= alpha, p_value=p, ci=ci,
                        ci_relative=relative, samples=n)


def _finite(values: np.ndarray | None) -> np.ndarray:
    if values is None:
        return np.zeros(0)
    arr = np.asarray(values, dtype=float)
    return arr[np.isfinite(arr)]


def _inner(reason: str) -> str:
    """``n/a (CSV)`` → ``CSV``."""
    return reason[5:-1] if reason.startswith("n/a (") and reason.endswith(")") else reason


def _notes(baseline: Side, current: Side, only_b: tuple[float, ...], only_c: tuple[float, ...],
           rows: Sequence[Row]) -> list[str]:
    notes = [*baseline.notes, *current.notes, *provenance_notes(baseline, current)]
    name = baseline.level_name
    for side, what in ((baseline, "baseline"), (current, "current run")):
        shaky = [k for k in sorted(side.points) if side.points[k].stable is False
                 and k not in only_b and k not in only_c]
        if shaky:
            notes.append(f"{name} {', '.join(f'{x:g}' for x in shaky)} did not stabilize in the "
                         f"{what}: its figures are unreliable")
    if only_b:
        notes.append(f"{name} {', '.join(f'{x:g}' for x in only_b)} only in the baseline: ignored")
    if only_c:
        notes.append(f"{name} {', '.join(f'{x:g}' for x in only_c)} only in the current run: "
                     f"ignored")
    checked = [r for r in rows if r.check is not None]
    if checked and not any(r.significance.judged for r in checked):
        why = sorted({_inner(r.significance.reason) for r in checked})
        notes.append(f"significance could not be judged ({'; '.join(why)}): thresholds decide"
                     + (" — JSON runs (--profile-export-file) carry per-window figures"
                        if "CSV" in why else ""))
    return notes


__all__ = ["DEFAULT_ALPHA", "IMPROVEMENT", "INFO", "NOISE", "OK", "REGRESSION", "Comparison",
           "Row", "Significance", "compare", "judge_significance", "row_verdict"]
