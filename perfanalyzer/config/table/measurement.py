"""The option table's measurement group: how windows are measured and judged."""

from __future__ import annotations

from dataclasses import dataclass

from .. import defaults as d
from ..choices import StrChoice
from ..choices import nonneg as _nonneg
from ..choices import pos as _pos
from ..goodput import parse_goodput
from ..option import opt
from .load import NOT_PERIODIC


def _goodput(raw: str, flag: str) -> str:
    """Checked now (one-line error naming the flag), kept as written (the saved run's config)."""
    parse_goodput(raw, flag)
    return str(raw)


class LatencySource(StrChoice):
    """Which latency the CSV, the stabilizer, -l and the gate use in rate modes: from the actual
    send (perf_analyzer's) or from the scheduled one (coordinated omission corrected)."""

    SENT = "sent"
    SCHEDULED = "scheduled"


@dataclass(frozen=True, kw_only=True)
class MeasurementConfig:
    """How windows are measured and judged."""

    measurement_mode: str = opt("time_windows", "--measurement-mode", show_default=True,
                                choices=("time_windows", "count_windows"),
                                modes=NOT_PERIODIC, mpi_agree=True,
                                help="time_windows: windows of -p ms; count_windows: windows of "
                                "--measurement-request-count requests.")
    measurement_interval_ms: int = opt(
        d.DEFAULT_MEASUREMENT_INTERVAL_MS, "-p", "--measurement-interval", kind=int,
        show_default=True, check=_pos, message="-p: --measurement-interval must be > 0",
        help="Window length in ms (time_windows).",
        modes=NOT_PERIODIC, mpi_agree=True)
    measurement_request_count: int = opt(
        d.DEFAULT_MEASUREMENT_REQUEST_COUNT, "--measurement-request-count", kind=int,
        show_default=True, check=_pos, message="--measurement-request-count must be > 0",
        help="Requests per window (count_windows).",
        modes=NOT_PERIODIC, mpi_agree=True)
    stability_percentage: float = opt(
        d.DEFAULT_STABILITY_PCT, "-s", "--stability-percentage", kind=float, show_default=True,
        check=_nonneg, message="-s: --stability-percentage must be >= 0",
        help="Allowed max/min spread over the last 3 windows, %.",
        modes=NOT_PERIODIC, mpi_agree=True)
    max_trials: int = opt(d.DEFAULT_MAX_TRIALS, "-r", "--max-trials", kind=int, show_default=True,
                          check=lambda v: v >= 1, message="-r: --max-trials must be >= 1",
                          help="Windows before giving up on stability.",
                          modes=NOT_PERIODIC, mpi_agree=True)
    stability_windows: int = opt(
        d.DEFAULT_STABILITY_WINDOWS, "--stability-windows", kind=int, show_default=True,
        check=lambda v: v >= 1, message="--stability-windows must be >= 1, got {value}",
        help="Windows the stability rule looks at and the reported figures merge "
        "(perf_analyzer: 3; more is a perfanalyzer extension).",
        modes=NOT_PERIODIC, mpi_agree=True)
    percentile: int = opt(-1, "--percentile", kind=int, check=lambda v: v == -1 or 1 <= v <= 99,
                          message="--percentile: expected 1..99, got {value}",
                          help="Stabilize on this latency percentile instead of the average.",
                          mpi_agree=True)
    request_count: int = opt(0, "--request-count", kind=int, check=_nonneg,
                             message="--request-count must be >= 0",
                             help="Measure exactly this many requests in one window.",
                             modes=NOT_PERIODIC, mpi_agree=True)
    warmup_request_count: int = opt(0, "--warmup-request-count", kind=int, check=_nonneg,
                                    message="--warmup-request-count must be >= 0",
                                    help="Requests sent before measuring, not counted.",
                                    modes=NOT_PERIODIC, mpi_agree=True)
    adaptive: bool = opt(False, "--adaptive", switch=True, help="Lengthen windows until the "
                         "spread is within -s (perfanalyzer extension).",
                         modes=NOT_PERIODIC, mpi_agree=True)
    latency_threshold_ms: float = opt(0.0, "-l", "--latency-threshold", kind=float,
                                      show_default=True, check=_nonneg,
                                      message="-l: --latency-threshold must be >= 0",
                                      help="Latency limit in ms (0 = none).",
                                      modes=NOT_PERIODIC, figures=False, mpi_agree=True,
                                      search_refused="use --latency-budget-ms (the sweep stops there)")
    latency_from: str = opt(
        LatencySource.SENT.value, "--latency-from", choices=tuple(s.value for s in LatencySource),
        show_default=True,
        help="Rate modes: latency for the CSV, stabilizer, -l and gate: from the actual send "
        "(perf_analyzer's) or the scheduled one (coordinated omission corrected).",
        modes=NOT_PERIODIC)
    goodput: str | None = opt(
        None, "--goodput", metavar="\"KEY:MS ...\"", parse=_goodput,
        help="Goodput limits: a request counts when it meets every one; keys latency (to the "
        "last response), ttfr (to the first), itl (its own average gap between responses).")
    # replicate runs, for the regression gate
    repeat: int = opt(1, "--repeat", kind=int, show_default=True, check=_pos, metavar="N",
                      message="--repeat must be >= 1, got {value}",
                      help="Measure the whole sweep N times (run 1 all points, run 2 all "
                      "points...); figures are shown with their 95% CI across runs, the CSV "
                      "pools the runs, the gate judges run-to-run noise.",
                      modes=NOT_PERIODIC, figures=False,
                      search_refused="the finalists are re-measured as --replicates runs")

    @property
    def latency_threshold_ns(self) -> int:
        return int(self.latency_threshold_ms * 1_000_000)

    @property
    def count_windows(self) -> bool:
        return self.measurement_mode == "count_windows" or self.request_count > 0
