"""``--request-parameter NAME:VALUE:TYPE``: request-level parameters sent with every request."""

from __future__ import annotations

from collections.abc import Iterable

from ..client.base import ParamValue


def typed_parameters(specs: Iterable[tuple[str, str, str]]) -> dict[str, ParamValue]:
    """(name, value, bool|int|string) triples (checked by the CLI) -> typed parameter values."""
    out: dict[str, ParamValue] = {}
    for name, value, kind in specs:
        if kind == "bool":
            out[name] = value.lower() == "true"
        elif kind == "int":
            out[name] = int(value)
        else:
            out[name] = value
    return out
