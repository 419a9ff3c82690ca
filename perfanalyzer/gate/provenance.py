"""Were the two runs made under the same conditions? Machine, versions and the configuration.

Every provenance key both runs recorded is compared (hostname, machine, cpus, perfanalyzer and Python
versions, platform...), except keys that change on every run (times, pids). Every configuration key
is compared except the ones that cannot change the measured figures (output files, verbosity, the
load range — load points are matched separately) and the server URL's port (tests and CI pick free
ports); the URL's host still counts.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .inputs import Side

VOLATILE_PROVENANCE = frozenset({
    "timestamp", "time", "date", "started", "start_time", "end_time", "finished", "wall_time",
    "duration_s", "pid", "argv", "command", "command_line", "cwd", "user",
})
IGNORED_CONFIG = frozenset({
    "filename", "profile_export_file", "verbose", "verbose_csv", "baseline", "collect_metrics",
    "metrics_url", "metrics_interval_ms", "concurrency_range", "request_rate_range",
    "binary_search", "latency_threshold_ms", "model_repository",
    "ssl_grpc_root_certifications_file", "ssl_grpc_private_key_file",
    "ssl_grpc_certificate_chain_file", "ssl_https_ca_certificates_file",
    "ssl_https_client_certificate_file", "ssl_https_private_key_file",
})


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


def _diff(base: Mapping[str, Any], cur: Mapping[str, Any], ignored: frozenset[str],
          what: str) -> list[str]:
    lines = []
    for key in sorted(set(base) & set(cur)):
        if key in ignored:
            continue
        b, c = base[key], cur[key]
        if key == "url":
            b, c = url_host(b), url_host(c)
            key = "server host"
        if _norm(b) != _norm(c):
            lines.append(f"{what} {key}: {_short(b)} (baseline) vs {_short(c)} (current)")
    return lines


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


def provenance_notes(baseline: Side, current: Side) -> list[str]:
    """What could not be checked: a CSV carries no provenance or configuration."""
    csv = [s.label for s in (baseline, current) if s.provenance is None]
    if not csv:
        return []
    return [f"machine, versions and configuration could not be checked: {', '.join(csv)} "
            f"{'is a CSV' if len(csv) == 1 else 'are CSVs'} (JSON runs record them)"]


__all__ = ["IGNORED_CONFIG", "VOLATILE_PROVENANCE", "provenance_notes", "provenance_warnings",
           "url_host"]
