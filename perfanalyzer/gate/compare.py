"""The comparison itself: match load points, apply the checks, judge the change → a verdict.

Pure: :func:`compare` takes two :class:`~perfanalyzer.gate.inputs.Side` objects and returns a
:class:`Comparison`; it reads no file and prints nothing. Rules:

* Both sides must have the same load mode (first CSV column) and share at least one load point;
  otherwise CompareError (exit 2). Points on one side only are listed in the notes and ignored.
* A side's figure is the mean of its runs' reported figures (a single run: its reported figure,
  from its merged stability windows only). A check's change is that of these figures.
* With replicate runs (``--repeat``: >= 2 runs on a side, JSON runs on both) the change gets
  bounds from the run-to-run spread (:func:`~perfanalyzer.gate.stats.change_interval`), each a
  one-sided ``1 − alpha`` bound (together a two-sided ``1 − 2·alpha`` interval): the decision is
  one-sided, so ``alpha`` is its false-alarm rate per check. A change beyond its threshold is a
  REGRESSION when its bound on the good side lies on the bad side of zero, and "within noise"
  only when the bounds reach zero (so back inside the threshold). An improvement beyond the
  threshold likewise needs its bound on the bad side to lie on the good side. A side whose runs
  have identical figures has unknown noise (not none): the other side's spread stands for it.
* Otherwise (single runs, CSVs) the thresholds alone decide, and a note says that the verdict could
  not account for run-to-run noise and recommends ``--repeat``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from ..errors import EXIT_CANNOT_COMPARE, EXIT_OK, EXIT_REGRESSION, CompareError
from .checks import Check, bind_checks, relative_change
from .inputs import PointData, Side
from .provenance import provenance_notes, provenance_warnings, unstable_warnings
from .stats import change_interval, is_flat

DEFAULT_ALPHA = 0.05
OK, REGRESSION, IMPROVEMENT, NOISE, INFO = "ok", "REGRESSION", "improvement", "within noise", "-"
Status = Literal["pass", "regression", "error"]


METHOD_WELCH = ("Welch t-interval of the change of the mean run figure (log scale for % checks), "
                "from the run-to-run spread of both sides")
METHOD_POOLED = ("t-interval of the change of the mean run figure (log scale for % checks), using "
                 "the run-to-run spread of the side with replicates for both sides")
METHOD_THRESHOLD = "thresholds only (no replicate runs: run-to-run noise not accounted for)"


@dataclass(frozen=True)
class Significance:
    """``judged``: an interval across runs was possible. ``ci``: the ``confidence`` interval of the
    change, in percent for relative checks (and unchecked metrics), in the column's unit for
    absolute ones. ``significant``: the interval excludes zero. ``samples``: runs per side."""

    judged: bool
    significant: bool = False
    ci: tuple[float, float] | None = None
    ci_relative: bool = True
    samples: tuple[int, int] = (0, 0)
    reason: str = ""
    method: str = ""
    df: float | None = None
    #: Each end of ``ci`` is a one-sided bound at this confidence (1 − alpha).
    confidence: float = 1.0 - DEFAULT_ALPHA
    #: (baseline, current): the side's runs had identical figures, its noise unknown.
    flat: tuple[bool, bool] = (False, False)


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
    warnings: tuple[str, ...] = ()  # provenance differences (machine, versions, settings)
    unstable: tuple[str, ...] = ()  # load points that did not stabilize, per side
    notes: tuple[str, ...] = ()
    only_baseline: tuple[float, ...] = ()
    only_current: tuple[float, ...] = ()
    alpha: float = DEFAULT_ALPHA
    error: str = ""
    matched: tuple[float, ...] = field(default_factory=tuple)
    runs: tuple[int, int] = (0, 0)

    @property
    def method(self) -> str:
        """How the verdict was reached (the interval's method, or thresholds only)."""
        methods = {r.significance.method for r in self.rows if r.check is not None}
        methods.discard("")
        if not methods:
            return METHOD_THRESHOLD
        return "; ".join(sorted(methods))

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
            defaults: bool = True, alpha: float = DEFAULT_ALPHA,
            all_metrics: bool = False, different_model: bool = False) -> Comparison:
    """Compare ``current`` against ``baseline``. Raises CompareError when they cannot be compared,
    also when they measured another model, version or batch size unless ``different_model``."""
    if not 0 < alpha < 0.5:
        raise CompareError(f"--alpha must be between 0 and 0.5 (a one-sided false-alarm rate), "
                           f"got {alpha}")
    if not different_model:
        check_same_subject(baseline, current)
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
        rows += _point_rows(b, c, columns, bound, alpha, all_metrics)
    only_b = tuple(sorted(set(baseline.points) - set(current.points)))
    only_c = tuple(sorted(set(current.points) - set(baseline.points)))
    return Comparison(
        baseline=baseline.label, current=current.label, level_name=baseline.level_name,
        rows=tuple(rows), checks=tuple(bound),
        warnings=tuple(provenance_warnings(baseline, current)),
        unstable=tuple(unstable_warnings(baseline, current, matched)),
        notes=tuple(_notes(baseline, current, only_b, only_c, rows)),
        only_baseline=only_b, only_current=only_c, alpha=alpha, matched=tuple(matched),
        runs=(baseline.runs, current.runs))


