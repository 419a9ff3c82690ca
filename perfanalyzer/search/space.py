"""The search space: which model configurations (and client batch sizes) to try, in what order.

A :class:`Candidate` is one point of the space. :func:`grid` lists every valid combination (``--mode
full``); :class:`QuickSearch` walks it by coordinate descent (``--mode quick``, the default): start
from the model's own configuration, try every value of one dimension while the others stay at the
best so far, keep the winner, go to the next dimension, and pass over the dimensions again until a
whole pass brings no improvement (at most :data:`MAX_PASSES`). Both are pure: no I/O.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

MAX_PASSES = 3
#: The dimensions quick mode walks, in this order (server settings first, then the client's).
DIMENSIONS = ("instance_count", "instance_kind", "dynamic_batching", "max_batch_size", "max_queue_delay_us",
              "preferred_batch_sizes", "client_batch")


@dataclass(frozen=True, kw_only=True)
class Candidate:
    """One configuration to measure. ``max_batch_size`` 0: the model does not batch (then dynamic
    batching is off and the client batch is 1)."""

    instance_count: int
    max_batch_size: int
    dynamic_batching: bool
    max_queue_delay_us: int = 0
    preferred_batch_sizes: tuple[int, ...] = ()
    client_batch: int = 1
    #: "cpu" or "gpu" (KIND_CPU, KIND_GPU) when the search varies it; "": the model's own
    instance_kind: str = ""

    @property
    def key(self) -> str:
        """A stable, file-name-safe name (the candidate's folder in the output directory)."""
        pref = "_".join(map(str, self.preferred_batch_sizes)) or "none"
        db = (f"db-on-qd{self.max_queue_delay_us}-pref{pref}" if self.dynamic_batching
              else "db-off")
        kind = f"-k{self.instance_kind}" if self.instance_kind else ""
        return (f"ic{self.instance_count}{kind}-mbs{self.max_batch_size}-{db}"
                f"-b{self.client_batch}")

    def valid(self) -> bool:
        if self.instance_count < 1 or self.client_batch < 1 or self.max_batch_size < 0 \
                or self.instance_kind not in ("", "cpu", "gpu"):
            return False
        if self.max_batch_size == 0:
            return not self.dynamic_batching and self.client_batch == 1
        if self.client_batch > self.max_batch_size:
            return False
        if not self.dynamic_batching:
            return self.max_queue_delay_us == 0 and not self.preferred_batch_sizes
        return all(0 < p <= self.max_batch_size for p in self.preferred_batch_sizes)

    def settings(self) -> dict[str, str]:
        """What each setting was, for the report."""
        kind = {"instance kind": self.instance_kind} if self.instance_kind else {}
        return {"instance count": str(self.instance_count), **kind,
                "max_batch_size": str(self.max_batch_size),
                "dynamic batching": "on" if self.dynamic_batching else "off",
                "max queue delay (µs)": (str(self.max_queue_delay_us) if self.dynamic_batching
                                         else ""),
                "preferred batch sizes": (",".join(map(str, self.preferred_batch_sizes))
                                          if self.dynamic_batching else ""),
                "client batch": str(self.client_batch)}


@dataclass(frozen=True, kw_only=True)
class Space:
    """The values of every dimension. An empty tuple means "the default candidate's value only"."""

    instance_count: tuple[int, ...] = ()
    instance_kind: tuple[str, ...] = ()
    max_batch_size: tuple[int, ...] = ()
    dynamic_batching: tuple[bool, ...] = ()
    max_queue_delay_us: tuple[int, ...] = ()
    preferred_batch_sizes: tuple[tuple[int, ...], ...] = ()
    client_batch: tuple[int, ...] = ()

    def values(self, dim: str, default: Candidate) -> tuple[Any, ...]:
        given: tuple[Any, ...] = getattr(self, dim)
        return given or (getattr(default, dim),)


def normalise(c: Candidate) -> Candidate:
    """Settings that mean nothing in this combination are dropped (so equal configurations have
    one key): without dynamic batching there is no queue delay nor preferred size."""
    if not c.dynamic_batching:
        return replace(c, max_queue_delay_us=0, preferred_batch_sizes=())
    return c


def grid(space: Space, default: Candidate) -> list[Candidate]:
    """Every valid combination, the default first, without duplicates (``--mode full``)."""
    dims = [space.values(d, default) for d in DIMENSIONS]
    seen: dict[str, Candidate] = {default.key: default}
    for combo in itertools.product(*dims):
        c = normalise(Candidate(**dict(zip(DIMENSIONS, combo, strict=True))))
        if c.valid():
            seen.setdefault(c.key, c)
    return list(seen.values())


class QuickSearch:
    """Coordinate descent over :data:`DIMENSIONS` (``--mode quick``).

    Drive it with :meth:`next` (the next candidate to measure, or None when done) and
    :meth:`record` (its score: higher is better, None when it met no constraint). Candidates already
    scored (a resumed search) are recorded up front and never proposed again."""

    def __init__(self, space: Space, default: Candidate) -> None:
        self.space, self.default = space, default
        self.scores: dict[str, float | None] = {}
        self.best = default
        self._walk = self._steps()
        self.converged = False  # the last pass changed nothing: a coordinate-wise optimum

    def record(self, candidate: Candidate, score: float | None) -> None:
        self.scores[candidate.key] = score
        best = self.scores.get(self.best.key)
        if score is not None and (best is None or score > best):
            self.best = candidate

    def next(self) -> Candidate | None:
        return next(self._walk, None)

    def _steps(self) -> Iterator[Candidate]:
        if self.default.key not in self.scores:
            yield self.default
        for _ in range(MAX_PASSES):
            before = self.best
            for dim in DIMENSIONS:
                center = self.best
                for value in self.space.values(dim, self.default):
                    c = normalise(replace(center, **{dim: value}))
                    if not c.valid() and dim == "dynamic_batching" and value:
                        c = _with_batching(c, self.space, self.default)
                    if c.valid() and c.key not in self.scores:
                        yield c
            if self.best == before:
                self.converged = True
                return


def _with_batching(c: Candidate, space: Space, default: Candidate) -> Candidate:
    """Turning dynamic batching on from an "off" centre: take the first queue delay and
    preferred sizes of the space."""
    return replace(c, max_queue_delay_us=space.values("max_queue_delay_us", default)[0],
                   preferred_batch_sizes=space.values("preferred_batch_sizes", default)[0])

