"""Were the two runs made under the same conditions? Machine, versions and the configuration.

Every provenance key either run recorded is compared, generically (hostname, machine, cpus,
perfanalyzer and Python versions, event loop, server name and version, and any key a later version
adds, e.g. a transport), except keys that change on every run (times, pids); a key one run lacks is
a difference too. Nested objects are compared key by key (``server.version``). Every configuration
key is compared the same way except the ones that cannot change the measured figures (output files,
verbosity, the load range — load points are matched separately — and ``repeat``, which the verdict
accounts for) and the server URL's port (tests and CI pick free ports); the URL's host still counts.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from ..config.policy import FIGURE_FREE
from .inputs import Side

VOLATILE_PROVENANCE = frozenset({
    "timestamp", "time", "date", "started", "start_time", "end_time", "finished", "wall_time",
    "duration_s", "pid", "argv", "command", "command_line", "cwd", "user",
})
#: Configuration keys the option table declares as not changing the figures (``figures=False``).
IGNORED_CONFIG = FIGURE_FREE
ABSENT = "(absent)"


def _norm(value: Any) -> str:
    """Compare values as JSON text, so tuples read back from a JSON file equal lists."""
    return json.dumps(value, sort_keys=True, default=str)


def url_host(url: Any) -> str:
    """``http://10.0.0.1:8000/x`` → ``10.0.0.1``; ports are ignored."""
    text = str(url or "")
    if "://" in text:
        text = text.split("://", 1)[1]
    text = text.split("/", 1)[0]
    if text.startswith("["):
        return text.split("]", 1)[0] + "]"
    return text.rsplit(":", 1)[0] if text.count(":") == 1 else text


def _flat(obj: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"server": {"version": "2.51"}}`` → ``{"server.version": "2.51"}``."""
    out: dict[str, Any] = {}
    for key, value in obj.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out.update(_flat(value, name + "."))
        else:
            out[name] = value
    return out


def _diff(base: Mapping[str, Any], cur: Mapping[str, Any], ignored: frozenset[str],
          what: str) -> list[str]:
    lines = []
    fb, fc = _flat(base), _flat(cur)
    for key in sorted(set(fb) | set(fc)):
        if key.split(".", 1)[0] in ignored:
            continue
        b, c = fb.get(key, ABSENT), fc.get(key, ABSENT)
        if key == "url":
            b, c = url_host(b), url_host(c)
            key = "server host"
        if _norm(b) != _norm(c):
            lines.append(f"{what} {key}: {_text(b)} (baseline) vs {_text(c)} (current)")
    return lines


def _text(value: Any) -> str:
    return ABSENT if value is ABSENT else _short(value)


def _short(value: Any, limit: int = 60) -> str:
    text = _norm(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def provenance_warnings(baseline: Side, current: Side) -> list[str]:
    """One line per difference in machine, versions or configuration (empty when they match)."""
    lines: list[str] = []
    if baseline.provenance is not None and current.provenance is not None:
        lines += _diff(baseline.provenance, current.provenance, VOLATILE_PROVENANCE, "machine/version")
    if baseline.config is not None and current.config is not None:
        lines += _diff(baseline.config, current.config, IGNORED_CONFIG, "config")
    return lines


def unstable_warnings(baseline: Side, current: Side, matched: Sequence[float]) -> list[str]:
    """One line per side (and run) with compared load points that did not stabilize."""
    lines = []
    name = baseline.level_name
    for side, what in ((baseline, "baseline"), (current, "current")):
        for key in matched:
            point = side.points[key]
            if not point.unstable_runs:
                continue
            runs = ("" if side.runs <= 1 else
                    f" (run{'s' if len(point.unstable_runs) > 1 else ''} "
                    f"{', '.join(map(str, point.unstable_runs))} of {side.runs})")
            lines.append(f"{what} {side.label}: {name} {key:g} did not stabilize{runs}: its "
                         f"figures are unreliable")
    return lines


def provenance_notes(baseline: Side, current: Side) -> list[str]:
    """What could not be checked: a CSV carries no provenance or configuration."""
    csv = [s.label for s in (baseline, current) if s.provenance is None]
    if not csv:
        return []
    return [f"machine, versions and configuration could not be checked: {', '.join(csv)} "
            f"{'is a CSV' if len(csv) == 1 else 'are CSVs'} (JSON runs record them)"]


__all__ = ["IGNORED_CONFIG", "VOLATILE_PROVENANCE", "provenance_notes", "provenance_warnings",
           "unstable_warnings", "url_host"]
