"""perfanalyzer search of an ensemble's composing models and of a BLS model with the models it
calls: the composite candidate and its coordinate descent (pure), and against the real Triton the
known optimum (ens_delay: a 5 ms step then a 50 ms step, one instance each; the slow step is the
one to scale), each searched model's best written as its own config.pbtxt, and every model's
configuration restored after the search and after an error."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import text_format

from perfanalyzer._proto import model_config_pb2
from perfanalyzer.config import RunConfig
from perfanalyzer.profile.run import profile
from perfanalyzer.search.composite import (
    CompositeCandidate,
    CompositeQuickSearch,
    composite_default,
    composite_grid,
)
from perfanalyzer.search.guard import SearchBusyError
from perfanalyzer.search.modelconfig import marked, merged_config
from perfanalyzer.search.space import Candidate, Space
from perfanalyzer.search.store import CandidateResult, PointFigures, Store
from tests.support.paths import TEST_MODELS
from tests.support.search_runs import instance_count, is_marked, load_model, model_config, search

ENSEMBLE, FAST, SLOW = "ens_delay", "ens_delay_fast", "ens_delay_slow"


@pytest.fixture(scope="module")
def triton() -> Iterator[object]:
    """A Triton of this module's own (it overrides the session's): these searches load and unload
    ensembles and BLS models many times, and Triton 2.51 once crashed under them in CI; a crash
    must fail these tests, not every test after them on the shared server."""
    from perfanalyzer.server.launcher import TritonLauncher

    server = TritonLauncher(model_repository=TEST_MODELS, explicit_models=["*"],
                            die_with_parent=True).start(timeout_s=180)
    try:
        yield server
    finally:
        server.stop()


def _part(ic: int, mbs: int = 0) -> Candidate:
    return Candidate(instance_count=ic, max_batch_size=mbs, dynamic_batching=False)


def _default(top_mbs: int = 0, mbs: int = 0) -> CompositeCandidate:
    return composite_default(top_mbs, {FAST: _part(1, mbs), SLOW: _part(1, mbs)}, 1, False)


# -- pure ------------------------------------------------------------------------------------

def test_quick_search_scales_the_slow_step_and_never_measures_twice() -> None:
    space = Space(instance_count=(1, 2, 4))

    def throughput(c: CompositeCandidate) -> float:  # the pipeline runs at its slowest step's pace
        return min(200.0 * c.part(FAST).instance_count, 20.0 * c.part(SLOW).instance_count)

    q = CompositeQuickSearch(space, _default())
    seen: list[str] = []
    while (c := q.next()) is not None:
        assert c.valid()
        seen.append(c.key)
        q.record(c, throughput(c))
    assert len(seen) == len(set(seen))
    assert q.best.part(SLOW).instance_count == 4
    assert len(seen) < len(composite_grid(space, _default())) == 9
    assert q.best.key.startswith(f"{FAST}.ic") and f"__{SLOW}.ic4-" in q.best.key


def test_an_ensemble_batches_no_further_than_its_composing_models() -> None:
    space = Space(instance_count=(1,), max_batch_size=(4, 8), client_batch=(1, 8))
    for c in composite_grid(space, _default(top_mbs=8, mbs=8)):
        assert all(p.max_batch_size >= 8 for _, p in c.parts), c.key
    assert {c.client_batch for c in composite_grid(space, _default(top_mbs=8, mbs=8))} == {1, 8}
    bls = composite_default(0, {"bls": _part(1, 4), "inner": _part(1, 8)}, 1, True)
    assert bls.valid() and not dataclasses.replace(bls, client_batch=8).valid()  # 8 > its 4
    assert {c.client_batch for c in composite_grid(Space(client_batch=(1, 4, 8)), bls)} == {1, 4}


def test_a_composite_state_reads_back(tmp_path: Path) -> None:
    c = _default().with_part(1, _part(4))
    p = PointFigures(level=4, throughput=80.0, latency_ms=50.0, stable=True)
    store = Store(tmp_path)
    store.save(CandidateResult(candidate=c, points=(p,), best=p, score=80.0))
    (back,) = store.finished()
    assert back.candidate == c and isinstance(back.candidate, CompositeCandidate)
    assert back.candidate.settings()[f"{SLOW}: instance count"] == "4"


# -- against the real server -----------------------------------------------------------------

def _restored(url: str) -> None:
    for model in (FAST, SLOW):
        assert instance_count(url, model) == 1, model
        assert not is_marked(url, model), model


@pytest.mark.server
@pytest.mark.slow
def test_the_slow_composing_model_is_the_one_scaled(triton: Any, tmp_path: Path) -> None:
    """Concurrency 4: one instance of the 50 ms step caps the ensemble at ~20/s (less with the
    5 ms step in front), four instances serve ~4 times that; scaling the fast step changes
    nothing. The search names 4 instances of the slow step, measurably better than the default
    in its replicate runs, writes each model's best, and leaves both models as they were."""


    url = triton.http_url
    before = {m: asyncio.run(model_config(url, m)) for m in (FAST, SLOW)}
    _, outcome = search(url, ENSEMBLE, tmp_path, "--instance-counts", "1,4",
                        "--concurrency-range", "4", "-p", "1000", "-s", "15", "-r", "8",
                        "--replicates", "3", "--finalists", "1")
    _restored(url)
    assert isinstance(outcome.default, CompositeCandidate)
    by_key = {r.candidate.key: r for r in outcome.results}
    default = by_key[outcome.default.key]
    assert default.best is not None
    best = max((r for r in outcome.results if r.best), key=lambda r: r.score or 0.0)
    assert isinstance(best.candidate, CompositeCandidate) and best.best is not None
    assert best.candidate.part(SLOW).instance_count == 4
    assert best.best.throughput > 2.5 * default.best.throughput
    slow4 = [r for r in outcome.results if isinstance(r.candidate, CompositeCandidate)
             and r.candidate.part(SLOW).instance_count == 4 and r.best]
    assert slow4  # every measured configuration with the slow step scaled beats every other
    others = [r.best.throughput for r in outcome.results
              if isinstance(r.candidate, CompositeCandidate)
              and r.candidate.part(SLOW).instance_count == 1 and r.best]
    assert max(others) < 0.5 * min(r.best.throughput for r in slow4 if r.best)
    for model, count in ((SLOW, 4), (FAST, best.candidate.part(FAST).instance_count)):
        pbtxt = (tmp_path / "best" / model / "config.pbtxt").read_text()
        msg = text_format.Parse(pbtxt, model_config_pb2.ModelConfig())
        assert msg.name == model and msg.instance_group[0].count == count
        assert msg.parameters["delay_ms"].string_value == ("50" if model == SLOW else "5")
    assert not (tmp_path / "config.pbtxt").exists()
    recorded = json.loads((tmp_path / "original.json").read_text())
    assert set(recorded["models"]) == {FAST, SLOW}
    for model in (FAST, SLOW):
        assert recorded["models"][model]["instance_group"] == before[model]["instance_group"]
    # Re-measured (3 interleaved runs of the best and the default, each loading every changed
    # model again): the best beats the default measurably, by about 3 times.
    ranking = json.loads((tmp_path / "search.json").read_text())["ranking"]
    top = ranking[0]
    assert top["candidate"] == best.candidate.key and top["beats_default_measurably"]
    assert top["objective"]["runs"] == 3 and top["objective"]["half_width"] is not None
    assert 1.5 < top["vs_default"]["lo"] <= top["vs_default"]["hi"] < 5.0
    assert set(outcome.finals) == {best.candidate.key, outcome.default.key}
    summary = (tmp_path / "summary.md").read_text()
    assert f"`best/{SLOW}/config.pbtxt`" in summary and f"{SLOW}: instance count" in summary
    assert json.loads((tmp_path / "search.json").read_text())["searched_models"] == [FAST, SLOW]


