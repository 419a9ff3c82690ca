"""Significance of a change: the interval across replicate runs the gate uses
(:func:`change_interval`), and Mann–Whitney U and a bootstrap CI over window figures (kept as tools;
the gate no longer uses them: windows of one run are not independent replicates of a build).

Pure numpy, no scipy.

* :func:`mann_whitney_u` — the rank-sum test on midranks. **Exact** (the permutation distribution
  of U over every split of the pooled samples, ties included) when there are at most
  ``EXACT_LIMIT`` splits, e.g. up to 8 vs 8 windows; otherwise the **normal approximation** with
  the tie-corrected variance and a continuity correction of 0.5. Two-sided by default.
* :func:`bootstrap_change_ci` — percentile bootstrap CI of the change of the mean (or median)
  from baseline to current, each side resampled independently with a seeded generator, so the
  same inputs always give the same interval.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from ..measure.tdist import t_quantile

Alternative = Literal["two-sided", "greater", "less"]
#: Enumerate the exact null distribution when C(n1+n2, n1) is at most this.
EXACT_LIMIT = 20_000
DEFAULT_RESAMPLES = 2000
DEFAULT_SEED = 0
_EPS = 1e-9


@dataclass(frozen=True, slots=True)
class MannWhitney:
    """``u``: U statistic of the first sample (pairs where x > y, ties count ½)."""

    u: float
    p_value: float
    method: Literal["exact", "normal"]
    n1: int
    n2: int


def midranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks, tied values sharing the mean of their ranks."""
    order = np.argsort(values, kind="mergesort")
    ranks = np.empty(len(values), dtype=float)
    ranks[order] = np.arange(1, len(values) + 1, dtype=float)
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=ranks)
    return (sums / counts)[inverse]


def mann_whitney_u(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray,
                   alternative: Alternative = "two-sided",
                   method: Literal["auto", "exact", "normal"] = "auto") -> MannWhitney:
    """Test whether ``x`` and ``y`` come from the same distribution.

    ``alternative="greater"``: x tends to be larger than y; ``"less"``: smaller. ``method="auto"``
    is exact up to ``EXACT_LIMIT`` splits, else normal. Raises ValueError on an empty sample or a
    non-finite value.
    """
    a = np.asarray(x, dtype=float)
    b = np.asarray(y, dtype=float)
    n1, n2 = len(a), len(b)
    if n1 == 0 or n2 == 0:
        raise ValueError("mann_whitney_u needs two non-empty samples")
    pooled = np.concatenate([a, b])
    if not np.all(np.isfinite(pooled)):
        raise ValueError("mann_whitney_u: samples must be finite")
    ranks = midranks(pooled)
    u = float(ranks[:n1].sum() - n1 * (n1 + 1) / 2.0)
    exact = method == "exact" or (method == "auto" and math.comb(n1 + n2, n1) <= EXACT_LIMIT)
    if exact:
        return MannWhitney(u=u, p_value=min(1.0, _exact_p(ranks, n1, u, alternative)),
                           method="exact", n1=n1, n2=n2)
    return MannWhitney(u=u, p_value=min(1.0, _normal_p(pooled, n1, n2, u, alternative)),
                       method="normal", n1=n1, n2=n2)


def _exact_p(ranks: np.ndarray, n1: int, u_obs: float, alternative: Alternative) -> float:
    """P-value from U over every way to pick the first sample's positions (ties kept as midranks)."""
    n = len(ranks)
    combos = np.fromiter(itertools.chain.from_iterable(itertools.combinations(range(n), n1)),
                         dtype=np.int64).reshape(-1, n1)
    us = ranks[combos].sum(axis=1) - n1 * (n1 + 1) / 2.0
    if alternative == "greater":
        return float(np.mean(us >= u_obs - _EPS))
    if alternative == "less":
        return float(np.mean(us <= u_obs + _EPS))
    mu = n1 * (n - n1) / 2.0
    return float(np.mean(np.abs(us - mu) >= abs(u_obs - mu) - _EPS))


def _normal_p(pooled: np.ndarray, n1: int, n2: int, u: float, alternative: Alternative) -> float:
    n = n1 + n2
    _, counts = np.unique(pooled, return_counts=True)
    ties = float(np.sum(counts.astype(float) ** 3 - counts))
    var = n1 * n2 / 12.0 * ((n + 1) - ties / (n * (n - 1)))
    if var <= 0:
        return 1.0  # every value tied: no evidence of a difference
    sigma = math.sqrt(var)
    mu = n1 * n2 / 2.0
    if alternative == "greater":
        return 0.5 * math.erfc((u - mu - 0.5) / sigma / math.sqrt(2))
    if alternative == "less":
        return 0.5 * math.erfc((mu - u - 0.5) / sigma / math.sqrt(2))
    z = max(abs(u - mu) - 0.5, 0.0) / sigma
    return math.erfc(z / math.sqrt(2))


def min_p_value(n1: int, n2: int, alternative: Alternative = "two-sided") -> float:
    """The smallest p-value the test can give for these sample sizes (no ties): below ``alpha``
    only with enough windows (two-sided 3 vs 3 gives 0.1 at best, 4 vs 4 gives 0.029)."""
    if n1 == 0 or n2 == 0:
        return 1.0
    one = 1.0 / math.comb(n1 + n2, n1)
    return min(1.0, one if alternative != "two-sided" else 2.0 * one)


