"""Triton's generate extension against the real Triton: ``--endpoint generate`` and
``--endpoint generate_stream`` on the test models (``paced_stream``: first response after 40 ms,
then every 10 ms; ``fail_at`` request parameter: an error response at that index)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from perfanalyzer.client import ClientOptions, create_client
from perfanalyzer.client.base import InferRequest, InputTensor
from perfanalyzer.errors import ServerError
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


def _request(values: list[int], **params: Any) -> InferRequest:
    return InferRequest(model="paced_stream", parameters=params, inputs=(
        InputTensor.from_numpy("IN", np.array(values, dtype=np.int32), "INT32"),))


def _stream(triton: Any, request: InferRequest) -> Any:
    async def go() -> Any:
        client = create_client("http", ClientOptions(url=triton.http_url,
                                                     endpoint="generate_stream"))
        try:
            return await client.generate_stream(client.prepare(request))
        finally:
            await client.close()

    return asyncio.run(go())


def test_one_event_per_response(triton: Any) -> None:
    times, send_ns, recv_ns = _stream(triton, _request([1, 2, 3]))
    assert len(times) == 3 and times == sorted(times) and send_ns > 0 and recv_ns > 0


def test_an_error_event_fails_the_request_with_the_servers_message(triton: Any) -> None:
    """--request-parameter values reach the model as request parameters (fail_at here)."""
    with pytest.raises(ServerError, match="asked to fail at response 1"):
        _stream(triton, _request([1, 2, 3], fail_at=1))


def _profile(triton: Any, tmp_path: Path, *args: str) -> tuple[str, dict[str, Any]]:
    export = tmp_path / "run.json"
    res = subprocess.run(
        [sys.executable, "-m", "perfanalyzer", "-m", "paced_stream", "-u", triton.http_url,
         "-i", "http", "--endpoint", "generate_stream", "--shape", f"IN:{RESPONSES}",
         "-p", "1500", "--profile-export-file", str(export), *args],
        capture_output=True, text=True, timeout=240, check=False)
    assert res.returncode == 0, res.stdout + res.stderr
    return res.stdout, json.loads(export.read_text())


@pytest.mark.parametrize("load", [("--concurrency-range", "1"), ("--concurrency-range", "4"),
                                  ("--request-rate-range", "40")], ids=lambda v: "-".join(v))
def test_generate_stream_figures_at_the_models_pace(triton: Any, tmp_path: Path,
                                                    load: tuple[str, ...]) -> None:
    before = success_count(triton.http_url, "paced_stream")
    out, doc = _profile(triton, tmp_path, *load)
    check_first_response(out)
    assert figure(out, "Avg time to first response") >= FIRST_US  # (an average: outliers count)
    for stat in ("Avg", "p50"):
        gap = figure(out, f"{stat} inter-response time")
        assert GAP_US * (1 - TOLERANCE) <= gap <= GAP_US * (1 + TOLERANCE), out
    ours = doc["perfanalyzer"]
    requests = [r for e in doc["experiments"] for r in e["requests"]]
    requests += ours["trailing_requests"]
    requests += [r for p in ours["points"] for r in p["unwindowed_requests"]]
    served = settled_success_count(triton.http_url, "paced_stream", before + len(requests))
    assert len(requests) == served - before
    assert {r["response_count"] for r in requests} == {RESPONSES}


def test_generate_stream_error_events_are_failed_requests(triton: Any, tmp_path: Path) -> None:
    res = subprocess.run(
        [sys.executable, "-m", "perfanalyzer", "-m", "paced_stream", "-u", triton.http_url,
         "-i", "http", "--endpoint", "generate_stream", "--shape", f"IN:{RESPONSES}",
         "--request-parameter", "fail_at:2:int", "-p", "500"],
        capture_output=True, text=True, timeout=240, check=False)
    assert res.returncode != 0
    assert "asked to fail at response 2" in res.stdout + res.stderr


def test_generate_one_json_answer_per_request(triton: Any, tmp_path: Path) -> None:
    data = tmp_path / "data.json"
    data.write_text(json.dumps({"data": [{"INPUT0": {"content": [7, 8, 9, 10], "shape": [4]}}]}))
    before = success_count(triton.http_url, "identity_int32")
    res = subprocess.run(
        [sys.executable, "-m", "perfanalyzer", "-m", "identity_int32", "-u", triton.http_url,
         "-i", "http", "--endpoint", "generate", "--input-data", str(data),
         "--request-count", "20", "--concurrency-range", "2"],
        capture_output=True, text=True, timeout=240, check=False)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "Request count: 20" in res.stdout
    assert settled_success_count(triton.http_url, "identity_int32", before + 20) >= before + 20
