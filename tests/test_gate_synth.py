"""The synthetic runs of tests/support/synthetic_runs.py have the figures they are asked for."""

from __future__ import annotations

import pytest

from tests.support.synthetic_runs import MERGED, synthetic_run


def test_synthetic_run_has_the_asked_figures() -> None:
    run = synthetic_run((1, 4), latency_ms=10.0, window_sigma=0.0, jitter=0.0)
    one, four = run.points
    assert [len(p.windows) for p in run.points] == [8, 8]
    assert one.merged.windows == MERGED
    assert one.merged.completed == 3 * 100 and four.merged.completed == 3 * 400
    assert one.merged.throughput == pytest.approx(100.0)
    assert four.merged.latency.p(99) == 10_000_000
    assert run.buffer is not None and run.buffer.count == 8 * 100 + 8 * 400


def test_slowdown_scales_latency_and_throughput() -> None:
    base = synthetic_run((2,), window_sigma=0.0, jitter=0.0)
    slow = synthetic_run((2,), window_sigma=0.0, jitter=0.0, slowdown=1.25)
    assert slow.points[0].merged.latency.p(50) == 12_500_000
    assert slow.points[0].merged.throughput == pytest.approx(base.points[0].merged.throughput / 1.25)


def test_explicit_window_factors_are_used_in_order() -> None:
    run = synthetic_run((1,), lat_factors=[1.0, 2.0, 1.0, 1.5], tp_factors=[1.0] * 4, jitter=0.0)
    p99 = [w.summary.latency.p(99) for w in run.points[0].windows]
    assert p99 == [10_000_000, 20_000_000, 10_000_000, 15_000_000]
    assert run.points[0].merged.latency.p(99) == 20_000_000  # last three windows pooled
