"""Validation that needs no server: every field's own check (from the option table), then the
checks across fields. One-line :class:`OptionError` naming the flag."""

from __future__ import annotations

import math
import os
from typing import Any

from ..errors import OptionError
from . import defaults as d
from .option import Entry, entries
from .safety import validate_safety
from .table import LoadMode, RunConfig


def check_field(entry: Entry, value: Any) -> None:
    """The table's check of one field (choices, bounds, ``check``)."""
    o = entry.option
    if o.kind is float and isinstance(value, float) and not math.isfinite(value):
        raise OptionError(f"{o.short}: expected a finite number, got {value}")
    if o.choices and value is not None and value not in o.choices:  # (None: not given)
        *first, last = o.choices
        raise OptionError(f"{o.short}: expected {', '.join(first)} or {last}, got {value!r}")
    if o.bounds is not None and not o.bounds[0] <= value <= o.bounds[1]:
        raise OptionError(f"{o.long}: expected {o.bounds[0]}..{o.bounds[1]}, got {value!r}")
    if o.check is not None and not o.check(value):
        raise OptionError(o.message.format(value=value))


def validate(cfg: RunConfig) -> None:
    """Raise OptionError on the first invalid field or combination."""
    _check(bool(cfg.server.model), "-m: a model name is required")
    for entry in entries(RunConfig):
        check_field(entry, getattr(getattr(cfg, entry.group), entry.name))
    load = cfg.load
    _check(not (load.async_flag and not load.async_mode),
           "-a/--async and --sync are mutually exclusive")
    _check(not load.streaming or cfg.server.protocol == "grpc",
           "--streaming: streaming needs the gRPC protocol (-i grpc)")
    _check(cfg.transport.grpc_compression_algorithm == "none" or cfg.server.protocol == "grpc",
           "--grpc-compression-algorithm: Using compression algorithm is only allowed with gRPC "
           "protocol (-i grpc; --http-compression compresses HTTP requests)")
    for flag, value in (("--http-compression", cfg.transport.http_compression),
                        ("--http-response-compression", cfg.transport.http_response_compression)):
        _check(value == "none" or cfg.server.protocol == "http",
               f"{flag}: HTTP only (over gRPC, --grpc-compression-algorithm compresses requests "
               "and the server's own setting its responses)")
    _validate_grpc_channel(cfg)
    _validate_load(cfg)
    _validate_request_count(cfg)
    _validate_files(cfg)
    _validate_endpoint(cfg)
    _check(load.request_burstiness is None or load.request_distribution == "gamma",
           "--request-burstiness: shapes the gaps of --request-distribution gamma only")
    _check(not cfg.output.csv_streaming or bool(cfg.output.filename),
           "--csv-streaming: adds columns to -f's CSV; give -f FILE.csv")
    validate_safety(cfg)  # issue 13: the concurrency ceiling


def _validate_endpoint(cfg: RunConfig) -> None:
    """Triton's generate extension is HTTP JSON: what it cannot carry is refused. ORCA load
    reports are HTTP headers."""
    _check(not cfg.transport.orca_format or cfg.server.protocol == "http",
           "--orca-format: ORCA load reports are HTTP response headers (-i http)")
    endpoint = cfg.transport.endpoint
    if endpoint == "infer":
        return
    flag = f"--endpoint {endpoint}"
    _check(cfg.server.protocol == "http", f"{flag}: the generate extension is HTTP (-i http)")
    _check(cfg.inputs.shared_memory == "none",
           f"{flag}: inputs travel in the JSON body (no --shared-memory)")
    _check(cfg.transport.http_compression == "none",
           f"{flag}: the generate body is sent as plain JSON (no --http-compression)")
    _check(not cfg.output.export_tensors,
           f"{flag}: --export-tensors decodes KServe infer answers only")


def _validate_load(cfg: RunConfig) -> None:
    load, threshold = cfg.load, cfg.measurement.latency_threshold_ms
    if load.mode is LoadMode.PERIODIC:
        _validate_periodic(cfg)
        return
    concurrency = load.mode is LoadMode.CONCURRENCY
    start, end, _step = load.concurrency_range if concurrency else load.request_rate_range
    flag = "--concurrency-range" if concurrency else "--request-rate-range"
    if load.mode is not LoadMode.CUSTOM_INTERVALS and end == 0:
        _check(threshold > 0, f"{flag}: end 0 (no limit) needs -l/--latency-threshold")
    if load.binary_search:
        _check(load.mode is not LoadMode.CUSTOM_INTERVALS,
               "--binary-search does not work with --request-intervals")
        _check(threshold > 0, "--binary-search needs -l/--latency-threshold")
        _check(end > start, f"--binary-search needs {flag} start:end with end > start")
    _check(not (cfg.measurement.warmup_request_count and end != start),
           "--warmup-request-count: not allowed with a multi-value load range")
    sid_start, sid_end = load.sequence_id_range
    _check(sid_start >= 0 and (sid_end == 0 or sid_end >= sid_start),
           "--sequence-id-range: expected start[:end] with end >= start")


