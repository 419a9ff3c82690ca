"""What each flag means for each load mode and each consumer, read from the option table's
declarations (``modes``, ``figures``, ``mpi_agree``, ``search_refused`` of
:class:`~perfanalyzer.config.option.Option`): nothing here is typed again by hand."""

from __future__ import annotations

from typing import Any

from .option import Entry, entries
from .table import LoadMode, RunConfig


def not_used_in(mode: LoadMode) -> tuple[Entry, ...]:
    """The flags load mode ``mode`` does not use (refused when given in it), in table order."""
    return tuple(e for e in entries(RunConfig) if not e.option.applies_to(mode.value))


#: What periodic mode does not do: (group, field, the value that means "not asked for" (the
#: field's default), the flag as errors name it). Given otherwise, the flag would be accepted and
#: ignored, so it is refused (config.validate).
PERIODIC_REFUSED: tuple[tuple[str, str, Any, str], ...] = tuple(
    (e.group, e.name, e.default, e.option.short) for e in not_used_in(LoadMode.PERIODIC))

#: Configuration keys that cannot change the measured figures: the gate does not compare them.
FIGURE_FREE: frozenset[str] = frozenset(e.name for e in entries(RunConfig) if not e.option.figures)

#: (field, flags) that shape a merged MPI group's load and windows: its ranks must agree on them.
MPI_AGREE: tuple[tuple[str, str], ...] = tuple(
    (e.name, e.option.label) for e in entries(RunConfig) if e.option.mpi_agree)

#: click parameter → (flag, its value when not given, why) for the profile flags search refuses.
SEARCH_REFUSED: dict[str, tuple[str, Any, str]] = {
    e.param: (e.option.short, e.cli_default, e.option.search_refused)
    for e in entries(RunConfig) if e.option.search_refused}

__all__ = ["FIGURE_FREE", "MPI_AGREE", "PERIODIC_REFUSED", "SEARCH_REFUSED", "not_used_in"]
