"""The option table: every flag of ``perfanalyzer profile`` declared once, as a field of a frozen,
grouped configuration.

Each field declared with :func:`~perfanalyzer.config.option.opt` is a flag: its default, flags,
help, click type, parsing and one-field check are here and nowhere else. From this table follow the
click options (:mod:`perfanalyzer.cli.options`), the TOML keys of ``--config`` (long flag names,
:mod:`perfanalyzer.config.file`), the build from raw values and the validation
(:mod:`perfanalyzer.config.build`, :mod:`perfanalyzer.config.validate`).

**Adding a flag**: add one ``name: type = opt(DEFAULT, "--flag", help=...)`` line to its group below,
then use ``cfg.<group>.name`` where it matters. Field names are unique across groups: the saved run
(``--profile-export-file``) keeps them as one flat mapping (:meth:`RunConfig.flat`).
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass
from typing import Any, cast

from . import defaults as d
from . import parse as p
from .choices import (
    COMPRESSION,
    EVENT_LOOPS,
    GRPC_TRANSPORTS,
    KEY_TYPES,
    SERVICE_KINDS,
    TENSOR_FORMATS,
    TRACE_LEVELS,
)
from .choices import finite_nonneg as _finite_nonneg
from .choices import nonneg as _nonneg
from .choices import pos as _pos
from .dims import INT_LIST, first_batch_size, first_shape_set  # search/multi-dim
from .option import opt
from .safety import (
    DEFAULT_CONNECT_TIMEOUT_S,
    DEFAULT_REQUEST_TIMEOUT_S,
    DEFAULT_STARTUP_TIMEOUT_S,
    MAX_CONCURRENCY,
)


class LoadMode(str, enum.Enum):
    CONCURRENCY = "concurrency"
    REQUEST_RATE = "request_rate"
    CUSTOM_INTERVALS = "custom_intervals"
    PERIODIC = "periodic_concurrency"


@dataclass(frozen=True, kw_only=True)
class ServerConfig:
    """Which server and model."""

    model: str = opt("", "-m", "--model-name", help="Model to profile (required).")
    service_kind: str = opt("triton", "--service-kind", choices=SERVICE_KINDS, show_default=True,
                            check=lambda v: v == "triton",
                            message="--service-kind {value}: only 'triton' (KServe v2 over "
                            "HTTP/gRPC) is supported",
                            help="Only 'triton' (KServe v2 over HTTP/gRPC) is supported; the "
                            "others are refused.")
    model_version: str = opt("", "-x", "--model-version", help="Model version (default: latest).")
    url: str = opt("", "-u", "--url", help="Server URL (default localhost:8000 for HTTP, "
                   "localhost:8001 for gRPC).")
    protocol: str = opt("http", "-i", "--protocol", choices=("http", "grpc"), ignore_case=True,
                        show_default=True)
    launch_server: bool = opt(False, "--launch-server", switch=True,
                              help="Start a local Triton with the bundled models for this run.")
    model_repository: str | None = opt(None, "--model-repository",
                                       help="Model repository for --launch-server.")
    # Triton's trace settings for the model, set for the run and restored after (profile/trace.py)
    trace_level: str | None = opt(None, "--trace-level", metavar="OFF|TIMESTAMPS|TENSORS",
                                  check=lambda v: v is None or v in TRACE_LEVELS,
                                  message="--trace-level: expected OFF, TIMESTAMPS or TENSORS, "
                                  "got {value!r}",
                                  help="Set the model's Triton trace level for the run (v2/models/"
                                  "M/trace/setting; restored afterwards; HTTP only).")
    trace_rate: int | None = opt(None, "--trace-rate", kind=int, metavar="N",
                                 check=lambda v: v is None or v >= 1,
                                 message="--trace-rate must be >= 1, got {value}",
                                 help="Trace every N-th request (Triton trace setting, restored "
                                 "after).")
    trace_count: int | None = opt(None, "--trace-count", kind=int, metavar="N",
                                  check=lambda v: v is None or v >= -1,
                                  message="--trace-count must be >= -1 (-1 = no limit), got {value}",
                                  help="Stop tracing after N traces, -1 = no limit (restored "
                                  "after).")
    log_frequency: int | None = opt(None, "--log-frequency", kind=int, metavar="N",
                                    check=lambda v: v is None or v >= 0,
                                    message="--log-frequency must be >= 0, got {value}",
                                    help="Triton writes the trace file every N traces, 0 = at the "
                                    "end (restored after).")
    # issue 14 (branch trust)
    bls_composing_models: tuple[tuple[str, str], ...] = opt(
        (), "--bls-composing-models", cli_default=None, metavar="NAME[:VERSION],...",
        parse=p.bls_models, help="Models a BLS model calls: their server statistics are read "
        "and each gets its own CSV <name>_v<version>.<filename>.")

    @property
    def server_url(self) -> str:
        if self.url:
            return self.url
        return d.DEFAULT_GRPC_URL if self.protocol == "grpc" else d.DEFAULT_HTTP_URL


@dataclass(frozen=True, kw_only=True)
class LoadConfig:
    """When requests go: the load mode, its levels, sequences."""

    async_flag: bool = opt(False, "-a", "--async", switch=True,
                           help="Asynchronous requests (the default).")
    async_mode: bool = opt(True, "--sync", switch=True, param="sync", cli_default=False,
                           parse=lambda v, _f: not v, help="Synchronous semantics: one blocking "
                           "request per concurrency slot (same load shape as async in perfanalyzer).")
    streaming: bool = opt(False, "--streaming", switch=True,
                          help="gRPC bidirectional streaming (decoupled models).")
    #: Derived from which of the three load flags was given (see config.build).
    mode: LoadMode = LoadMode.CONCURRENCY
    concurrency_range: tuple[int, int, int] = opt(
        (1, 1, 1), "--concurrency-range", cli_default=None, metavar="START[:END[:STEP]]",
        parse=p.int_range, help="Concurrency sweep (default 1). END 0 = until -l is exceeded.")
    request_rate_range: tuple[float, float, float] = opt(
        (1.0, 1.0, 1.0), "--request-rate-range", cli_default=None, metavar="START[:END[:STEP]]",
        parse=p.float_range, help="Request-rate sweep in requests/s (floats): open-loop load.")
    request_distribution: str = opt("constant", "--request-distribution",
                                    choices=("constant", "poisson"), show_default=True)
    request_intervals: str | None = opt(None, "--request-intervals", metavar="FILE",
                                        help="Custom send intervals in µs, one per line, looped.")
    fixed_schedule: bool = opt(False, "--fixed-schedule", switch=True,
                               help="Send each request at its --input-data entry's \"timestamp\" "
                               "(ms), in order: one window of all entries (less "
                               "--warmup-request-count).")
    # perf_analyzer's periodic concurrency mode (load/periodic.py)
    periodic_concurrency_range: tuple[int, int, int] | None = opt(
        None, "--periodic-concurrency-range", metavar="START:END[:STEP]", parse=p.periodic_range,
        help="Streaming: send START requests, then STEP more each time every request of the last "
        "step got --request-period responses, up to END requests; one record set, no windows "
        "(needs --streaming and --profile-export-file).")
    request_period: int = opt(10, "--request-period", kind=int, cli_default=None, check=_pos,
                              metavar="N", message="--request-period must be > 0, got {value}",
                              help="Responses each request of a step gets before the next step "
                              "starts [default: 10]; with --periodic-concurrency-range only.")
    binary_search: bool = opt(False, "--binary-search", switch=True,
                              help="Binary search between START and END for the highest load "
                              "under -l (STEP = precision).")
    max_threads: int = opt(0, "--max-threads", kind=int, check=_nonneg,
                           message="--max-threads must be >= 0, got {value}",
                           help="Cap on requests in flight in request-rate modes (0 = no cap).")
    workers: int = opt(0, "--workers", kind=int, check=_nonneg,
                       message="--workers must be >= 0, got {value}",
                       help="Load worker processes (0 = automatic).")
    # --- MPI (issue 17, perfanalyzer/mpi) ---
    enable_mpi: bool = opt(False, "--enable-mpi", switch=True,
                           help="Run as one rank under mpiexec: ranks start levels and cut windows "
                           "together; ranks on the same model and URL merge their load (needs the "
                           "mpi extra).")
    # --- end MPI ---
    # issue 13 (never harm): ceilings, see config/safety.py
    force: bool = opt(False, "--force", switch=True, help="Allow a concurrency above "
                      f"{MAX_CONCURRENCY} and more --workers than cores.")
    sequence_length: int = opt(d.DEFAULT_SEQUENCE_LENGTH, "--sequence-length", kind=int,
                               cli_default=None, given="sequence_length_given",
                               help=f"Requests per sequence (default {d.DEFAULT_SEQUENCE_LENGTH}).")
    sequence_length_given: bool = False
    sequence_length_variation: float = opt(
        d.DEFAULT_SEQUENCE_LENGTH_VARIATION, "--sequence-length-variation", kind=float,
        show_default=True, help="± % around --sequence-length.")
    sequence_id_range: tuple[int, int] = opt((1, 0), "--sequence-id-range", cli_default=None,
                                             metavar="START[:END]", parse=p.id_range)
    num_of_sequences: int = opt(d.DEFAULT_NUM_OF_SEQUENCES, "--num-of-sequences", kind=int,
                                show_default=True, check=lambda v: v >= 1,
                                message="--num-of-sequences must be >= 1, got {value}",
                                help="Live sequences in request-rate modes.")
    serial_sequences: bool = opt(False, "--serial-sequences", switch=True,
                                 help="At most one request in flight per sequence.")


@dataclass(frozen=True, kw_only=True)
class MeasurementConfig:
    """How windows are measured and judged."""

    measurement_mode: str = opt("time_windows", "--measurement-mode", show_default=True,
                                choices=("time_windows", "count_windows"))
    measurement_interval_ms: int = opt(
        d.DEFAULT_MEASUREMENT_INTERVAL_MS, "-p", "--measurement-interval", kind=int,
        show_default=True, check=_pos, message="-p: --measurement-interval must be > 0",
        help="Window length in ms (time_windows).")
    measurement_request_count: int = opt(
        d.DEFAULT_MEASUREMENT_REQUEST_COUNT, "--measurement-request-count", kind=int,
        show_default=True, check=_pos, message="--measurement-request-count must be > 0",
        help="Requests per window (count_windows).")
    stability_percentage: float = opt(
        d.DEFAULT_STABILITY_PCT, "-s", "--stability-percentage", kind=float, show_default=True,
        check=_nonneg, message="-s: --stability-percentage must be >= 0",
        help="Allowed max/min spread over the last 3 windows, %.")
    max_trials: int = opt(d.DEFAULT_MAX_TRIALS, "-r", "--max-trials", kind=int, show_default=True,
                          check=lambda v: v >= 1, message="-r: --max-trials must be >= 1",
                          help="Windows before giving up on stability.")
    stability_windows: int = opt(
        d.DEFAULT_STABILITY_WINDOWS, "--stability-windows", kind=int, show_default=True,
        check=lambda v: v >= 1, message="--stability-windows must be >= 1, got {value}",
        help="Windows the stability rule looks at and the reported figures merge "
        "(perf_analyzer: 3; more is a perfanalyzer extension).")
    percentile: int = opt(-1, "--percentile", kind=int, check=lambda v: v == -1 or 1 <= v <= 99,
                          message="--percentile: expected 1..99, got {value}",
                          help="Stabilize on this latency percentile instead of the average.")
    request_count: int = opt(0, "--request-count", kind=int, check=_nonneg,
                             message="--request-count must be >= 0",
                             help="Measure exactly this many requests in one window.")
    warmup_request_count: int = opt(0, "--warmup-request-count", kind=int, check=_nonneg,
                                    message="--warmup-request-count must be >= 0",
                                    help="Requests sent before measuring, not counted.")
    adaptive: bool = opt(False, "--adaptive", switch=True, help="Lengthen windows until the "
                         "spread is within -s (perfanalyzer extension).")
    latency_threshold_ms: float = opt(0.0, "-l", "--latency-threshold", kind=float,
                                      show_default=True, check=_nonneg,
                                      message="-l: --latency-threshold must be >= 0",
                                      help="Latency limit in ms (0 = none).")
    # issue 14 (branch trust)
    latency_from: str = opt(
        "sent", "--latency-from", choices=("sent", "scheduled"), show_default=True,
        help="Rate modes: latency for the CSV, stabilizer, -l and gate: from the actual send "
        "(perf_analyzer's) or the scheduled one (coordinated omission corrected).")
    # gate (issue 15): replicate runs
    repeat: int = opt(1, "--repeat", kind=int, show_default=True, check=_pos, metavar="N",
                      message="--repeat must be >= 1, got {value}",
                      help="Measure the whole sweep N times (run 1 all points, run 2 all "
                      "points...); figures are shown with their 95% CI across runs, the CSV "
                      "pools the runs, the gate judges run-to-run noise.")

    @property
    def latency_threshold_ns(self) -> int:
        return int(self.latency_threshold_ms * 1_000_000)

    @property
    def count_windows(self) -> bool:
        return self.measurement_mode == "count_windows" or self.request_count > 0


@dataclass(frozen=True, kw_only=True)
class InputsConfig:
    """What each request carries."""

    # -- search/multi-dim: -b 1,2,4 and --shape NAME:A|B give lists; the field holds the first,
    # batch_sizes / shape_sets the lists (config/dims.py; build() fills them) --
    batch_size: int = opt(d.DEFAULT_BATCH_SIZE, "-b", "--batch-size", kind=cast(type, INT_LIST),
                          cli_default=str(d.DEFAULT_BATCH_SIZE), show_default=True,
                          parse=first_batch_size, check=_pos, metavar="B[,B...]",
                          message="-b: batch size must be >= 1, got {value}",
                          help="Batch size; a list (1,2,4) sweeps each, into one CSV.")
    batch_sizes: tuple[int, ...] = ()
    input_data: tuple[str, ...] = opt(("random",), "--input-data", multiple=True, cli_default=(),
                                      metavar="zero|random|DIR|FILE.json",
                                      help="Input data (repeatable; default random).")
    shapes: tuple[tuple[str, tuple[int, ...]], ...] = opt(
        (), "--shape", param="shapes", multiple=True, metavar="NAME:D1,D2[|D1,D2...]",
        parse=first_shape_set,
        help="Shape of a dynamic input, without the batch dimension (repeatable). Alternatives "
        "separated by | form shape sets, each swept (k-th set: k-th alternative of every such "
        "input).")
    shape_sets: tuple[tuple[tuple[str, tuple[int, ...]], ...], ...] = ()
    string_length: int = opt(d.DEFAULT_STRING_LENGTH, "--string-length", kind=int,
                             show_default=True, check=_nonneg,
                             message="--string-length must be >= 0")
    string_data: str | None = opt(None, "--string-data",
                                  help="Use this string for every BYTES element.")
    input_tensor_format: str = opt("binary", "--input-tensor-format", choices=TENSOR_FORMATS)
    output_tensor_format: str = opt("binary", "--output-tensor-format", choices=TENSOR_FORMATS)
    shared_memory: str = opt("none", "--shared-memory", choices=("none", "system", "cuda"),
                             show_default=True)
    output_shared_memory_size: int = opt(
        d.DEFAULT_OUTPUT_SHM_SIZE, "--output-shared-memory-size", kind=int, cli_default=None,
        given="output_shared_memory_size_given", check=_pos,
        message="--output-shared-memory-size must be > 0",
        help=f"Bytes per output (per batch item) when its size is unknown "
        f"[default: {d.DEFAULT_OUTPUT_SHM_SIZE}].")
    output_shared_memory_size_given: bool = False
    seed: int = opt(d.DEFAULT_SEED, "--seed", kind=int, help="Seed for random data and schedules.")
    request_parameters: tuple[tuple[str, str, str], ...] = opt(
        (), "--request-parameter", param="request_parameter", multiple=True,
        metavar="NAME:VALUE:TYPE", parse=p.request_parameters,
        help="Request parameter sent with every request; TYPE bool, int or string (repeatable; "
        "HTTP and gRPC).")
    # issue 13: memory for generated input data, checked before allocating (inputs/budget.py)
    input_memory_limit_mb: float = opt(
        0.0, "--input-memory-limit", kind=float, check=_finite_nonneg,
        message="--input-memory-limit: expected MB >= 0, got {value}",
        help="MB the generated input data may take (0 = half of the memory available at start).")


@dataclass(frozen=True, kw_only=True)
class TransportConfig:
    """How requests travel: headers, TLS, compression."""

    headers: tuple[tuple[str, str], ...] = opt((), "-H", "--header", param="headers",
                                               multiple=True, parse=p.headers,
                                               help="HTTP header 'Name:Value' (repeatable).")
    ssl_grpc_use_ssl: bool = opt(False, "--ssl-grpc-use-ssl", switch=True)
    ssl_grpc_root_certifications_file: str | None = opt(None, "--ssl-grpc-root-certifications-file")
    ssl_grpc_private_key_file: str | None = opt(None, "--ssl-grpc-private-key-file")
    ssl_grpc_certificate_chain_file: str | None = opt(None, "--ssl-grpc-certificate-chain-file")
    ssl_https_verify_peer: int = opt(1, "--ssl-https-verify-peer", kind=int, bounds=(0, 1))
    ssl_https_verify_host: int = opt(2, "--ssl-https-verify-host", kind=int, bounds=(0, 2))
    ssl_https_ca_certificates_file: str | None = opt(None, "--ssl-https-ca-certificates-file")
    ssl_https_client_certificate_file: str | None = opt(None,
                                                        "--ssl-https-client-certificate-file")
    ssl_https_private_key_file: str | None = opt(None, "--ssl-https-private-key-file")
    ssl_https_client_certificate_type: str = opt(
        "pem", "--ssl-https-client-certificate-type", choices=KEY_TYPES, ignore_case=True,
        show_default=True, help="Format of --ssl-https-client-certificate-file: PEM or DER.")
    ssl_https_private_key_type: str = opt(
        "pem", "--ssl-https-private-key-type", choices=KEY_TYPES, ignore_case=True,
        show_default=True, help="Format of --ssl-https-private-key-file: PEM or DER.")
    grpc_compression_algorithm: str = opt("none", "--grpc-compression-algorithm",
                                          choices=COMPRESSION)
    http_compression: str = opt("none", "--http-compression", choices=COMPRESSION,
                                help="Compress HTTP request bodies (perfanalyzer extension).")
    grpc_transport: str = opt("lean", "--grpc-transport", choices=GRPC_TRANSPORTS,
                              show_default=True, help="gRPC send path: lean (perfanalyzer's own "
                              "HTTP/2 connections, less client CPU) or grpcio (grpc.aio). TLS, "
                              "compression or keepalive always use grpcio. Recorded in the run's "
                              "provenance (perfanalyzer extension).")
    event_loop: str = opt("auto", "--event-loop", choices=EVENT_LOOPS, show_default=True,
                          help="Event loop: uvloop, asyncio, or auto (uvloop when installed). "
                          "Recorded in the run's provenance (perfanalyzer extension).")
    # --- issue 13 (never harm, never hang): secrets and time limits ---
    secret_headers: tuple[str, ...] = opt(
        (), "--secret-header", multiple=True, cli_default=(), metavar="NAME",
        help="Treat this -H header's value as a secret: never written or printed (repeatable; "
        "Authorization, Proxy-Authorization, Cookie and Set-Cookie always are).")
    connect_timeout_s: float = opt(
        DEFAULT_CONNECT_TIMEOUT_S, "--connect-timeout", kind=float, show_default=True,
        check=_finite_nonneg, message="--connect-timeout: expected seconds >= 0, got {value}",
        help="Seconds to open a connection (0 = no limit).")
    startup_timeout_s: float = opt(
        DEFAULT_STARTUP_TIMEOUT_S, "--startup-timeout", kind=float, show_default=True,
        check=_finite_nonneg, message="--startup-timeout: expected seconds >= 0, got {value}",
        help="Seconds for each start-up call (health, metadata, config, statistics) before the "
        "run ends (0 = no limit).")
    request_timeout_s: float = opt(
        DEFAULT_REQUEST_TIMEOUT_S, "--request-timeout", kind=float, show_default=True,
        check=_finite_nonneg, message="--request-timeout: expected seconds >= 0, got {value}",
        help="Seconds before a request counts as failed (0 = no limit).")


@dataclass(frozen=True, kw_only=True)
class OutputConfig:
    """What is written, and the baseline gate."""

    verbose: int = opt(0, "-v", "--verbose", count=True, help="-v: perf_analyzer's 'Pass [n] "
                       "throughput: ...' line after every measurement window; -v -v adds a detail "
                       "line per window.")
    filename: str | None = opt(None, "-f", "--filename", metavar="FILE.csv",
                               help="Write perf_analyzer's CSV.")
    verbose_csv: bool = opt(False, "--verbose-csv", switch=True)
    profile_export_file: str | None = opt(None, "--profile-export-file", metavar="FILE.json",
                                          help="Write every request and window as JSON "
                                          "(re-reportable).")
    collect_metrics: bool = opt(False, "--collect-metrics", switch=True,
                                help="Scrape the server's Prometheus metrics while measuring (GPU "
                                "columns in --verbose-csv; CPU/GPU figures on the console and in "
                                "the JSON export).")
    metrics_url: str | None = opt(None, "--metrics-url", metavar="HOST:PORT/PATH",
                                  help="Metrics endpoint (default: -u's host, port 8002, "
                                  "/metrics); needs --collect-metrics.")
    metrics_interval_ms: int = opt(d.DEFAULT_METRICS_INTERVAL_MS, "--metrics-interval", kind=int,
                                   cli_default=None, metavar="MS", check=_pos,
                                   message="--metrics-interval must be > 0, got {value}",
                                   help=f"Time between scrapes in ms [default: "
                                   f"{d.DEFAULT_METRICS_INTERVAL_MS}]; needs --collect-metrics.")
    baseline: str | None = opt(None, "--baseline", metavar="RUN.json|CSV",
                               help="Compare with this baseline after the run and fail on a "
                               "regression.")
    # issue 14 (branch trust)
    csv_all_points: bool = opt(False, "--csv-all-points", switch=True, help="-f: every point, "
                               "with a trailing 'Status' column (default: stable points under -l "
                               "only, as perf_analyzer).")
    export_tensors: bool = opt(
        False, "--export-tensors", switch=True, help="--profile-export-file: write each "
        "request's request_inputs and response_outputs (perf_analyzer's format; a closed loop "
        "that decodes every answer, concurrency mode only).")


@dataclass(frozen=True, kw_only=True)
class RunConfig:
    """Every knob of a profiling run, grouped. Build it from flags (:func:`config.build.build`),
    from flat field names (:meth:`of`), or group by group."""

    server: ServerConfig = dataclasses.field(
        default_factory=ServerConfig, metadata={"group": ServerConfig})
    load: LoadConfig = dataclasses.field(
        default_factory=LoadConfig, metadata={"group": LoadConfig})
    measurement: MeasurementConfig = dataclasses.field(
        default_factory=MeasurementConfig, metadata={"group": MeasurementConfig})
    inputs: InputsConfig = dataclasses.field(
        default_factory=InputsConfig, metadata={"group": InputsConfig})
    transport: TransportConfig = dataclasses.field(
        default_factory=TransportConfig, metadata={"group": TransportConfig})
    output: OutputConfig = dataclasses.field(
        default_factory=OutputConfig, metadata={"group": OutputConfig})

    @classmethod
    def of(cls, **flat: Any) -> RunConfig:
        """A config from flat field names (``RunConfig.of(model="m", batch_size=4)``)."""
        return cls().replace(**flat)

    def replace(self, **flat: Any) -> RunConfig:
        """A copy with fields changed by their (flat, unique) names."""
        changes: dict[str, dict[str, Any]] = {}
        for name, value in flat.items():
            group = GROUP_OF.get(name)
            if group is None:
                raise TypeError(f"RunConfig has no field {name!r}")
            changes.setdefault(group, {})[name] = value
        return dataclasses.replace(self, **{
            g: dataclasses.replace(getattr(self, g), **kw) for g, kw in changes.items()})

    def flat(self) -> dict[str, Any]:
        """Every field by its flat name (the saved run's ``config`` mapping); enums as values."""
        out: dict[str, Any] = {}
        for g in GROUPS:
            for f in dataclasses.fields(GROUPS[g]):
                value = getattr(getattr(self, g), f.name)
                out[f.name] = value.value if isinstance(value, enum.Enum) else value
        return out

    def validate(self) -> RunConfig:
        """Checks that need no server; raises OptionError naming the flag."""
        from .validate import validate

        validate(self)
        return self


#: group name → its class, in table (and --help) order.
GROUPS: dict[str, type] = {f.name: f.metadata["group"] for f in dataclasses.fields(RunConfig)}
#: flat field name → its group.
GROUP_OF: dict[str, str] = {f.name: g for g, cls in GROUPS.items()
                            for f in dataclasses.fields(cls)}

__all__ = ["GROUPS", "GROUP_OF", "InputsConfig", "LoadConfig", "LoadMode", "MeasurementConfig",
           "OutputConfig", "RunConfig", "ServerConfig", "TransportConfig"]