@pytest.mark.server
def test_every_composing_model_is_restored_after_an_error(triton: Any, tmp_path: Path) -> None:
    url = triton.http_url
    calls: list[int] = []

    async def measure(cfg: RunConfig, stop: Any, out: Any) -> Any:
        calls.append(1)
        if len(calls) == 3:  # the slow step scaled by now (the fast one was tried before)
            now = await model_config(url, SLOW)
            assert int(now["instance_group"][0]["count"]) == 4
            raise RuntimeError("boom")
        return await profile(cfg.replace(request_count=5), out=out, stop_event=stop)

    with pytest.raises(RuntimeError, match="boom"):
        search(url, ENSEMBLE, tmp_path, "--instance-counts", "1,4", "-p", "200",
               "--replicates", "0", measure=measure)
    assert len(calls) == 3
    _restored(url)


@pytest.mark.server
def test_a_bls_model_is_searched_with_the_models_it_calls(triton: Any, tmp_path: Path) -> None:
    url = triton.http_url


    before = {m: asyncio.run(model_config(url, m))["instance_group"]
              for m in ("bls_add_sub", "add_sub")}
    seen: list[CompositeCandidate] = []

    async def measure(cfg: RunConfig, stop: Any, out: Any) -> Any:
        return await profile(cfg.replace(request_count=5), out=out, stop_event=stop)

    _, outcome = search(url, "bls_add_sub", tmp_path, "--bls-composing-models", "add_sub",
                         "--instance-counts", "1,3", "-p", "200", "--replicates", "0",
                         "--dynamic-batching", "off", measure=measure)
    for r in outcome.results:
        assert isinstance(r.candidate, CompositeCandidate)
        seen.append(r.candidate)
    assert [m for m, _ in seen[0].parts] == ["bls_add_sub", "add_sub"]
    assert {c.part("bls_add_sub").instance_count for c in seen} >= {1, 3}
    assert {c.part("add_sub").instance_count for c in seen} >= {3}
    for model, groups in before.items():
        now = asyncio.run(model_config(url, model))
        assert now["instance_group"] == groups and not is_marked(url, model)
    assert {p.parent.name for p in (tmp_path / "best").glob("*/config.pbtxt")} == {
        "bls_add_sub", "add_sub"}


