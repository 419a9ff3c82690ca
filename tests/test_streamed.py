"""Streaming figures from records (pure): every inter-response gap, a request's own average gap,
goodput limits; the kept response times travel with record slices."""

from __future__ import annotations

import math

import numpy as np
import pytest

from perfanalyzer.config.goodput import GoodputLimits, parse_goodput
from perfanalyzer.errors import OptionError
from perfanalyzer.measure.metrics import ClientLoad, summarize
from perfanalyzer.measure.streamed import average_gaps, response_gaps, within_limits
from perfanalyzer.records import RecordBuffer


def _buffer() -> RecordBuffer:
    """Three streamed requests sent at 0: 1 response at 40; 2 at 40, 50; 4 at 40, 50, 70, 100;
    and one failed request."""
    buf = RecordBuffer(4)
    buf.add_full(0, 0, 40, 40, 0, 1, 0)
    buf.add_full(0, 0, 40, 50, 0, 2, 0)
    buf.add_full(0, 0, 40, 100, 0, 4, 0)
    buf.response_times[2] = (40, 50, 70, 100)
    buf.add_full(0, 0, 5, 5, buf.error_code("boom"), 0, 0)
    return buf


def test_every_gap_of_every_successful_request() -> None:
    v = _buffer().view()
    assert sorted(response_gaps(v, v.ok).tolist()) == [10, 10, 20, 30]
    avg = average_gaps(v)
    assert math.isnan(avg[0]) and avg[1] == 10 and avg[2] == 20


def test_a_request_whose_times_were_not_kept_adds_no_invented_gap() -> None:
    buf = _buffer()
    del buf.response_times[2]
    v = buf.view()
    assert response_gaps(v, v.ok).tolist() == [10]


def test_kept_times_follow_slices_and_extend() -> None:
    buf = _buffer()
    assert buf.view(1, 3).times == {1: (40, 50, 70, 100)}
    assert buf.view(0, 2).times == {}
    other = RecordBuffer(1)
    other.extend(buf.view(1, 4))
    assert other.response_times == {1: (40, 50, 70, 100)}


@pytest.mark.parametrize(("limits", "good"), [
    (GoodputLimits(), [True, True, True, False]),
    (GoodputLimits(ttfr_ns=39), [False] * 4),
    (GoodputLimits(latency_ns=50), [True, True, False, False]),
    (GoodputLimits(itl_ns=15), [True, True, False, False]),  # one response: no gap to limit
])
def test_a_request_counts_when_it_meets_every_limit(limits: GoodputLimits,
                                                    good: list[bool]) -> None:
    v = _buffer().view()
    assert within_limits(v, v.ok, limits).tolist() == good


def test_summary_pools_gaps_and_counts_goodput() -> None:
    v = _buffer().view()
    s = summarize(v, start_ns=0, end_ns=1_000_000_000, batch_size=2, server=None,
                  client=ClientLoad(), goodput=GoodputLimits(latency_ns=50), percentiles=(75,))
    assert s.inter_response.count == 4 and s.inter_response.avg_ns == 17.5
    # gaps 10, 10, 20, 30: the same nearest-rank rule as latency (percentile_index)
    assert [s.inter_response.p(p) for p in (50, 75, 90)] == [20, 20, 30]
    assert s.first_response.p(75) == 40
    assert (s.good, s.goodput, s.goodput_share) == (2, 4.0, pytest.approx(2 / 3))
    plain = summarize(v, start_ns=0, end_ns=10, batch_size=1, server=None, client=ClientLoad())
    assert plain.goodput is None and plain.goodput_share is None


def test_unary_records_have_no_gaps() -> None:
    buf = RecordBuffer(2)
    buf.add(0, 0, 10)
    v = buf.view()
    assert len(response_gaps(v, v.ok)) == 0
    assert np.isnan(average_gaps(v)).all()


def test_goodput_flag_parses_and_names_itself_in_errors() -> None:
    assert parse_goodput("latency:100 ttfr:30.5,itl:2") == GoodputLimits(
        latency_ns=100_000_000, ttfr_ns=30_500_000, itl_ns=2_000_000)
    assert parse_goodput(None) is None
    assert parse_goodput("TTFR:1").text() == "ttfr:1"
    for bad, why in (("", "KEY:MS"), ("ttft:3", "ttft:3"), ("ttfr:0", "positive"),
                     ("ttfr:x", "not a number"), ("itl:1 itl:2", "twice"), ("ttfr", "KEY:MS")):
        with pytest.raises(OptionError, match="--goodput") as err:
            parse_goodput(bad)
        assert why in str(err.value)


def test_csv_streaming_columns_follow_perf_analyzers_in_both_csvs() -> None:
    """--csv-streaming appends the figures (empty cells where nothing was measured: these
    single-response records have no gap), in -f's CSV and in a -b/--shape sweep's combined one;
    without it the header is perf_analyzer's."""
    from perfanalyzer.report.combined import combined_csv_text
    from perfanalyzer.report.csv import csv_text
    from tests.support.synthetic_runs import synthetic_run

    run = synthetic_run((1,), windows=3, window_sigma=0.0, jitter=0.0)
    plain = csv_text(run).splitlines()
    header, row = (line.split(",") for line in csv_text(run, streaming=True).splitlines()[:2])
    assert header[:len(plain[0].split(","))] == plain[0].split(",")
    extra = header[len(plain[0].split(",")):]
    assert extra[:5] == ["Avg time to first response", "p50 time to first response",
                         "p90 time to first response", "p95 time to first response",
                         "p99 time to first response"]
    assert extra[5:] == ["Avg inter-response time", "p50 inter-response time",
                         "p90 inter-response time", "p95 inter-response time",
                         "p99 inter-response time"]
    assert row[-5:] == [""] * 5 and all(row[-10:-5])
    combined = combined_csv_text([(("1", ""), run)], streaming=True).splitlines()[0]
    assert combined.split(",")[2:] == header
