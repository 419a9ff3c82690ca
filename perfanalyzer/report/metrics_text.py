"""--collect-metrics on the console: the server's Prometheus figures of a load point.

GPU families in perf_analyzer's block shape ("Server Prometheus Metrics:", one line per GPU); the CPU
families Triton exports without GPUs (utilization, used / total memory) in the same block.
"""

from __future__ import annotations

from collections.abc import Sequence

from .. import columns as C
from ..client.orca import OrcaWindow
from ..measure.prometheus import (
    CPU_MEM_TOTAL,
    CPU_MEM_USED,
    CPU_UTIL,
    GPU_MEM_TOTAL,
    GPU_MEM_USED,
    GPU_POWER,
    GPU_UTIL,
    Scrape,
    fmt_value,
    merge_scrapes,
)

#: perf_analyzer's console lines: the GPU columns' names, scale and unit.
_GPU_LINES = ((C.GPU[0].name, GPU_UTIL, 100.0, "%"),
              (C.GPU[1].name, GPU_POWER, 1.0, " watts"),
              (C.GPU[2].name, GPU_MEM_USED, 1.0, " bytes"),
              (C.GPU[3].name, GPU_MEM_TOTAL, 1.0, " bytes"))


def metrics_lines(scrapes: Sequence[Scrape]) -> list[str]:
    """The point's block; says so when no scrape landed in its merged windows."""
    lines = ["  Server Prometheus Metrics: "]
    if not scrapes:
        return [*lines, "    No metrics scrape completed in the merged windows (see the warning "
                "above, or lower --metrics-interval)"]
    merged = merge_scrapes(scrapes)
    for title, family, scale, unit in _GPU_LINES:
        per = merged.get(family)
        if not per:
            continue
        lines.append(f"    {title}:")
        lines += [f"      {k} : {fmt_value(family, v * scale)}{unit}" for k, v in sorted(per.items())]
    cpu = merged.get(CPU_UTIL, {}).get("")
    if cpu is not None:
        lines.append(f"    Avg CPU Utilization: {cpu * 100:.1f}%")
    used = merged.get(CPU_MEM_USED, {}).get("")
    total = merged.get(CPU_MEM_TOTAL, {}).get("")
    if used is not None:
        of = f" of {int(total)} bytes" if total is not None else ""
        lines.append(f"    Max CPU Memory Used: {int(used)} bytes{of}")
    lines.append(f"    Metrics scrapes: {len(scrapes)}")
    return lines


def orca_lines(orca: OrcaWindow | None) -> list[str]:
    """--orca-format: the merged windows' ORCA load reports, each metric averaged."""
    if orca is None or not orca.answers:
        return ["  ORCA load reports: none (no answer carried an endpoint-load-metrics header)"]
    lines = [f"  ORCA load reports ({orca.answers} answers):"]
    lines += [f"    {name}: {value:.6g}" for name, value in orca.averages.items()]
    return lines
