"""perf_analyzer / perf_client flags: -v pass lines, perf_client's documented examples, refusals."""

from __future__ import annotations

import csv
import io
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from perfanalyzer.config import RunConfig
from perfanalyzer.errors import OptionError
from tests.support.cli_runs import cli_config as _cfg

PASS_LINE = re.compile(r"^  Pass \[(\d+)\] throughput: [0-9.e+]+ infer/sec\. "
                       r"Avg latency: \d+ usec \(std \d+ usec\)$", re.M)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "perfanalyzer", *args], capture_output=True,
                          text=True, timeout=180, check=False)


def _same(a: RunConfig, b: RunConfig) -> bool:
    return a == b


def test_perf_client_examples_parse_verbatim() -> None:
    """The documentation's two examples, verbatim, equal their perf_analyzer spelling."""
    one = _cfg("-m", "M", "-p3000", "-t4", "-v")
    assert _same(one, _cfg("-m", "M", "-p", "3000", "--concurrency-range", "4", "-v"))
    assert one.load.concurrency_range == (4, 4, 1) and one.output.verbose == 1
    two = _cfg("-m", "M", "-p3000", "-d", "-l50", "-c", "3", "-f", "perf.csv")
    assert _same(two, _cfg("-m", "M", "-p", "3000", "--concurrency-range", "1:3:1",
                           "--latency-threshold", "50", "-f", "perf.csv"))
    # -d without -c: up to the latency limit (end 0), as perf_client did.
    assert _cfg("-m", "M", "-d", "-l", "10").load.concurrency_range == (1, 0, 1)
    assert _cfg("-m", "M", "-d", "-t", "2", "-c", "5", "-l", "10").load.concurrency_range == (2, 5, 1)


def test_z_and_data_directory_choose_the_input_data(tmp_path: Path) -> None:
    assert _cfg("-m", "M", "-z").inputs.input_data == ("zero",)
    assert _cfg("-m", "M", "--data-directory", str(tmp_path)).inputs.input_data == (str(tmp_path),)


@pytest.mark.parametrize(("args", "needle"), [
    (["-c", "3"], "-c"),
    (["-t", "2", "--concurrency-range", "2"], "mutually exclusive"),
    (["-t", "0"], "-t"),
    (["-d"], "-l"),
    (["--service-kind", "tfserving"], "only 'triton'"),
    (["--triton-server-directory", "/opt/tritonserver"], "--triton-server-directory"),
    (["--metrics-interval", "10"], "--collect-metrics"),
])
def test_refused_with_one_line(args: list[str], needle: str) -> None:
    with pytest.raises(OptionError, match=re.escape(needle)):
        _cfg("-m", "M", *args)


def test_an_openai_endpoint_path_is_refused_naming_the_flag() -> None:
    """perf_analyzer's --endpoint is an OpenAI path; here it names Triton's endpoints."""
    res = _cli("-m", "M", "--endpoint", "v1/chat/completions")
    assert res.returncode == 3 and "'--endpoint'" in res.stderr and "generate_stream" in res.stderr


def test_service_kind_triton_is_accepted() -> None:
    assert _same(_cfg("-m", "M", "--service-kind", "triton"), _cfg("-m", "M"))


def test_question_mark_is_help() -> None:
    res = _cli("-?")
    assert res.returncode == 0 and "--concurrency-range" in res.stdout


@pytest.mark.server
def test_first_example_runs_with_pass_lines(triton: Any) -> None:
    res = _cli("-m", "add_sub", "-u", triton.http_url, "-p300", "-t4", "-v", "-s", "1000")
    assert res.returncode in (0, 2), res.stderr
    passes = [int(n) for n in PASS_LINE.findall(res.stdout)]
    assert passes[:3] == [1, 2, 3]
    assert "Request concurrency: 4" in res.stdout
    assert "-t is deprecated" in res.stderr
    assert "Window [1]:" not in res.stdout  # that is -v -v


@pytest.mark.server
def test_second_example_sweeps_to_c(triton: Any, tmp_path: Path) -> None:
    out = tmp_path / "perf.csv"
    res = _cli("-m", "add_sub", "-u", triton.http_url, "-p300", "-d", "-l50", "-c", "3",
               "-f", str(out), "-s", "1000")
    assert res.returncode in (0, 2), res.stderr
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert sorted(int(r["Concurrency"]) for r in rows) == [1, 2, 3]


@pytest.mark.server
def test_extra_verbose_and_percentile_pass_lines(triton: Any) -> None:
    res = _cli("-m", "add_sub", "-u", triton.http_url, "-p", "300", "-v", "-v",
               "--percentile", "95", "-s", "1000", "-r", "3")
    assert res.returncode in (0, 2), res.stderr
    assert re.search(r"^  Pass \[1\] throughput: [0-9.e+]+ infer/sec\. p95 latency: \d+ usec$",
                     res.stdout, re.M)
    assert re.search(r"^    Window \[1\]: [0-9.]+ s, \d+ completed, 0 failed", res.stdout, re.M)


@pytest.mark.server
def test_data_directory_is_read(triton: Any, tmp_path: Path) -> None:
    (tmp_path / "NOT_AN_INPUT").write_bytes(b"\0" * 64)
    res = _cli("-m", "add_sub", "-u", triton.http_url, "-p", "300",
               "--data-directory", str(tmp_path))
    assert res.returncode == 3
    assert "NOT_AN_INPUT" in res.stderr
