"""Send schedules and range helpers: exact tables plus Hypothesis properties (pure, no server)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perfanalyzer.errors import OptionError
from perfanalyzer.load.schedule import (
    POISSON_BLOCK,
    constant,
    gamma,
    intervals,
    poisson,
    read_intervals_file,
)

rates = st.floats(min_value=0.01, max_value=1e6, allow_nan=False, allow_infinity=False)
seeds = st.integers(min_value=0, max_value=2**63)
starts = st.integers(min_value=0, max_value=3 * POISSON_BLOCK)


# ---------------------------------------------------------------------------------- constant


@pytest.mark.parametrize(
    ("rate", "start", "count", "expected"),
    [
        (1000.0, 0, 4, [0, 1_000_000, 2_000_000, 3_000_000]),
        (3.0, 0, 4, [0, 333_333_333, 666_666_667, 1_000_000_000]),
        (7.0, 5, 2, [714_285_714, 857_142_857]),
        (0.5, 0, 3, [0, 2_000_000_000, 4_000_000_000]),
        (1e9, 0, 3, [0, 1, 2]),
        (40.0, 1_000_000, 1, [25_000_000_000_000]),
        (1000.0, 10, 0, []),
    ],
)
def test_constant_offsets_table(rate: float, start: int, count: int, expected: list[int]) -> None:
    got = constant(rate).offsets(start, count)
    assert got.dtype == np.int64
    assert got.tolist() == expected


def test_constant_rate_attribute() -> None:
    assert constant(250.0).rate == 250.0


@pytest.mark.parametrize("bad", [0.0, -1.0, math.nan, math.inf, -math.inf, 1e-9])
@pytest.mark.parametrize("make", [constant, lambda r: poisson(r, 0)])
def test_bad_rate_names_the_flag(make: Callable[[float], object], bad: float) -> None:
    with pytest.raises(OptionError, match="--request-rate-range") as info:
        make(bad)
    assert info.value.exit_code == 3
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("rate", [10, 100, 1000, 10_000])
def test_constant_gap_mean_and_variance(rate: int) -> None:
    """As perf_analyzer's test_perf_utils: mean gap 1/rate within 0.5 %, (near) zero variance."""
    gaps = np.diff(constant(rate).offsets(0, 100_001)).astype(np.float64)
    period = 1e9 / rate
    assert gaps.mean() == pytest.approx(period, rel=0.005)
    assert gaps.var() <= (0.005 * period) ** 2
    assert gaps.min() >= math.floor(period) and gaps.max() <= math.ceil(period)


@given(rate=rates, start=starts, count=st.integers(0, 500))
def test_constant_monotone_and_no_burst(rate: float, start: int, count: int) -> None:
    offsets = constant(rate).offsets(start, count)
    assert (np.diff(offsets) >= 0).all()
    head = constant(rate).offsets(0, 2)
    assert head[0] == 0 and head[1] > 0


@given(rate=st.floats(min_value=1.0, max_value=9.9e8), n=st.integers(2, 200))
def test_constant_at_most_one_request_at_zero(rate: float, n: int) -> None:
    offsets = constant(rate).offsets(0, n)
    assert int((offsets == 0).sum()) == 1


# ----------------------------------------------------------------------------------- poisson


def test_poisson_pinned_prefix() -> None:
    """Regression pin: a saved run's schedule must be reproducible from (rate, seed)."""
    assert poisson(1000.0, 0).offsets(0, 6).tolist() == [
        0,
        679_932,
        1_699_529,
        1_719_336,
        1_721_605,
        2_271_948,
    ]


def test_poisson_seed_reproducible_and_distinct() -> None:
    a = poisson(500.0, 42).offsets(0, 1000)
    assert np.array_equal(a, poisson(500.0, 42).offsets(0, 1000))
    assert not np.array_equal(a, poisson(500.0, 43).offsets(0, 1000))
    assert poisson(500.0, 42).rate == 500.0


@pytest.mark.parametrize("seed", range(20))
def test_poisson_mean_rate_over_20000_draws(seed: int) -> None:
    """20 000 requests span 19 999 gaps; the realized rate is within 2 % of nominal."""
    offsets = poisson(1000.0, seed).offsets(0, 20_000)
    realized = (offsets.size - 1) * 1e9 / offsets[-1]
    assert realized == pytest.approx(1000.0, rel=0.02)


@pytest.mark.parametrize("rate", [10, 100, 1000, 10_000])
def test_poisson_gap_mean_and_std(rate: int) -> None:
    """As perf_analyzer's test_poisson_distribution: mean gap and std-dev both ≈ 1/rate."""
    gaps = np.diff(poisson(rate, rate).offsets(0, 1_000_001)).astype(np.float64)
    period = 1e9 / rate
    assert gaps.mean() == pytest.approx(period, rel=0.005)
    assert gaps.std() == pytest.approx(period, rel=0.01)


