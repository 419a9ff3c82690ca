"""The reports, the gate and the search read a run through its typed model (RunResult.settings,
RunResult.judged): never the recorded configuration mapping with a default of their own. The one
place that reads that mapping is RunSettings.recorded (results/), for live and saved runs alike, so
the loader of saved runs (report/saved.py) needs no exception either."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from perfanalyzer.config import DEFAULT_MEASUREMENT_INTERVAL_MS, DEFAULT_STABILITY_PCT, RunConfig
from perfanalyzer.inputs.model import ModelTraits
from perfanalyzer.results import LatencySource, LoadMode, PointStatus, RunResult, RunSettings

PACKAGE = Path(__file__).resolve().parents[1] / "perfanalyzer"
READERS = ("report", "gate", "search")


def _untyped_reads(source: str, name: str) -> list[str]:
    """``x.config.get(...)``, ``x.config[...]`` and ``y = x.config`` (an alias would hide the
    first two) in the module ``source`` (``name`` in the messages)."""
    found = []

    def is_config(node: ast.AST) -> bool:
        return isinstance(node, ast.Attribute) and node.attr == "config"

    for node in ast.walk(ast.parse(source)):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr == "get" and is_config(node.func.value)):
            found.append(f"{name}:{node.lineno}: .config.get(")
        elif isinstance(node, ast.Subscript) and is_config(node.value):
            found.append(f"{name}:{node.lineno}: .config[")
        elif isinstance(node, (ast.Assign, ast.AnnAssign)) and is_config(node.value):
            found.append(f"{name}:{node.lineno}: = .config")
    return found


def test_readers_use_the_typed_run_model() -> None:
    files = [p for folder in READERS for p in (PACKAGE / folder).rglob("*.py")]
    assert len(files) > 20  # the folders were found
    found = [line for p in files
             for line in _untyped_reads(p.read_text(encoding="utf-8"), str(p.relative_to(PACKAGE)))]
    assert not found, "untyped configuration reads:\n" + "\n".join(found)


def test_the_check_finds_an_untyped_read() -> None:
    src = "a = run.config.get('x', 1)\nb = side.config['y']\nc = run.config\nd = run.settings.x\n"
    assert sorted(f.split(": ")[1] for f in _untyped_reads(src, "probe")) == \
        [".config.get(", ".config[", "= .config"]


def _run(config: dict[str, object], mode: str = "request_rate", percentile: int = -1) -> RunResult:
    return RunResult(mode=mode, model=ModelTraits(name="m"), batch_size=1, percentile=percentile,
                     config=config)


def test_settings_missing_from_a_recorded_config_take_the_option_tables_defaults() -> None:
    s = _run({}).settings
    every = RunConfig.of(mode="request_rate", model="m").flat()  # every key, the table's values
    table = RunSettings.recorded(every, mode="request_rate", model="m")
    assert s == table
    assert s.measurement_interval_ms == DEFAULT_MEASUREMENT_INTERVAL_MS
    assert s.stability_percentage == DEFAULT_STABILITY_PCT
    assert s.latency_source is LatencySource.SENT and s.mode is LoadMode.REQUEST_RATE
    # null (a run saved before the flag existed, or an unset value) is the default too
    assert _run({"latency_from": None, "latency_threshold_ms": None}).settings == table


def test_settings_follow_the_recorded_config_and_the_runs_percentile() -> None:
    run = _run({"latency_from": "scheduled", "latency_threshold_ms": 2.5,
                "stability_percentage": 5}, percentile=95)
    s = run.settings
    assert (s.latency_source, s.latency_threshold_ns, s.stability_percentage, s.percentile) == \
        (LatencySource.SCHEDULED, 2_500_000, 5.0, 95)
    assert s.judging.latency_from is LatencySource.SCHEDULED
    assert _run({"percentile": 90}, percentile=95).settings.percentile == 90  # recorded wins
    run.record(latency_threshold_ms=0)
    assert run.settings.latency_threshold_ns == 0 and run.config["latency_threshold_ms"] == 0


@pytest.mark.parametrize("enum", [LoadMode, PointStatus, LatencySource])
def test_the_enums_are_their_text(enum: type) -> None:
    for member in enum:
        assert member == member.value and f"{member}" == str(member) == member.value
        assert json.dumps({"k": member}) == json.dumps({"k": member.value})
