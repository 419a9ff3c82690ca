"""ORCA load reports (``--orca-format``): the header parser (pure), and a run against a scripted
KServe server that answers them (no server here emits them: Triton does only with the
TensorRT-LLM backend)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from perfanalyzer.client.orca import OrcaCollector, OrcaWindow, parse_orca
from tests.support.cli_runs import run_cli as _cli


@pytest.mark.parametrize(("value", "metrics"), [
    ("TEXT cpu_utilization=0.3, mem_utilization=0.8, rps_fractional=10.0, eps=1, "
     "named_metrics.custom_metric_util=0.4",
     {"cpu_utilization": 0.3, "mem_utilization": 0.8, "rps_fractional": 10.0, "eps": 1.0,
      "named_metrics.custom_metric_util": 0.4}),
    ('JSON {"cpu_utilization": 0.3, "named_metrics": {"kv": 0.5, "bad": "x"}, "flag": true}',
     {"cpu_utilization": 0.3, "named_metrics.kv": 0.5}),
    ("text a=1,b=,=3,c=nan, d = 2", {"a": 1.0, "d": 2.0}),
    ("JSON {not json", {}), ("BIN AAAA", {}), ("", {}),
])
def test_parse_text_and_json_reports(value: str, metrics: dict[str, float]) -> None:
    assert parse_orca(value) == metrics


def test_collector_averages_each_metric_over_the_answers_that_carried_it() -> None:
    c = OrcaCollector()
    c.on_head(b"\r\nContent-Length: 3\r\nEndpoint-Load-Metrics: TEXT a=1, b=4")
    c.on_head(b"\r\nendpoint-load-metrics: TEXT a=3\r\nX: y")
    c.on_head(b"\r\nContent-Length: 3")  # no report
    w = c.take()
    assert (w.answers, w.averages) == (2, {"a": 2.0, "b": 4.0})
    assert c.take() == OrcaWindow()
    assert (w + w).averages == w.averages and (w + w).answers == 4
    assert OrcaWindow.from_json(w.to_json()) == w


@pytest.mark.server
@pytest.mark.parametrize("kind", ["text", "json"])
def test_reports_are_averaged_per_window_shown_and_exported(mini_server: str,
                                                            tmp_path: Path, kind: str) -> None:
    export = tmp_path / "run.json"
    # one window of 60 requests: no stability verdict for a shared machine to upset
    r = _cli("-m", "echo", "-u", mini_server, "--request-count", "60",
             "--orca-format", kind, "--profile-export-file", str(export))
    assert r.returncode == 0, r.stderr
    match = re.search(r"ORCA load reports \((\d+) answers\):\n    cpu_utilization: 0.25\n"
                      r"    named_metrics.kv_cache_utilization: ([\d.]+)\n", r.stdout)
    assert match, r.stdout
    point = json.loads(export.read_text())["perfanalyzer"]["points"][0]
    orca = point["orca"]
    assert orca["answers"] == int(match.group(1)) > 0
    kv = orca["sums"]["named_metrics.kv_cache_utilization"]
    assert orca["counts"]["cpu_utilization"] == orca["answers"]
    # every answer's kv is 0.2 or 0.6: the sum pins how many of each
    assert 0.2 * orca["answers"] - 1e-9 <= kv <= 0.6 * orca["answers"] + 1e-9
    assert orca["averages"]["cpu_utilization"] == 0.25
    windows = [w["orca"] for w in point["windows"]]
    assert sum(w["answers"] for w in windows) >= orca["answers"]
    saved = _cli("report", str(export))
    assert saved.returncode == 0 and match.group(0) in saved.stdout, saved.stdout


def test_orca_needs_http() -> None:
    r = _cli("-m", "echo", "-i", "grpc", "--orca-format", "text")
    assert r.returncode == 3 and "--orca-format: ORCA load reports are HTTP" in r.stderr