@pytest.mark.server
def test_a_killed_runs_candidate_is_restored_and_another_searchs_is_refused(
        triton: Any, tmp_path: Path) -> None:
    """After a SIGKILL a composing model may be left with this search's candidate: the rerun
    puts the recorded original back before measuring. A composing model loaded with another
    search's candidate is refused before anything is written or changed."""
    url = triton.http_url

    async def measure(cfg: RunConfig, stop: Any, out: Any) -> Any:
        return await profile(cfg.replace(request_count=5), out=out, stop_event=stop)

    args = ("--instance-counts", "1", "-p", "200", "--replicates", "0")
    search(url, ENSEMBLE, tmp_path, *args, measure=measure)
    _restored(url)
    rec = json.loads((tmp_path / "original.json").read_text())
    slow = rec["models"][SLOW]
    left = marked(merged_config(slow, _part(3)), rec["search_id"], str(tmp_path.resolve()))
    asyncio.run(load_model(url, SLOW, json.dumps(left)))  # what a killed run leaves
    try:
        assert instance_count(url, SLOW) == 3 and is_marked(url, SLOW)
        search(url, ENSEMBLE, tmp_path, *args, measure=measure)
        _restored(url)
        other = marked(merged_config(slow, _part(2)), "another", "/elsewhere")
        asyncio.run(load_model(url, SLOW, json.dumps(other)))
        fresh = tmp_path / "fresh"
        with pytest.raises(SearchBusyError, match="/elsewhere"):
            search(url, ENSEMBLE, fresh, *args, measure=measure)
        assert instance_count(url, SLOW) == 2  # left alone: it is the other search's
        assert not (fresh / "original.json").exists()
    finally:
        asyncio.run(load_model(url, SLOW, json.dumps(slow)))
    _restored(url)


@pytest.mark.server
@pytest.mark.slow
def test_ctrl_c_restores_every_composing_model(triton: Any, tmp_path: Path) -> None:
    """SIGINT once the slow step has been changed: exit 130, both models as before."""
    import signal
    import subprocess
    import sys
    import time

    url = triton.http_url
    proc = subprocess.Popen(
        [sys.executable, "-m", "perfanalyzer", "search", "-u", url, "-m", ENSEMBLE,
         "--output-dir", str(tmp_path), "--instance-counts", "1,4", "--concurrency-range", "2",
         "-p", "300", "-s", "50", "-r", "4", "--replicates", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 120
    while len(list(tmp_path.glob("candidates/*/state.json"))) < 2:  # default, then fast x4
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"no second candidate within 120 s: {proc.communicate()[0]}")
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    output, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130, output
    assert "Restored the configurations of ens_delay_fast, ens_delay_slow" in output
    _restored(url)
