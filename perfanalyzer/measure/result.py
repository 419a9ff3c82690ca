"""A whole run's measured data: what every reporter and the gate consume."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .. import columns as C
from ..inputs.model import ModelTraits
from ..records import RecordBuffer
from .window import PointResult


@dataclass(kw_only=True)
class RunResult:
    """The load points of one run, in measurement order, plus their context."""

    mode: str  # "concurrency" | "request_rate" | "custom_intervals"
    model: ModelTraits
    batch_size: int
    percentile: int = -1
    points: list[PointResult] = field(default_factory=list)
    server_stats: bool = True
    server_stats_reason: str = ""
    buffer: RecordBuffer | None = None
    wall_anchor_ns: int = 0  # time.time_ns() at perf_counter_ns() == clock_anchor_ns
    clock_anchor_ns: int = 0
    config: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)
    interrupted: bool = False
    failure: str = ""
    #: Per data entry (payload index), its input tensors: kept with --export-tensors only.
    request_inputs: list[dict[str, Any]] = field(default_factory=list)
    #: ``--repeat N``: the N runs, in order; this run's points then pool their merged windows
    #: (:func:`perfanalyzer.measure.combine.combine_runs`). Empty for a single run.
    replicates: list[RunResult] = field(default_factory=list)
    #: ``--periodic-concurrency-range``: range, request period, requests sent and the figures of
    #: every step (:mod:`perfanalyzer.profile.periodic`); None for other runs.
    periodic: dict[str, Any] | None = None

    @property
    def level_name(self) -> str:
        return C.CONCURRENCY if self.mode == "concurrency" else C.REQUEST_RATE
