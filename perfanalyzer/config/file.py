"""Run configs: every profile flag from a TOML file (``perfanalyzer --config configs/NAME.toml``).

Keys are the long flag names, with dashes or underscores (``concurrency-range`` or
``concurrency_range``); values are what the flag takes: strings, numbers, ``true``/``false`` for
switches, an array (or one value) for repeatable flags, and for range flags either a string
``"1:8:2"``, one number, or an array ``[1, 8, 2]``. Flags given on the command line override the
file. Relative paths in values are relative to the working directory, as on the command line.

Every key is checked against the profile command's options before anything runs; a mistake is one
line naming the file and the key.
"""

from __future__ import annotations

import difflib
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

from ..errors import OptionError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

CONFIG_FLAG = "config"


def read_toml(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Parse a TOML file; one-line :class:`OptionError` naming the file on any problem."""
    try:
        with Path(path).open("rb") as fh:
            return tomllib.load(fh)
    except OSError as exc:
        raise OptionError(f"{path}: cannot read config: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise OptionError(f"{path}: not valid TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise OptionError(f"{path}: not valid TOML: not UTF-8 text (byte {exc.start}: "
                          f"{exc.object[exc.start:exc.start + 1]!r})") from None
    except RecursionError:
        raise OptionError(f"{path}: not valid TOML: nested too deeply") from None


def option_index(command: click.Command) -> dict[str, click.Option]:
    """Long flag name (dashes, without ``--``) → the command's option."""
    index: dict[str, click.Option] = {}
    for param in command.params:
        if not isinstance(param, click.Option):
            continue
        for opt in (*param.opts, *param.secondary_opts):
            if opt.startswith("--"):
                index[opt[2:]] = param
    return index


def load_config(path: str | os.PathLike[str], command: click.Command,
                ctx: click.Context | None = None) -> dict[str, Any]:
    """The file's settings as a click ``default_map`` (parameter name → value) for ``command``.

    Raises :class:`OptionError` ``"FILE: unknown key 'foo'"`` (with a suggestion when one is
    close), or naming the key whose value has the wrong type.
    """
    data = read_toml(path)
    index = option_index(command)
    out: dict[str, Any] = {}
    given: dict[str, str] = {}
    for key, value in data.items():
        flag = key.replace("_", "-")
        if flag == CONFIG_FLAG:
            raise OptionError(f"{path}: key {key!r}: a config file cannot load another one")
        opt = index.get(flag)
        if opt is None or opt.name is None:
            raise OptionError(f"{path}: unknown key {key!r}{_hint(flag, index)}")
        if opt.name in given:
            raise OptionError(f"{path}: key {key!r}: already set as {given[opt.name]!r}")
        given[opt.name] = key
        out[opt.name] = _value(path, key, opt, value, ctx)
    return out


def _hint(flag: str, index: Mapping[str, click.Option]) -> str:
    close = difflib.get_close_matches(flag, [k for k in index if k != CONFIG_FLAG], n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _value(path: str | os.PathLike[str], key: str, opt: click.Option, value: Any,
           ctx: click.Context | None) -> Any:
    where = f"{path}: key {key!r}"
    if isinstance(value, dict):
        raise OptionError(f"{where}: a table is not a flag value (write {key} = VALUE)")
    if opt.is_flag and not opt.count:
        if not isinstance(value, bool):
            raise OptionError(f"{where}: expected true or false, got {value!r}")
        return value
    if opt.count:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise OptionError(f"{where}: expected a count (0, 1, 2...), got {value!r}")
        return value
    if opt.multiple:
        items = value if isinstance(value, list) else [value]
        return [_convert(where, opt, v, ctx) for v in items]
    if isinstance(value, list):
        if ":" not in (opt.metavar or ""):
            raise OptionError(f"{where}: expected one value, got a list")
        value = ":".join(_scalar(where, v) for v in value)
    return _convert(where, opt, value, ctx)


def _scalar(where: str, v: Any) -> str:
    if isinstance(v, bool) or not isinstance(v, (int, float, str)):
        raise OptionError(f"{where}: expected numbers in the range list, got {v!r}")
    return f"{v:g}" if isinstance(v, float) else str(v)


def _convert(where: str, opt: click.Option, value: Any, ctx: click.Context | None) -> Any:
    if isinstance(value, (bool, list, dict)):
        raise OptionError(f"{where}: expected {_kind(opt)}, got {value!r}")
    if isinstance(value, (int, float)) and opt.type is click.STRING:
        value = str(value)
    try:
        return opt.type.convert(value, opt, ctx)
    except click.BadParameter as exc:
        raise OptionError(f"{where}: {exc.message}") from None


def _kind(opt: click.Option) -> str:
    if isinstance(opt.type, click.Choice):
        return "one of " + ", ".join(map(str, opt.type.choices))
    return {"integer": "an integer", "float": "a number"}.get(opt.type.name, "a string")


def config_callback(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    """Eager ``--config`` callback: fill ``ctx.default_map`` so command-line flags still win."""
    if not value:
        return
    settings = load_config(value, ctx.command, ctx)
    ctx.default_map = {**(ctx.default_map or {}), **settings}


__all__ = ["config_callback", "load_config", "option_index", "read_toml"]
