"""``--fixed-schedule``: send every request at the time its input-data entry says.

Every entry (step) of the ``--input-data`` JSON files carries ``"timestamp": [ms]`` (perf_analyzer's
format; a bare number is accepted too). Request i is sent ``timestamp_i - timestamp_0`` after the
load point starts, in file order, with that entry's data; the point is one window of exactly
``entries - --warmup-request-count`` requests. The reported request rate is the schedule's average
(entries ÷ its span); perf_analyzer reports 0.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from ..config.dims import parse_batch_sizes
from ..errors import OptionError
from .schedule import NS_PER_S, Offsets

FLAG = "--fixed-schedule"
GENERATED = ("zero", "random")


def _stamp(step: Any, where: str) -> float:
    raw = step.get("timestamp") if isinstance(step, Mapping) else None
    if isinstance(raw, list) and len(raw) == 1:
        raw = raw[0]
    if isinstance(raw, bool) or not isinstance(raw, (int, float)) or raw < 0:
        raise OptionError(f"{where}: {FLAG} needs \"timestamp\": [ms] (a number >= 0) on every "
                          f"entry, got {raw!r}")
    return float(raw)


def _steps(data: Any, path: str) -> Iterable[tuple[str, Any]]:
    if not isinstance(data, list):
        raise OptionError(f"{path}: 'data' must be a list")
    for i, entry in enumerate(data):
        if isinstance(entry, list):
            yield from ((f"{path}: data[{i}][{j}]", s) for j, s in enumerate(entry))
        else:
            yield f"{path}: data[{i}]", entry


def read_timestamps(input_data: Sequence[str]) -> tuple[float, ...]:
    """The schedule in ms, in file order (files appended, as their data is)."""
    stamps: list[float] = []
    for path in input_data:
        if path in GENERATED or os.path.isdir(path):
            raise OptionError(f"{FLAG}: needs --input-data FILE.json with a timestamp on every "
                              f"entry, got {path!r}")
        try:
            with open(path, encoding="utf-8") as fh:
                doc = json.load(fh)
        except (OSError, ValueError) as exc:
            raise OptionError(f"{path}: cannot read {FLAG} input data: {exc}") from None
        if not isinstance(doc, Mapping) or "data" not in doc:
            raise OptionError(f"{path}: no 'data' field")
        for where, step in _steps(doc["data"], path):
            value = _stamp(step, where)
            if stamps and value < stamps[-1]:
                raise OptionError(f"{where}: timestamp {value:g} ms is before the previous one "
                                  f"({stamps[-1]:g} ms); {FLAG} needs them in order")
            stamps.append(value)
    if not stamps:
        raise OptionError(f"{FLAG}: the input data has no entries")
    return tuple(stamps)


class FixedSchedule:
    """Offsets from the timestamps (request 0 at 0), looped after one mean gap past the last."""

    __slots__ = ("_cycle_ns", "_rel_ns")
    distribution = "fixed"

    def __init__(self, stamps_ms: Sequence[float]) -> None:
        ns = np.rint(np.asarray(stamps_ms, dtype=np.float64) * 1e6).astype(np.int64)
        self._rel_ns = ns - ns[0]
        span = int(self._rel_ns[-1])
        gap = span // (len(ns) - 1) if len(ns) > 1 and span > 0 else NS_PER_S
        self._cycle_ns = span + max(gap, 1)

    @property
    def rate(self) -> float:
        return len(self._rel_ns) * NS_PER_S / self._cycle_ns

    def offsets(self, start: int, count: int) -> Offsets:
        if start < 0 or count < 0:
            raise ValueError(f"offsets(start={start}, count={count}): both must be >= 0")
        index = np.arange(start, start + count, dtype=np.int64)
        loops, pos = np.divmod(index, len(self._rel_ns))
        return (loops * np.int64(self._cycle_ns) + self._rel_ns[pos]).astype(np.int64)

    def __repr__(self) -> str:
        return f"fixed({len(self._rel_ns)} requests)"


def check_fixed_schedule(kw: dict[str, Any]) -> None:
    """CLI: validate --fixed-schedule and turn it into one window at the schedule's mean rate."""
    if not kw.get("fixed_schedule"):
        return
    for key, flag in (("concurrency_range", "--concurrency-range"),
                      ("request_rate_range", "--request-rate-range"),
                      ("request_intervals", "--request-intervals")):
        if kw.get(key):
            raise OptionError(f"Cannot use both {FLAG} and {flag} inference load modes")
    if kw.get("request_count"):
        raise OptionError(f"{FLAG}: --request-count is not allowed (the schedule sets the count)")
    if parse_batch_sizes(kw.get("batch_size") or 1) != (1,):
        raise OptionError(f"{FLAG}: -b must be 1 (one timestamped entry per request)")
    stamps = read_timestamps(tuple(kw.get("input_data") or ("random",)))
    count = len(stamps) - int(kw.get("warmup_request_count") or 0)
    if count < 1:
        raise OptionError(f"{FLAG}: {len(stamps)} entries leave no request after "
                          f"--warmup-request-count {kw.get('warmup_request_count')}")
    kw["request_rate_range"] = repr(FixedSchedule(stamps).rate)
    kw["request_count"] = count


def fixed_schedule_of(input_data: tuple[str, ...]) -> FixedSchedule:
    """The schedule of the timestamps in ``--input-data``."""
    return FixedSchedule(read_timestamps(input_data))
