"""The CSV header is perf_analyzer's, byte for byte, in every mode (golden headers captured from the
official perf_analyzer 2.50 binary), and rows are sorted by throughput."""

from __future__ import annotations

import csv
import io

import pytest

from perfanalyzer.measure.metrics import ClientLoad, ServerDelta, summarize
from perfanalyzer.measure.stabilizer import Verdict
from perfanalyzer.measure.window import PointResult
from perfanalyzer.records import RecordBuffer
from perfanalyzer.report.csv import CsvLayout, csv_text
from perfanalyzer.results.run import ModelTraits, RunResult
from tests.support.paths import GOLDEN


def _golden() -> dict[str, str]:
    rows = (GOLDEN / "csv_headers.txt").read_text().splitlines()
    return dict(line.split("|", 1) for line in rows if line and not line.startswith("#"))


@pytest.mark.parametrize(("case", "layout"), [
    ("default", CsvLayout(level_name="Concurrency")),
    ("verbose", CsvLayout(level_name="Concurrency", verbose=True)),
    ("percentile75_verbose", CsvLayout(level_name="Concurrency", percentile=75, verbose=True)),
    ("percentile95", CsvLayout(level_name="Concurrency", percentile=95)),
    ("request_rate", CsvLayout(level_name="Request Rate")),
    ("decoupled", CsvLayout(level_name="Concurrency", decoupled=True)),
])
def test_header_matches_perf_analyzer(case: str, layout: CsvLayout) -> None:
    assert ",".join(layout.header()) == _golden()[case]


def test_header_without_server_statistics() -> None:
    # perf_analyzer drops the server columns when the server has no statistics extension.
    assert ",".join(CsvLayout(level_name="Concurrency", server_stats=False).header()) == (
        "Concurrency,Inferences/Second,Client Send,Client Recv,"
        "p50 latency,p90 latency,p95 latency,p99 latency")


def test_header_with_response_cache() -> None:
    header = CsvLayout(level_name="Concurrency", cache=True).header()
    i = header.index("Server Compute Output")
    assert header[i + 1 : i + 4] == ["Server Cache Hit", "Server Cache Miss", "Client Recv"]


def _point(level: float, latency_us: int, n: int) -> PointResult:
    buf = RecordBuffer()
    for i in range(n):
        buf.add(i, i, i + latency_us * 1000)
    s = summarize(buf.view(), start_ns=0, end_ns=1_000_000_000, batch_size=1,
                  server=None, client=ClientLoad())
    v = Verdict(done=True, stable=True, reason="stable", throughput_spread=0.0,
                latency_spread=0.0, over_threshold=False)
    return PointResult(level=level, windows=(), verdict=v, merged=s)


def test_rows_sorted_by_throughput_and_values_in_integer_us() -> None:
    run = RunResult(mode="concurrency", model=ModelTraits(name="m"), batch_size=1,
                    server_stats=False,
                    points=[_point(1, 1500, 300), _point(2, 2500, 200), _point(3, 999, 100)])
    rows = list(csv.DictReader(io.StringIO(csv_text(run))))
    assert [r["Concurrency"] for r in rows] == ["3", "2", "1"]
    assert [r["Inferences/Second"] for r in rows] == ["100", "200", "300"]
    assert rows[2]["p50 latency"] == "1500" and rows[0]["p99 latency"] == "999"


def test_server_columns_from_counters() -> None:
    from perfanalyzer.client.base import ModelStatistics, StatDuration

    stats = ModelStatistics(name="m", version="1", inference_count=10, execution_count=10,
                            durations={"queue": StatDuration(10, 1_000_000),
                                       "compute_input": StatDuration(10, 2_000_000),
                                       "compute_infer": StatDuration(10, 3_000_000),
                                       "compute_output": StatDuration(10, 4_000_000)})
    p = _point(1, 2000, 10)
    buf = RecordBuffer()
    for i in range(10):
        buf.add(i, i, i + 2_000_000)
    s = summarize(buf.view(), start_ns=0, end_ns=10**9, batch_size=1,
                  server=ServerDelta(model=stats), client=ClientLoad())
    run = RunResult(mode="concurrency", model=ModelTraits(name="m"), batch_size=1,
                    points=[PointResult(level=1, windows=(), verdict=p.verdict, merged=s)])
    row = next(csv.DictReader(io.StringIO(csv_text(run))))
    assert (row["Server Queue"], row["Server Compute Input"], row["Server Compute Infer"],
            row["Server Compute Output"]) == ("100", "200", "300", "400")
    assert row["Network+Server Send/Recv"] == str(2000 - 1000)


def test_perf_analyzer_csv_parses_with_the_same_keys() -> None:
    # Model Analyzer reads by header name: our layout's keys must all exist in perf_analyzer's file.
    text = (GOLDEN / "perf_analyzer_2.50_concurrency.csv").read_text()
    pa = next(csv.DictReader(io.StringIO(text)))
    assert set(CsvLayout(level_name="Concurrency").header()) == set(pa)
