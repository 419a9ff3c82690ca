"""Regression checks: ``--fail-on 'METRIC:+N%'`` specs, metric aliases, direction and units.

A spec is ``METRIC:[+|-]AMOUNT[UNIT]``:

* ``METRIC`` is a CSV column name (perf_analyzer's header, case-insensitive) or one of its aliases,
  both declared in :mod:`perfanalyzer.columns` (``throughput``, ``pNN`` for any percentile, ``avg``,
  ``queue``, ``goodput`` with --goodput or a CSV written with --csv-streaming, ``ttfr``, ``itl``...).
* The sign says which change fails: ``+`` a rise, ``-`` a drop. Without a sign the metric's bad
  direction is meant (a drop for throughput columns, a rise for every time column).
* ``UNIT`` is ``%`` (relative to the baseline) or absolute: ``ns``, ``us``/``µs``, ``ms``, ``s`` for
  time columns (CSV times are µs), ``infer/s`` (or ``/s``) for throughput columns. A bare number
  is refused (ambiguous).

A check fails when the change goes in its direction by strictly more than the amount; a change as
large in the other direction is an improvement.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .. import columns as C
from ..errors import CompareError

DEFAULT_SPECS = ("throughput:-5%", "p99:+10%")

#: alias → column, from the registry (``pNN`` → ``pNN latency`` is :func:`columns.alias_target`'s).
ALIASES = {alias: col.name for col in C.COLUMNS for alias in col.aliases}
_AMOUNT = re.compile(r"^(?P<sign>[+-])?\s*(?P<num>\d+(?:\.\d*)?|\.\d+)\s*(?P<unit>[^\d\s.][^\s]*)?$")
#: Absolute units → factor to the CSV's column unit (µs for times, infer/s for rates).
TIME_UNITS = {"ns": 1e-3, "us": 1.0, "µs": 1.0, "μs": 1.0, "ms": 1e3, "s": 1e6}
RATE_UNITS = {"infer/s": 1.0, "/s": 1.0, "inferences/second": 1.0}


def higher_is_better(column: str) -> bool:
    """Throughput-like columns (the registry's direction): a drop is bad. A column the registry
    does not know is throughput-like when its name says so."""
    known = _KNOWN.get(column)
    if known is not None:
        return known.higher_is_better
    low = column.lower()
    return "/second" in low or "throughput" in low or "goodput" in low


_KNOWN = C.by_name()


@dataclass(frozen=True, kw_only=True)
class Check:
    """One regression check. ``sign`` +1: a rise beyond ``amount`` fails; -1: a drop; 0 until bound
    (then the metric's bad direction). ``amount`` is in percent when ``relative``, else in the
    column's unit (µs or infer/s) after conversion."""

    spec: str
    metric: str
    sign: int
    amount: float
    relative: bool
    unit: str
    column: str = ""

    @property
    def threshold_text(self) -> str:
        """``+10%``, ``-5%``, ``+2000us``, ``-100infer/s``."""
        mark = "+" if self.sign > 0 else "-"
        if self.relative:
            return f"{mark}{self.amount:g}%"
        unit = "infer/s" if higher_is_better(self.column) else "us"
        return f"{mark}{self.amount:g}{unit}"

    def delta(self, baseline: float, current: float) -> float:
        """The change in the check's terms: percent of the baseline, or absolute."""
        if self.relative:
            return relative_change(baseline, current) * 100.0
        return current - baseline

    def fails(self, baseline: float, current: float) -> bool:
        return self.sign * self.delta(baseline, current) > self.amount

    def improves(self, baseline: float, current: float) -> bool:
        return -self.sign * self.delta(baseline, current) > self.amount

    def bind(self, columns: Sequence[str]) -> Check:
        """Resolve the metric to one of ``columns``; check the unit fits. Raises CompareError."""
        column = resolve_metric(self.metric, columns, self.spec)
        rate = higher_is_better(column)
        if not self.relative:
            ok = self.unit in (RATE_UNITS if rate else TIME_UNITS)
            if not ok:
                kind = "a rate (infer/s or %)" if rate else "a time (ns, us, ms, s or %)"
                raise CompareError(f"--fail-on {self.spec!r}: {column!r} is {kind}, "
                                   f"not {self.unit!r}")
        sign = self.sign or (-1 if rate else 1)
        return dataclasses.replace(self, column=column, sign=sign)


def relative_change(baseline: float, current: float) -> float:
    """(current − baseline) / baseline; 0 when both are 0, ±inf from a zero baseline."""
    if baseline == 0:
        return 0.0 if current == 0 else math.copysign(math.inf, current)
    return (current - baseline) / abs(baseline)


def parse_check(spec: str) -> Check:
    """Parse one ``METRIC:[+|-]AMOUNT[UNIT]`` spec (not yet bound to a column)."""
    metric, sep, amount = spec.rpartition(":")
    metric = metric.strip()
    if not sep or not metric:
        raise CompareError(f"--fail-on {spec!r}: expected METRIC:+N% or METRIC:-N% "
                           f"(e.g. 'p99:+10%', 'throughput:-5%', "
                           f"'{C.percentile_name(99)}:+2ms')")
    m = _AMOUNT.match(amount.strip())
    if not m:
        raise CompareError(f"--fail-on {spec!r}: {amount.strip()!r} is not [+|-]NUMBER[UNIT]")
    unit = (m["unit"] or "").strip()
    value = float(m["num"])
    sign = {"+": 1, "-": -1, None: 0}[m["sign"]]
    if not unit:
        raise CompareError(f"--fail-on {spec!r}: give a unit: % (relative) or an absolute one "
                           f"(ns, us, ms, s, infer/s)")
    if unit == "%":
        return Check(spec=spec, metric=metric, sign=sign, amount=value, relative=True, unit="%")
    factor = TIME_UNITS.get(unit, RATE_UNITS.get(unit.lower()))
    if factor is None:
        raise CompareError(f"--fail-on {spec!r}: unknown unit {unit!r} "
                           f"(use %, ns, us, µs, ms, s or infer/s)")
    key = unit if unit in TIME_UNITS else unit.lower()
    return Check(spec=spec, metric=metric, sign=sign, amount=value * factor, relative=False,
                 unit=key)


def resolve_metric(name: str, columns: Sequence[str], spec: str = "") -> str:
    """The column a metric name or alias means; CompareError naming the columns if none."""
    by_lower = {c.lower(): c for c in columns}
    low = " ".join(name.lower().split())
    if low in by_lower:
        return by_lower[low]
    target = C.alias_target(low)
    if target and target.lower() in by_lower:
        return by_lower[target.lower()]
    what = f"--fail-on {spec!r}" if spec else repr(name)
    missing = f" ({target!r})" if target else ""
    raise CompareError(f"{what}: metric {name!r}{missing} is not a column of both runs "
                       f"(columns: {', '.join(columns)})")


def parse_checks(specs: Iterable[str]) -> list[Check]:
    return [parse_check(s) for s in specs]


def bind_checks(explicit: Sequence[Check], columns: Sequence[str], *,
                defaults: bool = True) -> list[Check]:
    """Bind explicit checks to ``columns`` and add the defaults (throughput −5%, p99 +10%) for every
    column no explicit check covers. A default whose column is missing is dropped silently (not
    every CSV has every column); an explicit one raises CompareError."""
    bound = [c.bind(columns) for c in explicit]
    covered = {c.column for c in bound}
    if defaults:
        for d in parse_checks(DEFAULT_SPECS):
            try:
                b = d.bind(columns)
            except CompareError:
                continue
            if b.column not in covered:
                bound.append(b)
    order = {c: i for i, c in enumerate(columns)}
    return sorted(bound, key=lambda c: order.get(c.column, len(order)))


__all__ = ["ALIASES", "DEFAULT_SPECS", "Check", "bind_checks", "higher_is_better",
           "parse_check", "parse_checks", "relative_change", "resolve_metric"]
