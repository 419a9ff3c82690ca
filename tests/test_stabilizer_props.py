"""Stabilizer: Hypothesis properties of the verdict and the adaptive scale (pure, no server).
"""
from __future__ import annotations

import math
import random
from collections.abc import Sequence

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from perfanalyzer.measure.stabilizer import MAX_SCALE, REASONS, Criteria, WindowFigures, adaptive_scale, judge


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