#: What a run measured: runs that differ in one of these are not the same workload.
SUBJECT_KEYS = (("model", "model"), ("model_version", "model version"),
                ("batch_size", "batch size"))
DIFFERENT_MODEL_FLAG = "--allow-different-model"


def check_same_subject(baseline: Side, current: Side) -> None:
    """CompareError when both sides record their settings and measured another model, model
    version or batch size (CSVs record none: a note says it could not be checked)."""
    if baseline.settings is None or current.settings is None:
        return
    for key, what in SUBJECT_KEYS:
        b, c = getattr(baseline.settings, key), getattr(current.settings, key)
        if str(b) != str(c):
            raise CompareError(f"{current.label}: {what} {str(c)[:60]!r} is not the baseline's "
                               f"{str(b)[:60]!r} ({baseline.label}); perfanalyzer compare "
                               f"{DIFFERENT_MODEL_FLAG} compares them anyway")


def _levels(points: Mapping[float, PointData]) -> str:
    return "{" + ", ".join(f"{k:g}" for k in sorted(points)) + "}"


def _point_rows(b: PointData, c: PointData, columns: Sequence[str], checks: Sequence[Check],
                alpha: float, all_metrics: bool) -> list[Row]:
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
            sig = judge_significance(b, c, column, check, alpha)
            rows.append(Row(level=b.level, metric=column, baseline=bv, current=cv, check=check,
                            significance=sig, verdict=row_verdict(bv, cv, check, sig)))
    return rows


def row_verdict(baseline: float, current: float, check: Check | None, sig: Significance) -> str:
    """REGRESSION / improvement / within noise / ok (``-`` for an unchecked metric).

    Beyond the threshold: REGRESSION (improvement) unless an interval exists and reaches zero —
    then the change is "within noise" (zero is inside the threshold, so the interval reaches back
    inside it). Within the threshold: ok."""
    if check is None:
        return INFO
    worse, better = check.fails(baseline, current), check.improves(baseline, current)
    if not (worse or better):
        return OK
    if sig.judged and sig.ci is not None:
        lo, hi = sig.ci
        bad_side = lo > 0 if check.sign > 0 else hi < 0
        good_side = hi < 0 if check.sign > 0 else lo > 0
        if worse:
            return REGRESSION if bad_side else NOISE
        return IMPROVEMENT if good_side else NOISE
    return REGRESSION if worse else IMPROVEMENT


def _run_values(point: PointData, column: str) -> list[float]:
    return [r[column] for r in point.runs or () if column in r]


