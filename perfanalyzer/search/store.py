"""The search's output folder, which is also its state: a rerun resumes from it.

```
DIR/search.json                 the search's settings (a rerun must match them)
DIR/candidates/KEY/state.json   one finished candidate: settings, measured points, score
DIR/candidates/KEY/profile.csv  its concurrency sweep (perf_analyzer's CSV)
DIR/candidates/KEY/export.json  its requests and windows (--profile-export-file format)
```

``state.json`` is written last and atomically: a candidate without one was not finished and is
measured again.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import OptionError
from .space import Candidate

PLAN_FILE = "search.json"
STATE_FILE = "state.json"


@dataclass(frozen=True, kw_only=True)
class PointFigures:
    """One measured load point of a candidate, as the search judges it."""

    level: float
    throughput: float
    latency_ms: float  # at the search's percentile (the average when none)
    stable: bool
    goodput: float | None = None  # --goodput: infer/s within the limits (None: no limits)


@dataclass(frozen=True, kw_only=True)
class CandidateResult:
    candidate: Candidate
    points: tuple[PointFigures, ...] = ()
    score: float | None = None  # higher is better; None: no point met the constraints
    best: PointFigures | None = None
    error: str = ""

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> CandidateResult:
        cand = dict(d["candidate"])
        cand["preferred_batch_sizes"] = tuple(cand["preferred_batch_sizes"])
        best = d.get("best")
        return cls(candidate=Candidate(**cand),
                   points=tuple(PointFigures(**p) for p in d.get("points", ())),
                   score=d.get("score"), best=PointFigures(**best) if best else None,
                   error=d.get("error", ""))


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


class Store:
    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def candidate_dir(self, c: Candidate) -> Path:
        d = self.root / "candidates" / c.key
        d.mkdir(parents=True, exist_ok=True)
        return d

    def open(self, plan: dict[str, Any]) -> None:
        """Create the folder, or check that the search in it has the same settings."""
        if self.root.exists() and not self.root.is_dir():
            raise OptionError(f"--output-dir: {self.root} is not a directory")
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.root / PLAN_FILE
        plan = json.loads(json.dumps(plan))  # tuples as lists, as read back
        if path.is_file():
            old = json.loads(path.read_text())
            diff = sorted(k for k in set(old) | set(plan) if old.get(k) != plan.get(k))
            if diff:
                raise OptionError(f"--output-dir: {self.root} holds a search with other settings "
                                  f"({', '.join(diff)}); rerun with the same flags to resume it, "
                                  f"or use another folder")
            return
        _write_atomic(path, json.dumps(plan, indent=2, sort_keys=True) + "\n")

    def save(self, result: CandidateResult) -> None:
        path = self.candidate_dir(result.candidate) / STATE_FILE
        _write_atomic(path, json.dumps(result.to_json(), indent=2) + "\n")

    def finished(self) -> list[CandidateResult]:
        """Every finished candidate, in the order they finished."""
        found = []
        for path in (self.root / "candidates").glob(f"*/{STATE_FILE}"):
            found.append((path.stat().st_mtime_ns, CandidateResult.from_json(
                json.loads(path.read_text()))))
        return [r for _, r in sorted(found, key=lambda t: t[0])]
