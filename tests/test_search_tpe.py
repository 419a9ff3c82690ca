"""perfanalyzer search --mode tpe: Optuna's TPE sampler within a trial budget (the optional search
extra). Without Optuna the mode is refused in one line with the install hint; with it, a known
optimum is found within the budget (pure), never measuring a candidate twice, a resumed search
goes on from its measured candidates, and against the real Triton the delay model's best instance
count is found with the configuration restored."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from perfanalyzer.errors import OptionError
from perfanalyzer.search.space import Candidate, Space, grid
from tests.support.search_runs import instance_count, is_marked, load_model, model_config, search_configs
from tests.support.search_runs import search as run_search_here

pytestmark = pytest.mark.reloads_models  # a Triton of their own (tests/conftest.py)


def _c(ic: int = 1, db: bool = True, b: int = 1) -> Candidate:
    return Candidate(instance_count=ic, max_batch_size=8, dynamic_batching=db, client_batch=b)


def test_without_optuna_the_mode_is_refused_with_the_install_hint(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "optuna", None)  # import optuna raises ImportError
    with pytest.raises(OptionError) as err:
        search_configs("localhost:1", "m", tmp_path, "--mode", "tpe")
    assert "pip install 'perfanalyzer[search]'" in str(err.value)
    assert "\n" not in str(err.value)


def test_trials_belong_to_the_tpe_mode(tmp_path: Path) -> None:
    with pytest.raises(OptionError, match="--trials"):
        search_configs("localhost:1", "m", tmp_path, "--trials", "5")


def test_tpe_finds_the_optimum_within_its_budget_and_resumes() -> None:
    pytest.importorskip("optuna")
    from perfanalyzer.search.tpe import TpeSearch

    space = Space(instance_count=(1, 2, 3, 4, 6, 8), dynamic_batching=(True, False),
                  client_batch=(1, 2, 4, 8))
    cands = grid(space, _c())

    def score(c: Candidate) -> float | None:  # best: 6 instances, batching on, client batch 4
        if c.instance_count == 1 and c.client_batch == 8:
            return None  # infeasible
        return -abs(c.instance_count - 6) - 2 * abs(c.client_batch - 4) \
            + (3 if c.dynamic_batching else 0)

    def drive(t: TpeSearch, measured: list[Candidate]) -> TpeSearch:
        while (c := t.next()) is not None:
            assert c.valid()
            measured.append(c)
            t.record(c, score(c))
        return t

    measured: list[Candidate] = []
    t = drive(TpeSearch(cands, _c(), trials=30), measured)
    assert len(cands) == 48 and len(measured) == 30
    assert measured[0] == _c()  # the default first
    assert len({c.key for c in measured}) == len(measured)
    assert (t.best.instance_count, t.best.dynamic_batching, t.best.client_batch) == (6, True, 4)
    # Resumed after ten: the rest of the budget is measured, none of the ten again.
    again: list[Candidate] = []
    t2 = TpeSearch(cands, _c(), trials=30)
    for c in measured[:10]:
        t2.record(c, score(c))
    drive(t2, again)
    assert len(again) == 20 and not {c.key for c in again} & {c.key for c in measured[:10]}
    # A budget above the space measures every candidate once.
    every: list[Candidate] = []
    drive(TpeSearch(cands[:5], _c(), trials=50), every)
    assert len(every) == 5


@pytest.mark.server
@pytest.mark.slow
def test_tpe_finds_the_delay_models_best_instance_count(triton: Any, tmp_path: Path) -> None:
    pytest.importorskip("optuna")
    from perfanalyzer.search.modelconfig import merged_config

    url = triton.http_url
    original = asyncio.run(model_config(url, "delay"))
    one = merged_config(original, Candidate(instance_count=1, max_batch_size=0,
                                            dynamic_batching=False))
    asyncio.run(load_model(url, "delay", json.dumps(one)))
    try:
        _, outcome = run_search_here(url, "delay", tmp_path, "--mode", "tpe", "--trials", "3",
                                     "--instance-counts", "1,2,4", "--concurrency-range", "4",
                                     "-p", "1000", "-s", "15", "-r", "8", "--replicates", "0")
        assert instance_count(url, "delay") == 1 and not is_marked(url, "delay")
    finally:
        asyncio.run(load_model(url, "delay", json.dumps(original)))
    assert len(outcome.results) == 3
    best = max((r for r in outcome.results if r.best), key=lambda r: r.score or 0.0)
    assert best.candidate.instance_count == 4
    plan = json.loads((tmp_path / "search.json").read_text())
    assert plan["mode"] == "tpe" and plan["trials"] == 3
