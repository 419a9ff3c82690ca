"""Window summaries: nearest-rank percentiles, throughput, server deltas, derived CSV figures."""

from __future__ import annotations

import numpy as np
import pytest

from perfanalyzer.client.base import ModelStatistics, StatDuration
from perfanalyzer.measure.metrics import ClientLoad, ServerDelta, nearest_rank, summarize
from perfanalyzer.records import RecordBuffer
from perfanalyzer.report.figures import row_figures


def _buf(latencies_us: list[int], errors: int = 0) -> RecordBuffer:
    buf = RecordBuffer()
    t = 1_000_000
    for lat in latencies_us:
        buf.add(t, t, t + lat * 1000)
        t += 1000
    for _ in range(errors):
        buf.add(t, t, t + 1, buf.error_code("[500] failed"))
    return buf


@pytest.mark.parametrize(("p", "expected"), [(50, 51), (90, 90), (95, 95), (99, 99)])
def test_nearest_rank_matches_perf_analyzer(p: int, expected: int) -> None:
    samples = np.arange(1, 101)  # index = int(p/100 * 99 + 0.5)
    assert nearest_rank(samples, p) == expected


def test_nearest_rank_edges() -> None:
    assert nearest_rank(np.array([7]), 99) == 7
    assert nearest_rank(np.array([1, 9]), 50) == 9  # int(0.5 + 0.5) = 1
    assert nearest_rank(np.array([], dtype=np.int64), 50) == 0


def test_summary_counts_throughput_and_errors() -> None:
    buf = _buf([100, 200, 300, 400], errors=2)
    s = summarize(buf.view(), start_ns=0, end_ns=2_000_000_000, batch_size=4, server=None,
                  client=ClientLoad(cpu_ns=500_000_000))
    assert s.completed == 4 and s.errors == 2
    assert s.error_counts == {"[500] failed": 2}
    assert s.throughput == pytest.approx(4 * 4 / 2.0)
    assert s.latency.avg_ns == pytest.approx(250_000)
    assert s.latency.p(50) == 300_000  # int(0.5*3+0.5)=2 -> third of [100,200,300,400]
    assert s.client_cpu_util == pytest.approx(0.25)


def _stats(queue_ns: int, infer_ns: int, n: int) -> ModelStatistics:
    return ModelStatistics(name="m", version="1", inference_count=n, execution_count=n,
                           durations={"success": StatDuration(n, n * 1000),
                                      "queue": StatDuration(n, queue_ns * n),
                                      "compute_input": StatDuration(n, 0),
                                      "compute_infer": StatDuration(n, infer_ns * n),
                                      "compute_output": StatDuration(n, 0)})


def test_network_time_is_latency_minus_server_time_floored_at_zero() -> None:
    buf = _buf([1000] * 10)
    server = ServerDelta(model=_stats(queue_ns=100_000, infer_ns=600_000, n=10))
    s = summarize(buf.view(), start_ns=0, end_ns=10**9, batch_size=1, server=server,
                  client=ClientLoad())
    f = row_figures(s)
    assert (f.queue_us, f.compute_infer_us, f.network_us) == (100, 600, 300)
    slow = ServerDelta(model=_stats(queue_ns=900_000, infer_ns=900_000, n=10))
    s2 = summarize(buf.view(), start_ns=0, end_ns=10**9, batch_size=1, server=slow,
                   client=ClientLoad())
    assert row_figures(s2).network_us == 0


def test_server_delta_sums_and_ensemble_totals() -> None:
    a = ServerDelta(model=_stats(10, 20, 1), composing=(_stats(1000, 2000, 2),
                                                        _stats(3000, 4000, 2)))
    total = a + a
    assert total.model.get("queue").count == 2
    assert total.avg_us("queue") == pytest.approx(0.01)
    assert total.avg_us("queue", ensemble_total=True) == pytest.approx(4.0)
