"""``--trace-level`` / ``--trace-rate`` / ``--trace-count`` / ``--log-frequency``: Triton's trace
settings for the model under test, through its trace settings API (HTTP: ``POST
v2/models/NAME/trace/setting``; gRPC: the ``TraceSetting`` call, as perf_analyzer uses it with
``-i grpc``), set before the load starts and restored after the run — also after an error or
Ctrl-C (the restore is on the cleanup stack).

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


#: (model or "" for the server's, settings to set or None to read) -> the settings after.
Settings = Callable[[str, "dict[str, Any] | None"], dict[str, Any]]


def _http(cfg: RunConfig) -> Settings:
    base = _base(cfg)

    def call(model: str, body: dict[str, Any] | None) -> dict[str, Any]:
        path = f"/v2/models/{model}/trace/setting" if model else "/v2/trace/setting"
        return _call(base + path, body)

    return call


def _grpc(cfg: RunConfig) -> Settings:
    """The gRPC TraceSetting call; values are lists of strings there (an empty list clears a
    model's setting, as null does over HTTP)."""
    import grpc

    from .._proto import grpc_service_pb2 as pb
    from .._proto.grpc_service_pb2_grpc import GRPCInferenceServiceStub
    from ..client._convert import ssl_credentials, target_of
    from .settings import client_options

    opts = client_options(cfg)
    target = target_of(opts.url)
    metadata = tuple((k.lower(), str(v)) for k, v in opts.headers.items())

    def call(model: str, body: dict[str, Any] | None) -> dict[str, Any]:
        request = pb.TraceSettingRequest(model_name=model)
        for key, value in (body or {}).items():
            values = [] if value is None else value if isinstance(value, list) else [value]
            request.settings[key].value.extend(str(v) for v in values)
        creds = ssl_credentials(opts.tls)
        try:
            with (grpc.insecure_channel(target) if creds is None
                  else grpc.secure_channel(target, creds)) as channel:
                answer = GRPCInferenceServiceStub(channel).TraceSetting(
                    request, timeout=TIMEOUT_S, metadata=metadata)
        except grpc.RpcError as exc:
            detail = exc.details() if hasattr(exc, "details") else str(exc)
            raise TraceSettingError(f"trace settings ({target}): {detail}") from None
        return {k: list(v.value) for k, v in answer.settings.items()}

    return call


def apply(cfg: RunConfig) -> Callable[[], None] | None:
    """Set the asked trace settings; returns the function that restores the old ones (or None when
    no trace option was given). Raises TraceSettingError (one line) when the server refuses."""
    new = wanted(cfg)
    if not new:
        return None
    call = _grpc(cfg) if cfg.server.protocol == "grpc" else _http(cfg)
    model = cfg.server.model
    server = call("", None)
    before = call(model, None)
    restore = {k: (None if before.get(k) == server.get(k) else before.get(k)) for k in new}
    call(model, new)
    done = [False]

    def undo() -> None:
        if not done[0]:
            done[0] = True
            call(model, restore)

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
