"""Server-side statistics: snapshots at window edges, differenced per window.

The model under test and (for ensembles, recursively) its composing models are read at each edge.
Servers without the statistics extension get ``None`` and the reports leave server columns out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..client.base import STAT_KEYS, InferenceClient, ModelStatistics, StatDuration
from ..errors import ClientError
from .metrics import ServerDelta

Snapshot = dict[str, ModelStatistics]


async def composing_models(client: InferenceClient, config: Mapping[str, Any],
                           _seen: frozenset[str] = frozenset()) -> list[str]:
    """Names of an ensemble's composing models, depth first, nested ensembles expanded (their own
    name included, then their members)."""
    steps = (config.get("ensemble_scheduling") or {}).get("step") or []
    names: list[str] = []
    for step in steps:
        name = step.get("model_name", "")
        if not name or name in _seen or name in names:
            continue
        names.append(name)
        sub = await client.model_config(name)
        for inner in await composing_models(client, sub, _seen | {name}):
            if inner not in names:
                names.append(inner)
    return names


async def nested_ensembles(client: InferenceClient, names: tuple[str, ...]) -> tuple[str, ...]:
    """Which of ``names`` are ensembles themselves: their counters are their members' sums, so a
    total over composing models must skip them (perf_analyzer sums leaf models only)."""
    out: list[str] = []
    for name in names:
        config = await client.model_config(name)
        if config.get("platform") == "ensemble" or config.get("ensemble_scheduling"):
            out.append(name)
    return tuple(out)


def _sum_versions(stats: list[ModelStatistics], name: str) -> ModelStatistics:
    """All versions of one model summed (the version that served the window is the one that grew)."""
    rows = [s for s in stats if s.name == name]
    total = {k: StatDuration(sum(r.get(k).count for r in rows), sum(r.get(k).ns for r in rows))
             for k in STAT_KEYS}
    return ModelStatistics(name=name, version=rows[0].version if len(rows) == 1 else "",
                           inference_count=sum(r.inference_count for r in rows),
                           execution_count=sum(r.execution_count for r in rows),
                           durations=total)


@dataclass
class ServerStatsReader:
    """Reads cumulative statistics for the model (and composing models) at window edges."""

    client: InferenceClient
    model: str
    version: str = ""
    composing: tuple[str, ...] = ()
    available: bool = True
    reason: str = ""
    #: Composing model -> version to read (--bls-composing-models NAME:VERSION); others: all.
    versions: Mapping[str, str] = field(default_factory=dict)

    async def probe(self) -> None:
        """Check the server offers statistics; if not, remember why (one line) and stop reading."""
        try:
            meta = await self.client.server_metadata()
            extensions = meta.get("extensions")
            if extensions is not None and "statistics" not in extensions:
                self.available = False
                self.reason = "the server does not offer the statistics extension"
                return
            await self.snapshot()
        except ClientError as exc:
            self.available = False
            self.reason = f"the server's statistics endpoint failed: {exc}"

    async def snapshot(self) -> Snapshot | None:
        if not self.available:
            return None
        snap: Snapshot = {}
        rows = await self.client.model_statistics(self.model, self.version)
        snap[self.model] = _sum_versions(rows, self.model) if rows else ModelStatistics(
            name=self.model, version=self.version)
        for name in self.composing:
            version = self.versions.get(name, "")
            rows = await self.client.model_statistics(name, version)
            snap[name] = (_sum_versions(rows, name) if rows
                          else ModelStatistics(name=name, version=version))
        return snap

    async def edge_snapshot(self) -> Snapshot | None:
        """:meth:`snapshot` at a window edge: a failed read leaves that window without server
        figures (the requests' own errors, if any, are what stops a run)."""
        try:
            return await self.snapshot()
        except ClientError:
            return None

    def delta(self, before: Snapshot | None, after: Snapshot | None) -> ServerDelta | None:
        if before is None or after is None:
            return None
        return ServerDelta(model=after[self.model] - before[self.model],
                           composing=tuple(after[n] - before[n] for n in self.composing))