def _validate_grpc_channel(cfg: RunConfig) -> None:
    """Keepalive and channel arguments are gRPC's; channel arguments only reach grpc.aio."""
    t = cfg.transport
    given = [flag for flag, on in (
        ("--grpc-keepalive-time", t.grpc_keepalive_time_ms != 0),
        ("--grpc-keepalive-timeout", t.grpc_keepalive_timeout_ms != d.DEFAULT_KEEPALIVE_TIMEOUT_MS),
        ("--grpc-channel-arg", bool(t.grpc_channel_args))) if on]
    if given and cfg.server.protocol != "grpc":
        raise OptionError(f"{given[0]}: gRPC only (-i grpc)")
    _check(t.grpc_keepalive_timeout_ms == d.DEFAULT_KEEPALIVE_TIMEOUT_MS
           or t.grpc_keepalive_time_ms > 0,
           "--grpc-keepalive-timeout: needs --grpc-keepalive-time (keepalive is off without it)")
    _check(not (t.grpc_channel_args and t.grpc_transport_given and t.grpc_transport == "lean"),
           "--grpc-channel-arg: grpc.aio channel arguments, which the lean transport has none of "
           "(leave out --grpc-transport lean: the requests then go through grpcio)")


def _validate_request_count(cfg: RunConfig) -> None:
    """perf_analyzer's rules: --request-count is one window of one load level, of at least one
    request per concurrent slot (or per request/s)."""
    count, load = cfg.measurement.request_count, cfg.load
    if not count or load.fixed_schedule or load.mode not in (LoadMode.CONCURRENCY,
                                                              LoadMode.REQUEST_RATE):
        return  # --fixed-schedule sets the count and its mean rate itself
    concurrency = load.mode is LoadMode.CONCURRENCY
    start, end, _step = load.concurrency_range if concurrency else load.request_rate_range
    name = "concurrency" if concurrency else "request-rate"
    _check(end == start, f"--request-count {count}: request-count not supported with multiple "
           f"{name} values in one run (one window of one load level)")
    _check(count >= start, f"--request-count {count}: request-count can not be less than "
           f"{name} ({start:g})")


def _validate_files(cfg: RunConfig) -> None:
    """Files the run reads exist before any connection (their contents are read with the model)."""
    intervals = cfg.load.request_intervals
    _check(intervals is None or os.path.isfile(intervals),
           f"--request-intervals {intervals}: cannot read it, no such file (The value must be a "
           "valid file path)")
    for path in cfg.inputs.input_data:
        _check(path in ("random", "zero") or os.path.exists(path),
               f"--input-data {path}: no such file or directory (Unsupported type provided: "
               f"'{path}'. The available options are 'zero', 'random', path to a directory, or "
               "a json file.)")


#: What periodic mode does not do, with the field value that means "not asked for": given
#: otherwise, the flag would be accepted and ignored, so it is refused.
PERIODIC_REFUSED = (
    ("measurement", "measurement_mode", "time_windows", "--measurement-mode"),
    ("measurement", "measurement_interval_ms", d.DEFAULT_MEASUREMENT_INTERVAL_MS, "-p"),
    ("measurement", "measurement_request_count", d.DEFAULT_MEASUREMENT_REQUEST_COUNT,
     "--measurement-request-count"),
    ("measurement", "stability_percentage", d.DEFAULT_STABILITY_PCT, "-s"),
    ("measurement", "max_trials", d.DEFAULT_MAX_TRIALS, "-r"),
    ("measurement", "stability_windows", d.DEFAULT_STABILITY_WINDOWS, "--stability-windows"),
    ("measurement", "request_count", 0, "--request-count"),
    ("measurement", "warmup_request_count", 0, "--warmup-request-count"),
    ("measurement", "adaptive", False, "--adaptive"),
    ("measurement", "latency_threshold_ms", 0.0, "-l"),
    ("measurement", "latency_from", "sent", "--latency-from"),
    ("measurement", "repeat", 1, "--repeat"),
    ("load", "binary_search", False, "--binary-search"),
    ("load", "request_distribution", "constant", "--request-distribution"),
    ("load", "request_burstiness", None, "--request-burstiness"),
    ("load", "max_threads", 0, "--max-threads"),
    ("load", "enable_mpi", False, "--enable-mpi"),
    ("output", "filename", None, "-f"),
    ("output", "verbose_csv", False, "--verbose-csv"),
    ("output", "csv_all_points", False, "--csv-all-points"),
    ("output", "csv_streaming", False, "--csv-streaming"),
    ("output", "baseline", None, "--baseline"),
)


def _validate_periodic(cfg: RunConfig) -> None:
    """perf_analyzer's rules (--streaming, --profile-export-file), and no flag that periodic mode
    would ignore: it measures the whole run once, with no windows and no stability check."""
    flag = "--periodic-concurrency-range"
    _check(cfg.load.streaming, f"{flag} requires bi-directional gRPC streaming (--streaming)")
    _check(bool(cfg.output.profile_export_file),
           f"Must provide --profile-export-file when using the {flag} option")
    _check(cfg.load.workers <= 1, f"--workers {cfg.load.workers}: {flag} runs in one process")
    for group, name, idle, other in PERIODIC_REFUSED:
        _check(getattr(getattr(cfg, group), name) == idle,
               f"{other}: not used by {flag} (one record set over the whole run: no windows, "
               "no stability check, no CSV; perf_analyzer ignores it)")


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise OptionError(message)


__all__ = ["check_field", "validate"]
