"""Searching a model together with the models it calls, as Model Analyzer's ensemble and BLS
searches do: the load goes to the model under test (``-m``), the settings searched are those of
the models that do the work.

- An ensemble has no instances or batcher of its own: its composing models (its steps, nested
  ensembles expanded; a nested ensemble is not searched itself) are searched.
- A BLS model (a Python model that calls others, named by ``--bls-composing-models``) is searched
  itself and so are the models it calls.

A :class:`CompositeCandidate` holds one :class:`Candidate` per searched model (its client batch is
the measured model's); :class:`CompositeQuickSearch` walks the (model, dimension) pairs by
coordinate descent exactly as :class:`~.space.QuickSearch` walks one model's dimensions, and
:func:`composite_grid` lists every combination. All pure: no I/O.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

from .space import DIMENSIONS, MAX_PASSES, Candidate, Space, normalise

#: One model's server settings (every dimension but the client's batch).
SERVER_DIMENSIONS = tuple(d for d in DIMENSIONS if d != "client_batch")
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


def _safe(name: str) -> str:
    """A model name as a piece of a folder name (Triton's names are folder names already)."""
    return _UNSAFE.sub("_", name)[:60]


def _server_key(c: Candidate) -> str:
    return c.key.rsplit("-b", 1)[0]


@dataclass(frozen=True, kw_only=True)
class CompositeCandidate(Candidate):
    """The settings of every searched model, and the client batch sent to the measured model.

    The inherited fields describe the measured model when it is not searched itself (an
    ensemble: ``max_batch_size`` is its own, which every composing model must reach); with
    ``top_searched`` (a BLS model) the first part is the measured model."""

    parts: tuple[tuple[str, Candidate], ...] = ()
    top_searched: bool = False
    #: several models measured together (``-m a,b``): each gets its own load at the client batch
    together: bool = False

    @property
    def key(self) -> str:
        return "__".join(f"{_safe(m)}.{_server_key(c)}" for m, c in self.parts) \
            + f"__b{self.client_batch}"

    def valid(self) -> bool:
        if not self.parts or self.client_batch < 1:
            return False
        if not all(c.valid() for _, c in self.parts):
            return False
        if self.together:
            return all(self.client_batch == 1 if c.max_batch_size == 0
                       else self.client_batch <= c.max_batch_size for _, c in self.parts)
        if self.top_searched:
            top = self.parts[0][1]
            return self.client_batch == 1 if top.max_batch_size == 0 \
                else self.client_batch <= top.max_batch_size
        if self.max_batch_size == 0:
            return self.client_batch == 1
        # Triton loads an ensemble only when each composing model batches at least as far.
        return self.client_batch <= self.max_batch_size and all(
            c.max_batch_size >= self.max_batch_size for _, c in self.parts)

    def settings(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for model, c in self.parts:
            for name, value in c.settings().items():
                if name != "client batch":
                    out[f"{model}: {name}"] = value
        out["client batch"] = str(self.client_batch)
        return out

    def part(self, model: str) -> Candidate:
        return dict(self.parts)[model]

    def with_part(self, i: int, c: Candidate) -> CompositeCandidate:
        parts = list(self.parts)
        parts[i] = (parts[i][0], c)
        return replace(self, parts=tuple(parts))


def composite_default(top_mbs: int, parts: Mapping[str, Candidate], client_batch: int,
                      top_searched: bool, together: bool = False) -> CompositeCandidate:
    """The configurations the server runs, as one candidate (each part's client batch is 1: the
    load goes to the measured model, or with ``together`` to every model)."""
    batches = top_mbs > 0 or (top_searched and next(iter(parts.values())).max_batch_size > 0) \
        or (together and all(c.max_batch_size > 0 for c in parts.values()))
    return CompositeCandidate(instance_count=1,
                              max_batch_size=0 if top_searched or together else top_mbs,
                              dynamic_batching=False,
                              parts=tuple((m, replace(c, client_batch=1))
                                          for m, c in parts.items()),
                              top_searched=top_searched, together=together,
                              client_batch=client_batch if batches else 1)


def _moves(space: Space, default: CompositeCandidate,
           fixed: Mapping[str, frozenset[str]]) -> list[tuple[int, str, tuple[Any, ...]]]:
    """Every (part, dimension, values) the search varies, in order: each model's server settings,
    then the client batch (part -1). ``fixed``: dimensions a model keeps (a sequence model's
    batcher is the sequence batcher)."""
    moves: list[tuple[int, str, tuple[Any, ...]]] = []
    for i, (model, c) in enumerate(default.parts):
        for dim in SERVER_DIMENSIONS:
            if dim not in fixed.get(model, frozenset()):
                moves.append((i, dim, space.values(dim, c)))
    moves.append((-1, "client_batch", space.values("client_batch", default)))
    return moves


def _step(center: CompositeCandidate, i: int, dim: str, value: Any, space: Space,
          default: CompositeCandidate) -> CompositeCandidate:
    if i < 0:
        return replace(center, client_batch=value)
    part = normalise(replace(center.parts[i][1], **{dim: value}))
    if not part.valid() and dim == "dynamic_batching" and value:
        ref = default.parts[i][1]
        part = replace(part, max_queue_delay_us=space.values("max_queue_delay_us", ref)[0],
                       preferred_batch_sizes=space.values("preferred_batch_sizes", ref)[0])
    return center.with_part(i, part)


def composite_grid(space: Space, default: CompositeCandidate,
                   fixed: Mapping[str, frozenset[str]] | None = None) -> list[CompositeCandidate]:
    """Every valid combination of every part's settings and the client batch, the default first
    (``--mode full``)."""
    fixed = fixed or {}
    per_part: list[list[Candidate]] = []
    for model, c in default.parts:
        dims = [space.values(d, c) if d not in fixed.get(model, frozenset()) else (getattr(c, d),)
                for d in SERVER_DIMENSIONS]
        found: dict[str, Candidate] = {}
        for combo in itertools.product(*dims):
            p = normalise(Candidate(**dict(zip(SERVER_DIMENSIONS, combo, strict=True)),
                                    client_batch=1))
            if p.valid():
                found.setdefault(p.key, p)
        per_part.append(list(found.values()) or [c])
    seen: dict[str, CompositeCandidate] = {default.key: default}
    for parts in itertools.product(*per_part):
        for b in space.values("client_batch", default):
            c = replace(default, parts=tuple((m, p) for (m, _), p in
                                             zip(default.parts, parts, strict=True)),
                        client_batch=b)
            if c.valid():
                seen.setdefault(c.key, c)
    return list(seen.values())


class CompositeQuickSearch:
    """Coordinate descent over every searched model's dimensions, then the client batch: the
    interface and rules of :class:`~.space.QuickSearch` (``next``, ``record``, ``best``,
    ``converged``)."""

    def __init__(self, space: Space, default: CompositeCandidate,
                 fixed: Mapping[str, frozenset[str]] | None = None) -> None:
        self.space, self.default = space, default
        self.moves = _moves(space, default, fixed or {})
        self.scores: dict[str, float | None] = {}
        self.best: CompositeCandidate = default
        self._walk = self._steps()
        self.converged = False

    def record(self, candidate: Candidate, score: float | None) -> None:
        self.scores[candidate.key] = score
        best = self.scores.get(self.best.key)
        if score is not None and (best is None or score > best) \
                and isinstance(candidate, CompositeCandidate):
            self.best = candidate

    def next(self) -> CompositeCandidate | None:
        return next(self._walk, None)

    def _steps(self) -> Iterator[CompositeCandidate]:
        if self.default.key not in self.scores:
            yield self.default
        for _ in range(MAX_PASSES):
            before = self.best
            for i, dim, values in self.moves:
                center = self.best
                for value in values:
                    c = _step(center, i, dim, value, self.space, self.default)
                    if c.valid() and c.key not in self.scores:
                        yield c
            if self.best == before:
                self.converged = True
                return


def composite_from_json(d: Mapping[str, Any], part: Any) -> CompositeCandidate:
    """A saved composite candidate (``part`` parses one model's candidate); raises ValueError."""
    parts = d.get("parts")
    if not isinstance(parts, list) or not parts:
        raise ValueError("parts: expected a list")
    out = []
    for item in parts:
        if not isinstance(item, list) or len(item) != 2 or not isinstance(item[0], str):
            raise ValueError("parts: expected [model, candidate] pairs")
        out.append((item[0], part(item[1])))
    top, together = d.get("top_searched"), d.get("together")
    mbs, batch = d.get("max_batch_size"), d.get("client_batch")
    if not isinstance(top, bool) or not isinstance(together, bool) or not isinstance(mbs, int) \
            or not isinstance(batch, int):
        raise ValueError("candidate: expected top_searched, together, max_batch_size and "
                         "client_batch")
    c = CompositeCandidate(instance_count=1, max_batch_size=mbs, dynamic_batching=False,
                           parts=tuple(out), top_searched=top, together=together,
                           client_batch=batch)
    if not c.valid():
        raise ValueError("candidate: not a valid configuration")
    return c
