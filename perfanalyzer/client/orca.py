"""ORCA load reports in HTTP answers (``--orca-format text|json``).

A request carrying ``endpoint-load-metrics-format: text`` (or ``json``) asks the server for an
``endpoint-load-metrics`` response header (Triton sends it with the TensorRT-LLM backend):

* ``TEXT cpu_utilization=0.3, mem_utilization=0.8, named_metrics.kv_cache_utilization=0.4``
* ``JSON {"cpu_utilization": 0.3, "named_metrics": {"kv_cache_utilization": 0.4}}``

Maps (``named_metrics``, ``request_cost``, ``utilization``) are flattened to ``map.key``. The
:class:`OrcaCollector` is given every answer's header block; it sums each metric and counts the
answers that carried one, until the measurer takes the window's :class:`OrcaWindow`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

__all__ = ["FORMATS", "REQUEST_HEADER", "OrcaCollector", "OrcaWindow", "parse_orca"]

FORMATS = ("text", "json")
REQUEST_HEADER = "endpoint-load-metrics-format"
_RESPONSE = b"\r\nendpoint-load-metrics:"


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def parse_orca(value: str) -> dict[str, float]:
    """The metrics of one ``endpoint-load-metrics`` value; {} when it is not a report (an
    unknown format, malformed JSON; single malformed pairs are skipped)."""
    kind, _, rest = value.strip().partition(" ")
    out: dict[str, float] = {}
    if kind.upper() == "TEXT":
        for pair in rest.split(","):
            name, eq, raw = pair.partition("=")
            x = _number(raw.strip()) if eq else None
            if name.strip() and x is not None:
                out[name.strip()] = x
    elif kind.upper() == "JSON":
        try:
            doc = json.loads(rest)
        except ValueError:
            return {}
        if isinstance(doc, dict):
            for name, raw in doc.items():
                items = raw.items() if isinstance(raw, dict) else [("", raw)]
                for key, v in items:
                    x = _number(v)
                    if x is not None:
                        out[f"{name}.{key}" if key else str(name)] = x
    return out


@dataclass(frozen=True, slots=True)
class OrcaWindow:
    """What one window's answers reported: answers with a report, per-metric sums and counts."""

    answers: int = 0
    sums: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    def __add__(self, other: OrcaWindow) -> OrcaWindow:
        sums, counts = dict(self.sums), dict(self.counts)
        for k, v in other.sums.items():
            sums[k] = sums.get(k, 0.0) + v
            counts[k] = counts.get(k, 0) + other.counts[k]
        return OrcaWindow(self.answers + other.answers, sums, counts)

    @property
    def averages(self) -> dict[str, float]:
        return {k: self.sums[k] / self.counts[k] for k in sorted(self.sums)}

    def to_json(self) -> dict[str, Any]:
        return {"answers": self.answers, "sums": dict(self.sums), "counts": dict(self.counts)}

    @classmethod
    def from_json(cls, raw: Any) -> OrcaWindow:
        return cls(int(raw["answers"]), {str(k): float(v) for k, v in raw["sums"].items()},
                   {str(k): int(v) for k, v in raw["counts"].items()})


class OrcaCollector:
    """Receives every inference answer's header block (:meth:`on_head`)."""

    def __init__(self) -> None:
        self._window = OrcaWindow()
        self._sums: dict[str, float] = {}
        self._counts: dict[str, int] = {}
        self._answers = 0

    def on_head(self, head: bytes) -> None:
        i = head.lower().find(_RESPONSE)
        if i < 0:
            return
        start = i + len(_RESPONSE)
        end = head.find(b"\r\n", start)
        metrics = parse_orca(head[start: end if end >= 0 else None].decode("latin-1"))
        if not metrics:
            return
        self._answers += 1
        for k, v in metrics.items():
            self._sums[k] = self._sums.get(k, 0.0) + v
            self._counts[k] = self._counts.get(k, 0) + 1

    def take(self) -> OrcaWindow:
        """The reports since the last take."""
        out = OrcaWindow(self._answers, self._sums, self._counts)
        self._sums, self._counts, self._answers = {}, {}, 0
        return out
