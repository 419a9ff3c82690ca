"""The search's output folder, which is also its state: a rerun resumes from it.

```
DIR/search.json                 the search's settings (a rerun must match them)
DIR/original.json               the model's configuration before the search's first change (with
                                every searched model's, for an ensemble or a BLS model)
DIR/best/MODEL/config.pbtxt     the best configuration of each searched model (ensemble, BLS)
DIR/.search.lock                held while a search uses the folder (see guard)
DIR/candidates/KEY/state.json   one finished candidate: settings, measured points, score
DIR/candidates/KEY/profile.csv  its concurrency sweep (perf_analyzer's CSV)
DIR/candidates/KEY/export.json  its requests and windows (--profile-export-file format)
DIR/candidates/KEY/final.json   a finalist's replicate runs at its best level: each run's point
DIR/candidates/KEY/final-export.json  those runs (--repeat export format)
```

``search.json`` also holds the ranking (``ranking``, rewritten with each report; a rerun compares
the settings only).

Every file is written through the same safe writer as ``-f`` (never through a symbolic link,
temp files with unique names); the folder is checked before the server is touched, so a planted
link is refused before anything changes. ``state.json`` is written last: a candidate without a
valid one was not finished and is measured again, its leftovers removed first.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import secrets
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import OptionError
from ..report.outfile import check_output, write_output
from .composite import CompositeCandidate, composite_from_json
from .space import Candidate

PLAN_FILE = "search.json"
ORIGINAL_FILE = "original.json"
STATE_FILE = "state.json"
CSV_FILE = "profile.csv"
EXPORT_FILE = "export.json"
SUMMARY = "summary.md"
PARETO = "pareto"
CONFIG = "config.pbtxt"
FLAG = "--output-dir"
FINAL_FILE = "final.json"
FINAL_EXPORT = "final-export.json"
RANKING = "ranking"  # search.json's key for the ranking (not a setting)
_TOP_FILES = (PLAN_FILE, ORIGINAL_FILE, SUMMARY, f"{PARETO}.png", CONFIG)
BEST_DIR = "best"  # best/MODEL/config.pbtxt: each searched model's best (ensemble, BLS)
MODELS_DIR = "models"  # models/MODEL.md: each model's report (several models together)
_CANDIDATE_FILES = (STATE_FILE, CSV_FILE, EXPORT_FILE)
_FINAL_FILES = (FINAL_FILE, FINAL_EXPORT)


@dataclass(frozen=True, kw_only=True)
class PointFigures:
    """One measured load point of a candidate, as the search judges it."""

    level: float
    throughput: float
    latency_ms: float  # at the search's percentile (the average when none)
    stable: bool  # written by -f: stable and under the budget (-l)
    goodput: float | None = None  # --goodput: infer/s within the limits (None: no limits)
    metrics: dict[str, float] = field(default_factory=dict)  # Model Analyzer's names (limits)


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
    def from_json(cls, d: Any) -> CandidateResult:
        """Parse a saved state; raises ValueError naming the first field of a wrong type."""
        d = _obj(d, "the file", {"candidate", "points", "score", "best", "error"})
        best = d["best"]
        return cls(candidate=_candidate(d["candidate"]),
                   points=tuple(_point(p) for p in _list(d["points"], "points")),
                   score=None if d["score"] is None else _num(d["score"], "score"),
                   best=None if best is None else _point(best), error=_str(d["error"], "error"))


def _obj(v: Any, what: str, keys: set[str]) -> dict[str, Any]:
    if not isinstance(v, dict) or set(v) != keys:
        raise ValueError(f"{what}: expected an object with {', '.join(sorted(keys))}")
    return v


def _list(v: Any, what: str) -> list[Any]:
    if not isinstance(v, list):
        raise ValueError(f"{what}: expected a list")
    return v


def _str(v: Any, what: str) -> str:
    if not isinstance(v, str):
        raise ValueError(f"{what}: expected text")
    return v


def _int(v: Any, what: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise ValueError(f"{what}: expected an integer")
    return v


def _num(v: Any, what: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise ValueError(f"{what}: expected a finite number")
    return float(v)


def _bool(v: Any, what: str) -> bool:
    if not isinstance(v, bool):
        raise ValueError(f"{what}: expected true or false")
    return v


def _candidate(v: Any) -> Candidate:
    if isinstance(v, dict) and "parts" in v:  # several models' settings (ensemble, BLS)
        _obj(v, "candidate", {f.name for f in dataclasses.fields(CompositeCandidate)})
        return composite_from_json(v, _candidate)
    keys = {f.name for f in dataclasses.fields(Candidate)}
    if isinstance(v, dict) and "instance_kind" not in v:  # a state from before kinds
        keys.discard("instance_kind")
    d = _obj(v, "candidate", keys)
    kind = d.get("instance_kind", "")
    if not isinstance(kind, str):
        raise ValueError("instance_kind: expected text")
    c = Candidate(instance_kind=kind,
                  instance_count=_int(d["instance_count"], "instance_count"),
                  max_batch_size=_int(d["max_batch_size"], "max_batch_size"),
                  dynamic_batching=_bool(d["dynamic_batching"], "dynamic_batching"),
                  max_queue_delay_us=_int(d["max_queue_delay_us"], "max_queue_delay_us"),
                  preferred_batch_sizes=tuple(
                      _int(p, "preferred_batch_sizes")
                      for p in _list(d["preferred_batch_sizes"], "preferred_batch_sizes")),
                  client_batch=_int(d["client_batch"], "client_batch"))
    if not c.valid():
        raise ValueError("candidate: not a valid configuration")
    return c


def _point(v: Any) -> PointFigures:
    keys = {"level", "throughput", "latency_ms", "stable"}
    if isinstance(v, dict):  # (a state written before goodput or metrics has none)
        keys |= {"goodput", "metrics"} & set(v)
    d = _obj(v, "point", keys)
    goodput = d.get("goodput")
    metrics = d.get("metrics", {})
    if not isinstance(metrics, dict) or not all(isinstance(k, str) for k in metrics):
        raise ValueError("metrics: expected an object")
    return PointFigures(level=_num(d["level"], "level"),
                        throughput=_num(d["throughput"], "throughput"),
                        latency_ms=_num(d["latency_ms"], "latency_ms"),
                        stable=_bool(d["stable"], "stable"),
                        goodput=None if goodput is None else _num(goodput, "goodput"),
                        metrics={k: _num(x, k) for k, x in metrics.items()})


@dataclass(frozen=True, kw_only=True)
class Final:
    """A finalist re-measured as replicate runs at its best level: each run's point there (None:
    that run measured no request at the level)."""

    key: str
    level: float
    points: tuple[PointFigures | None, ...]

    @classmethod
    def from_json(cls, v: Any) -> Final:
        d = _obj(v, "the file", {"key", "level", "points"})
        return cls(key=_str(d["key"], "key"), level=_num(d["level"], "level"),
                   points=tuple(None if p is None else _point(p)
                                for p in _list(d["points"], "points")))


@dataclass(frozen=True, kw_only=True)
class Original:
    """The model's configuration before the search, and the id its candidates are marked with;
    ``models``: every searched model's configuration (an ensemble's composing models, a BLS model
    and the models it calls; empty for one model)."""

    search_id: str
    config: dict[str, Any]
    models: dict[str, dict[str, Any]] = field(default_factory=dict)


def _read_json(path: Path) -> Any:
    return json.loads(path.read_bytes())


class Store:
    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def _name(self, path: Path) -> str:
        return str(path)[:200]

    def check(self) -> None:
        """Refuse (OptionError) a folder whose files this search would write through a link or
        into something that is not a file; called before the server is touched."""
        if self.root.exists() and not self.root.is_dir():
            raise OptionError(f"{FLAG}: {self._name(self.root)} is not a directory")
        if not self.root.exists():
            return
        for name in _TOP_FILES:
            check_output(self.root / name, FLAG)
        best = self.root / BEST_DIR
        for d in [best, *(sorted(best.iterdir()) if _real_dir(best) else ())]:
            if (d.exists() or d.is_symlink()) and not _real_dir(d):
                raise OptionError(f"{FLAG} {self._name(d)}: not a folder (a symbolic link is "
                                  f"never followed)")
            if d != best:
                check_output(d / CONFIG, FLAG)
        models = self.root / MODELS_DIR
        if (models.exists() or models.is_symlink()) and not _real_dir(models):
            raise OptionError(f"{FLAG} {self._name(models)}: not a folder (a symbolic link is "
                              f"never followed)")
        for f in sorted(models.iterdir()) if _real_dir(models) else ():
            check_output(f, FLAG)
        cands = self.root / "candidates"
        for d in [cands, *(sorted(cands.iterdir()) if _real_dir(cands) else ())]:
            if (d.exists() or d.is_symlink()) and not _real_dir(d):
                raise OptionError(f"{FLAG} {self._name(d)}: not a folder (a symbolic link is "
                                  f"never followed)")
            if d != cands:
                for name in _CANDIDATE_FILES + _FINAL_FILES:
                    check_output(d / name, FLAG)
                for sub in sorted(d.iterdir()) if _real_dir(d) else ():  # one per model
                    if sub.name.startswith("."):  # temp names: never written through
                        continue
                    if sub.is_symlink():
                        raise OptionError(f"{FLAG} {self._name(sub)}: a symbolic link is never "
                                          f"followed")
                    if _real_dir(sub):
                        for name in (CSV_FILE, EXPORT_FILE):
                            check_output(sub / name, FLAG)

    def candidate_dir(self, c: Candidate) -> Path:
        d = self.root / "candidates" / c.key
        d.mkdir(parents=True, exist_ok=True)
        if not _real_dir(d):
            raise OptionError(f"{FLAG} {self._name(d)}: not a folder")
        return d

    def open(self, plan: dict[str, Any]) -> None:
        """Create the folder, or check that the search in it has the same settings."""
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.root / PLAN_FILE
        plan = json.loads(json.dumps(plan))  # tuples as lists, as read back
        if path.is_file():
            try:
                old = _read_json(path)
                if not isinstance(old, dict):
                    raise ValueError("not an object")
            except (OSError, ValueError, RecursionError) as exc:
                raise OptionError(f"{FLAG} {self._name(path)}: not a search's settings ({exc}); "
                                  f"use another folder") from None
            old.pop(RANKING, None)
            diff = sorted(k for k in set(old) | set(plan) if old.get(k) != plan.get(k))
            if diff:
                raise OptionError(f"{FLAG}: {self.root} holds a search with other settings "
                                  f"({', '.join(diff)}); rerun with the same flags to resume it, "
                                  f"or use another folder")
            return
        write_output(path, json.dumps(plan, indent=2, sort_keys=True) + "\n", FLAG)

    def recorded(self) -> Original | None:
        """The configuration recorded before an earlier run's first change (None: none was)."""
        path = self.root / ORIGINAL_FILE
        if not path.exists():
            return None
        try:
            raw = _read_json(path)
            keys = {"search_id", "config"} | ({"models"} & set(raw if isinstance(raw, dict)
                                                                else ()))
            d = _obj(raw, "the file", keys)
            if not isinstance(d["config"], dict) or not d["config"]:
                raise ValueError("config: expected an object")
            models = d.get("models", {})
            if not isinstance(models, dict) or not all(
                    isinstance(m, str) and isinstance(c, dict) and c for m, c in models.items()):
                raise ValueError("models: expected an object of configurations")
            return Original(search_id=_str(d["search_id"], "search_id"), config=d["config"],
                            models=models)
        except (OSError, ValueError, RecursionError) as exc:
            raise OptionError(f"{FLAG} {self._name(path)}: damaged ({exc}): the model's "
                              f"configuration before the search is unknown; check the model and "
                              f"use a new folder") from None

    def record(self, config: dict[str, Any],
               models: dict[str, dict[str, Any]] | None = None) -> Original:
        """Keep ``config`` (and every searched model's, ``models``) as the configuration before
        the search (before its first change)."""
        orig = Original(search_id=secrets.token_hex(8), config=config, models=models or {})
        doc = dataclasses.asdict(orig)
        if not orig.models:
            doc.pop("models")  # one model: the file as it always was
        write_output(self.root / ORIGINAL_FILE,
                     json.dumps(doc, indent=2, sort_keys=True) + "\n", FLAG)
        return orig

    def prepare(self, c: Candidate) -> Path:
        """The candidate's folder, emptied of an unfinished earlier attempt's files."""
        return self._emptied(c, _CANDIDATE_FILES)

    def _emptied(self, c: Candidate, names: tuple[str, ...]) -> Path:
        """The candidate's folder without the regular files ``names`` (links are left alone:
        the folder check refuses them before anything changes)."""
        d = self.candidate_dir(c)
        for name in names:
            with contextlib.suppress(FileNotFoundError):
                if stat.S_ISREG(os.lstat(d / name).st_mode):
                    os.unlink(d / name)
        return d

    def save(self, result: CandidateResult) -> None:
        path = self.candidate_dir(result.candidate) / STATE_FILE
        write_output(path, json.dumps(result.to_json(), indent=2) + "\n", FLAG)

    def final(self, c: Candidate, level: float, runs: int) -> Final | None:
        """A finalist's replicate runs saved by an earlier run of this search at ``level`` (None:
        none, another level or run count, or not readable: it is measured again)."""
        path = self.root / "candidates" / c.key / FINAL_FILE
        with contextlib.suppress(OSError, ValueError, RecursionError):
            f = Final.from_json(_read_json(path))
            if f.key == c.key and f.level == level and len(f.points) == runs:
                return f
        return None

    def prepare_final(self, c: Candidate) -> Path:
        """The finalist's folder, emptied of an earlier attempt's replicate files."""
        return self._emptied(c, _FINAL_FILES)

    def save_final(self, c: Candidate, final: Final) -> None:
        write_output(self.candidate_dir(c) / FINAL_FILE,
                     json.dumps(dataclasses.asdict(final), indent=2) + "\n", FLAG)

    def best_dir(self, model: str) -> Path:
        """``DIR/best/MODEL`` (created; never through a link)."""
        _plain_name(model)
        d = self.root / BEST_DIR / model
        d.mkdir(parents=True, exist_ok=True)
        if not _real_dir(d.parent) or not _real_dir(d):
            raise OptionError(f"{FLAG} {self._name(d)}: not a folder")
        return d

    def models_dir(self) -> Path:
        """``DIR/models`` (several models searched together: one report per model)."""
        d = self.root / MODELS_DIR
        d.mkdir(parents=True, exist_ok=True)
        if not _real_dir(d):
            raise OptionError(f"{FLAG} {self._name(d)}: not a folder")
        return d

    def model_dir(self, c: Candidate, model: str) -> Path:
        """``candidates/KEY/MODEL`` (a model measured together with others), emptied of an
        unfinished earlier attempt's files."""
        _plain_name(model)
        d = self.candidate_dir(c) / model
        d.mkdir(exist_ok=True)
        if not _real_dir(d):
            raise OptionError(f"{FLAG} {self._name(d)}: not a folder")
        for name in (CSV_FILE, EXPORT_FILE):
            with contextlib.suppress(FileNotFoundError):
                if stat.S_ISREG(os.lstat(d / name).st_mode):
                    os.unlink(d / name)
        return d

    def save_ranking(self, rows: list[dict[str, Any]]) -> None:
        """The ranking, beside the settings in ``search.json``."""
        path = self.root / PLAN_FILE
        plan = _read_json(path)
        plan[RANKING] = rows
        write_output(path, json.dumps(plan, indent=2, sort_keys=True) + "\n", FLAG)

    def finished(self, warn: Callable[[str], object] = lambda _: None) -> list[CandidateResult]:
        """Every finished candidate, in the order they finished; a state that cannot be read is
        reported through ``warn`` and its candidate counts as not finished."""
        found = []
        for path in (self.root / "candidates").glob(f"*/{STATE_FILE}"):
            try:
                result = CandidateResult.from_json(_read_json(path))
                if result.candidate.key != path.parent.name:
                    raise ValueError("candidate: not this folder's configuration")
                found.append((path.stat().st_mtime_ns, result))
            except (OSError, ValueError, RecursionError) as exc:  # bad UTF-8 is a ValueError
                warn(f"{self._name(path)}: not a valid state ({str(exc)[:200]}): this candidate "
                     f"is measured again")
        return [r for _, r in sorted(found, key=lambda t: t[0])]


def _plain_name(model: str) -> None:
    if model in ("", ".", "..") or "/" in model or "\0" in model:
        raise OptionError(f"model name {model[:100]!r} cannot name a folder")


def _real_dir(path: Path) -> bool:
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False
