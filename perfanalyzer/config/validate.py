"""Validation that needs no server: every field's own check (from the option table), then the
checks across fields. One-line :class:`OptionError` naming the flag."""

from __future__ import annotations

from typing import Any

from ..errors import OptionError
from .option import Entry, entries
from .table import LoadMode, RunConfig


def check_field(entry: Entry, value: Any) -> None:
    """The table's check of one field (choices, bounds, ``check``)."""
    o = entry.option
    if o.choices and value not in o.choices:
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
    _validate_load(cfg)


def _validate_load(cfg: RunConfig) -> None:
    load, threshold = cfg.load, cfg.measurement.latency_threshold_ms
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


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise OptionError(message)


__all__ = ["check_field", "validate"]
