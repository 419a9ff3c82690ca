"""A whole run's measured data, its typed settings and each point's judgement: what every
reporter, the gate and the search consume."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .. import columns as C
from ..config import LoadMode
from ..inputs.model import ModelTraits
from ..measure.metrics import LatencyStats
from ..measure.status import PointStatus, judged_latency, judged_stats, point_status
from ..measure.window import PointResult
from ..records import RecordBuffer
from .settings import RunSettings


@dataclass(frozen=True)
class Judgement:
    """A point judged once under its run's settings: its status, whether it reached -l, and the
    latency that the CSV, the stabilizer and -l use (per --latency-from)."""

    status: PointStatus
    #: the judged latency distribution (``corrected`` with --latency-from scheduled)
    latency: LatencyStats
    #: the judged figure in ns: the average, or pXX with --percentile
    latency_ns: float

    @property
    def stable(self) -> bool:
        """Stable and under -l: what -f writes."""
        return self.status is PointStatus.STABLE

    @property
    def over_limit(self) -> bool:
        return self.status is PointStatus.OVER_LIMIT


@dataclass(kw_only=True)
class RunResult:
    """The load points of one run, in measurement order, plus their context. ``settings`` are
    built once from ``config`` (the recorded mapping the export keeps, byte for byte);
    :meth:`judged` judges each point once under them."""

    #: how the points' levels are read: concurrency, request rate or custom intervals (a periodic
    #: run is reported as concurrency)
    mode: LoadMode
    model: ModelTraits
    batch_size: int
    percentile: int = -1
    points: list[PointResult] = field(default_factory=list)
    server_stats: bool = True
    server_stats_reason: str = ""
    buffer: RecordBuffer | None = None
    wall_anchor_ns: int = 0  # time.time_ns() at perf_counter_ns() == clock_anchor_ns
    clock_anchor_ns: int = 0
    #: The run's configuration as recorded (:meth:`RunConfig.flat`, redacted): what the export
    #: writes and the gate's provenance diff compares. Read the typed :attr:`settings`.
    config: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)
    interrupted: bool = False
    failure: str = ""
    #: Per data entry (payload index), its input tensors: kept with --export-tensors only.
    request_inputs: list[dict[str, Any]] = field(default_factory=list)
    #: ``--repeat N``: the N runs, in order; this run's points then pool their merged windows
    #: (:func:`perfanalyzer.results.combine.combine_runs`). Empty for a single run.
    replicates: list[RunResult] = field(default_factory=list)
    #: ``--periodic-concurrency-range``: range, request period, requests sent and the figures of
    #: every step (:mod:`perfanalyzer.profile.periodic`); None for other runs.
    periodic: dict[str, Any] | None = None
    settings: RunSettings = field(init=False, repr=False, compare=False)
    _judged: dict[int, tuple[PointResult, Judgement]] = field(
        init=False, repr=False, compare=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.mode = LoadMode(self.mode)
        self._settle()

    def _settle(self) -> None:
        self.settings = RunSettings.recorded(self.config, mode=self.mode, model=self.model.name,
                                             percentile=self.percentile)
        self._judged.clear()

    def record(self, **changes: Any) -> None:
        """Change recorded settings after the run was built (e.g. how many replicate runs it
        belongs to): the mapping, the typed settings and the judgements follow."""
        self.config.update(changes)
        self._settle()

    def judged(self, point: PointResult) -> Judgement:
        """``point``'s judgement under this run's settings (computed once per point)."""
        hit = self._judged.get(id(point))
        if hit is None or hit[0] is not point:
            judging = self.settings.judging
            judgement = Judgement(status=point_status(point, judging),
                                  latency=judged_stats(point.merged, judging.latency_from),
                                  latency_ns=judged_latency(point.merged, judging))
            hit = self._judged[id(point)] = (point, judgement)
        return hit[1]

    def status(self, point: PointResult) -> PointStatus:
        return self.judged(point).status

    @property
    def level_name(self) -> str:
        return C.CONCURRENCY if self.mode is LoadMode.CONCURRENCY else C.REQUEST_RATE


__all__ = ["Judgement", "RunResult"]
