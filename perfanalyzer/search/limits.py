"""Constraints and weighted objectives as Model Analyzer users write them, on Model Analyzer's
metric names: ``perf_throughput`` (infer/s), ``goodput`` (infer/s within ``--goodput``'s
limits), ``perf_latency_avg`` and ``perf_latency_pNN`` (ms, NN one of the reported percentiles,
or --percentile's), and the server's memory from
``--collect-metrics``: ``gpu_used_memory`` (MB, summed over the GPUs, the maximum over the point's
scrapes) and ``cpu_used_ram`` (MB, Triton's CPU memory family).

A constraint is ``NAME<=VALUE`` or ``NAME>=VALUE`` (Model Analyzer's ``max`` / ``min``; the form
``NAME:max=VALUE`` is accepted too). An objective is ``NAME:WEIGHT``; several are combined as the
weighted mean of the logarithms of their figures (throughput counted up, latency and memory
down), so a weight says how many percent of one figure are worth a percent of another, as in
Model Analyzer's weighting of relative gains.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

from ..errors import OptionError
from ..measure.metrics import REPORT_PERCENTILES, LatencyStats
from ..measure.prometheus import CPU_MEM_USED, GPU_MEM_USED, merge_scrapes
from ..measure.window import PointResult

THROUGHPUT = "perf_throughput"
GOODPUT = "goodput"  # requests within the --goodput limits, per second
GPU_MEMORY = "gpu_used_memory"
CPU_MEMORY = "cpu_used_ram"
MEMORY = (GPU_MEMORY, CPU_MEMORY)
_LATENCY = re.compile(r"perf_latency_(avg|p(\d{1,2}))$")
_FORM = re.compile(r"^\s*([a-z0-9_]+)\s*(?:(<=|>=)|:(max|min)=)\s*([^\s]+)\s*$")
_MB = 1e6


@dataclass(frozen=True, kw_only=True)
class Limit:
    """``metric`` at most (``op`` "<=") or at least (">=") ``value``."""

    metric: str
    op: str
    value: float

    def __str__(self) -> str:
        return f"{self.metric}{self.op}{self.value:g}"

    def holds(self, figure: float) -> bool:
        return figure <= self.value if self.op == "<=" else figure >= self.value


def check_metric(name: str, flag: str, percentile: int) -> str:
    """``name`` when it is a metric the search measures; raises OptionError naming ``flag``."""
    m = _LATENCY.match(name)
    if name in (THROUGHPUT, GOODPUT, *MEMORY) or (m and m.group(1) == "avg"):
        return name
    if m and int(m.group(2)) in (*REPORT_PERCENTILES, percentile):
        return name
    pcts = ", ".join(f"p{p}" for p in sorted({*REPORT_PERCENTILES, percentile} - {-1}))
    raise OptionError(f"{flag} {name}: not a metric the search measures (perf_throughput, "
                      f"perf_latency_avg, perf_latency_PNN with PNN one of {pcts}, "
                      f"goodput (with --goodput), gpu_used_memory, cpu_used_ram)")


def parse_limit(text: str, percentile: int) -> Limit:
    m = _FORM.match(text)
    if m is None:
        raise OptionError(f"--constraint {text!r}: expected NAME<=VALUE, NAME>=VALUE or "
                          f"NAME:max=VALUE, e.g. perf_latency_p99<=20")
    name, op, word, raw = m.groups()
    try:
        value = float(raw)
    except ValueError:
        raise OptionError(f"--constraint {text!r}: {raw!r} is not a number") from None
    if not math.isfinite(value) or value < 0:
        raise OptionError(f"--constraint {text!r}: the limit must be a finite number >= 0")
    return Limit(metric=check_metric(name, "--constraint", percentile),
                 op=op or ("<=" if word == "max" else ">="), value=value)


def parse_weights(text: str, percentile: int) -> tuple[tuple[str, float], ...]:
    """``perf_throughput:10,perf_latency_p99:5`` -> ((name, weight), ...)."""
    out: dict[str, float] = {}
    for part in (p.strip() for p in text.split(",") if p.strip()):
        name, _, raw = part.partition(":")
        try:
            weight = float(raw) if raw else 1.0
        except ValueError:
            raise OptionError(f"--objectives {part!r}: the weight {raw!r} is not a number") \
                from None
        if not math.isfinite(weight) or weight <= 0:
            raise OptionError(f"--objectives {part!r}: a weight must be > 0")
        out[check_metric(name.strip(), "--objectives", percentile)] = weight
    if not out:
        raise OptionError("--objectives: expected NAME:WEIGHT[,NAME:WEIGHT...]")
    return tuple(out.items())


def higher_better(metric: str) -> bool:
    return metric in (THROUGHPUT, GOODPUT)


def point_metrics(point: PointResult, lat: LatencyStats) -> dict[str, float]:
    """A point's figures under Model Analyzer's names (memory only where it was measured)."""
    out = {THROUGHPUT: point.merged.throughput, "perf_latency_avg": lat.avg_ns / _MB}
    out |= {f"perf_latency_p{p}": ns / _MB for p, ns in lat.percentiles.items()}
    if point.merged.goodput is not None:
        out[GOODPUT] = point.merged.goodput
    merged = merge_scrapes(point.metrics) if point.metrics else {}
    if merged.get(GPU_MEM_USED):
        out[GPU_MEMORY] = sum(merged[GPU_MEM_USED].values()) / _MB
    if merged.get(CPU_MEM_USED):
        out[CPU_MEMORY] = sum(merged[CPU_MEM_USED].values()) / _MB
    return out


def broken(limits: tuple[Limit, ...], figures: Mapping[str, float]) -> list[str]:
    """The limits a point broke, each with its figure (a figure not measured breaks its limit)."""
    out = []
    for lim in limits:
        v = figures.get(lim.metric)
        if v is None:
            out.append(f"{lim} (not measured)")
        elif not lim.holds(v):
            out.append(f"{lim.metric} {v:.4g} {'>' if lim.op == '<=' else '<'} {lim.value:g}")
    return out


def weighted(weights: tuple[tuple[str, float], ...], figures: Mapping[str, float]) -> float | None:
    """The weighted objective of a point (higher is better); None when a figure is missing or
    not positive."""
    total = 0.0
    for name, w in weights:
        v = figures.get(name)
        if v is None or v <= 0:
            return None
        total += w * (math.log(v) if higher_better(name) else -math.log(v))
    return total / sum(w for _, w in weights)
