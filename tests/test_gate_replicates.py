"""The gate with replicate runs, simulated: interval coverage, false alarms, the cold first window.

Simulated runs are built as the gate reads them (one figure per run per metric) from vectorised
numpy noise with a fixed seed: a run-level factor shared by every window of a run (closed loop: a
slower run has lower throughput and higher latency) and an independent factor per window; a run's
figure is the mean of its reported (merged) windows. Each test makes a few hundred comparisons.
"""

from __future__ import annotations

import numpy as np
import pytest

from perfanalyzer.gate.compare import NOISE, REGRESSION, compare
from perfanalyzer.gate.inputs import PointData, Side, side_from_run
from perfanalyzer.gate.stats import change_interval
from perfanalyzer.results.combine import combine_runs
from tests.support.synthetic_runs import synthetic_run

TPUT, P99 = "Inferences/Second", "p99 latency"
SIMS = 400


def simulate(rng: np.random.Generator, sims: int, runs: int, *, windows: int = 3,
             run_sigma: float = 0.04, window_sigma: float = 0.03,
             slowdown: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """(throughput, p99) run figures, shape (sims, runs): base 100 infer/s and 10000 us."""
    run = np.exp(rng.normal(0.0, run_sigma, (sims, runs, 1)))
    w_tp = np.exp(rng.normal(0.0, window_sigma, (sims, runs, windows)))
    w_lat = np.exp(rng.normal(0.0, window_sigma, (sims, runs, windows)))
    tput = (100.0 / (slowdown * run) * w_tp).mean(axis=2)
    p99 = (10_000.0 * slowdown * run * w_lat).mean(axis=2)
    return tput, p99


def side(tput: np.ndarray, p99: np.ndarray, label: str) -> Side:
    figs = tuple({TPUT: float(t), P99: float(p)} for t, p in zip(tput, p99, strict=True))
    values = {c: float(np.mean([f[c] for f in figs])) for c in (TPUT, P99)}
    point = PointData(level=1.0, values=values, runs=figs, windows=(3,) * len(figs))
    return Side(label=label, kind="run", level_name="Concurrency", columns=(TPUT, P99),
                points={1.0: point}, provenance={}, config={}, runs=len(figs))


def comparisons(seed: int, runs: tuple[int, int], slowdown: float = 1.0) -> list:
    rng = np.random.default_rng(seed)
    bt, bp = simulate(rng, SIMS, runs[0])
    ct, cp = simulate(rng, SIMS, runs[1], slowdown=slowdown)
    return [compare(side(bt[i], bp[i], "b"), side(ct[i], cp[i], "c")) for i in range(SIMS)]


@pytest.mark.parametrize(("runs", "slowdown"), [((3, 3), 1.0), ((3, 3), 1.15), ((5, 5), 1.08),
                                                ((3, 5), 1.0), ((3, 1), 1.1)])
def test_95_percent_intervals_cover_the_true_change(runs: tuple[int, int],
                                                    slowdown: float) -> None:
    """Run-level 4 % and window-level 3 % noise: the labelled 95 % interval covers >= 93 %."""
    rng = np.random.default_rng(11 + runs[0] * 7 + int(slowdown * 100))
    bt, bp = simulate(rng, SIMS, runs[0])
    ct, cp = simulate(rng, SIMS, runs[1], slowdown=slowdown)
    true_tput, true_p99 = 1.0 / slowdown - 1.0, slowdown - 1.0
    hits = np.zeros(2)
    for i in range(SIMS):
        a = change_interval(bt[i], ct[i])
        b = change_interval(bp[i], cp[i])
        assert a is not None and b is not None
        hits += [a.lo <= true_tput <= a.hi, b.lo <= true_p99 <= b.hi]
    coverage = hits / SIMS
    assert (coverage >= 0.93).all(), coverage


def test_identical_builds_rarely_fail_with_replicates() -> None:
    """4 % run-to-run and 3 % window noise, 3 vs 3 runs, default checks: <= 5 % false alarms."""
    results = comparisons(seed=5, runs=(3, 3))
    false_alarms = sum(c.status == "regression" for c in results) / SIMS
    print(f"false alarms: {false_alarms:.1%}")
    assert false_alarms <= 0.05, false_alarms
    # Without the interval, the thresholds alone would often fail these identical builds.
    by_threshold = sum(any(r.check is not None and r.check.fails(r.baseline, r.current)
                           for r in c.rows) for c in results) / SIMS
    assert by_threshold > 2 * max(false_alarms, 0.01)


def test_a_large_regression_is_caught_with_replicates() -> None:
    results = comparisons(seed=6, runs=(3, 3), slowdown=1.3)
    assert sum(c.status == "regression" for c in results) / SIMS >= 0.95


def test_within_noise_only_when_the_interval_reaches_inside_the_threshold() -> None:
    """Every "within noise" row beyond its threshold has an interval reaching back inside it;
    every row beyond its threshold whose interval stays outside the threshold is a REGRESSION."""
    seen = {NOISE: 0, REGRESSION: 0}
    for cmp in comparisons(seed=7, runs=(3, 3), slowdown=1.07):
        for row in cmp.rows:
            assert row.check is not None and row.significance.ci is not None
            if not row.check.fails(row.baseline, row.current):
                continue
            lo, hi = row.significance.ci
            # The end of the interval nearest to "no change", in the check's bad direction.
            nearest = lo if row.check.sign > 0 else -hi
            wholly_beyond = nearest > row.check.amount
            assert row.verdict in (NOISE, REGRESSION)
            if wholly_beyond:
                assert row.verdict == REGRESSION
            if row.verdict == NOISE:
                assert nearest <= 0 < row.check.amount  # reaches zero, inside the threshold
            seen[row.verdict] += 1
    assert seen[NOISE] > 0 and seen[REGRESSION] > 0  # both cases were exercised


def test_identical_runs_pass() -> None:
    runs = [synthetic_run(seed=s) for s in (1, 2, 3)]
    pooled = side_from_run(combine_runs(runs), "same")
    cmp = compare(pooled, pooled)
    assert cmp.status == "pass" and cmp.exit_code == 0
    assert {r.change_pct for r in cmp.rows} == {0.0}
    assert all(r.significance.judged and r.significance.samples == (3, 3) for r in cmp.rows)


COLD = [0.6, 1.0, 1.0, 1.0, 1.0, 1.0]  # the first window at 60 % of steady throughput


def _cold_run(seed: int, slowdown: float = 1.0) -> object:
    lat = [1.0 / f for f in COLD]
    return synthetic_run((4,), seed=seed, windows=len(COLD), slowdown=slowdown,
                         lat_factors=lat, tp_factors=COLD, jitter=0.02)


@pytest.mark.parametrize("replicates", [1, 3])
def test_cold_first_window_does_not_hide_a_30_percent_drop(replicates: int) -> None:
    """Samples are the merged windows only: the cold first window never enters the verdict."""
    base = combine_runs([_cold_run(seed=s) for s in range(1, replicates + 1)])  # type: ignore[list-item]
    cur = combine_runs([_cold_run(seed=s, slowdown=1 / 0.7)  # type: ignore[list-item]
                        for s in range(10, 10 + replicates)])
    cmp = compare(side_from_run(base, "base"), side_from_run(cur, "cur"))
    (tput,) = [r for r in cmp.rows if r.metric == TPUT]
    assert tput.change_pct == pytest.approx(-30.0, abs=2.0)
    assert tput.verdict == REGRESSION and cmp.exit_code == 1
    # the synthetic runs' throughput is identical from run to run: no spread to judge by
    assert not tput.significance.judged
    if replicates > 1:
        assert tput.significance.flat == (True, True)
        assert any("identical figures for Inferences/Second at 4" in n for n in cmp.notes)
    if replicates == 1:
        assert any("could not account for run-to-run noise" in n and "--repeat" in n
                   for n in cmp.notes)
