"""Raw flag values (click's keyword arguments, by parameter name) → a validated :class:`RunConfig`,
following the option table."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import OptionError
from .dims import multi_dim
from .option import entries
from .policy import not_used_in
from .table import GROUP_OF, GROUPS, LoadMode, RunConfig
from .validate import require_model

#: The flags that pick the load mode, in perf_analyzer's precedence.
MODE_FLAGS = (("--concurrency-range", "concurrency_range", LoadMode.CONCURRENCY),
              ("--request-rate-range", "request_rate_range", LoadMode.REQUEST_RATE),
              ("--request-intervals", "request_intervals", LoadMode.CUSTOM_INTERVALS),
              ("--periodic-concurrency-range", "periodic_concurrency_range", LoadMode.PERIODIC))


def load_mode(raw: Mapping[str, Any]) -> LoadMode:
    chosen = [(flag, mode) for flag, key, mode in MODE_FLAGS if raw.get(key)]
    if len(chosen) > 1:
        raise OptionError(f"Cannot use both {chosen[0][0]} and {chosen[1][0]} inference load modes")
    return chosen[0][1] if chosen else LoadMode.CONCURRENCY


def build(raw: Mapping[str, Any]) -> RunConfig:
    """Build and validate the config (raises OptionError naming the flag). Parameters missing
    from ``raw`` take their defaults."""
    require_model(raw.get("model"))  # before any flag is parsed: the first thing to name
    mode = load_mode(raw)
    _refuse_unused(raw, mode)
    groups: dict[str, dict[str, Any]] = {g: {} for g in GROUPS}
    groups["load"]["mode"] = mode
    for entry in entries(RunConfig):
        o, value = entry.option, raw.get(entry.param, entry.cli_default)
        if value is None or (o.multiple and not value):
            continue  # not given: the field's default
        if o.given:
            groups[entry.group][o.given] = True
        if o.ignore_case and isinstance(value, str):
            value = value.lower()
        if o.parse is not None:
            value = o.parse(value, o.long)
        elif o.multiple:
            value = tuple(value)
        groups[entry.group][entry.name] = value
    groups["inputs"].update(multi_dim(raw))  # search/multi-dim: -b / --shape lists
    cfg = RunConfig(**{g: GROUPS[g](**kw) for g, kw in groups.items()})
    return cfg.validate()


def _refuse_unused(raw: Mapping[str, Any], mode: LoadMode) -> None:
    """A flag only another mode uses (``modes`` in the table), given at all: refused. Flags
    periodic mode does not use are refused by value in config.validate (its own message)."""
    if mode is LoadMode.PERIODIC:
        return
    for entry in not_used_in(mode):
        value = raw.get(entry.param)
        if value is not None and value != entry.cli_default and not (entry.option.multiple
                                                                     and not value):
            users = " or ".join(flag for flag, _key, m in MODE_FLAGS
                                if entry.option.applies_to(m.value))
            raise OptionError(f"{entry.option.long}: only used by {users}")


def from_flat(flat: Mapping[str, Any]) -> RunConfig:
    """A config from a flat mapping (a saved run's ``config``): lists back to tuples, keys this
    version does not know dropped."""
    kw = {k: _tuples(v) for k, v in flat.items() if k in GROUP_OF}
    if "mode" in kw:
        kw["mode"] = LoadMode(kw["mode"])
    kw["headers"] = tuple(tuple(h) for h in kw.get("headers", ()))
    kw["shapes"] = tuple((n, tuple(s)) for n, s in kw.get("shapes", ()))
    return RunConfig.of(**kw)


def completed(flat: Mapping[str, Any]) -> dict[str, Any]:
    """A recorded flat mapping with every field: what it lacks (a run saved before the flag
    existed) takes the option table's default; keys this version does not know are dropped."""
    return from_flat(flat).flat()


def _tuples(v: Any) -> Any:
    return tuple(_tuples(x) for x in v) if isinstance(v, list) else v


__all__ = ["build", "completed", "from_flat", "load_mode"]
