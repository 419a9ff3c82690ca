"""Student's t distribution (CDF and quantile) and intervals over replicate runs. Pure Python.

Used for the figures of ``--repeat N`` (mean ± CI across runs) and by the regression gate (the
interval of a change between two sets of runs). The CDF comes from the regularized incomplete beta
function (continued fraction, Numerical Recipes §6.4); the quantile is found by bisection, to about
1e-10, for any real degrees of freedom >= 0.5 (Welch's are fractional).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

_EPS = 3e-16
_TINY = 1e-300
_MAX_ITER = 300


def _beta_cf(a: float, b: float, x: float) -> float:
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > _TINY else _TINY)
    h = d
    for m in range(1, _MAX_ITER + 1):
        m2 = 2 * m
        for aa in (m * (b - m) * x / ((qam + m2) * (a + m2)),
                   -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))):
            d = 1.0 + aa * d
            d = 1.0 / (d if abs(d) > _TINY else _TINY)
            c = 1.0 + aa / c
            c = c if abs(c) > _TINY else _TINY
            h *= d * c
        if abs(d * c - 1.0) < _EPS:
            break
    return h


def betainc(a: float, b: float, x: float) -> float:
    """The regularized incomplete beta function I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
                     + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _beta_cf(a, b, x) / a
    return 1.0 - front * _beta_cf(b, a, 1.0 - x) / b


def t_cdf(t: float, df: float) -> float:
    """P(T <= t) for Student's t with ``df`` degrees of freedom."""
    tail = 0.5 * betainc(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t > 0 else tail


def t_quantile(q: float, df: float) -> float:
    """The ``q`` quantile of Student's t (0 < q < 1, df > 0)."""
    if not 0.0 < q < 1.0 or not df > 0:
        raise ValueError(f"t_quantile needs 0 < q < 1 and df > 0, got q={q}, df={df}")
    if q < 0.5:
        return -t_quantile(1.0 - q, df)
    lo, hi = 0.0, 1.0
    while t_cdf(hi, df) < q:
        lo, hi = hi, hi * 2.0
    for _ in range(200):
        mid = (lo + hi) / 2.0
        if t_cdf(mid, df) < q:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-12 * max(1.0, hi):
            break
    return (lo + hi) / 2.0


@dataclass(frozen=True, kw_only=True)
class MeanInterval:
    """Mean of the run figures and the half-width of its ``confidence`` t-interval (None with
    fewer than two runs)."""

    mean: float
    half_width: float | None
    runs: int
    std: float | None
    confidence: float


def mean_interval(values: Sequence[float], confidence: float = 0.95) -> MeanInterval:
    """Mean ± t(1 − (1 − confidence)/2, n − 1) · s/√n over the runs' figures."""
    xs = [float(v) for v in values if math.isfinite(v)]
    n = len(xs)
    if n == 0:
        return MeanInterval(mean=math.nan, half_width=None, runs=0, std=None,
                            confidence=confidence)
    mean = math.fsum(xs) / n
    if n < 2:
        return MeanInterval(mean=mean, half_width=None, runs=1, std=None, confidence=confidence)
    std = math.sqrt(math.fsum((x - mean) ** 2 for x in xs) / (n - 1))
    half = t_quantile(1.0 - (1.0 - confidence) / 2.0, n - 1) * std / math.sqrt(n)
    return MeanInterval(mean=mean, half_width=half, runs=n, std=std, confidence=confidence)


__all__ = ["MeanInterval", "betainc", "mean_interval", "t_cdf", "t_quantile"]