def bootstrap_change_ci(baseline: Sequence[float] | np.ndarray,
                        current: Sequence[float] | np.ndarray, *, relative: bool = True,
                        statistic: Literal["mean", "median"] = "mean",
                        confidence: float = 0.95, resamples: int = DEFAULT_RESAMPLES,
                        seed: int = DEFAULT_SEED) -> tuple[float, float]:
    """Percentile-bootstrap CI of ``stat(current) − stat(baseline)`` (absolute) or of
    ``stat(current) / stat(baseline) − 1`` (relative, a fraction). Deterministic for a seed."""
    a = np.asarray(baseline, dtype=float)
    b = np.asarray(current, dtype=float)
    if len(a) == 0 or len(b) == 0:
        raise ValueError("bootstrap_change_ci needs two non-empty samples")
    rng = np.random.default_rng(seed)
    fn = np.mean if statistic == "mean" else np.median
    sa = fn(a[rng.integers(0, len(a), size=(resamples, len(a)))], axis=1)
    sb = fn(b[rng.integers(0, len(b), size=(resamples, len(b)))], axis=1)
    if relative:
        keep = sa != 0
        change = sb[keep] / np.abs(sa[keep]) - 1.0 if keep.any() else np.array([0.0])
    else:
        change = sb - sa
    tail = (1.0 - confidence) / 2.0 * 100.0
    lo, hi = np.percentile(change, [tail, 100.0 - tail])
    return float(lo), float(hi)


@dataclass(frozen=True, kw_only=True)
class ChangeInterval:
    """The change from baseline to current runs and its ``confidence`` interval: fractions for a
    relative change (0.05 = +5 %), the figure's unit for an absolute one. ``method``: "welch" (runs
    on both sides) or "pooled" (one side a single run: the other side's run-to-run spread is used
    for both)."""

    estimate: float
    lo: float
    hi: float
    df: float
    runs: tuple[int, int]
    method: Literal["welch", "pooled"]
    confidence: float
    #: (baseline, current): that side has >= 2 runs with identical figures, so its run-to-run
    #: noise is unknown (never zero): the other side's spread stood for it.
    flat: tuple[bool, bool] = (False, False)


#: Runs whose figures differ by less than this share of their mean count as identical: a spread
#: that small is rounding, not a measurement of the noise.
FLAT_CV = 1e-9


def is_flat(xs: np.ndarray) -> bool:
    """>= 2 runs and no run-to-run spread to speak of (the noise is unknown, not zero)."""
    if len(xs) < 2:
        return False
    m, v = _mean_var(xs)
    return v <= (FLAT_CV * m) ** 2


def _mean_var(xs: np.ndarray) -> tuple[float, float]:
    return float(xs.mean()), float(xs.var(ddof=1)) if len(xs) > 1 else 0.0


def change_interval(baseline: Sequence[float] | np.ndarray, current: Sequence[float] | np.ndarray,
                    *, relative: bool = True, confidence: float = 0.95) -> ChangeInterval | None:
    """Interval of the change of the mean run figure, from the spread of the runs' figures.

    Each run contributes one figure (its reported figure, which pools the windows that make it), so
    the spread between runs carries the run-to-run noise and the window noise in the right
    proportion. Relative: a t-interval on log(mean_c / mean_b) with the delta-method variance
    ``s_b²/(n_b m_b²) + s_c²/(n_c m_c²)``; absolute: on ``mean_c − mean_b``. Degrees of freedom:
    Welch–Satterthwaite when both sides have >= 2 runs; with a single run on one side, the other
    side's variance stands for both (df = its runs − 1). A side whose runs are identical
    (:func:`is_flat`) has unknown noise, not none (a zero-width interval would make any change
    certain): it is treated like a single run, and ``flat`` says so. None when neither side has a
    usable spread, or a relative change of a non-positive figure is asked.
    """
    b = np.asarray(baseline, dtype=float)
    c = np.asarray(current, dtype=float)
    b, c = b[np.isfinite(b)], c[np.isfinite(c)]
    nb, nc = len(b), len(c)
    if nb == 0 or nc == 0 or max(nb, nc) < 2:
        return None
    (mb, vb), (mc, vc) = _mean_var(b), _mean_var(c)
    if relative and (mb <= 0 or mc <= 0):
        return None
    flat = (is_flat(b), is_flat(c))
    spread_b, spread_c = nb >= 2 and not flat[0], nc >= 2 and not flat[1]
    if not (spread_b or spread_c):
        return None
    sb, sc = (mb * mb, mc * mc) if relative else (1.0, 1.0)
    center = math.log(mc / mb) if relative else mc - mb
    if spread_b and spread_c:
        ab, ac = vb / nb / sb, vc / nc / sc
        se2 = ab + ac
        df = se2 * se2 / (ab * ab / (nb - 1) + ac * ac / (nc - 1)) if se2 > 0 else nb + nc - 2.0
        method: Literal["welch", "pooled"] = "welch"
    else:
        unit, df = (vb / sb, nb - 1.0) if spread_b else (vc / sc, nc - 1.0)
        se2 = unit * (1.0 / nb + 1.0 / nc)
        method = "pooled"
    half = t_quantile(1.0 - (1.0 - confidence) / 2.0, df) * math.sqrt(se2)
    lo, hi = center - half, center + half
    if relative:
        center, lo, hi = math.expm1(center), math.expm1(lo), math.expm1(hi)
    return ChangeInterval(estimate=center, lo=lo, hi=hi, df=df, runs=(nb, nc), method=method,
                          confidence=confidence, flat=flat)


__all__ = ["EXACT_LIMIT", "FLAT_CV", "ChangeInterval", "MannWhitney", "bootstrap_change_ci",
           "change_interval", "is_flat", "mann_whitney_u", "midranks", "min_p_value"]