def judge_significance(b: PointData, c: PointData, column: str, check: Check | None,
                       alpha: float) -> Significance:
    """The interval of the change of ``column`` across the runs of both sides, when possible."""
    confidence = 1.0 - alpha
    if b.runs is None or c.runs is None:
        return Significance(judged=False, reason="n/a (CSV)", confidence=confidence)
    xb, xc = _run_values(b, column), _run_values(c, column)
    n = (len(xb), len(xc))
    relative = check is None or check.relative
    if max(n) < 2 or min(n) == 0:
        return Significance(judged=False, samples=n, confidence=confidence,
                            reason=f"n/a ({n[0]} vs {n[1]} run{'s' if n[1] != 1 else ''})")
    flat = (is_flat(np.asarray(xb, dtype=float)), is_flat(np.asarray(xc, dtype=float)))
    # each end a one-sided 1 - alpha bound: the two-sided 1 - 2 alpha interval
    iv = change_interval(xb, xc, relative=relative, confidence=1.0 - 2.0 * alpha)
    if iv is None:
        why = ("identical runs: run-to-run noise unknown" if any(flat)
               else "zero figure: no relative interval")
        return Significance(judged=False, samples=n, confidence=confidence, flat=flat,
                            reason=f"n/a ({why})")
    scale = 100.0 if relative else 1.0
    ci = (iv.lo * scale, iv.hi * scale)
    return Significance(judged=True, significant=not ci[0] <= 0.0 <= ci[1], ci=ci,
                        ci_relative=relative, samples=n, df=iv.df, confidence=confidence,
                        method=METHOD_WELCH if iv.method == "welch" else METHOD_POOLED,
                        flat=iv.flat)


def _inner(reason: str) -> str:
    """``n/a (CSV)`` → ``CSV``."""
    return reason[5:-1] if reason.startswith("n/a (") and reason.endswith(")") else reason


def _notes(baseline: Side, current: Side, only_b: tuple[float, ...], only_c: tuple[float, ...],
           rows: Sequence[Row]) -> list[str]:
    notes = [*baseline.notes, *current.notes, *provenance_notes(baseline, current)]
    name = baseline.level_name
    if only_b:
        notes.append(f"{name} {', '.join(f'{x:g}' for x in only_b)} only in the baseline: ignored")
    if only_c:
        notes.append(f"{name} {', '.join(f'{x:g}' for x in only_c)} only in the current run: "
                     f"ignored")
    checked = [r for r in rows if r.check is not None]
    if checked and not any(r.significance.judged for r in checked):
        why = sorted({_inner(r.significance.reason) for r in checked})
        notes.append(f"the verdict could not account for run-to-run noise ({'; '.join(why)}): "
                     f"the thresholds alone decided. Measure both sides with --repeat 3 (or more) "
                     f"and --profile-export-file so the gate can tell a change from noise")
    elif checked:
        judged = next(r.significance for r in checked if r.significance.judged)
        notes.append(f"{judged.samples[0]} vs {judged.samples[1]} runs: a change beyond its "
                     f"threshold fails unless its {judged.confidence:.0%} one-sided bounds reach "
                     f"zero (then it is within noise)")
        if judged.samples[0] < 2 or judged.samples[1] < 2:
            notes.append("one side has a single run: its run-to-run spread is assumed equal to "
                         "the other side's; measure both with --repeat for a sounder verdict")
    notes += _flat_notes(baseline, current, checked)
    return notes


def _flat_notes(baseline: Side, current: Side, rows: Sequence[Row]) -> list[str]:
    """Say which side's runs had identical figures: its noise is unknown, never zero."""
    out = []
    for k, side in enumerate((baseline, current)):
        where = sorted({f"{r.metric} at {r.level:g}" for r in rows if r.significance.flat[k]})
        if where:
            out.append(f"{side.label}: its runs have identical figures for {', '.join(where)}: "
                       "their run-to-run noise is unknown (not zero), so the other side's spread "
                       "stood for it, or the thresholds alone decided where neither had one")
    return out


__all__ = ["DEFAULT_ALPHA", "IMPROVEMENT", "INFO", "METHOD_POOLED", "METHOD_THRESHOLD",
           "METHOD_WELCH", "NOISE", "OK", "REGRESSION", "Comparison", "Row", "Significance",
           "check_same_subject", "compare", "judge_significance", "row_verdict"]
