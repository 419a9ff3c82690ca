"""Data that does not fit the model is refused before any load, in one line that keeps
perfanalyzer's wording and includes perf_analyzer's sentence, which scripts written for
perf_analyzer (its own QA script among them) grep for. On the real Triton."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.triton_stats import success_count

pytestmark = pytest.mark.server

SEQ_VAR = "sequence_acc_var"  # a sequence model whose INPUT has a variable shape [-1]


def _profile(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "perfanalyzer", "profile", "-u", url, *args],
                          capture_output=True, text=True, timeout=180, check=False)


def _steps(tmp_path: Path, *shapes: int) -> str:
    """One sequence whose steps have these INPUT lengths (each step's own "shape")."""
    path = tmp_path / "steps.json"
    path.write_text(json.dumps({"data": [[
        {"INPUT": {"content": list(range(1, n + 1)), "shape": [n]}} for n in shapes]]}))
    return str(path)


def _refused(res: subprocess.CompletedProcess[str], pattern: str) -> None:
    assert res.returncode == 3, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert re.search(pattern, lines[0]), lines[0]


def test_variable_shape_sequence_data_must_fit_shape(triton: Any, tmp_path: Path) -> None:
    url, data = triton.http_url, _steps(tmp_path, 2, 1, 2)
    before = success_count(url, SEQ_VAR)
    res = _profile(url, "-m", SEQ_VAR, "--shape", "INPUT:2", "--input-data", data,
                   "--request-count", "6")
    _refused(res, r"The supplied shape .+ is incompatible with the model's input shape")
    assert "data[0][1]" in res.stderr  # the file position, perfanalyzer's wording
    assert success_count(url, SEQ_VAR) == before  # nothing was sent
    # without --shape each step goes with its own shape, as perf_analyzer sends them
    ok = _profile(url, "-m", SEQ_VAR, "--input-data", data, "--request-count", "6")
    assert ok.returncode == 0, ok.stderr


def test_shape_flag_that_does_not_fit_the_model(triton: Any) -> None:
    res = _profile(triton.http_url, "-m", "add_sub", "--shape", "INPUT0:1,8,100")
    _refused(res, r"^error: --shape INPUT0:1,8,100: .*unexpected shape for input 'INPUT0' for "
             r"model 'add_sub'")


@pytest.mark.parametrize(("doc", "pattern"), [
    ({"data": [{"INPUT0": list(range(15)), "INPUT1": [1] * 16}]},
     r"data\[0\]: input 'INPUT0' has 15 values.*mismatch in the data provided for INPUT0"),
    ({"data": [{"INPUT0": [0] * 16, "INPUT1": [1] * 16}] * 2,
      "validation_data": [{"OUTPUT0": [1] * 16}]},
     r"they must align \(The 'validation_data' field doesn't align with 'data' field in the "
     r"json file\)"),
])
def test_data_errors_carry_perf_analyzer_sentences(triton: Any, tmp_path: Path,
                                                   doc: dict[str, Any], pattern: str) -> None:
    path = tmp_path / "data.json"
    path.write_text(json.dumps(doc))
    _refused(_profile(triton.http_url, "-m", "add_sub", "--input-data", str(path)), pattern)
