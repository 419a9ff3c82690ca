"""The machinery of the option table: a config field that is also a flag.

A field of a config group declared with :func:`opt` carries, in its metadata, an :class:`Option`:
its flags, help text, click type, how the raw flag value becomes the field's value (``parse``), the
one-field check (``check`` + ``message``), and its policy: the load modes it applies to, whether it
changes the figures, whether MPI ranks must agree on it, and why search refuses it.
:mod:`perfanalyzer.config.table` declares every field; the click options
(``perfanalyzer.cli.options``), the TOML keys of ``--config`` (the long flag names), the build from
raw values, the per-field validation, the refusals by mode (config.validate, config.build), the
gate's configuration comparison (gate.provenance), MPI's agreement check (mpi.world) and search's
refusals (cli.search_cmd) all read these declarations.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

#: ``cli_default`` of an option whose flag default is the field's default.
SAME: Any = object()


@dataclass(frozen=True, kw_only=True)
class Option:
    """How one config field is given on the command line (and in a TOML file)."""

    flags: tuple[str, ...]
    help: str = ""
    metavar: str | None = None
    #: click's value type: str, int or float (ignored for switches and counts).
    kind: type = str
    choices: tuple[str, ...] = ()
    #: choices matched without regard to case (the value is lower-cased).
    ignore_case: bool = False
    #: an inclusive integer range (click.IntRange).
    bounds: tuple[int, int] | None = None
    multiple: bool = False
    switch: bool = False
    count: bool = False
    show_default: bool = False
    #: click's parameter name when it differs from the field name.
    param: str | None = None
    #: the flag's raw default when it differs from the field's: None means "not given" (the
    #: field keeps its default and the ``given`` sibling field stays False).
    cli_default: Any = SAME
    #: name of a sibling bool field set to whether the flag was given.
    given: str | None = None
    #: raw value → field value (``flag`` names the flag in errors); None: the raw value as is.
    parse: Callable[[Any, str], Any] | None = None
    #: the field's value is valid (else OptionError(``message``, formatted with ``value``)).
    check: Callable[[Any], bool] | None = None
    message: str = ""
    # --- policy: what the flag means for each mode and each consumer ---
    #: the load modes (LoadMode values) the flag applies to; () = every mode. Given in a mode it
    #: does not apply to, the flag would be accepted and ignored, so it is refused.
    modes: tuple[str, ...] = ()
    #: False: the flag cannot change the measured figures (output files, verbosity, the load range
    #: matched point by point, ...): the gate does not compare it between two runs.
    figures: bool = True
    #: MPI ranks that merge their load must give the flag the same value (it shapes the load or
    #: the windows).
    mpi_agree: bool = False
    #: why ``perfanalyzer search`` refuses the flag (it sets it itself, or cannot use it); "" when
    #: search takes it.
    search_refused: str = ""

    @property
    def label(self) -> str:
        """Every flag, e.g. ``-l/--latency-threshold`` (names the flag in MPI's agreement check)."""
        return "/".join(self.flags)

    def applies_to(self, mode: str) -> bool:
        """Whether the flag is used by load mode ``mode`` (a LoadMode value)."""
        return not self.modes or mode in self.modes

    @property
    def long(self) -> str:
        """The long flag, e.g. ``--concurrency-range`` (names the flag in errors and TOML)."""
        return next(f for f in self.flags if f.startswith("--"))

    @property
    def short(self) -> str:
        """How errors name the flag: the short flag when there is one (``-m``), else the long."""
        return next((f for f in self.flags if not f.startswith("--")), self.long)


def opt(default: Any, *flags: str, **kw: Any) -> Any:
    """A dataclass field with ``default`` that is also the flag(s) ``flags`` (see :class:`Option`)."""
    return dataclasses.field(default=default, metadata={"option": Option(flags=flags, **kw)})


@dataclass(frozen=True, kw_only=True)
class Entry:
    """One row of the table: the group, the field and its option."""

    group: str
    field: dataclasses.Field[Any]
    option: Option

    @property
    def name(self) -> str:
        return self.field.name

    @property
    def param(self) -> str:
        return self.option.param or self.field.name

    @property
    def default(self) -> Any:
        return self.field.default

    @property
    def cli_default(self) -> Any:
        return self.default if self.option.cli_default is SAME else self.option.cli_default


def entries(root: type) -> Iterator[Entry]:
    """Every option of the grouped config class ``root``, in declaration order."""
    for group in dataclasses.fields(root):
        for f in dataclasses.fields(group.metadata["group"]):
            option = f.metadata.get("option")
            if option is not None:
                yield Entry(group=group.name, field=f, option=option)


__all__ = ["SAME", "Entry", "Option", "entries", "opt"]
