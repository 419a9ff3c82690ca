"""Parsers for the list-valued flags of multi-dimensional sweeps: ``-b 1,2,4`` (client batch
sizes) and ``--shape NAME:DIMS|DIMS`` (alternative shapes: shape sets).

``--shape NAME:D1,D2`` keeps perf_analyzer's meaning. Alternatives for one input are separated by
``|``; the sets are formed position by position over the inputs that have alternatives (set k takes
the k-th alternative of each; they must all give the same number), and inputs with one shape are in
every set. ``--shape 'INPUT0:16|32' --shape 'INPUT1:16|32'`` gives two sets,
{INPUT0:16, INPUT1:16} and {INPUT0:32, INPUT1:32}.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import click

from ..errors import OptionError
from .parse import parse_shape

Shape = tuple[str, tuple[int, ...]]
ShapeSet = tuple[Shape, ...]


def parse_batch_sizes(text: str | int) -> tuple[int, ...]:
    """``"1,2,4"`` -> (1, 2, 4); each >= 1, no duplicates."""
    parts = [p.strip() for p in str(text).split(",")]
    try:
        sizes = tuple(int(p) for p in parts)
    except ValueError:
        raise OptionError(f"-b: expected a batch size or a list like 1,2,4, got {text!r}") \
            from None
    if any(b < 1 for b in sizes):
        raise OptionError(f"-b: batch size must be >= 1, got {text!r}")
    if len(set(sizes)) != len(sizes):
        raise OptionError(f"-b: {text!r} lists a batch size twice")
    return sizes


def parse_shape_sets(values: Sequence[str]) -> tuple[ShapeSet, ...]:
    """Every ``--shape`` value -> the shape sets (one set when no value has ``|``)."""
    common: list[Shape] = []
    alternatives: list[tuple[str, list[Shape]]] = []
    for text in values:
        name, sep, dims = text.rpartition(":")
        if sep and "|" in dims:
            alts = [parse_shape(f"{name}:{d}") for d in dims.split("|")]
            alternatives.append((text, alts))
        else:
            common.append(parse_shape(text))
    if not alternatives:
        return (tuple(common),)
    count = len(alternatives[0][1])
    for text, alts in alternatives:
        if len(alts) != count:
            raise OptionError(f"--shape {text}: {len(alts)} alternatives, but "
                              f"--shape {alternatives[0][0]} has {count}")
    return tuple(tuple(common) + tuple(alts[k] for _, alts in alternatives)
                 for k in range(count))


def first_batch_size(raw: Any, flag: str) -> int:
    """``-b``'s field value: the first batch size (the list goes to ``batch_sizes``)."""
    return parse_batch_sizes(raw)[0]


def first_shape_set(values: Sequence[str], flag: str) -> ShapeSet:
    """``--shape``'s field value: the first shape set (the sets go to ``shape_sets``)."""
    return parse_shape_sets(values)[0]


def multi_dim(raw: Any) -> dict[str, Any]:
    """The list fields from the raw ``-b`` / ``--shape`` values: ``batch_sizes`` and
    ``shape_sets`` hold the lists when they have more than one value (else empty)."""
    batches = parse_batch_sizes(raw.get("batch_size") or "1")
    sets = parse_shape_sets(raw.get("shapes") or ())
    return {"batch_sizes": batches if len(batches) > 1 else (),
            "shape_sets": sets if len(sets) > 1 else ()}


class IntList(click.ParamType):
    """``-b``'s type: an integer or a comma-separated list of them (kept as text; parsed by
    :func:`parse_batch_sizes`). Named "integer" so config-file errors read as before."""

    name = "integer"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> str:
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        text = str(value).strip()
        if not text or not all(p.strip().lstrip("-").isdigit() for p in text.split(",")):
            self.fail(f"{value!r} is not a valid integer or list of integers", param, ctx)
        return text
INT_LIST = IntList()
