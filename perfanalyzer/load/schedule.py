"""Send schedules: when request *i* of a load point is meant to go out (pure: no clock, no sleep).

A :class:`Schedule` maps a request index to its intended send offset in nanoseconds from the
load point's start. Request-rate managers sleep until ``start + offset(i)`` and record that
intended time, so latency can be measured from the schedule (corrected) as well as from the
actual send.

Every schedule here puts request 0 at offset 0 and never moves an offset backwards. The schedule
itself never produces a start-up burst (perf_analyzer sent late first slots together — a manager
concern, not a schedule one). ``offsets(start, count)`` is a pure function of the index: request
*i* gets the same offset however the requests are chunked.
"""

from __future__ import annotations

import bisect
import math
import re
import threading
from collections.abc import Sequence
from os import PathLike
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

from ..errors import OptionError

__all__ = [
    "MIN_RATE",
    "POISSON_BLOCK",
    "Schedule",
    "constant",
    "due_batch",
    "gamma",
    "intervals",
    "poisson",
    "read_intervals_file",
]

NS_PER_S = 1_000_000_000
NS_PER_US = 1_000
#: Poisson gaps are drawn in blocks of this many, each seeded by (seed, block index).
POISSON_BLOCK = 4096
#: Slowest accepted rate (one request per ~11.6 days); keeps every offset far inside int64.
MIN_RATE = 1e-6
RATE_FLAG = "--request-rate-range"
INTERVALS_FLAG = "--request-intervals"

Offsets = npt.NDArray[np.int64]


class Schedule(Protocol):
    """Intended send offsets of a load point's requests."""

    @property
    def rate(self) -> float:
        """Nominal requests per second (for custom intervals N·1e9/Σintervals_ns)."""
        ...

    def offsets(self, start: int, count: int) -> Offsets:
        """int64 ns offsets of requests ``start .. start+count-1``.

        Non-decreasing, request 0 at 0, and a pure function of the request index.
        """
        ...


def _check_slice(start: int, count: int) -> None:
    if start < 0 or count < 0:
        raise ValueError(f"offsets(start={start}, count={count}): both must be >= 0")


def _check_rate(rate: float) -> float:
    value = float(rate)
    if not math.isfinite(value) or value <= 0:
        raise OptionError(f"{RATE_FLAG}: request rate must be a finite number > 0, got {rate!r}")
    if value < MIN_RATE:
        raise OptionError(f"{RATE_FLAG}: request rate {rate!r} is below the minimum {MIN_RATE:g}/s")
    return value


class ConstantSchedule:
    """offset(i) = round(i · 1e9 / rate) ns (round half to even)."""

    __slots__ = ("_rate",)
    distribution = "constant"

    def __init__(self, rate: float) -> None:
        self._rate = _check_rate(rate)

    @property
    def rate(self) -> float:
        return self._rate

    def offsets(self, start: int, count: int) -> Offsets:
        _check_slice(start, count)
        index = np.arange(start, start + count, dtype=np.float64)
        # (i * 1e9) / rate elementwise: a pure function of i, so chunking cannot change it.
        return np.rint(index * float(NS_PER_S) / self._rate).astype(np.int64)

    def __repr__(self) -> str:
        return f"constant({self._rate!r})"


class PoissonSchedule:
    """Exponential gaps of mean 1e9/rate ns; request 0 at 0, request i at the sum of gaps 0..i-1.

    Gap k lies in block ``k // POISSON_BLOCK``, drawn from a generator seeded by (seed, block), and
    is rounded to whole ns with a floor of 1 ns (so no two requests share an offset). Offsets are
    exact integer prefix sums; the start offset of every block reached so far is cached, so the
    first access to request i costs O(i) draws and sequential access costs O(1) per request.
    Safe to share between threads.
    """

    __slots__ = ("_block_starts", "_cached", "_lock", "_mean_ns", "_rate", "_seed")
    distribution = "poisson"

    def __init__(self, rate: float, seed: int) -> None:
        self._rate = _check_rate(rate)
        self._seed = int(seed) & 0xFFFF_FFFF_FFFF_FFFF
        self._mean_ns = NS_PER_S / self._rate
        self._block_starts: list[int] = [0]
        self._cached: tuple[int, Offsets] | None = None
        self._lock = threading.Lock()

    @property
    def rate(self) -> float:
        return self._rate

    def offsets(self, start: int, count: int) -> Offsets:
        _check_slice(start, count)
        if count == 0:
            return np.empty(0, dtype=np.int64)
        first, last = start // POISSON_BLOCK, (start + count - 1) // POISSON_BLOCK
        with self._lock:
            blocks = [self._block(b) for b in range(first, last + 1)]
        joined = blocks[0] if len(blocks) == 1 else np.concatenate(blocks)
        skip = start - first * POISSON_BLOCK
        return joined[skip : skip + count].copy()

    def _gaps(self, block: int) -> Offsets:
        rng = np.random.default_rng([self._seed, block])
        return np.maximum(np.rint(self._draw(rng)), 1.0).astype(np.int64)

    def _draw(self, rng: np.random.Generator) -> npt.NDArray[np.float64]:
        return rng.exponential(self._mean_ns, POISSON_BLOCK)

    def _block(self, block: int) -> Offsets:
        """Absolute offsets of the requests of ``block`` (caller holds the lock)."""
        if self._cached is not None and self._cached[0] == block:
            return self._cached[1]
        starts = self._block_starts
        while len(starts) <= block:  # reach an unvisited block: sum the gaps before it
            starts.append(starts[-1] + int(self._gaps(len(starts) - 1).sum()))
        gaps = self._gaps(block)
        local = np.zeros(POISSON_BLOCK, dtype=np.int64)
        np.cumsum(gaps[:-1], out=local[1:])
        absolute = local + np.int64(starts[block])
        if len(starts) == block + 1:
            starts.append(int(absolute[-1]) + int(gaps[-1]))
        self._cached = (block, absolute)
        return absolute

    def __repr__(self) -> str:
        return f"poisson({self._rate!r}, seed={self._seed})"


