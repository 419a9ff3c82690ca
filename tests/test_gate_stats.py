"""Mann–Whitney U (exact and normal) and the seeded bootstrap CI, against hand-computed values."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perfanalyzer.gate.stats import (
    EXACT_LIMIT,
    bootstrap_change_ci,
    change_interval,
    mann_whitney_u,
    midranks,
    min_p_value,
)
from perfanalyzer.measure.tdist import t_cdf, t_quantile

MALES = [19, 22, 16, 29, 24]
FEMALES = [20, 11, 17, 12]


def test_midranks_share_tied_ranks() -> None:
    assert midranks(np.array([10.0, 20.0, 10.0, 30.0])).tolist() == [1.5, 3.0, 1.5, 4.0]


def test_exact_matches_the_textbook_example() -> None:
    # 5 vs 4, U = 17: 14 of the 126 splits are at least as extreme on either side -> 14/126.
    r = mann_whitney_u(MALES, FEMALES)
    assert (r.u, r.method, r.n1, r.n2) == (17.0, "exact", 5, 4)
    assert r.p_value == pytest.approx(1 / 9, abs=1e-12)


def test_normal_approximation_with_continuity_correction() -> None:
    r = mann_whitney_u(MALES, FEMALES, method="normal")
    # mu = 10, sigma^2 = 5*4/12*10, z = (7 - 0.5)/sigma
    z = 6.5 / math.sqrt(5 * 4 / 12 * 10)
    assert r.p_value == pytest.approx(math.erfc(z / math.sqrt(2)), rel=1e-12)
    assert r.p_value == pytest.approx(0.11134688653314, rel=1e-9)


def test_full_separation_gives_the_smallest_p() -> None:
    assert mann_whitney_u([1, 2, 3], [4, 5, 6]).p_value == pytest.approx(0.1)
    assert mann_whitney_u(range(8), range(8, 16)).p_value == pytest.approx(2 / math.comb(16, 8))
    assert mann_whitney_u([1, 2, 3, 4], [5, 6, 7, 8], "less").p_value == pytest.approx(1 / 70)
    assert mann_whitney_u([1, 2, 3, 4], [5, 6, 7, 8], "greater").p_value == pytest.approx(1.0)


def test_ties_use_midranks_in_the_exact_distribution() -> None:
    # x = [1, 2, 2], y = [2, 3, 3]: midranks 1, 3, 3 | 3, 5.5, 5.5 -> U_x = 7 - 6 = 1.
    r = mann_whitney_u([1, 2, 2], [2, 3, 3])
    assert r.u == 1.0
    # Enumerate by hand: the 20 splits' U values, |U - 4.5| >= 3.5.
    ranks = [1, 3, 3, 3, 5.5, 5.5]
    from itertools import combinations

    us = [sum(ranks[i] for i in c) - 6 for c in combinations(range(6), 3)]
    assert r.p_value == pytest.approx(sum(abs(u - 4.5) >= 3.5 for u in us) / 20)


def test_all_tied_is_no_evidence() -> None:
    assert mann_whitney_u([5.0] * 3, [5.0] * 4).p_value == 1.0
    assert mann_whitney_u([5.0] * 30, [5.0] * 30).p_value == 1.0  # normal path, zero variance


def test_large_samples_use_the_normal_approximation() -> None:
    rng = np.random.default_rng(3)
    x, y = rng.normal(0, 1, 40), rng.normal(1, 1, 40)
    r = mann_whitney_u(x, y)
    assert r.method == "normal" and math.comb(80, 40) > EXACT_LIMIT
    u = float(np.sum(x[:, None] > y[None, :]))  # U by its definition: pairs with x > y
    z = (abs(u - 800) - 0.5) / math.sqrt(40 * 40 * 81 / 12)
    assert r.u == u and r.p_value == pytest.approx(math.erfc(z / math.sqrt(2)), rel=1e-12)
    assert r.p_value < 0.001


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="non-empty"):
        mann_whitney_u([], [1.0])
    with pytest.raises(ValueError, match="finite"):
        mann_whitney_u([1.0, math.nan], [1.0])


def test_min_p_value() -> None:
    assert min_p_value(3, 3) == pytest.approx(0.1)
    assert min_p_value(4, 4) == pytest.approx(2 / 70)
    assert min_p_value(3, 4) == pytest.approx(2 / 35)
    assert min_p_value(3, 3, "greater") == pytest.approx(0.05)
    assert min_p_value(0, 5) == 1.0


@settings(max_examples=40, deadline=None)
@given(st.integers(5, 8), st.integers(5, 8), st.randoms(use_true_random=False))
def test_exact_and_normal_agree_roughly_without_ties(n1: int, n2: int, rnd: Any) -> None:
    values = list(range(n1 + n2))
    rnd.shuffle(values)
    x, y = values[:n1], values[n1:]
    exact = mann_whitney_u(x, y, method="exact").p_value
    normal = mann_whitney_u(x, y, method="normal").p_value
    assert abs(exact - normal) < 0.03
    assert mann_whitney_u(y, x).p_value == pytest.approx(exact)  # two-sided is symmetric


def test_bootstrap_ci_is_seeded_and_covers_the_shift() -> None:
    base = [100.0, 101.0, 99.0, 100.5, 99.5, 100.0]
    cur = [130.0, 131.0, 129.0, 130.5, 129.5, 130.0]
    lo, hi = bootstrap_change_ci(base, cur)
    assert lo < 0.30 < hi and hi - lo < 0.02
    assert bootstrap_change_ci(base, cur) == (lo, hi)
    assert bootstrap_change_ci(base, cur, seed=1) != (lo, hi)
    alo, ahi = bootstrap_change_ci(base, cur, relative=False, statistic="median")
    assert alo <= 30.0 <= ahi


def test_bootstrap_ci_of_identical_samples_is_zero() -> None:
    assert bootstrap_change_ci([5.0, 5.0], [5.0, 5.0, 5.0]) == (0.0, 0.0)


@pytest.mark.parametrize(("q", "df", "expected"), [
    (0.975, 1, 12.706204736), (0.975, 2, 4.302652730), (0.975, 4, 2.776445105),
    (0.975, 30, 2.042272456), (0.995, 3, 5.840909309), (0.95, 10, 1.812461123),
    (0.025, 4, -2.776445105), (0.975, 1000, 1.962339081),
])
def test_t_quantile_matches_the_tables(q: float, df: float, expected: float) -> None:
    assert t_quantile(q, df) == pytest.approx(expected, rel=1e-8)
    assert t_cdf(t_quantile(q, df), df) == pytest.approx(q, abs=1e-12)


def test_t_quantile_refuses_bad_input() -> None:
    with pytest.raises(ValueError, match="0 < q < 1"):
        t_quantile(1.0, 3)


def test_change_interval_by_hand() -> None:
    base, cur = [100.0, 102.0, 98.0], [90.0, 93.0, 87.0]
    iv = change_interval(base, cur, relative=False)
    assert iv is not None and iv.method == "welch" and iv.runs == (3, 3)
    se = math.sqrt(4.0 / 3 + 9.0 / 3)  # sample variances 4 and 9
    df = se ** 4 / ((4.0 / 3) ** 2 / 2 + (9.0 / 3) ** 2 / 2)
    assert iv.df == pytest.approx(df)
    half = t_quantile(0.975, df) * se
    assert (iv.estimate, iv.lo, iv.hi) == pytest.approx((-10.0, -10.0 - half, -10.0 + half))
    rel = change_interval(base, cur)
    assert rel is not None and rel.estimate == pytest.approx(-0.1)
    se = math.sqrt(4.0 / 3 / 100 ** 2 + 9.0 / 3 / 90 ** 2)
    assert rel.hi == pytest.approx(math.expm1(math.log(0.9) + t_quantile(0.975, rel.df) * se))
    one = change_interval(base, [90.0])
    assert one is not None and one.method == "pooled" and one.df == 2.0
    assert change_interval([100.0], [90.0]) is None  # no run-to-run spread anywhere
    assert change_interval([0.0, 0.0], [1.0, 2.0]) is None  # no relative change of zero
