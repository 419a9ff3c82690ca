"""Streaming figures against ground truth: the ``paced_stream`` model answers one response per
element of IN, the first 40 ms after the request reached it, then one every 10 ms, each request
from its own thread. Time to first response and the inter-response time must come out at the
model's pace, in closed-loop and rate modes; the response counts must equal the server's."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from .settle import settled_success_count

pytestmark = pytest.mark.server

FIRST_US = 40_000
GAP_US = 10_000
RESPONSES = 6
#: Within 10 % of the model's pace (4 ms of 40: the test machine is shared). The client adds the
#: network and the server's scheduling to the first response, never less than the model's delay.
TOLERANCE = 0.10


def server_requests(url: str, model: str) -> int:
    """The requests the server completed for ``model``. (Triton 2.51 keeps no response_stats for
    a python-backend model that answers from its own threads: the model's contract, RESPONSES per
    request, gives the server's response count.)"""
    with urllib.request.urlopen(f"http://{url}/v2/models/{model}/stats", timeout=10) as r:
        return int(json.load(r)["model_stats"][0]["inference_stats"]["success"]["count"])


def figure(out: str, name: str) -> int:
    match = re.search(rf"^    {re.escape(name)}: (\d+) usec$", out, re.M)
    assert match, f"no '{name}' line in:\n{out}"
    return int(match.group(1))


def run_profile(triton: Any, tmp_path: Path, *load: str, extra: tuple[str, ...] = ()
                ) -> tuple[str, dict[str, Any]]:
    export = tmp_path / "run.json"
    res = subprocess.run(
        [sys.executable, "-m", "perfanalyzer", "-m", "paced_stream", "-u", triton.grpc_url,
         "-i", "grpc", "--streaming", "--shape", f"IN:{RESPONSES}", "-p", "1500",
         "--profile-export-file", str(export), *load, *extra],
        capture_output=True, text=True, timeout=240, check=False)
    assert res.returncode == 0, res.stdout + res.stderr
    return res.stdout, json.loads(export.read_text())


@pytest.mark.parametrize("load", [("--concurrency-range", "1"), ("--concurrency-range", "4"),
                                  ("--request-rate-range", "40")], ids=lambda v: "-".join(v))
def test_first_response_and_gaps_at_the_models_pace(triton: Any, tmp_path: Path,
                                                    load: tuple[str, ...]) -> None:
    before = server_requests(triton.http_url, "paced_stream")
    out, doc = run_profile(triton, tmp_path, *load)
    for name, truth in (("time to first response", FIRST_US), ("inter-response time", GAP_US)):
        for stat in ("Avg", "p50"):
            value = figure(out, f"{stat} {name}")
            low = truth if name.startswith("time") else truth * (1 - TOLERANCE)
            assert low <= value <= truth * (1 + TOLERANCE), (stat, name, value, out)
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
