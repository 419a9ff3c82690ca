"""The t quantiles and the gate's run-to-run change interval, against hand-computed values."""

from __future__ import annotations

import math

import pytest

from perfanalyzer.gate.stats import change_interval
from perfanalyzer.measure.tdist import t_cdf, t_quantile


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
