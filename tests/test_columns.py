"""The column registry: perf_analyzer's column names are spelled in one module, and every CSV
layout's header and rows come from the same list (they cannot fall out of step)."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest

from perfanalyzer import columns as C
from perfanalyzer.config.goodput import GoodputLimits
from perfanalyzer.gate.checks import higher_is_better, resolve_metric
from perfanalyzer.measure.metrics import ClientLoad, LatencyStats, Summary
from perfanalyzer.report.csv import CsvLayout
from perfanalyzer.report.figures import row_figures

PACKAGE = Path(__file__).resolve().parents[1] / "perfanalyzer"
#: Names only perf_analyzer's CSV uses: a module that spells one instead of reading the registry
#: keeps its own copy, which the next rename misses.
SPELLINGS = ("Inferences/Second", "Client Send", "Client Recv", "p99 latency", "Server Queue",
             "Server Compute", "Avg GPU Utilization", "Network+Server Send/Recv",
             "Response Throughput", "request/response", '"Concurrency"', '"Request Rate"')


def test_perf_analyzer_column_names_are_spelled_in_the_registry_only() -> None:
    offenders = sorted(
        f"{path.relative_to(PACKAGE)}: {name}"
        for path in PACKAGE.rglob("*.py") if path.name != "columns.py"
        for name in SPELLINGS if name in path.read_text(encoding="utf-8"))
    assert offenders == []


def _summary() -> Summary:
    lat = LatencyStats(count=4, avg_ns=2_000_000.0, std_ns=1.0,
                       percentiles={p: 1_000_000 * p for p in (50, 90, 95, 99, 75)})
    return Summary(start_ns=0, end_ns=10**9, batch_size=1, completed=4, errors=0, error_counts={},
                   responses=4, latency=lat, corrected=lat, first_response=lat, sent=4,
                   late_sends=0, server=None, client=ClientLoad(), good=3,
                   goodput_limits=GoodputLimits(latency_ns=10**7))


FLAGS = ("decoupled", "server_stats", "cache", "verbose", "gpu", "streaming", "goodput")


@pytest.mark.parametrize("flags", list(itertools.product((False, True), repeat=len(FLAGS))))
@pytest.mark.parametrize("percentile", [-1, 75])
def test_every_layout_writes_a_cell_under_every_column(flags: tuple[bool, ...],
                                                        percentile: int) -> None:
    layout = CsvLayout(level_name=C.CONCURRENCY, percentile=percentile,
                       **dict(zip(FLAGS, flags, strict=True)))
    s = _summary()
    header = layout.header()
    row = layout.row(4, row_figures(s), {}, s)
    assert len(row) == len(header) == len(set(header))
    assert (C.AVG_LATENCY.name in header) == (layout.verbose and percentile <= 0)
    assert (C.percentile_name(75) in header) == (percentile == 75)


def test_gate_names_and_directions_come_from_the_registry() -> None:
    cols = [c.name for c in C.COLUMNS if not c.family] + [C.percentile_name(99)]
    assert resolve_metric("tput", cols) == C.THROUGHPUT.name
    assert resolve_metric("P99", cols) == C.percentile_name(99)
    assert resolve_metric("ITL", cols) == C.ITL.name
    for col in C.COLUMNS:
        if not col.family:
            assert higher_is_better(col.name) == col.higher_is_better
            for alias in col.aliases:
                assert resolve_metric(alias, cols) == col.name
    assert re.fullmatch(r"p\d+ latency", C.percentile_name(5))
