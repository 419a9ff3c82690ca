"""Validation that needs no server: every field's own check (from the option table), then the
checks across fields (:data:`RULES`, one ordered list, each rule once), and the profile command's
own (:data:`RUN_RULES`, made once its outputs are checked). One-line :class:`OptionError` naming
the flag."""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from typing import Any

from ..errors import OptionError
from . import defaults as d
from .option import Entry, entries
from .policy import PERIODIC_REFUSED
from .safety import validate_safety
from .table.grouped import GroupedConfig
from .table.load import LoadMode


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


def require_model(model: object) -> None:
    """The one flag every run needs (config.build asks first, before any flag is parsed)."""
    _check(bool(model), "-m: a model name is required")


def validate(cfg: GroupedConfig) -> None:
    """Raise OptionError on the first invalid field or combination: the model, every field's own
    check in table order, then :data:`RULES` in order."""
    require_model(cfg.server.model)
    for entry in entries(type(cfg)):
        check_field(entry, getattr(getattr(cfg, entry.group), entry.name))
    for rule in RULES:
        rule(cfg)


def _sync_or_async(cfg: GroupedConfig) -> None:
    _check(not (cfg.load.async_flag and not cfg.load.async_mode),
           "-a/--async and --sync are mutually exclusive")


def _streaming_protocol(cfg: GroupedConfig) -> None:
    _check(not cfg.load.streaming or cfg.server.protocol == "grpc",
           "--streaming: streaming needs the gRPC protocol (-i grpc)")


def _compression_protocol(cfg: GroupedConfig) -> None:
    _check(cfg.transport.grpc_compression_algorithm == "none" or cfg.server.protocol == "grpc",
           "--grpc-compression-algorithm: Using compression algorithm is only allowed with gRPC "
           "protocol (-i grpc; --http-compression compresses HTTP requests)")
    for flag, value in (("--http-compression", cfg.transport.http_compression),
                        ("--http-response-compression", cfg.transport.http_response_compression)):
        _check(value == "none" or cfg.server.protocol == "http",
               f"{flag}: HTTP only (over gRPC, --grpc-compression-algorithm compresses requests "
               "and the server's own setting its responses)")


def _burstiness(cfg: GroupedConfig) -> None:
    _check(cfg.load.request_burstiness is None or cfg.load.request_distribution == "gamma",
           "--request-burstiness: shapes the gaps of --request-distribution gamma only")


def _csv_streaming(cfg: GroupedConfig) -> None:
    _check(not cfg.output.csv_streaming or bool(cfg.output.filename),
           "--csv-streaming: adds columns to -f's CSV; give -f FILE.csv")


def _validate_endpoint(cfg: GroupedConfig) -> None:
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


def _validate_load(cfg: GroupedConfig) -> None:
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
           "--warmup-request-count: warms up one load level (--warmup-request-count not "
           f"supported with multiple {'concurrency' if concurrency else 'request rate'} values in "
           "one run)")
    sid_start, sid_end = load.sequence_id_range
    _check(sid_start >= 0 and (sid_end == 0 or sid_end >= sid_start),
           "--sequence-id-range: expected start[:end] with end >= start")


def _validate_grpc_channel(cfg: GroupedConfig) -> None:
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


def _validate_request_count(cfg: GroupedConfig) -> None:
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


def _validate_files(cfg: GroupedConfig) -> None:
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




def _validate_periodic(cfg: GroupedConfig) -> None:
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


#: The checks across fields, each once, in the order they are made (the first failing one is
#: reported). The concurrency ceiling (config.safety) comes last.
RULES: tuple[Callable[[GroupedConfig], None], ...] = (
    _sync_or_async, _streaming_protocol, _compression_protocol, _validate_grpc_channel,
    _validate_load, _validate_request_count, _validate_files, _validate_endpoint, _burstiness,
    _csv_streaming, validate_safety)


def _one_sweep(cfg: GroupedConfig) -> None:
    """What reports or repeats one sweep cannot take a -b list or --shape sets."""
    if not cfg.inputs.combined:
        return
    _check(not cfg.output.baseline,
           "--baseline: compares one sweep; not with a -b list or --shape sets")
    _check(not cfg.load.periodic_concurrency_range,
           "--periodic-concurrency-range: one run; not with a -b list or --shape sets")
    for flag, given in (("--html", cfg.output.html), ("--events", cfg.output.events)):
        _check(not given, f"{flag}: reports one sweep; not with a -b list or --shape sets")


def _periodic_html(cfg: GroupedConfig) -> None:
    _check(not (cfg.output.html and cfg.load.periodic_concurrency_range),
           "--html: a periodic concurrency run has one window and no load points to draw (its "
           "figures are in the console and the export)")


def _repeat_one_sweep(cfg: GroupedConfig) -> None:
    _check(not (cfg.measurement.repeat > 1 and cfg.inputs.combined),
           "--repeat: repeats one sweep; not with a -b list or --shape sets")


def _mpi_run(cfg: GroupedConfig) -> None:
    """Flags that cannot work across ranks (``--launch-server``: mpi.world, with the ranks)."""
    if not cfg.load.enable_mpi:
        return
    _check(not cfg.output.events, "--events: not with --enable-mpi (every rank would write the "
           "same file; the leader's -f / --html / export hold the merged figures)")
    _check(cfg.measurement.repeat <= 1,
           "--repeat: not with --enable-mpi (run mpiexec again instead)")
    _check(not cfg.inputs.combined,
           "--enable-mpi: one sweep per rank; not with a -b list or --shape sets")


#: The profile command's own rules across flags, in order, made once its outputs and files are
#: checked (``perfanalyzer search`` runs its candidates otherwise and has its own refusals).
RUN_RULES: tuple[Callable[[GroupedConfig], None], ...] = (
    _one_sweep, _periodic_html, _repeat_one_sweep, _mpi_run)

__all__ = ["PERIODIC_REFUSED", "RULES", "RUN_RULES", "check_field", "require_model", "validate"]