@settings(max_examples=40, deadline=None)
@given(rate=st.floats(min_value=0.01, max_value=1e5), seed=seeds)
def test_poisson_mean_rate_converges(rate: float, seed: int) -> None:
    # 100 000 gaps: the std error of the mean is 0.32 %, so 2 % is > 6 sigma (never flaky).
    offsets = poisson(rate, seed).offsets(0, 100_001)
    realized = (offsets.size - 1) * 1e9 / offsets[-1]
    assert realized == pytest.approx(rate, rel=0.02)


@settings(deadline=None)
@given(rate=rates, seed=seeds, start=starts, count=st.integers(0, 3000))
def test_poisson_monotone_first_at_zero(rate: float, seed: int, start: int, count: int) -> None:
    sched = poisson(rate, seed)
    offsets = sched.offsets(start, count)
    assert offsets.dtype == np.int64 and offsets.size == count
    assert (np.diff(offsets) > 0).all()  # gaps are at least 1 ns: never two at one instant
    assert sched.offsets(0, 1).tolist() == [0]
    if start > 0 and count:
        assert offsets[0] > 0


@settings(deadline=None)
@given(
    rate=rates,
    seed=seeds,
    cuts=st.lists(st.integers(0, 2 * POISSON_BLOCK + 10), max_size=8),
    total=st.integers(1, 2 * POISSON_BLOCK + 10),
)
def test_poisson_chunking_invariance(rate: float, seed: int, cuts: list[int], total: int) -> None:
    whole = poisson(rate, seed).offsets(0, total)
    bounds = sorted({0, total, *(c for c in cuts if c < total)})
    chunked = poisson(rate, seed)
    pieces = [chunked.offsets(a, b - a) for a, b in itertools.pairwise(bounds)]
    assert np.array_equal(np.concatenate(pieces), whole)


@settings(deadline=None)
@given(rate=rates, seed=seeds, start=st.integers(0, 4 * POISSON_BLOCK), count=st.integers(1, 50))
def test_poisson_random_access_equals_sequential(
    rate: float, seed: int, start: int, count: int
) -> None:
    """A fresh schedule asked for a far slice first agrees with one read from the start."""
    far = poisson(rate, seed).offsets(start, count)
    seq = poisson(rate, seed).offsets(0, start + count)[start:]
    assert np.array_equal(far, seq)


# --------------------------------------------------------------------------------- intervals


@pytest.mark.parametrize(
    ("values", "start", "count", "expected"),
    [
        ([1, 2, 3], 0, 8, [0, 1000, 3000, 6000, 7000, 9000, 12000, 13000]),
        ([1, 2, 3], 4, 3, [7000, 9000, 12000]),
        ([25_000], 0, 4, [0, 25_000_000, 50_000_000, 75_000_000]),
        ([5], 1_000_000, 1, [5_000_000_000]),
    ],
)
def test_intervals_offsets_table(
    values: list[int], start: int, count: int, expected: list[int]
) -> None:
    assert intervals(values).offsets(start, count).tolist() == expected


@pytest.mark.parametrize(
    ("values", "rate"), [([25_000], 40.0), ([10_000, 30_000], 50.0), ([1, 1, 1, 1], 1e6)]
)
def test_intervals_rate_is_n_over_sum(values: list[int], rate: float) -> None:
    assert intervals(values).rate == pytest.approx(rate, rel=1e-12)


@given(
    values=st.lists(st.integers(1, 10**7), min_size=1, max_size=20),
    loops=st.integers(1, 5),
    start=st.integers(0, 1000),
)
def test_intervals_loop_exactly(values: list[int], loops: int, start: int) -> None:
    n = len(values)
    offsets = intervals(values).offsets(start, loops * n + 1)
    gaps = np.diff(offsets)
    expected = [values[(start + k) % n] * 1000 for k in range(loops * n)]
    assert gaps.tolist() == expected
    assert intervals(values).offsets(0, 1).tolist() == [0]
    cycle = sum(values) * 1000
    assert offsets[n] - offsets[0] == cycle


@pytest.mark.parametrize("bad", [[], [0], [5, -1], [1.5], [True]])
def test_intervals_rejects_bad_values(bad: list[object]) -> None:
    with pytest.raises(OptionError, match="--request-intervals"):
        intervals(bad)  # type: ignore[arg-type]


