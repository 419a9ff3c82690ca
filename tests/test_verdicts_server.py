"""What a run concludes, against the real Triton: exit codes and refusals."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.cli_runs import run_cli as _cli
from tests.support.triton_stats import success_count

pytestmark = pytest.mark.server


def test_binary_search_ending_over_the_limit_exits_0(triton: Any) -> None:
    # -s 0: no point can settle; the delay model's 50 ms is over -l 10 at the first probe, which
    # ends the search there. Over the limit is a finding, not an unstable point: exit 0.
    r = _cli("-m", "delay", "-u", triton.http_url, "--concurrency-range", "1:4",
             "--binary-search", "-l", "10", "-s", "0", "-p", "200")
    assert "Measured latency went over the set limit of 10 msec." in r.stdout
    assert r.returncode == 0, r.stderr


def test_bls_composing_models_on_a_model_that_calls_none_of_them(triton: Any,
                                                                 tmp_path: Path) -> None:
    # add_sub is a Python model that calls nothing: perf_analyzer stops with "failed to find the
    # requested model version" (exit 99); so do we, after the point is written.
    out = tmp_path / "perf.csv"
    r = _cli("-m", "add_sub", "-u", triton.http_url, "--bls-composing-models", "identity_int32",
             "-p", "200", "-s", "1000", "-r", "3", "-f", str(out))
    assert r.returncode == 99, r.stderr
    assert "failed to find the requested model version" in r.stderr
    assert "'identity_int32' served none of the" in r.stderr and "'add_sub' is not a BLS" in r.stderr
    assert out.exists()  # what was measured is kept


def test_bls_composing_models_on_an_ensemble_is_refused_before_load(triton: Any) -> None:
    before = success_count(triton.http_url, "identity_int32")
    r = _cli("-m", "ensemble_add_sub", "-u", triton.http_url, "--bls-composing-models",
             "identity_int32")
    assert r.returncode == 3
    assert r.stderr.strip().splitlines()[-1] == (
        "error: --bls-composing-models: ensemble_add_sub is not a BLS model (a Python-backend "
        "model that calls others): its backend is 'ensemble'")
    assert success_count(triton.http_url, "identity_int32") == before


def test_on_mismatch_count_without_validation_data_is_refused(triton: Any) -> None:
    r = _cli("-m", "add_sub", "-u", triton.http_url, "--on-mismatch", "count")
    assert r.returncode == 3
    assert r.stderr.strip().splitlines()[-1] == (
        "error: --on-mismatch count: the --input-data has no validation_data to check")
