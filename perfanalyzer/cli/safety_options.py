"""Issue 13's flags (never harm, never hang), in one block: click options and their config keys."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from ..config.safety import (
    DEFAULT_CONNECT_TIMEOUT_S,
    DEFAULT_REQUEST_TIMEOUT_S,
    DEFAULT_STARTUP_TIMEOUT_S,
)

F = Callable[..., Any]

_OPTIONS = (
    click.option("--secret-header", "secret_headers", multiple=True, metavar="NAME",
                 help="Treat this -H header's value as a secret: never written or printed "
                 "(repeatable; Authorization, Proxy-Authorization, Cookie and Set-Cookie always "
                 "are)."),
    click.option("--connect-timeout", "connect_timeout", default=DEFAULT_CONNECT_TIMEOUT_S,
                 type=float, show_default=True, help="Seconds to open a connection (0 = none)."),
    click.option("--startup-timeout", "startup_timeout", default=DEFAULT_STARTUP_TIMEOUT_S,
                 type=float, show_default=True, help="Seconds for each start-up call (health, "
                 "metadata, config, statistics) before the run ends (0 = none)."),
    click.option("--request-timeout", "request_timeout", default=DEFAULT_REQUEST_TIMEOUT_S,
                 type=float, show_default=True, help="Seconds before a request counts as failed "
                 "(0 = none)."),
    click.option("--force", is_flag=True, help="Allow a concurrency above 16384 and more "
                 "--workers than cores."),
    click.option("--input-memory-limit", "input_memory_limit", default=0.0, type=float,
                 help="MB the generated input data may take (0 = half of the memory available "
                 "at start)."),
)


def safety(fn: F) -> F:
    for dec in reversed(_OPTIONS):
        fn = dec(fn)
    return fn


def safety_kwargs(kw: dict[str, Any]) -> dict[str, Any]:
    """RunConfig fields from the click keyword arguments (defaults when absent)."""
    return {
        "secret_headers": tuple(kw.get("secret_headers") or ()),
        "connect_timeout_s": float(kw.get("connect_timeout", DEFAULT_CONNECT_TIMEOUT_S)),
        "startup_timeout_s": float(kw.get("startup_timeout", DEFAULT_STARTUP_TIMEOUT_S)),
        "request_timeout_s": float(kw.get("request_timeout", DEFAULT_REQUEST_TIMEOUT_S)),
        "force": bool(kw.get("force", False)),
        "input_memory_limit_mb": float(kw.get("input_memory_limit", 0.0)),
    }


__all__ = ["safety", "safety_kwargs"]
