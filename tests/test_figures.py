"""Derived figures on hand-made records, through the real CSV and console code: Network+Server in
ns rounded once, the sample standard deviation, and --latency-from scheduled keeping the client's
send delay out of Network+Server and "response wait"."""

from __future__ import annotations

import csv
import io
import math

import numpy as np
import pytest

from perfanalyzer.client.base import ModelStatistics, StatDuration
from perfanalyzer.measure.metrics import ClientLoad, LatencyStats, ServerDelta, summarize
from perfanalyzer.measure.stabilizer import Verdict
from perfanalyzer.measure.window import PointResult
from perfanalyzer.records import RecordBuffer
from perfanalyzer.report.console import CLAMP_WARNING, point_text
from perfanalyzer.report.csv import csv_text
from perfanalyzer.results.run import ModelTraits, RunResult

STABLE = Verdict(done=True, stable=True, reason="stable", throughput_spread=0.0,
                 latency_spread=0.0, over_threshold=False)


def _stats(n: int, **avg_ns: int) -> ModelStatistics:
    keys = ("success", "queue", "compute_input", "compute_infer", "compute_output")
    return ModelStatistics(name="m", version="1", inference_count=n, execution_count=n,
                           durations={k: StatDuration(n, n * avg_ns.get(k, 0)) for k in keys})


def _run(*, latency_ns: int, send_ns: int, recv_ns: int, server: ModelStatistics,
         late_ns: int = 0, mode: str = "concurrency",
         config: dict[str, object] | None = None) -> RunResult:
    """Ten requests of ``latency_ns`` from their actual send, each sent ``late_ns`` after its
    scheduled time, with the transport's send / recv times."""
    buf = RecordBuffer()
    for i in range(10):
        t = i * 1_000_000
        buf.add(t, t + late_ns, t + late_ns + latency_ns, 0, send_ns, recv_ns)
    s = summarize(buf.view(), start_ns=0, end_ns=10**9, batch_size=1,
                  server=ServerDelta(model=server), client=ClientLoad())
    return RunResult(mode=mode, model=ModelTraits(name="m"), batch_size=1, buffer=buf,
                     config=dict(config or {}),
                     points=[PointResult(level=1, windows=(), verdict=STABLE, merged=s)])


def _row(run: RunResult) -> dict[str, str]:
    return next(csv.DictReader(io.StringIO(csv_text(run, verbose=True))))


def test_network_server_is_subtracted_in_ns_and_rounded_once() -> None:
    # 10000 - 1999 - 1999 - 1999 (queue) = 4003 ns -> 4 us; each floored to us first: 10-1-1-1 = 7.
    run = _run(latency_ns=10_000, send_ns=1_999, recv_ns=1_999,
               server=_stats(10, success=5_000, queue=1_999))
    row = _row(run)
    assert (row["Client Send"], row["Client Recv"], row["Server Queue"]) == ("1", "1", "1")
    assert row["Network+Server Send/Recv"] == "4"


def test_the_clamp_follows_the_ns_figures() -> None:
    # 3000 - 999 - 999 - 999 - 999 < 0: clamped (in us, 3 - 0 - 0 - 0 - 0 = 3 was not).
    run = _run(latency_ns=3_000, send_ns=999, recv_ns=999,
               server=_stats(10, success=2_000, queue=999, compute_infer=999))
    assert _row(run)["Network+Server Send/Recv"] == "0"
    assert CLAMP_WARNING in point_text(run, run.points[0], "http")


def test_compute_is_averaged_summed_over_one_count() -> None:
    # perf_analyzer divides the summed compute time once: 3 x 600 ns = 1800 ns (not 3 x 0 us).
    run = _run(latency_ns=5_000, send_ns=0, recv_ns=0,
               server=_stats(10, success=2_000, compute_input=600, compute_infer=600,
                             compute_output=600))
    assert _row(run)["Network+Server Send/Recv"] == "3"  # 5000 - 1800 = 3200 ns


def test_latency_standard_deviation_is_the_sample_one() -> None:
    lat = LatencyStats.of(np.array([1_000, 2_000, 3_000, 6_000], dtype=np.int64))
    assert lat.std_ns == pytest.approx(float(np.std([1_000, 2_000, 3_000, 6_000], ddof=1)))
    one = LatencyStats.of(np.array([5_000], dtype=np.int64))
    assert math.isnan(one.std_ns)


