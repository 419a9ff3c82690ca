"""Stabilizer and nearest-rank percentile: perf_analyzer's unit-test cases plus Hypothesis
properties (pure, no server)."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from perfanalyzer.errors import OptionError
from perfanalyzer.measure.percentile import merge_percentile, percentile_index, percentiles
from perfanalyzer.measure.stabilizer import (
    MAX_SCALE,
    NO_REQUESTS_MESSAGE,
    REASONS,
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


@st.composite
def windows_st(draw: st.DrawFn, min_size: int = 0, max_size: int = 12) -> list[WindowFigures]:
    n = draw(st.integers(min_size, max_size))
    out = []
    for _ in range(n):
        count = draw(st.one_of(st.just(0), st.integers(1, 10_000))) if draw(st.booleans()) else 100
        if count == 0:
            out.append(WindowFigures(0.0, 0.0, 0))
            continue
        # Narrow ranges make stable triples likely enough to exercise every branch.
        tp = draw(st.sampled_from([100.0, 104.0, 109.0, 125.0])) * draw(st.sampled_from([1, 1e3]))
        lat = draw(st.floats(min_value=1e3, max_value=1.3e3))
        out.append(WindowFigures(tp, lat, count))
    return out


criteria_st = st.builds(
    Criteria,
    stability_pct=st.sampled_from([0.0, 5.0, 10.0, 25.0, 100.0]),
    max_trials=st.integers(1, 15),
    latency_threshold_ns=st.one_of(st.just(0), st.integers(1_000, 1_400)),
    async_mode=st.booleans(),
    window_count=st.integers(1, 5),
)


def _oracle_stable(windows: Sequence[WindowFigures], c: Criteria) -> bool:
    if len(windows) < c.window_count:
        return False
    tail = windows[len(windows) - c.window_count :]
    if any(x.throughput == 0 or x.count == 0 for x in tail):
        return False
    tps = [x.throughput for x in tail]
    lats = [x.latency_ns for x in tail]
    return max(tps) / min(tps) <= 1 + c.threshold and max(lats) / min(lats) <= 1 + c.threshold


@given(windows=windows_st(), criteria=criteria_st)
def test_verdict_invariants(windows: list[WindowFigures], criteria: Criteria) -> None:
    v = judge(windows, criteria)
    assert v.reason in REASONS
    assert (v.reason == "stable") == _oracle_stable(windows, criteria)
    if v.stable:
        assert v.done and v.reason in ("stable", "throughput_only")
    assert v.done == (
        v.reason != "measuring"
        and (v.reason != "no_requests" or len(windows) >= criteria.max_trials)
    )
    if len(windows) >= criteria.max_trials:
        assert v.done
    if v.reason == "throughput_only":
        assert criteria.async_mode and len(windows) >= criteria.max_trials
    if v.reason == "latency_threshold":
        assert v.over_threshold and v.done and not v.stable
    if v.over_threshold:
        assert v.done and v.reason in ("stable", "latency_threshold")


@given(
    windows=windows_st(),
    criteria=criteria_st,
    k_tp=st.integers(-20, 20),
    k_lat=st.integers(0, 20),
)
def test_scaling_by_powers_of_two_keeps_the_verdict(
    windows: list[WindowFigures], criteria: Criteria, k_tp: int, k_lat: int
) -> None:
    """Exact scaling (powers of two): throughput by 2^k, latency and -l together by 2^j."""
    scaled = [
        WindowFigures(math.ldexp(x.throughput, k_tp), math.ldexp(x.latency_ns, k_lat), x.count)
        for x in windows
    ]
    c2 = Criteria(
        stability_pct=criteria.stability_pct,
        max_trials=criteria.max_trials,
        latency_threshold_ns=criteria.latency_threshold_ns << k_lat,
        async_mode=criteria.async_mode,
        window_count=criteria.window_count,
    )
    assert judge(scaled, c2) == judge(windows, criteria)


@given(windows=windows_st(), criteria=criteria_st, c=st.floats(min_value=1e-3, max_value=1e3))
def test_scaling_throughput_by_any_constant_keeps_the_decision(
    windows: list[WindowFigures], criteria: Criteria, c: float
) -> None:
    before = judge(windows, criteria)
    after = judge(
        [WindowFigures(x.throughput * c, x.latency_ns, x.count) for x in windows], criteria
    )
    # Away from the exact boundary, where one ulp of rounding may fall on either side.
    assume(abs(after.throughput_spread - criteria.threshold) > 1e-9)
    assume(abs(before.throughput_spread - criteria.threshold) > 1e-9)
    assert (after.done, after.stable, after.reason) == (before.done, before.stable, before.reason)
    if math.isfinite(before.throughput_spread):
        assert after.throughput_spread == pytest.approx(before.throughput_spread, abs=1e-12)


@given(windows=windows_st(min_size=1), criteria=criteria_st, seed=st.integers(0, 2**32))
def test_permuting_the_last_windows_keeps_the_verdict(
    windows: list[WindowFigures], criteria: Criteria, seed: int
) -> None:
    w = criteria.window_count
    head, tail = windows[:-w], windows[-w:]
    shuffled = list(tail)
    random.Random(seed).shuffle(shuffled)
    assert judge(head + shuffled, criteria) == judge(windows, criteria)


@given(
    windows=windows_st(min_size=1), extra=windows_st(min_size=1, max_size=1), criteria=criteria_st
)
def test_adding_an_earlier_window_keeps_the_verdict(
    windows: list[WindowFigures], extra: list[WindowFigures], criteria: Criteria
) -> None:
    n = len(windows)
    assume(n >= criteria.window_count)
    assume((n >= criteria.max_trials) == (n + 1 >= criteria.max_trials))
    assert judge(extra + windows, criteria) == judge(windows, criteria)


@given(windows=windows_st(), other=windows_st(max_size=12), criteria=criteria_st)
def test_verdict_depends_only_on_last_windows_and_count(
    windows: list[WindowFigures], other: list[WindowFigures], criteria: Criteria
) -> None:
    n, w = len(windows), criteria.window_count
    keep = min(n, w)
    prefix_len = n - keep
    assume(len(other) >= prefix_len)
    replaced = other[:prefix_len] + windows[prefix_len:]
    assert len(replaced) == n
    assert judge(replaced, criteria) == judge(windows, criteria)


@given(windows=windows_st(), criteria=criteria_st)
def test_adaptive_scale_bounds(windows: list[WindowFigures], criteria: Criteria) -> None:
    scale = adaptive_scale(windows, criteria)
    assert 1.0 <= scale <= MAX_SCALE
    v = judge(windows, criteria)
    if v.reason == "stable":
        assert scale == 1.0


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
