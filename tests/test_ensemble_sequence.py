"""An ensemble with a stateful step is a sequence model (perf_analyzer's rule): its requests carry
a sequence id and start/end flags, which Triton passes on to the step. On the real Triton."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from tests.support.triton_stats import settled_success_count, success_count

pytestmark = pytest.mark.server

MODEL, STEP = "ensemble_sequence", "sequence_acc"


def _profile(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "perfanalyzer", "profile", "-m", MODEL, *args],
                          capture_output=True, text=True, timeout=180, check=False)


@pytest.mark.parametrize("args", [
    ("--concurrency-range", "2"),
    ("--concurrency-range", "2", "--serial-sequences"),
    ("--request-rate-range", "20", "--sync"),
    ("-i", "grpc", "--streaming", "--concurrency-range", "2"),
], ids=["concurrency", "serial", "rate-sync", "grpc-streaming"])
def test_ensemble_of_a_sequence_model_runs_sequences(triton: Any, args: tuple[str, ...]) -> None:
    url = triton.grpc_url if "grpc" in args else triton.http_url
    before = success_count(triton.http_url, STEP)
    res = _profile("-u", url, "--request-count", "20", *args)
    assert res.returncode == 0, res.stderr
    # every request reached the stateful step and succeeded there (a request without a sequence
    # id fails: "must specify a non-zero or non-empty correlation ID")
    assert settled_success_count(triton.http_url, STEP, before + 20) - before >= 20
