"""The gate's --alpha is the false-alarm rate of each (one-sided) check, and a side whose replicate
runs are identical has unknown noise, not none."""

from __future__ import annotations

import math

import numpy as np
import pytest

from perfanalyzer.gate.checks import parse_check
from perfanalyzer.gate.compare import NOISE, REGRESSION, judge_significance, row_verdict
from perfanalyzer.gate.inputs import PointData
from perfanalyzer.gate.stats import change_interval
from perfanalyzer.measure.tdist import t_quantile

TPUT = "Inferences/Second"


def _point(runs: list[float]) -> PointData:
    return PointData(level=1, values={TPUT: float(np.mean(runs))},
                     runs=tuple({TPUT: x} for x in runs))


def _verdict(base: list[float], cur: list[float], spec: str, alpha: float = 0.05) -> str:
    check = parse_check(spec).bind([TPUT])
    b, c = _point(base), _point(cur)
    sig = judge_significance(b, c, TPUT, check, alpha)
    return row_verdict(b.values[TPUT], c.values[TPUT], check, sig)


def test_a_drop_past_its_one_sided_bound_is_a_regression() -> None:
    # A 12 infer/s drop, se 4.90 (runs 6 apart), df 4: the one-sided 95 % bound is
    # -12 + 2.132 * 4.90 = -1.6 (below zero: a regression); the two-sided 95 % interval that
    # decided before reached +1.6 (within noise), a false-alarm rate of alpha / 2.
    base, cur = [100.0, 106.0, 94.0], [88.0, 94.0, 82.0]
    assert _verdict(base, cur, "throughput:-5infer/s") == REGRESSION
    assert _verdict(base, cur, "throughput:-5infer/s", alpha=0.025) == NOISE


def test_alpha_is_the_false_alarm_rate_of_a_check() -> None:
    # Identical builds (3 vs 3 runs, 4 % noise), a check that fails on any drop: alarms ~ alpha.
    # 2000 trials: the band below is 3 standard errors of the rate either side of 0.05.
    rng = np.random.default_rng(7)
    runs = rng.normal(100.0, 4.0, size=(2000, 6))
    alarms = sum(_verdict(list(r[:3]), list(r[3:]), "throughput:-0infer/s") == REGRESSION
                 for r in runs) / len(runs)
    assert 0.035 <= alarms <= 0.065, alarms


def test_identical_runs_are_unknown_noise_not_zero() -> None:
    # [100,100] vs [90,90]: a zero-width interval would call this certain; no spread, no verdict.
    assert change_interval([100.0, 100.0, 100.0], [90.0, 90.0, 90.0]) is None
    check = parse_check("throughput:-5%").bind([TPUT])
    sig = judge_significance(_point([100.0] * 3), _point([90.0] * 3), TPUT, check, 0.05)
    assert not sig.judged and sig.flat == (True, True)
    assert sig.reason == "n/a (identical runs: run-to-run noise unknown)"
    # One flat side: the other side's spread stands for both (as for a single run).
    iv = change_interval([100.0, 100.0, 100.0], [88.0, 90.0, 92.0])
    assert iv is not None and iv.method == "pooled" and iv.flat == (True, False) and iv.df == 2.0
    assert iv.lo < iv.estimate < iv.hi
    half = t_quantile(0.975, 2.0) * math.sqrt(4.0 / 90.0 ** 2 * (1 / 3 + 1 / 3))
    assert (iv.lo, iv.hi) == pytest.approx((math.expm1(math.log(0.9) - half),
                                            math.expm1(math.log(0.9) + half)))
