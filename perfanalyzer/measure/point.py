"""What the measurement of a load point is cut by and produces: the window plan, each window, and
the measured point. Apart from the measurement loop (:mod:`.window`) so that its hooks
(:mod:`.sync`) can name them without importing the loop."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..client.orca import OrcaWindow
from ..config.defaults import DEFAULT_MEASUREMENT_INTERVAL_MS, DEFAULT_MEASUREMENT_REQUEST_COUNT
from ..config.goodput import GoodputLimits
from .metrics import Summary
from .prometheus import Scrape
from .stabilizer import Criteria, Verdict


@dataclass(frozen=True, kw_only=True)
class WindowPlan:
    """How windows are cut and judged."""

    count_windows: bool = False
    interval_s: float = DEFAULT_MEASUREMENT_INTERVAL_MS / 1000.0
    request_count: int = DEFAULT_MEASUREMENT_REQUEST_COUNT
    criteria: Criteria = field(default_factory=Criteria)
    percentile: int = -1
    adaptive: bool = False
    single_window: bool = False
    batch_size: int = 1
    warmup_requests: int = 0
    cores: float = 1.0
    #: Which latency the stabilizer judges in rate modes: "sent" or "scheduled" (--latency-from).
    latency_from: str = "sent"
    goodput: GoodputLimits | None = None


@dataclass(frozen=True, slots=True)
class Window:
    index: int
    lo: int
    hi: int
    summary: Summary
    metrics: tuple[Scrape, ...] = ()  # --collect-metrics: scrapes completed in this window
    orca: OrcaWindow | None = None  # --orca-format: the load reports of this window's answers


@dataclass(frozen=True)
class PointResult:
    """A measured load point: its windows, the stabilizer's verdict, and the merged figures."""

    level: float
    windows: tuple[Window, ...]
    verdict: Verdict
    merged: Summary
    interrupted: bool = False
    #: A request error that ends the run (e.g. a validation_data mismatch) ended this point.
    failure: str = ""

    @property
    def stable(self) -> bool:
        return self.verdict.stable

    @property
    def orca(self) -> OrcaWindow | None:
        """--orca-format: the load reports of the merged windows' answers."""
        m = self.merged
        parts = [w.orca for w in self.windows if w.orca is not None
                 and w.summary.start_ns >= m.start_ns and w.summary.end_ns <= m.end_ns]
        return sum(parts[1:], parts[0]) if parts else None

    @property
    def metrics(self) -> tuple[Scrape, ...]:
        """--collect-metrics: the scrapes of the merged windows."""
        m = self.merged
        return tuple(s for w in self.windows for s in w.metrics
                     if w.summary.start_ns >= m.start_ns and w.summary.end_ns <= m.end_ns)


__all__ = ["PointResult", "Window", "WindowPlan"]