class GammaSchedule(PoissonSchedule):
    """Gamma-distributed gaps of mean 1e9/rate ns and shape ``burstiness`` (coefficient of
    variation 1/sqrt(burstiness)): 1 gives exponential gaps (Poisson arrivals, though not the
    same draws as :class:`PoissonSchedule`), below 1 bursts and lulls, above 1 steadier gaps.
    Blocks, rounding, caching and purity as :class:`PoissonSchedule`."""

    __slots__ = ("_shape",)
    distribution = "gamma"

    def __init__(self, rate: float, seed: int, burstiness: float) -> None:
        shape = float(burstiness)
        if not math.isfinite(shape) or shape <= 0:
            raise OptionError(f"--request-burstiness must be a finite number > 0, got "
                              f"{burstiness!r}")
        super().__init__(rate, seed)
        self._shape = shape

    def _draw(self, rng: np.random.Generator) -> npt.NDArray[np.float64]:
        return rng.gamma(self._shape, self._mean_ns / self._shape, POISSON_BLOCK)

    def __repr__(self) -> str:
        return f"gamma({self._rate!r}, seed={self._seed}, burstiness={self._shape!r})"


class IntervalSchedule:
    """Custom gaps in µs, looped: request 0 at 0, request i+1 one gap after request i."""

    __slots__ = ("_cycle_ns", "_prefix_ns", "_values_us")
    distribution = "custom"

    def __init__(self, values_us: Sequence[int]) -> None:
        values = tuple(values_us)
        if not values:
            raise OptionError(f"{INTERVALS_FLAG}: no intervals given")
        for pos, value in enumerate(values, start=1):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
                raise OptionError(
                    f"{INTERVALS_FLAG}: interval {pos} ({value!r}) is not a positive integer µs"
                )
        self._values_us = tuple(int(v) for v in values)
        gaps_ns = np.array(self._values_us, dtype=np.int64) * NS_PER_US
        self._prefix_ns = np.concatenate(([0], np.cumsum(gaps_ns)[:-1])).astype(np.int64)
        self._cycle_ns = int(gaps_ns.sum())

    @property
    def values_us(self) -> tuple[int, ...]:
        return self._values_us

    @property
    def rate(self) -> float:
        """N·1e9/Σintervals_ns, as perf_analyzer reports it."""
        return len(self._values_us) * NS_PER_S / self._cycle_ns

    def offsets(self, start: int, count: int) -> Offsets:
        _check_slice(start, count)
        index = np.arange(start, start + count, dtype=np.int64)
        loops, pos = np.divmod(index, len(self._values_us))
        return loops * np.int64(self._cycle_ns) + self._prefix_ns[pos]

    def __repr__(self) -> str:
        return f"intervals({list(self._values_us)!r})"


def constant(rate: float) -> Schedule:
    """A fixed period of 1/rate: offset(i) = round(i·1e9/rate).

    OptionError (naming ``--request-rate-range``) if rate is not finite or below ``MIN_RATE``.
    """
    return ConstantSchedule(rate)


def poisson(rate: float, seed: int) -> Schedule:
    """Exponential gaps of mean 1/rate, reproducible for a given seed (see PoissonSchedule)."""
    return PoissonSchedule(rate, seed)


def gamma(rate: float, seed: int, burstiness: float) -> Schedule:
    """Gamma gaps of mean 1/rate and shape ``burstiness`` (see GammaSchedule)."""
    return GammaSchedule(rate, seed, burstiness)


def intervals(values_us: Sequence[int]) -> Schedule:
    """Custom gaps in µs, looped. OptionError if empty or any value is not a positive integer."""
    return IntervalSchedule(values_us)


_INTERVAL_LINE = re.compile(r"[0-9]+")


def due_batch(intended: Sequence[int], start: int, horizon: int, limit: int) -> int:
    """End of the batch of sends due at a wake-up: ``intended`` (non-decreasing absolute times)
    from index ``start``, every one at or before ``horizon``, at most ``limit`` of them. Returns the
    index after the batch (``start`` when nothing is due). Successive batches from wake-ups at
    non-decreasing horizons hand out every index once, in order, none before its time."""
    return bisect.bisect_right(intended, horizon, start, min(len(intended), start + limit))


def read_intervals_file(path: str | PathLike[str]) -> tuple[int, ...]:
    """Read one positive integer interval in µs per line; blank lines are ignored.

    Raises OptionError in one line naming the file (and line): ``FILE:LINE: 'x' is not a positive
    integer interval in µs``, ``FILE: no intervals (empty file)``, or ``FILE: cannot read: ...``.
    """
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise OptionError(f"{name}: cannot read {INTERVALS_FLAG} file: {exc}") from exc
    values: list[int] = []
    for number, line in enumerate(text.splitlines(), start=1):
        token = line.strip()
        if not token:
            continue
        if not _INTERVAL_LINE.fullmatch(token) or int(token) == 0:
            raise OptionError(
                f"{name}:{number}: {token!r} is not a positive integer interval in µs"
            )
        values.append(int(token))
    if not values:
        raise OptionError(f"{name}: no intervals ({INTERVALS_FLAG} file is empty)")
    return tuple(values)