def test_read_intervals_file(tmp_path: Path) -> None:
    path = tmp_path / "iv.txt"
    path.write_text("1000\n\n  2000  \r\n3000\n\n")
    assert read_intervals_file(path) == (1000, 2000, 3000)
    assert read_intervals_file(str(path)) == (1000, 2000, 3000)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("100\nabc\n", ":2: 'abc' is not a positive integer interval in µs"),
        ("100\n\n0\n", ":3: '0' is not a positive integer interval in µs"),
        ("-5\n", ":1: '-5' is not a positive integer interval in µs"),
        ("1.5\n", ":1: '1.5' is not a positive integer interval in µs"),
        ("10 20\n", ":1: '10 20' is not a positive integer interval in µs"),
        ("", ": no intervals"),
        ("\n  \n", ": no intervals"),
    ],
)
def test_read_intervals_file_errors(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "iv.txt"
    path.write_text(text)
    with pytest.raises(OptionError) as info:
        read_intervals_file(path)
    assert str(info.value).startswith(f"{path}{message}")
    assert "\n" not in str(info.value)


def test_read_intervals_file_missing(tmp_path: Path) -> None:
    path = tmp_path / "missing.txt"
    with pytest.raises(OptionError, match=r"missing\.txt: cannot read"):
        read_intervals_file(path)


# ------------------------------------------------------------------------------------ gamma


@pytest.mark.parametrize("burstiness", [0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 10.0])
def test_gamma_mean_rate_and_cv(burstiness: float) -> None:
    """Mean gap 1/rate and coefficient of variation 1/sqrt(burstiness). 200 000 gaps: the
    standard errors are under 1 % even at B = 0.1 (CV 3.2, excess kurtosis 60), so 5 % is
    several sigma (never flaky)."""
    offsets = gamma(1000.0, 7, burstiness).offsets(0, 200_001)
    gaps = np.diff(offsets).astype(np.float64)
    assert (offsets.size - 1) * 1e9 / offsets[-1] == pytest.approx(1000.0, rel=0.05)
    assert gaps.std() / gaps.mean() == pytest.approx(1 / math.sqrt(burstiness), rel=0.05)


def test_gamma_burstier_below_one_steadier_above() -> None:
    cv = {b: float(np.diff(gamma(50.0, 3, b).offsets(0, 50_001)).std()) for b in (0.3, 1, 3)}
    assert cv[0.3] > cv[1] > cv[3]


@settings(max_examples=40, deadline=None)
@given(rate=st.floats(min_value=0.01, max_value=1e5), seed=seeds,
       burstiness=st.floats(min_value=0.2, max_value=20.0))
def test_gamma_mean_rate_converges(rate: float, seed: int, burstiness: float) -> None:
    # 100 000 gaps of CV <= 2.3: the std error of the mean is <= 0.8 %, so 5 % never flakes.
    offsets = gamma(rate, seed, burstiness).offsets(0, 100_001)
    assert (offsets.size - 1) * 1e9 / offsets[-1] == pytest.approx(rate, rel=0.05)


@settings(deadline=None)
@given(rate=rates, seed=seeds, burstiness=st.floats(min_value=0.05, max_value=50.0),
       cuts=st.lists(st.integers(0, 2 * POISSON_BLOCK + 10), max_size=6),
       total=st.integers(1, 2 * POISSON_BLOCK + 10))
def test_gamma_pure_monotone_and_chunking_invariant(rate: float, seed: int, burstiness: float,
                                                     cuts: list[int], total: int) -> None:
    whole = gamma(rate, seed, burstiness).offsets(0, total)
    assert whole[0] == 0 and (np.diff(whole) > 0).all()
    bounds = sorted({0, total, *(c for c in cuts if c < total)})
    chunked = gamma(rate, seed, burstiness)
    pieces = [chunked.offsets(a, b - a) for a, b in itertools.pairwise(bounds)]
    assert np.array_equal(np.concatenate(pieces), whole)


@pytest.mark.parametrize("bad", [0.0, -1.0, math.inf, math.nan])
def test_gamma_bad_burstiness_names_the_flag(bad: float) -> None:
    with pytest.raises(OptionError, match="--request-burstiness"):
        gamma(10.0, 0, bad)


def test_the_flags_pick_a_gamma_schedule_and_refuse_a_stray_burstiness() -> None:
    from perfanalyzer.config import RunConfig
    from perfanalyzer.config.table import LoadMode
    from perfanalyzer.load.factory import schedule_for
    from perfanalyzer.profile.settings import load_settings

    cfg = RunConfig.of(model="m", mode=LoadMode.REQUEST_RATE, request_distribution="gamma",
                       request_burstiness=0.5, seed=3)
    assert repr(schedule_for(load_settings(cfg.validate()))(20.0)) == "gamma(20.0, seed=3, burstiness=0.5)"
    assert "burstiness=1.0" in repr(schedule_for(load_settings(cfg.replace(request_burstiness=None)))(20.0))
    with pytest.raises(OptionError, match="--request-burstiness: shapes the gaps of"):
        cfg.replace(request_distribution="poisson").validate()