def test_console_std_and_a_single_request() -> None:
    buf = RecordBuffer()
    for i, lat in enumerate((1_000_000, 2_000_000, 3_000_000, 6_000_000)):
        buf.add(i, i, i + lat)
    s = summarize(buf.view(), start_ns=0, end_ns=10**9, batch_size=1, server=None,
                  client=ClientLoad())
    run = RunResult(mode="concurrency", model=ModelTraits(name="m"), batch_size=1,
                    server_stats=False,
                    points=[PointResult(level=1, windows=(), verdict=STABLE, merged=s)])
    # sqrt(((-2)^2 + (-1)^2 + 0 + 3^2) / 3) ms = 2160.2 us (n: 1870.8 us)
    assert "(standard deviation 2160 usec)" in point_text(run, run.points[0], "http")
    one = summarize(buf.view(0, 1), start_ns=0, end_ns=10**9, batch_size=1, server=None,
                    client=ClientLoad())
    run.points = [PointResult(level=1, windows=(), verdict=STABLE, merged=one)]
    assert "(standard deviation n/a (one request) usec)" in point_text(run, run.points[0], "http")


def test_scheduled_latency_keeps_the_send_delay_out_of_network_and_response_wait() -> None:
    # Every request left 5 ms behind schedule and took 580 us from its actual send.
    server = _stats(10, success=300, queue=100, compute_infer=200)
    cfg = {"latency_from": "scheduled"}
    sched = _run(latency_ns=580_000, send_ns=20_000, recv_ns=10_000, server=server,
                 late_ns=5_000_000, mode="request_rate", config=cfg)
    sent = _run(latency_ns=580_000, send_ns=20_000, recv_ns=10_000, server=server,
                late_ns=5_000_000, mode="request_rate")
    a, b = _row(sched), _row(sent)
    assert a["p50 latency"] == a["Avg latency"] == "5580"  # the corrected latency, its own figure
    assert b["p50 latency"] == b["Avg latency"] == "580"
    for column in ("Network+Server Send/Recv", "request/response", "response wait"):
        assert a[column] == b[column]
    assert a["Network+Server Send/Recv"] == "549"  # 580 - 20 - 10 - 0.3 us, rounded once
    assert a["response wait"] == "550"
    text = point_text(sched, sched.points[0], "http")
    assert "Avg HTTP time: 580 usec (send/recv 30 usec + response wait 550 usec)" in text


def test_over_the_limit_is_not_exit_2() -> None:
    from perfanalyzer.measure.status import Judging, did_not_stabilize

    over = Verdict(done=True, stable=False, reason="latency_threshold", throughput_spread=0.5,
                   latency_spread=0.5, over_threshold=True)
    shaky = Verdict(done=True, stable=False, reason="max_trials", throughput_spread=0.5,
                    latency_spread=0.5, over_threshold=False)
    run = _run(latency_ns=3_000, send_ns=0, recv_ns=0, server=_stats(10))
    s = run.points[0].merged
    judging = Judging(latency_threshold_ns=1_000)
    assert not did_not_stabilize([PointResult(level=1, windows=(), verdict=over, merged=s)],
                                 judging)
    assert did_not_stabilize([PointResult(level=1, windows=(), verdict=shaky, merged=s)],
                             Judging())


def test_repeat_warns_when_one_unstable_run_leaves_a_level_out_of_f() -> None:
    import dataclasses

    from perfanalyzer.report.repeat import intervals_text
    from perfanalyzer.results.combine import combine_runs
    from tests.support.synthetic_runs import synthetic_run

    runs = [synthetic_run((1, 2), seed=s) for s in (1, 2, 3)]
    shaky = Verdict(done=True, stable=False, reason="max_trials", throughput_spread=0.5,
                    latency_spread=0.5, over_threshold=False)
    runs[1].points[0] = dataclasses.replace(runs[1].points[0], verdict=shaky)
    pooled = combine_runs(runs)
    assert [p.stable for p in pooled.points] == [False, True]
    assert [r.get("Concurrency") for r in csv.DictReader(io.StringIO(csv_text(pooled)))] == ["2"]
    text = intervals_text(pooled)
    assert ("[WARNING] Concurrency 1 did not stabilize in run 2 of 3: the pooled point is left "
            "out of -f (--csv-all-points writes it, marked)") in text
    assert "Concurrency 2 did not stabilize" not in text


def test_the_gate_reads_response_wait_and_network_from_the_actual_send() -> None:
    from perfanalyzer.gate.inputs import summary_figures

    run = _run(latency_ns=580_000, send_ns=20_000, recv_ns=10_000,
               server=_stats(10, success=300, queue=100, compute_infer=200),
               late_ns=5_000_000, mode="request_rate", config={"latency_from": "scheduled"})
    cols = ("Avg latency", "response wait", "Network+Server Send/Recv")
    fig = summary_figures(run.points[0].merged, cols, "scheduled")
    assert fig["Avg latency"] == pytest.approx(5580.0)  # the corrected latency, its own figure
    assert fig["response wait"] == pytest.approx(550.0)
    assert fig["Network+Server Send/Recv"] == pytest.approx(549.7)
