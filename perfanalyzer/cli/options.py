"""The profile command's click options, generated from the option table
(:mod:`perfanalyzer.config.table`), plus ``--config``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from ..config.option import Entry, entries
from ..config.table import RunConfig
from .floats import FINITE_FLOAT

F = Callable[..., Any]


def _config(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    from ..config.file import config_callback

    config_callback(ctx, param, value)


CONFIG_OPTION = click.option(
    "--config", metavar="FILE.toml", is_eager=True, expose_value=False, callback=_config,
    help="Take flags from a TOML file (keys: long flag names); flags on the command line "
    "override it.")


def click_option(entry: Entry) -> F:
    """The click option of one table entry."""
    o = entry.option
    kw: dict[str, Any] = {"help": o.help or None, "metavar": o.metavar}
    if o.switch:
        kw["is_flag"] = True
    elif o.count:
        kw["count"] = True
    else:
        kw["default"] = entry.cli_default
        kw["show_default"] = o.show_default
        kw["multiple"] = o.multiple
        if o.choices:
            kw["type"] = click.Choice(list(o.choices), case_sensitive=not o.ignore_case)
        elif o.bounds is not None:
            kw["type"] = click.IntRange(*o.bounds)
        elif o.kind is float:
            kw["type"] = FINITE_FLOAT
        elif o.kind is not str:
            kw["type"] = o.kind
    return click.option(*o.flags, entry.param, **kw)


def profile_options(fn: F) -> F:
    """Decorate ``fn`` with ``--config`` and every option of the table, in table order."""
    for entry in reversed(list(entries(RunConfig))):
        fn = click_option(entry)(fn)
    return CONFIG_OPTION(fn)


__all__ = ["click_option", "profile_options"]
