"""A run's settings as its reports, the gate and the search read them: typed, with the option
table's defaults (never a literal beside a read)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..config import LatencySource, LoadMode
from ..config.build import completed
from ..measure.status import Judging


@dataclass(frozen=True, kw_only=True)
class RunSettings:
    """What a run was asked to do, as far as judging and reporting it needs (a subset of the
    run's configuration, by the same field names where they exist)."""

    #: the configured load mode (a periodic run is ``periodic_concurrency`` here; its points are
    #: reported as concurrency: :attr:`RunResult.mode`)
    mode: LoadMode
    model: str
    model_version: str
    batch_size: int
    protocol: str
    measurement_mode: str
    measurement_interval_ms: int
    request_count: int
    measurement_request_count: int
    adaptive: bool
    #: asynchronous sends (perfanalyzer's default; --sync turns it off)
    async_mode: bool
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
    csv_all_points: bool
    csv_streaming: bool
    request_distribution: str
    request_burstiness: float | None
    repeat: int

    @classmethod
    def recorded(cls, flat: Mapping[str, Any], *, mode: str, model: str,
                 percentile: int = -1) -> RunSettings:
        """From a run's recorded ``config`` mapping (a live run's or a saved run's, of any earlier
        version): the one place that reads it. A key it lacks (a run saved before the flag
        existed) or records as null takes the option table's default; ``mode``, ``model`` and
        ``percentile`` are the run's own, for a mapping that lacks them."""
        given = {k: v for k, v in flat.items() if v is not None}
        f = completed({"mode": mode, "model": model, "percentile": percentile, **given})
        return cls(
            mode=LoadMode(f["mode"]), model=str(f["model"]),
            model_version=str(f["model_version"]), batch_size=int(f["batch_size"]),
            protocol=str(f["protocol"]), measurement_mode=str(f["measurement_mode"]),
            measurement_interval_ms=int(f["measurement_interval_ms"]),
            request_count=int(f["request_count"]),
            measurement_request_count=int(f["measurement_request_count"]),
            adaptive=bool(f["adaptive"]), async_mode=bool(f["async_mode"]),
            stability_percentage=float(f["stability_percentage"]),
            stability_windows=int(f["stability_windows"]), max_trials=int(f["max_trials"]),
            percentile=int(f["percentile"]), latency_source=LatencySource(f["latency_from"]),
            latency_threshold_ms=float(f["latency_threshold_ms"]), goodput=f["goodput"],
            streaming=bool(f["streaming"]), endpoint=str(f["endpoint"]),
            orca_format=f["orca_format"], collect_metrics=bool(f["collect_metrics"]),
            csv_all_points=bool(f["csv_all_points"]), csv_streaming=bool(f["csv_streaming"]),
            request_distribution=str(f["request_distribution"]),
            request_burstiness=f["request_burstiness"], repeat=int(f["repeat"]))

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
    def count_windows(self) -> bool:
        """Windows close on a request count (count_windows, or --request-count's one window)."""
        return self.measurement_mode == "count_windows" or self.request_count > 0

    @property
    def window_requests(self) -> int:
        """Requests per count window (--request-count's one window, else the window's count)."""
        return self.request_count or self.measurement_request_count

    @property
    def streamed(self) -> bool:
        """Requests may have several responses: --streaming or the generate_stream endpoint."""
        return self.streaming or self.endpoint == "generate_stream"


__all__ = ["RunSettings"]
