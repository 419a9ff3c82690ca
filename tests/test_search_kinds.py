"""perfanalyzer search --instance-kinds: KIND_CPU vs KIND_GPU as a dimension (pure: the loaded
configuration, the keys, the saved state), and against the real Triton of this machine (no GPU)
the GPU kind refused in one line, exit 3, before anything is loaded."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from perfanalyzer.errors import OptionError
from perfanalyzer.search.modelconfig import kind_of, merged_config
from perfanalyzer.search.space import Candidate, Space, grid
from perfanalyzer.search.store import CandidateResult, Store
from tests.support.search_runs import instance_count, is_marked, search_configs

pytestmark = pytest.mark.reloads_models  # a Triton of their own (tests/conftest.py)

GPU_CONFIG = {"name": "m", "backend": "onnxruntime", "max_batch_size": 0,
              "instance_group": [{"name": "m_0", "kind": "KIND_GPU", "count": 1,
                                  "gpus": [0, 1]}]}


def _c(kind: str = "", ic: int = 1) -> Candidate:
    return Candidate(instance_count=ic, max_batch_size=0, dynamic_batching=False,
                     instance_kind=kind)


def test_the_kind_is_a_dimension_with_its_own_key_and_config(tmp_path: Path) -> None:
    assert _c().key == "ic1-mbs0-db-off-b1"  # a search without kinds keeps its keys
    assert _c("gpu", 2).key == "ic2-kgpu-mbs0-db-off-b1"
    cands = grid(Space(instance_count=(1, 2), instance_kind=("cpu", "gpu")), _c("gpu"))
    assert {c.key for c in cands} == {f"ic{n}-k{k}-mbs0-db-off-b1" for n in (1, 2)
                                      for k in ("cpu", "gpu")}
    cpu = merged_config(GPU_CONFIG, _c("cpu", 2))["instance_group"][0]
    assert cpu["kind"] == "KIND_CPU" and "gpus" not in cpu and cpu["count"] == 2
    assert merged_config(GPU_CONFIG, _c())["instance_group"][0]["kind"] == "KIND_GPU"
    assert kind_of(GPU_CONFIG) == "gpu" and kind_of({"instance_group": [{}]}) == ""
    store = Store(tmp_path)
    store.save(CandidateResult(candidate=_c("cpu", 2)))
    assert store.finished()[0].candidate == _c("cpu", 2)


def test_kinds_are_parsed(tmp_path: Path) -> None:
    sc, _ = search_configs("localhost:1", "m", tmp_path, "--instance-kinds", "gpu,cpu,gpu")
    assert sc.space.instance_kind == ("gpu", "cpu")
    with pytest.raises(OptionError, match="--instance-kinds"):
        search_configs("localhost:1", "m", tmp_path, "--instance-kinds", "tpu")


@pytest.mark.server
def test_gpu_instances_are_refused_without_a_gpu_before_any_load(triton: Any,
                                                                  tmp_path: Path) -> None:
    url = triton.http_url
    res = subprocess.run(
        [sys.executable, "-m", "perfanalyzer", "search", "-u", url, "-m", "delay",
         "--metrics-url", triton.metrics_url, "--instance-kinds", "cpu,gpu",
         "--output-dir", str(tmp_path)], capture_output=True, text=True, timeout=120,
        check=False)
    assert res.returncode == 3, res.stderr
    assert "--instance-kinds gpu: the server has no GPU" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "candidates").exists() and not (tmp_path / "original.json").exists()
    assert instance_count(url, "delay") == 4 and not is_marked(url, "delay")
