"""``--trace-level`` / ``--trace-rate`` / ``--trace-count`` / ``--log-frequency``: Triton's trace
settings for the model under test, through its trace settings API
(``POST v2/models/NAME/trace/setting``), set before the load starts and restored after the run —
also after an error or Ctrl-C (the restore is on the cleanup stack).

Restoring: a setting the model did not override (its value equals the server-wide one) is cleared
(``null``: back to the global setting); an overridden one gets its old value back.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

from ..config import RunConfig
from ..errors import PerfAnalyzerError

TIMEOUT_S = 5.0
KEYS = ("trace_level", "trace_rate", "trace_count", "log_frequency")


class TraceSettingError(PerfAnalyzerError):
    """The server refused or could not be asked to change its trace settings."""


def wanted(cfg: RunConfig) -> dict[str, Any]:
    """The settings to send, in the API's shape (levels a list, numbers as strings)."""
    out: dict[str, Any] = {}
    if cfg.server.trace_level is not None:
        out["trace_level"] = [cfg.server.trace_level]
    for key in KEYS[1:]:
        value = getattr(cfg.server, key)
        if value is not None:
            out[key] = str(value)
    return out


def _base(cfg: RunConfig) -> str:
    url = cfg.server.server_url
    return (url if "://" in url else f"http://{url}").rstrip("/")


def _call(url: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method="GET" if body is None else "POST",
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT_S) as resp:
            return dict(json.loads(resp.read() or b"{}"))
    except urllib.error.HTTPError as exc:
        try:
            detail = json.loads(exc.read()).get("error", exc.reason)
        except ValueError:
            detail = exc.reason
        raise TraceSettingError(f"trace settings ({url}): {detail}") from None
    except (OSError, ValueError) as exc:
        raise TraceSettingError(f"trace settings ({url}): {exc}") from None


def apply(cfg: RunConfig) -> Callable[[], None] | None:
    """Set the asked trace settings; returns the function that restores the old ones (or None when
    no trace option was given). Raises TraceSettingError (one line) when the server refuses."""
    new = wanted(cfg)
    if not new:
        return None
    base = _base(cfg)
    model_url = f"{base}/v2/models/{cfg.server.model}/trace/setting"
    server = _call(f"{base}/v2/trace/setting")
    before = _call(model_url)
    restore = {k: (None if before.get(k) == server.get(k) else before.get(k)) for k in new}
    _call(model_url, new)
    done = [False]

    def undo() -> None:
        if not done[0]:
            done[0] = True
            _call(model_url, restore)

    return undo


async def restore(undo: Callable[[], None]) -> None:
    """Run ``undo`` off the event loop; a failure is a warning (the run's data is kept)."""
    import asyncio
    import sys

    from .. import cleanup

    cleanup.unregister(undo)
    try:
        await asyncio.to_thread(undo)
    except TraceSettingError as exc:
        print(f"WARNING: could not restore the trace settings: {exc}", file=sys.stderr)
