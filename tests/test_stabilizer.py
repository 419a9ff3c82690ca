"""Stabilizer and nearest-rank percentile: perf_analyzer's unit-test cases plus Hypothesis
properties of the percentile (pure, no server); the stabilizer's properties are in
test_stabilizer_props.py."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from perfanalyzer.errors import OptionError
from perfanalyzer.measure.percentile import merge_percentile, percentile_index, percentiles
from perfanalyzer.measure.stabilizer import (
    MAX_SCALE,
    NO_REQUESTS_MESSAGE,
    Criteria,
    Verdict,
    WindowFigures,
    adaptive_scale,
    distance_from_stable,
    judge,
)

MS = 1_000_000


def wins(
    throughputs: Sequence[float], latencies: Sequence[float], counts: Sequence[int] | None = None
) -> list[WindowFigures]:
    counts = counts if counts is not None else [100] * len(throughputs)
    return [
        WindowFigures(t, lat, c) for t, lat, c in zip(throughputs, latencies, counts, strict=True)
    ]


# ------------------------------------------------------ perf_analyzer's test_inference_profiler


@pytest.mark.parametrize(
    ("throughputs", "latencies", "window_count", "stable"),
    [
        ([1.0, 1000.0, 500.0], [1, 1, 1], 3, False),  # throughput not stable
        ([500.0, 520.0, 510.0], [1, 1, 1], 3, True),  # throughput stable
        ([500.0, 520.0, 510.0], [100, 106, 112], 3, False),  # latency 112/100 = 1.12 > 1.1
        ([500.0, 520.0, 510.0], [100, 104, 108], 3, True),  # latency 1.08 <= 1.1
        ([1.0, 1000.0, 500.0, 1500.0, 500.0, 520.0, 510.0], [1] * 7, 3, True),  # after many
        ([500.0, 520.0, 510.0, 505.0, 515.0], [100, 104, 108, 102, 106], 5, True),  # window 5
        ([1.0, 1000.0, 510.0, 505.0, 515.0], [100, 104, 108, 102, 106], 5, False),  # 3 not 5
        ([500.0, 1000.0, 1.0, 505.0, 515.0], [100, 104, 108, 102, 106], 2, True),  # window 2
    ],
)
def test_check_window_for_stability(
    throughputs: list[float], latencies: list[float], window_count: int, stable: bool
) -> None:
    v = judge(wins(throughputs, latencies), Criteria(window_count=window_count))
    assert v.stable is stable
    assert v.reason == ("stable" if stable else "measuring")
    assert v.done is stable


@pytest.mark.parametrize(
    ("latency_ns", "over"),
    [(2_000_000, True), (1_000_000, True), (999_999, False), (100_000, False)],
)
def test_check_within_threshold(latency_ns: int, over: bool) -> None:
    """perf_analyzer: latencies 2 ms vs -l 1 ms is over; 0.1 ms is within (>= is over)."""
    criteria = Criteria(latency_threshold_ns=1 * MS)
    unstable = judge(wins([1.0, 1000.0, 500.0], [latency_ns] * 3), criteria)
    assert unstable.over_threshold is over
    assert (unstable.done, unstable.stable) == (over, False)
    assert unstable.reason == ("latency_threshold" if over else "measuring")
    # A stable point over the limit stays stable (perf_analyzer reports it, then ends the sweep
    # with "Measured latency went over the set limit"); over_threshold tells the caller to stop.
    stable = judge(wins([500.0, 520.0, 510.0], [latency_ns] * 3), criteria)
    assert (stable.done, stable.stable, stable.reason) == (True, True, "stable")
    assert stable.over_threshold is over


def test_determine_stability_inference_equals_zero() -> None:
    criteria = Criteria()
    zero = judge(wins([500.0, 0.0, 510.0], [1, 1, 1], [100, 0, 100]), criteria)
    assert (zero.stable, zero.done, zero.reason) == (False, False, "no_requests")
    assert zero.throughput_spread == math.inf
    # A zero throughput is unstable even if the caller claims requests were counted.
    odd = judge(wins([500.0, 0.0, 510.0], [1, 1, 1]), criteria)
    assert (odd.stable, odd.reason) == (False, "measuring")
    assert judge(wins([500.0, 520.0, 510.0], [1, 1, 1]), criteria).stable


def test_is_done_profiling_cases() -> None:
    unstable = wins([1.0, 1000.0, 500.0], [1, 1, 1])
    assert judge(unstable, Criteria()).done is False  # no -l
    assert judge(unstable, Criteria(latency_threshold_ns=1 * MS)).done is False
    over = wins([1.0, 1000.0, 500.0], [2 * MS] * 3)
    v = judge(over, Criteria(latency_threshold_ns=1 * MS))
    assert (v.done, v.stable, v.reason, v.over_threshold) == (
        True,
        False,
        "latency_threshold",
        True,
    )
    stable = judge(wins([500.0, 520.0, 510.0], [1, 1, 1]), Criteria(latency_threshold_ns=1 * MS))
    assert (stable.done, stable.reason) == (True, "stable")


def test_underflow_fewer_windows_than_the_rule_needs() -> None:
    v = judge(wins([500.0, 510.0], [1, 1]), Criteria(latency_threshold_ns=1 * MS))
    assert (v.done, v.stable, v.reason) == (False, False, "measuring")
    assert v.throughput_spread == math.inf and v.latency_spread == math.inf
    empty = judge([], Criteria())
    assert (empty.done, empty.reason) == (False, "measuring")


# --------------------------------------------------------------------------- further tables


def test_spreads_are_max_over_min_minus_one() -> None:
    v = judge(wins([500.0, 520.0, 510.0], [100, 104, 108]), Criteria())
    assert v.throughput_spread == pytest.approx(0.04, abs=1e-12)
    assert v.latency_spread == pytest.approx(0.08, abs=1e-12)
    only_last_three = judge(wins([1.0, 500.0, 520.0, 510.0], [9, 100, 104, 108]), Criteria())
    assert only_last_three.throughput_spread == pytest.approx(0.04, abs=1e-12)


def test_boundary_ratio_exactly_one_plus_s_is_stable() -> None:
    """110/100 <= 1 + 0.1 holds in floating point, as in perf_analyzer (110/100 − 1 > 0.1 would
    not)."""
    assert judge(wins([100.0, 110.0, 105.0], [100, 110, 100]), Criteria()).stable
    assert not judge(wins([100.0, 110.01, 105.0], [1, 1, 1]), Criteria()).stable


def test_zero_percent_needs_identical_figures() -> None:
    assert judge(wins([7.0] * 3, [5.0] * 3), Criteria(stability_pct=0)).stable
    assert not judge(wins([7.0, 7.0, 7.0000001], [5.0] * 3), Criteria(stability_pct=0)).stable


def test_threshold_only_judged_once_window_count_windows_exist() -> None:
    criteria = Criteria(latency_threshold_ns=1 * MS)
    early = judge(wins([500.0, 510.0], [5 * MS, 5 * MS]), criteria)
    assert (early.done, early.over_threshold) == (False, False)
    one_over = judge(wins([500.0, 510.0, 505.0], [1, 1, 1 * MS]), criteria)
    assert (one_over.done, one_over.reason, one_over.over_threshold) == (
        True,
        "latency_threshold",
        True,
    )
    old_over = judge(wins([500.0, 510.0, 505.0, 500.0], [1 * MS, 1, 1, 1]), criteria)
    assert (old_over.over_threshold, old_over.reason) == (False, "stable")


def test_max_trials_async_accepts_throughput_only() -> None:
    tp = [500.0, 520.0, 510.0] * 3 + [505.0]
    lat = [100, 200, 300] * 3 + [150]
    assert judge(wins(tp[:9], lat[:9]), Criteria()).reason == "measuring"
    v = judge(wins(tp, lat), Criteria(max_trials=10))
    assert (v.done, v.stable, v.reason) == (True, True, "throughput_only")
    sync = judge(wins(tp, lat), Criteria(max_trials=10, async_mode=False))
    assert (sync.done, sync.stable, sync.reason) == (True, False, "max_trials")


def test_max_trials_unstable_throughput_fails() -> None:
    v = judge(wins([100.0, 300.0] * 5, [1] * 10), Criteria(max_trials=10))
    assert (v.done, v.stable, v.reason) == (True, False, "max_trials")
    beyond = judge(wins([100.0, 300.0] * 6, [1] * 12), Criteria(max_trials=10))
    assert (beyond.done, beyond.reason) == (True, "max_trials")


def test_no_requests_is_done_only_at_max_trials() -> None:
    criteria = Criteria(max_trials=4)
    early = judge(wins([0.0], [0.0], [0]), criteria)
    assert (early.done, early.stable, early.reason) == (False, False, "no_requests")
    three = judge(wins([500.0, 510.0, 0.0], [1, 1, 0], [50, 51, 0]), criteria)
    assert (three.done, three.reason) == (False, "no_requests")
    at_max = judge(wins([500.0, 510.0, 505.0, 0.0], [1, 1, 1, 0], [50, 51, 50, 0]), criteria)
    assert (at_max.done, at_max.stable, at_max.reason) == (True, False, "no_requests")
    assert NO_REQUESTS_MESSAGE.endswith("Please use a larger time window.")


def test_over_threshold_wins_over_no_requests() -> None:
    v = judge(
        wins([500.0, 510.0, 0.0], [2 * MS, 1, 0], [5, 5, 0]), Criteria(latency_threshold_ns=MS)
    )
    assert (v.done, v.reason) == (True, "latency_threshold")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"stability_pct": -1.0},
        {"stability_pct": math.nan},
        {"max_trials": 0},
        {"latency_threshold_ns": -1},
        {"window_count": 0},
    ],
)
def test_criteria_validation(kwargs: dict[str, float]) -> None:
    with pytest.raises(OptionError) as info:
        Criteria(**kwargs)  # type: ignore[arg-type]
    assert info.value.exit_code == 3


def test_criteria_defaults_match_perf_analyzer() -> None:
    c = Criteria()
    assert (c.stability_pct, c.max_trials, c.latency_threshold_ns, c.window_count) == (10, 10, 0, 3)
    assert c.threshold == 0.1 and c.async_mode is True


# ------------------------------------------------------------------ distance and adaptive scale


def test_distance_from_stable_line() -> None:
    criteria = Criteria()
    v = judge(wins([100.0, 114.2, 105.0], [100, 103.1, 101]), criteria)
    assert distance_from_stable(v, criteria) == (
        "throughput spread 14.2% (target 10%), latency spread 3.1%"
    )
    early = judge(wins([100.0], [1]), Criteria(stability_pct=5))
    assert distance_from_stable(early, Criteria(stability_pct=5)) == (
        "throughput spread n/a (target 5%), latency spread n/a"
    )
    limited = Criteria(latency_threshold_ns=2 * MS)
    over = judge(wins([100.0, 101.0, 102.0], [3 * MS] * 3), limited)
    assert distance_from_stable(over, limited) == (
        "throughput spread 2.0% (target 10%), latency spread 0.0%, "
        "latency at or over the 2 ms limit"
    )
    none = judge(wins([100.0, 101.0, 0.0], [1, 1, 0], [1, 1, 0]), criteria)
    assert distance_from_stable(none, criteria).endswith(", a window recorded no requests")


@pytest.mark.parametrize(
    ("throughputs", "latencies", "counts", "scale"),
    [
        ([100.0], [1.0], [1], 1.0),  # one window: no spread yet
        ([100.0], [1.0], [0], MAX_SCALE),  # no requests: lengthen at once
        ([100.0, 105.0, 102.0], [10, 10, 10], [1, 1, 1], 1.0),  # within target
        ([100.0, 112.0], [10, 10], [1, 1], 1.44),  # (0.12/0.1)² = 1.44
        ([100.0, 120.0, 110.0], [10, 10, 10], [1, 1, 1], 2.0),  # (0.2/0.1)² = 4, capped
        ([100.0, 100.0, 100.0], [100, 105, 111], [1, 1, 1], 1.21),  # latency spread 0.11
        ([9.0, 100.0, 100.0, 111.0], [10] * 4, [1] * 4, 1.21),  # only the last 3 count
    ],
)
def test_adaptive_scale_table(
    throughputs: list[float], latencies: list[float], counts: list[int], scale: float
) -> None:
    got = adaptive_scale(wins(throughputs, latencies, counts), Criteria())
    assert got == pytest.approx(scale, rel=1e-9)


def test_adaptive_scale_zero_target() -> None:
    assert adaptive_scale(wins([1.0, 2.0], [1, 1]), Criteria(stability_pct=0)) == MAX_SCALE
    assert adaptive_scale(wins([1.0, 1.0], [1, 1]), Criteria(stability_pct=0)) == 1.0
    assert adaptive_scale([], Criteria()) == 1.0


# ------------------------------------------------------------------------ Hypothesis properties
def test_verdict_is_frozen() -> None:
    v = judge([], Criteria())
    assert isinstance(v, Verdict)
    with pytest.raises(AttributeError):
        v.done = True  # type: ignore[misc]


# ------------------------------------------------------------------------ nearest-rank percentile


@pytest.mark.parametrize(
    ("samples", "p", "expected"),
    [
        ([42], 50, 42),
        ([42], 99, 42),
        ([10, 20], 0, 10),
        ([10, 20], 40, 10),  # int(0.4 + 0.5) = 0
        ([20, 10], 50, 20),  # int(0.5 + 0.5) = 1 (unsorted input)
        ([10, 20], 90, 20),
        ([3, 1, 2], 50, 2),
        ([3, 1, 2, 4], 50, 3),  # int(1.5 + 0.5) = 2
    ],
)
def test_merge_percentile_small_table(samples: list[int], p: float, expected: int) -> None:
    assert merge_percentile(np.array(samples, dtype=np.int64), p) == expected


@pytest.mark.parametrize(
    ("p", "expected"), [(0, 1), (50, 51), (90, 90), (95, 95), (99, 99), (100, 100), (1, 2)]
)
def test_merge_percentile_hundred_values(p: float, expected: int) -> None:
    """1..100 shuffled: index int(p/100·99 + 0.5) → p50: 50 → 51, p90: 89 → 90, p99: 98 → 99."""
    values = np.arange(1, 101, dtype=np.int64)
    np.random.default_rng(7).shuffle(values)
    got = merge_percentile(values, p)
    assert isinstance(got, int) and got == expected
    assert percentiles(values, [p])[p] == expected


def test_merge_percentile_pools_windows() -> None:
    pooled = np.concatenate([np.array([3, 1, 2]), np.array([6, 5, 4])])
    assert merge_percentile(pooled, 50) == 4  # n=6: int(2.5 + 0.5) = 3 → sorted[3] = 4
    assert percentiles(pooled, (50, 90, 95, 99)) == {50: 4, 90: 6, 95: 6, 99: 6}


@pytest.mark.parametrize(("p", "n"), [(50, 0), (-1, 5), (100.5, 5), (math.nan, 5)])
def test_percentile_errors(p: float, n: int) -> None:
    with pytest.raises(ValueError):
        merge_percentile(np.arange(n), p)


@given(
    samples=st.lists(st.integers(0, 10**12), min_size=1, max_size=300),
    p=st.integers(0, 100),
)
def test_merge_percentile_matches_sorted_index(samples: list[int], p: int) -> None:
    ordered = sorted(samples)
    index = percentile_index(p, len(samples))
    assert 0 <= index < len(samples)
    assert merge_percentile(np.array(samples, dtype=np.int64), p) == ordered[index]
    assert index == int((p / 100.0) * (len(samples) - 1) + 0.5)
