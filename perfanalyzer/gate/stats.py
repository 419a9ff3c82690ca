"""Significance of a change: the interval across replicate runs the gate uses
(:func:`change_interval`). Pure numpy, no scipy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from ..measure.tdist import t_quantile


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


__all__ = ["FLAT_CV", "ChangeInterval", "change_interval", "is_flat"]
