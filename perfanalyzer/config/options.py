"""The run configuration: one frozen, keyword-only dataclass built from flags (or a config file).

Defaults are perf_analyzer's, as named constants. Validation that needs no server happens in
:meth:`RunConfig.validate`; everything that needs the model happens before any load is sent.
"""

from __future__ import annotations

import dataclasses
import enum
import math
from dataclasses import dataclass, field
from typing import Any

from ..client.errors import OptionError

DEFAULT_HTTP_URL = "localhost:8000"
DEFAULT_GRPC_URL = "localhost:8001"
DEFAULT_MEASUREMENT_INTERVAL_MS = 5000
DEFAULT_MEASUREMENT_REQUEST_COUNT = 50
DEFAULT_STABILITY_PCT = 10.0
DEFAULT_MAX_TRIALS = 10
DEFAULT_STABILITY_WINDOWS = 3
DEFAULT_STRING_LENGTH = 128
DEFAULT_OUTPUT_SHM_SIZE = 102400
DEFAULT_SEQUENCE_LENGTH = 20
DEFAULT_SEQUENCE_LENGTH_VARIATION = 20.0
DEFAULT_NUM_OF_SEQUENCES = 4
DEFAULT_METRICS_INTERVAL_MS = 1000


class LoadMode(str, enum.Enum):
    CONCURRENCY = "concurrency"
    REQUEST_RATE = "request_rate"
    CUSTOM_INTERVALS = "custom_intervals"


def parse_range(text: str, flag: str, *, integer: bool) -> tuple[float, float, float]:
    """Parse ``start[:end[:step]]`` as perf_analyzer does (end defaults to start, step to 1)."""
    parts = text.split(":")
    if not 1 <= len(parts) <= 3 or any(p.strip() == "" for p in parts):
        raise OptionError(f"{flag}: expected start[:end[:step]], got {text!r}")
    try:
        nums = [int(p) if integer else float(p) for p in parts]
    except ValueError:
        kind = "integers" if integer else "numbers"
        raise OptionError(f"{flag}: {text!r} must be {kind} start[:end[:step]]") from None
    if any(not math.isfinite(n) for n in nums):
        raise OptionError(f"{flag}: {text!r} must be finite")
    start = nums[0]
    end = nums[1] if len(nums) > 1 else start
    step = nums[2] if len(nums) > 2 else 1
    if start <= 0 if not integer else start < 1:
        raise OptionError(f"{flag}: start must be > 0, got {parts[0]}")
    if step <= 0:
        raise OptionError(f"{flag}: step must be > 0, got {parts[2]}")
    if end != 0 and end < start:
        raise OptionError(f"{flag}: end {parts[1]} is below start {parts[0]}")
    return float(start), float(end), float(step)


