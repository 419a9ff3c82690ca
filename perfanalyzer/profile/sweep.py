"""Which load level to measure next: linear sweeps and perf_analyzer's binary search (pure)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class Outcome:
    level: float
    meets: bool  # stable and under the latency threshold


def linear(start: float, end: float, step: float, *, integer: bool) -> Iterator[float]:
    """start, start+step, ... up to end inclusive (end 0: no limit). Floats without drift."""
    i = 0
    while True:
        level = start + i * step
        if integer:
            level = float(round(level))
        if end and level > end + 1e-9 * max(1.0, abs(end)):
            return
        yield level
        i += 1


class BinarySearch:
    """perf_analyzer's search: profile start (stop if it fails), end (stop if it passes), then
    bisect while end − start > step. ``next_level`` returns None when done; ``best`` is the highest
    level that met the threshold."""

    def __init__(self, start: float, end: float, step: float, *, integer: bool) -> None:
        self.lo, self.hi, self.step, self.integer = start, end, step, integer
        self._phase = "start"
        self.best: float | None = None

    def next_level(self, last: Outcome | None) -> float | None:
        if self._phase == "start":
            self._phase = "end"
            return self.lo
        assert last is not None
        if last.meets:
            self.best = last.level if self.best is None else max(self.best, last.level)
        if self._phase == "end":
            if not last.meets:
                return None  # even the start fails
            self._phase = "bisect_first"
            return self.hi
        if self._phase == "bisect_first":
            if last.meets:
                return None  # the end passes: nothing to search
            self._phase = "bisect"
        elif last.meets:
            self.lo = last.level
        else:
            self.hi = last.level
        if self.hi - self.lo <= self.step:
            return None
        mid = (self.lo + self.hi) / 2
        mid = float(int(mid)) if self.integer else mid
        return None if mid in (self.lo, self.hi) else mid
