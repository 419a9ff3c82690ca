"""What each flag means for each load mode and each consumer, read from the option table's
declarations (``modes``, ``figures``, ``mpi_agree``, ``search_refused`` of
:class:`~perfanalyzer.config.option.Option`): nothing here is typed again by hand."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

from .option import Entry
from .table.inputs import InputsConfig
from .table.load import LoadConfig, LoadMode
from .table.measurement import MeasurementConfig
from .table.output import OutputConfig
from .table.server import ServerConfig
from .table.transport import TransportConfig

#: The option table's groups in table order (RunConfig's fields; tests hold them equal). Named here
#: because config.validate, which ``RunConfig.validate`` calls, cannot import ``RunConfig``.
GROUP_CLASSES: tuple[tuple[str, type], ...] = (
    ("server", ServerConfig), ("load", LoadConfig), ("measurement", MeasurementConfig),
    ("inputs", InputsConfig), ("transport", TransportConfig), ("output", OutputConfig))


def table() -> Iterator[Entry]:
    """Every option of the table, in table order (as ``option.table()``)."""
    for group, cls in GROUP_CLASSES:
        for f in dataclasses.fields(cls):
            option = f.metadata.get("option")
            if option is not None:
                yield Entry(group=group, field=f, option=option)


def not_used_in(mode: LoadMode) -> tuple[Entry, ...]:
    """The flags load mode ``mode`` does not use (refused when given in it), in table order."""
    return tuple(e for e in table() if not e.option.applies_to(mode.value))


#: What periodic mode does not do: (group, field, the value that means "not asked for" (the
#: field's default), the flag as errors name it). Given otherwise, the flag would be accepted and
#: ignored, so it is refused (config.validate).
PERIODIC_REFUSED: tuple[tuple[str, str, Any, str], ...] = tuple(
    (e.group, e.name, e.default, e.option.short) for e in not_used_in(LoadMode.PERIODIC))

#: Configuration keys that cannot change the measured figures: the gate does not compare them.
FIGURE_FREE: frozenset[str] = frozenset(e.name for e in table() if not e.option.figures)

#: (field, flags) that shape a merged MPI group's load and windows: its ranks must agree on them.
MPI_AGREE: tuple[tuple[str, str], ...] = tuple(
    (e.name, e.option.label) for e in table() if e.option.mpi_agree)

#: click parameter → (flag, its value when not given, why) for the profile flags search refuses.
SEARCH_REFUSED: dict[str, tuple[str, Any, str]] = {
    e.param: (e.option.short, e.cli_default, e.option.search_refused)
    for e in table() if e.option.search_refused}

__all__ = ["FIGURE_FREE", "GROUP_CLASSES", "MPI_AGREE", "PERIODIC_REFUSED", "SEARCH_REFUSED",
           "not_used_in", "table"]