@dataclass(frozen=True, kw_only=True)
class RunConfig:
    """Every knob of a profiling run. Field names follow the long flag names."""

    model: str
    model_version: str = ""
    batch_size: int = 1
    url: str = ""
    protocol: str = "http"
    verbose: int = 0
    async_mode: bool = True
    streaming: bool = False
    headers: tuple[tuple[str, str], ...] = ()
    # load
    mode: LoadMode = LoadMode.CONCURRENCY
    concurrency_range: tuple[float, float, float] = (1, 1, 1)
    request_rate_range: tuple[float, float, float] = (1.0, 1.0, 1.0)
    request_distribution: str = "constant"
    request_intervals: str | None = None
    binary_search: bool = False
    latency_threshold_ms: float = 0.0
    max_threads: int = 0
    workers: int = 0
    # measurement
    measurement_mode: str = "time_windows"
    measurement_interval_ms: int = DEFAULT_MEASUREMENT_INTERVAL_MS
    measurement_request_count: int = DEFAULT_MEASUREMENT_REQUEST_COUNT
    stability_percentage: float = DEFAULT_STABILITY_PCT
    max_trials: int = DEFAULT_MAX_TRIALS
    stability_windows: int = DEFAULT_STABILITY_WINDOWS
    percentile: int = -1
    request_count: int = 0
    warmup_request_count: int = 0
    adaptive: bool = False
    # data
    input_data: tuple[str, ...] = ("random",)
    shapes: tuple[tuple[str, tuple[int, ...]], ...] = ()
    string_length: int = DEFAULT_STRING_LENGTH
    string_data: str | None = None
    input_tensor_format: str = "binary"
    output_tensor_format: str = "binary"
    # shared memory
    shared_memory: str = "none"
    output_shared_memory_size: int = DEFAULT_OUTPUT_SHM_SIZE
    output_shared_memory_size_given: bool = False
    # sequences
    sequence_length: int = DEFAULT_SEQUENCE_LENGTH
    sequence_length_given: bool = False
    sequence_length_variation: float = DEFAULT_SEQUENCE_LENGTH_VARIATION
    sequence_id_range: tuple[int, int] = (1, 0)
    num_of_sequences: int = DEFAULT_NUM_OF_SEQUENCES
    serial_sequences: bool = False
    # transport
    ssl_grpc_use_ssl: bool = False
    ssl_grpc_root_certifications_file: str | None = None
    ssl_grpc_private_key_file: str | None = None
    ssl_grpc_certificate_chain_file: str | None = None
    ssl_https_verify_peer: int = 1
    ssl_https_verify_host: int = 2
    ssl_https_ca_certificates_file: str | None = None
    ssl_https_client_certificate_file: str | None = None
    ssl_https_private_key_file: str | None = None
    grpc_compression_algorithm: str = "none"
    http_compression: str = "none"
    # output
    filename: str | None = None
    verbose_csv: bool = False
    profile_export_file: str | None = None
    collect_metrics: bool = False
    metrics_url: str | None = None
    metrics_interval_ms: int = DEFAULT_METRICS_INTERVAL_MS
    baseline: str | None = None
    repeat: int = 1  # gate (issue 15): measure the whole sweep this many times
    # local server
    launch_server: bool = False
    model_repository: str | None = None
    seed: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def server_url(self) -> str:
        if self.url:
            return self.url
        return DEFAULT_GRPC_URL if self.protocol == "grpc" else DEFAULT_HTTP_URL

    @property
    def latency_threshold_ns(self) -> int:
        return int(self.latency_threshold_ms * 1_000_000)

    def replace(self, **changes: Any) -> RunConfig:
        return dataclasses.replace(self, **changes)

    def validate(self) -> RunConfig:
        """Checks that need no server; raises OptionError naming the flag."""
        _check(bool(self.model), "-m: a model name is required")
        _check(self.protocol in ("http", "grpc"), f"-i: expected http or grpc, got {self.protocol!r}")
        _check(self.batch_size >= 1, f"-b: batch size must be >= 1, got {self.batch_size}")
        _check(self.measurement_mode in ("time_windows", "count_windows"),
               f"--measurement-mode: expected time_windows or count_windows, "
               f"got {self.measurement_mode!r}")
        _check(self.measurement_interval_ms > 0, "-p: --measurement-interval must be > 0")
        _check(self.measurement_request_count > 0, "--measurement-request-count must be > 0")
        _check(self.stability_percentage >= 0, "-s: --stability-percentage must be >= 0")
        _check(self.max_trials >= 1, "-r: --max-trials must be >= 1")
        _check(self.stability_windows >= 1,
               f"--stability-windows must be >= 1, got {self.stability_windows}")
        _check(self.repeat >= 1, f"--repeat must be >= 1, got {self.repeat}")  # gate (issue 15)
        _check(self.percentile == -1 or 1 <= self.percentile <= 99,
               f"--percentile: expected 1..99, got {self.percentile}")
        _check(self.request_count >= 0, "--request-count must be >= 0")
        _check(self.warmup_request_count >= 0, "--warmup-request-count must be >= 0")
        _check(self.latency_threshold_ms >= 0, "-l: --latency-threshold must be >= 0")
        _check(self.request_distribution in ("constant", "poisson"),
               f"--request-distribution: expected constant or poisson, "
               f"got {self.request_distribution!r}")
        _check(self.shared_memory in ("none", "system", "cuda"),
               f"--shared-memory: expected none, system or cuda, got {self.shared_memory!r}")
        _check(self.output_shared_memory_size > 0, "--output-shared-memory-size must be > 0")
        _check(self.string_length >= 0, "--string-length must be >= 0")
        _check(self.grpc_compression_algorithm in ("none", "gzip", "deflate"),
               "--grpc-compression-algorithm: expected none, gzip or deflate")
        _check(not self.streaming or self.protocol == "grpc",
               "--streaming: streaming needs the gRPC protocol (-i grpc)")
        _check(self.input_tensor_format in ("binary", "json")
               and self.output_tensor_format in ("binary", "json"),
               "--input-tensor-format/--output-tensor-format: expected binary or json")
        self._validate_load()
        return self

    def _validate_load(self) -> None:
        start, end, _step = (self.concurrency_range if self.mode is LoadMode.CONCURRENCY
                             else self.request_rate_range)
        flag = ("--concurrency-range" if self.mode is LoadMode.CONCURRENCY
                else "--request-rate-range")
        if self.mode is not LoadMode.CUSTOM_INTERVALS and end == 0:
            _check(self.latency_threshold_ms > 0,
                   f"{flag}: end 0 (no limit) needs -l/--latency-threshold")
        if self.binary_search:
            _check(self.mode is not LoadMode.CUSTOM_INTERVALS,
                   "--binary-search does not work with --request-intervals")
            _check(self.latency_threshold_ms > 0, "--binary-search needs -l/--latency-threshold")
            _check(end > start, f"--binary-search needs {flag} start:end with end > start")
        multi = end != start
        _check(not (self.warmup_request_count and multi),
               "--warmup-request-count: not allowed with a multi-value load range")
        sid_start, sid_end = self.sequence_id_range
        _check(sid_start >= 0 and (sid_end == 0 or sid_end >= sid_start),
               "--sequence-id-range: expected start[:end] with end >= start")


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise OptionError(message)
