"""Streaming figures against ground truth: the ``paced_stream`` model answers one response per
element of IN, the first 40 ms after the request reached it, then one every 10 ms, each request
from its own thread. Time to first response and the inter-response time must come out at the
model's pace, in closed-loop and rate modes; the response counts must equal the server's."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.console_text import figure
from tests.support.paced_stream import (
    FIRST_US,
    GAP_US,
    RESPONSES,
    TOLERANCE,
    check_first_response,
)
from tests.support.triton_stats import settled_success_count, success_count

pytestmark = pytest.mark.server



def run_profile(triton: Any, tmp_path: Path, *load: str, extra: tuple[str, ...] = ()
                ) -> tuple[str, dict[str, Any]]:
    tmp_path.mkdir(exist_ok=True)
    export = tmp_path / "run.json"
    window = () if "--periodic-concurrency-range" in load else ("-p", "1500")
    res = subprocess.run(
        [sys.executable, "-m", "perfanalyzer", "-m", "paced_stream", "-u", triton.grpc_url,
         "-i", "grpc", "--streaming", "--shape", f"IN:{RESPONSES}", *window,
         "--profile-export-file", str(export), *load, *extra],
        capture_output=True, text=True, timeout=240, check=False)
    assert res.returncode == 0, res.stdout + res.stderr
    return res.stdout, json.loads(export.read_text())


@pytest.mark.parametrize("load", [("--concurrency-range", "1"), ("--concurrency-range", "4"),
                                  ("--request-rate-range", "40")], ids=lambda v: "-".join(v))
def test_first_response_and_gaps_at_the_models_pace(triton: Any, tmp_path: Path,
                                                    load: tuple[str, ...]) -> None:
    # Triton 2.51 keeps no response_stats for a python-backend model that answers from its own
    # threads: the model's contract, RESPONSES per request, gives the server's response count
    before = success_count(triton.http_url, "paced_stream")
    out, doc = run_profile(triton, tmp_path, *load)
    # The average first response is only bounded below: one stall of the shared machine moves
    # an average, not a median.
    assert figure(out, "Avg time to first response") >= FIRST_US
    check_first_response(out)
    for stat in ("p50", "Avg"):
        value = figure(out, f"{stat} inter-response time")
        assert GAP_US * (1 - TOLERANCE) <= value <= GAP_US * (1 + TOLERANCE), (stat, value, out)
    for name in ("time to first response", "inter-response time"):
        for p in (90, 95, 99):
            assert figure(out, f"p{p} {name}") >= figure(out, f"p50 {name}")
    ours = doc["perfanalyzer"]
    requests = [r for e in doc["experiments"] for r in e["requests"]]
    requests += ours["trailing_requests"]
    requests += [r for p in ours["points"] for r in p["unwindowed_requests"]]
    served = settled_success_count(triton.http_url, "paced_stream", before + len(requests))
    assert len(requests) == served - before
    served -= before
    assert sum(r["response_count"] for r in requests) == RESPONSES * served
    assert {r["response_count"] for r in requests} == {RESPONSES}


def rate(out: str, name: str) -> float:
    match = re.search(rf"^    {re.escape(name)}: ([\d.e+]+) infer/sec", out, re.M)
    assert match, f"no '{name}' line in:\n{out}"
    return float(match.group(1))


def test_goodput_at_both_ends_in_the_csv_the_frame_and_compare(triton: Any,
                                                               tmp_path: Path) -> None:
    from perfanalyzer.report.frame import read_csv, read_run

    loose, loose_doc = run_profile(triton, tmp_path / "loose", "--concurrency-range", "2",
                                   extra=("--goodput", "latency:5000 ttfr:5000 itl:5000",
                                          "-f", str(tmp_path / "loose.csv"), "--csv-streaming"))
    assert rate(loose, "Goodput") == rate(loose, "Throughput")
    assert "(100.0 % of requests within limits)" in loose
    strict, _ = run_profile(triton, tmp_path / "strict", "--concurrency-range", "2",
                            extra=("--goodput", "ttfr:39"))
    assert rate(strict, "Goodput") == 0 and "(0.0 % of requests within limits)" in strict
    point = loose_doc["perfanalyzer"]["points"][0]["summary"]
    assert point["goodput"] == point["throughput"] and point["goodput_share"] == 1.0
    assert point["inter_response_ns"]["count"] == 5 * point["completed"]

    csv = read_csv(tmp_path / "loose.csv")
    assert csv["Goodput"].iloc[0] == pytest.approx(rate(loose, "Throughput"), rel=1e-5)
    assert csv["p50 inter-response time"].iloc[0] == figure(loose, "p50 inter-response time")
    assert list(csv.columns[-2:]) == ["Goodput", "Goodput %"]
    again = subprocess.run([sys.executable, "-m", "perfanalyzer", "report",
                            str(tmp_path / "loose" / "run.json"), "-f", str(tmp_path / "re.csv")],
                           capture_output=True, text=True, timeout=120, check=False)
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "re.csv").read_bytes() == (tmp_path / "loose.csv").read_bytes()
    frames = read_run(tmp_path / "loose" / "run.json")
    assert frames.points["Avg time to first response"].iloc[0] == figure(
        loose, "Avg time to first response")

    res = subprocess.run(
        [sys.executable, "-m", "perfanalyzer", "compare", str(tmp_path / "loose" / "run.json"),
         str(tmp_path / "strict" / "run.json"), "--no-default-checks", "--fail-on",
         "goodput:-50%"], capture_output=True, text=True, timeout=120, check=False)
    assert res.returncode == 1 and "Goodput" in res.stdout, res.stdout + res.stderr


@pytest.mark.parametrize("load", [
    ("--request-intervals", "INTERVALS"), ("--fixed-schedule", "--input-data", "SCHEDULE"),
    ("--periodic-concurrency-range", "4:16:4", "--request-period", "3")],
    ids=lambda v: v[0])
def test_every_load_mode_reports_the_streaming_figures(triton: Any, tmp_path: Path,
                                                       load: tuple[str, ...]) -> None:
    (tmp_path / "intervals.txt").write_text("25000\n")
    entries = [{"timestamp": [25 * k], "IN": {"content": [1] * RESPONSES, "shape": [RESPONSES]}}
               for k in range(40)]
    (tmp_path / "schedule.json").write_text(json.dumps({"data": entries}))
    args = [{"INTERVALS": str(tmp_path / "intervals.txt"),
             "SCHEDULE": str(tmp_path / "schedule.json")}.get(a, a) for a in load]
    out, doc = run_profile(triton, tmp_path, *args)
    check_first_response(out)
    p50_gap = figure(out, "p50 inter-response time")
    assert GAP_US * (1 - TOLERANCE) <= p50_gap <= GAP_US * (1 + TOLERANCE)
    gaps = doc["perfanalyzer"]["points"][0]["summary"]["inter_response_ns"]
    assert gaps["count"] > 0 and gaps["p50"] // 1000 == p50_gap
