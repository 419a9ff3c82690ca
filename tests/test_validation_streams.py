"""validation_data with sequence models and with --streaming, on the real Triton: a right file
passes, a wrong one ends the run (exit 99) naming the tensor and the data entry, as perf_analyzer
("Output doesn't match expected output")."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from perfanalyzer.client.base import InferResult
from perfanalyzer.load.sequences import PAYLOAD_CACHE_MAX
from perfanalyzer.load.validating import Entries, ValidationMismatch

from .test_profile import _cli

PA_SENTENCE = "Output doesn't match expected output"
QUICK = ("-p", "300", "-s", "50")


def _write(tmp_path: Path, name: str, doc: dict[str, Any]) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return str(path)


def _sequences(tmp_path: Path, wrong: bool) -> str:
    """Two data streams for the running-sum model; a stream's length is its sequences' length."""
    second = 31 if wrong else 30
    return _write(tmp_path, f"seq_{wrong}.json", {
        "data": [[{"INPUT": [1]}, {"INPUT": [2]}, {"INPUT": [3]}], [{"INPUT": [10]}, {"INPUT": [20]}]],
        "validation_data": [
            [{"OUTPUT": [1], "COUNT": [1]}, {"OUTPUT": [3], "COUNT": [2]},
             {"OUTPUT": [6], "COUNT": [3]}],
            [{"OUTPUT": [10], "COUNT": [1]}, {"OUTPUT": [second], "COUNT": [2]}]]})


def _add_sub(tmp_path: Path, wrong: bool) -> str:
    data, expected = [], []
    for k in range(2):
        a, b = list(range(k, k + 16)), [k * 10] * 16
        diff = [x - y for x, y in zip(a, b, strict=True)]
        diff[3] += int(wrong and k == 1)
        data.append({"INPUT0": a, "INPUT1": b})
        expected.append({"OUTPUT0": [x + y for x, y in zip(a, b, strict=True)], "OUTPUT1": diff})
    return _write(tmp_path, f"add_sub_{wrong}.json", {"data": data, "validation_data": expected})


def _passes(r: Any) -> None:
    assert r.returncode == 0, r.stderr[-2000:]
    assert "Failed requests" not in r.stdout and "error:" not in r.stderr


def _stops(r: Any, tensor: str, entry: str) -> None:
    assert r.returncode == 99, r.stderr[-2000:]
    (error,) = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
    assert f"'{tensor}'" in error and entry in error and PA_SENTENCE in error
    assert "Request concurrency: 1" in r.stdout or "Request Rate" in r.stdout  # data written


def test_sequence_model_validation_data(triton: Any, tmp_path: Path) -> None:
    ok, bad = _sequences(tmp_path, False), _sequences(tmp_path, True)
    for url, proto in ((triton.http_url, "http"), (triton.grpc_url, "grpc")):
        _passes(_cli("-m", "sequence_acc", "-u", url, "-i", proto, "--input-data", ok, *QUICK))
        _stops(_cli("-m", "sequence_acc", "-u", url, "-i", proto, "--input-data", bad, *QUICK),
               "OUTPUT", "data[1][1]")
    stream = ("-u", triton.grpc_url, "-i", "grpc", "--streaming", *QUICK)
    _passes(_cli("-m", "sequence_acc", "--input-data", ok, *stream))
    _stops(_cli("-m", "sequence_acc", "--input-data", bad, *stream), "OUTPUT", "data[1][1]")
    # rate mode: the steps of --num-of-sequences live sequences (in order: --serial-sequences)
    rate = ("-u", triton.http_url, "--request-rate-range", "60", "--serial-sequences", *QUICK)
    _passes(_cli("-m", "sequence_acc", "--input-data", ok, *rate))
    _stops(_cli("-m", "sequence_acc", "--input-data", bad, *rate), "OUTPUT", "data[1][1]")


def test_streaming_validation_data(triton: Any, tmp_path: Path) -> None:
    stream = ("-u", triton.grpc_url, "-i", "grpc", "--streaming", *QUICK)
    _passes(_cli("-m", "add_sub", "--input-data", _add_sub(tmp_path, False), *stream))
    _stops(_cli("-m", "add_sub", "--input-data", _add_sub(tmp_path, True), *stream),
           "OUTPUT1", "data[1]")
    # a decoupled model: every non-empty response is compared with its entry, the empty final
    # response is not (perf_analyzer compares that one too, so it fails every decoupled model)
    same = _write(tmp_path, "repeat_ok.json", {"data": [{"IN": {"content": [5, 5], "shape": [2]}}],
                                               "validation_data": [{"OUT": [5]}]})
    _passes(_cli("-m", "repeat", "--input-data", same, *stream))
    second = _write(tmp_path, "repeat_bad.json", {
        "data": [{"IN": {"content": [5, 5], "shape": [2]}}],
        "validation_data": [{"OUT": [5], "IDX": [0]}]})  # the second response has IDX 1
    r = _cli("-m", "repeat", "--input-data", second, *stream)
    assert r.returncode == 99 and "'IDX'" in r.stderr and PA_SENTENCE in r.stderr, r.stderr[-2000:]


def test_export_tensors_with_streaming_is_refused_before_load(triton: Any,
                                                              tmp_path: Path) -> None:
    r = _cli("-m", "add_sub", "-u", triton.grpc_url, "-i", "grpc", "--streaming",
             "--input-data", _add_sub(tmp_path, False), "--export-tensors",
             "--profile-export-file", str(tmp_path / "x.json"))
    assert r.returncode == 3
    assert "--export-tensors: not supported for sequence models or --streaming" in r.stderr


def _result(outputs: dict[str, Any]) -> InferResult:
    return InferResult(model_name="m", model_version="1", id="", outputs=outputs)


def test_sequence_payloads_stay_matched_past_a_cache_turnover() -> None:
    """A step payload still in flight when the registry turns over is still checked."""
    entries = Entries((), [{"OUT": np.array([1])}, {"OUT": np.array([2])}], ["a", "b"], stop=True)
    entries.offsets = [0, 1]
    first = object()
    entries.sequence_step(first, 1, 0)
    for _ in range(PAYLOAD_CACHE_MAX):
        entries.sequence_step(object(), 0, 0)
    assert entries.index(first) == 1
    with pytest.raises(ValidationMismatch, match=r"'OUT'.* b "):
        entries.check(first, _result({"OUT": np.array([1])}))
    assert entries.check(first, _result({"OUT": np.array([2])})) == 1
    assert entries.index(object()) is None


def test_validation_data_in_periodic_mode_is_refused_before_load(triton: Any,
                                                                 tmp_path: Path) -> None:
    """Periodic mode sends without checking: refused rather than accepted and ignored."""
    r = _cli("-m", "add_sub", "-u", triton.grpc_url, "-i", "grpc", "--streaming",
             "--periodic-concurrency-range", "1:2:1", "--profile-export-file",
             str(tmp_path / "x.json"), "--input-data", _add_sub(tmp_path, False))
    assert r.returncode == 3
    assert "--periodic-concurrency-range: validation_data is not supported in periodic mode" \
        in r.stderr, r.stderr
