"""A run's settings as its reports, the gate and the search read them: typed, with the option
table's defaults (never a literal beside a read)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..config import LatencySource, LoadMode, RunConfig
from ..config.build import from_flat
from ..measure.status import Judging


@dataclass(frozen=True, kw_only=True)
class RunSettings:
    """What a run was asked to do, as far as judging and reporting it needs (a subset of its
    :class:`RunConfig`, by the same field names where they exist)."""

    #: the configured load mode (a periodic run is ``periodic_concurrency`` here; its points are
    #: reported as concurrency: :attr:`RunResult.mode`)
    mode: LoadMode
    model: str
    model_version: str
    batch_size: int
    measurement_mode: str
    measurement_interval_ms: int
    request_count: int
    adaptive: bool
    stability_percentage: float
    stability_windows: int
    max_trials: int
    percentile: int
    latency_source: LatencySource
    latency_threshold_ms: float
    goodput: str | None
    streaming: bool
    endpoint: str
    orca_format: str | None
    collect_metrics: bool
    request_distribution: str
    repeat: int

    @classmethod
    def of(cls, cfg: RunConfig) -> RunSettings:
        m, ld = cfg.measurement, cfg.load
        return cls(
            mode=LoadMode(ld.mode), model=str(cfg.server.model),
            model_version=str(cfg.server.model_version), batch_size=int(cfg.inputs.batch_size),
            measurement_mode=str(m.measurement_mode),
            measurement_interval_ms=int(m.measurement_interval_ms),
            request_count=int(m.request_count), adaptive=bool(m.adaptive),
            stability_percentage=float(m.stability_percentage),
            stability_windows=int(m.stability_windows), max_trials=int(m.max_trials),
            percentile=int(m.percentile),
            latency_source=LatencySource(m.latency_from),
            latency_threshold_ms=float(m.latency_threshold_ms), goodput=m.goodput,
            streaming=bool(ld.streaming), endpoint=str(cfg.transport.endpoint),
            orca_format=cfg.transport.orca_format, collect_metrics=bool(cfg.output.collect_metrics),
            request_distribution=str(ld.request_distribution), repeat=int(m.repeat))

    @classmethod
    def recorded(cls, flat: Mapping[str, Any], *, mode: str, model: str,
                 percentile: int = -1) -> RunSettings:
        """From a run's recorded ``config`` mapping (a live run's or a saved run's, of any earlier
        version): the one place that reads it. A key it lacks (a run saved before the flag
        existed) or records as null takes the option table's default; ``mode``, ``model`` and
        ``percentile`` are the run's own, for a mapping that lacks them."""
        given = {k: v for k, v in flat.items() if v is not None}
        return cls.of(from_flat({"mode": mode, "model": model, "percentile": percentile, **given}))

    @property
    def latency_threshold_ns(self) -> int:
        """-l in ns (0: no limit)."""
        return int(self.latency_threshold_ms * 1_000_000)

    @property
    def stability_fraction(self) -> float:
        """-s as a fraction (0.1 for 10 %)."""
        return self.stability_percentage / 100.0

    @property
    def judging(self) -> Judging:
        """What decides a point's status: stabilizing percentile, -l, and which latency."""
        return Judging(percentile=self.percentile, latency_threshold_ns=self.latency_threshold_ns,
                       latency_from=self.latency_source)

    @property
    def streamed(self) -> bool:
        """Requests may have several responses: --streaming or the generate_stream endpoint."""
        return self.streaming or self.endpoint == "generate_stream"


__all__ = ["RunSettings"]
