"""The option table is the one place a flag is declared: click options, TOML keys, build and
validation all follow from it."""

from __future__ import annotations

import dataclasses

import pytest

from perfanalyzer.cli.main import profile_command
from perfanalyzer.config.build import build, from_flat
from perfanalyzer.config.file import option_index
from perfanalyzer.config.option import entries
from perfanalyzer.config.table import GROUP_OF, GROUPS, RunConfig
from perfanalyzer.errors import OptionError


def test_every_entry_is_one_click_option_and_one_toml_key() -> None:
    rows = list(entries(RunConfig))
    longs = [e.option.long for e in rows]
    assert len(longs) == len(set(longs))
    index = option_index(profile_command)
    assert set(index) - {"config"} == {f[2:] for e in rows for f in e.option.flags
                                       if f.startswith("--")}
    for e in rows:
        assert index[e.option.long[2:]].name == e.param


def test_group_field_names_are_unique_and_groups_are_the_six() -> None:
    assert list(GROUPS) == ["server", "load", "measurement", "inputs", "transport", "output"]
    total = sum(len(dataclasses.fields(cls)) for cls in GROUPS.values())
    assert total == len(GROUP_OF)


def test_defaults_are_the_fields_defaults() -> None:
    ctx = profile_command.make_context("profile", ["-m", "m"])
    assert build(dict(ctx.params)) == RunConfig.of(model="m")


def test_flat_round_trip() -> None:
    cfg = build({"model": "m", "concurrency_range": "2:8:2", "shapes": ("IN:2,3",),
                 "headers": ("A:1",), "sync": True})
    assert cfg.load.concurrency_range == (2, 8, 2)
    assert all(isinstance(n, int) for n in cfg.load.concurrency_range)
    assert cfg.load.async_mode is False
    flat = cfg.flat()
    assert flat["mode"] == "concurrency"
    as_json = {k: list(v) if isinstance(v, tuple) else v for k, v in flat.items()}
    assert from_flat(as_json) == cfg


@pytest.mark.parametrize(("raw", "message"), [
    ({"model": "m", "batch_size": 0}, "-b: batch size must be >= 1, got 0"),
    ({"model": "m", "protocol": "x"}, "-i: expected http or grpc, got 'x'"),
    ({"model": "m", "workers": -1}, "--workers must be >= 0, got -1"),
    ({"model": "m", "sequence_id_range": "1:2:3"}, "--sequence-id-range: expected START[:END]"),
    ({"model": "m", "concurrency_range": "1:2", "request_rate_range": "5"},
     "Cannot use both --concurrency-range and --request-rate-range"),
])
def test_one_line_errors_name_the_flag(raw: dict[str, object], message: str) -> None:
    with pytest.raises(OptionError, match=message.replace("[", r"\[")):
        build(raw)


def test_replace_unknown_field_is_refused() -> None:
    with pytest.raises(TypeError, match="no field 'nope'"):
        RunConfig.of(model="m", nope=1)
