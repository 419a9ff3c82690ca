"""perfanalyzer search -m a,b: several models loaded together and measured under simultaneous
load (one load per model in the same event loop, meeting at level starts and window edges), one
objective over the set, a report per model and one for the set; every model restored.

Known optimum: ens_delay_slow (50 ms, one instance) and delay_slow (57.5 ms, four instances), each
at concurrency 4: one instance of ens_delay_slow serves ~20/s, four ~80/s; delay_slow serves ~70/s
with four instances and ~17/s with one. The set's best is four instances of each."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from perfanalyzer.errors import OptionError
from perfanalyzer.search.composite import CompositeCandidate
from perfanalyzer.search.objective import Objective
from perfanalyzer.search.store import PointFigures
from perfanalyzer.search.together import Rendezvous, combine
from tests.support.search_runs import instance_count, is_marked, search, search_configs

pytestmark = pytest.mark.reloads_models  # a Triton of their own (tests/conftest.py)

A, B = "ens_delay_slow", "delay_slow"


def test_the_sets_point_sums_throughput_and_keeps_the_worst_latency() -> None:
    a = PointFigures(level=4, throughput=80.0, latency_ms=50.0, stable=True,
                     metrics={"perf_throughput": 80.0, "perf_latency_p99": 52.0})
    b = PointFigures(level=4, throughput=20.0, latency_ms=200.0, stable=True,
                     metrics={"perf_throughput": 20.0, "perf_latency_p99": 210.0})
    (p,) = combine(Objective(), {"a": (a,), "b": (b, )})
    assert (p.throughput, p.latency_ms, p.stable) == (100.0, 200.0, True)
    assert p.metrics["perf_throughput"] == 20.0 and p.metrics["perf_latency_p99"] == 210.0
    assert p.metrics["a/perf_throughput"] == 80.0 and p.metrics["b/latency_ms"] == 200.0
    budget = Objective(latency_budget_ms=100)  # per model: b is over it, so the set is
    assert not budget.feasible(p)
    unstable = PointFigures(level=4, throughput=20.0, latency_ms=20.0, stable=False)
    (q,) = combine(Objective(), {"a": (a,), "b": (unstable,)})
    assert not q.stable
    assert combine(Objective(), {"a": (a,), "b": ()}) == ()  # a level only one model measured


def test_the_meetings_wait_for_every_model_and_not_for_one_that_left() -> None:
    async def main() -> list[Any]:
        stop = asyncio.Event()
        rv = Rendezvous(3, 5.0, stop)
        first = await asyncio.gather(rv.meet(0, 1.0), rv.meet(1, 0.0), rv.meet(2, 1.0))
        await rv.leave(2)
        second = await asyncio.gather(rv.meet(0, 1.0), rv.meet(1, 1.0))
        late = Rendezvous(2, 0.2, stop)
        try:
            await late.meet(0, 0.0)
        except Exception as exc:
            return [first, second, exc]
        return [first, second, None]

    first, second, exc = asyncio.run(main())
    assert all(rows == {0: 1.0, 1: 0.0, 2: 1.0} for rows, _ in first)
    assert all(rows == {0: 1.0, 1: 1.0} for rows, _ in second)
    assert exc is not None and "did not meet within 0.2 s" in str(exc)


def test_what_several_models_cannot_do_yet_is_refused(tmp_path: Path) -> None:
    with pytest.raises(OptionError, match="--replicates 0"):
        search_configs("localhost:1", f"{A},{B}", tmp_path, "--replicates", "3")
    # left out, it means no re-measurement for several models and three for one
    assert search_configs("localhost:1", f"{A},{B}", tmp_path)[0].replicates == 0
    assert search_configs("localhost:1", A, tmp_path)[0].replicates == 3
    with pytest.raises(OptionError, match="--bls-composing-models"):
        search_configs("localhost:1", f"{A},{B}", tmp_path, "--replicates", "0",
                       "--bls-composing-models", "add_sub")


@pytest.mark.server
@pytest.mark.slow
def test_two_models_measured_together_find_the_known_optimum(triton: Any,
                                                             tmp_path: Path) -> None:
    url = triton.http_url
    _, outcome = search(url, f"{A},{B}", tmp_path, "--instance-counts", "1,4",
                        "--concurrency-range", "4", "-p", "1000", "-s", "15", "-r", "8",
                        "--replicates", "0")
    assert instance_count(url, A) == 1 and instance_count(url, B) == 4
    assert not is_marked(url, A) and not is_marked(url, B)
    scored = sorted((r for r in outcome.results if r.best), key=lambda r: -(r.score or 0.0))
    best = scored[0]
    assert isinstance(best.candidate, CompositeCandidate) and best.best is not None
    assert (best.candidate.part(A).instance_count, best.candidate.part(B).instance_count) == (4, 4)
    default = next(r for r in outcome.results if r.candidate.key == outcome.default.key)
    (before,) = default.points  # measured (whether or not stable enough to count)
    m = best.best.metrics
    # each model's own throughput, measured under the other's load, and the set's sum
    assert m[f"{A}/perf_throughput"] > 2.5 * before.metrics[f"{A}/perf_throughput"]
    assert m[f"{A}/perf_throughput"] + m[f"{B}/perf_throughput"] == pytest.approx(
        best.best.throughput)
    for model in (A, B):
        key = best.candidate.key
        assert (tmp_path / "candidates" / key / model / "profile.csv").stat().st_size > 0
        export = json.loads((tmp_path / "candidates" / key / model / "export.json").read_text())
        assert export
        report = (tmp_path / "models" / f"{model}.md").read_text()
        assert f"`{key}`" in report.splitlines()[6]  # ranked first
        assert (tmp_path / "best" / model / "config.pbtxt").is_file()
    # Measured together: every level's windows were cut at the same edges, so both models
    # counted the same number of windows at each level.
    windows = {}
    for model in (A, B):
        doc = json.loads((tmp_path / "candidates" / best.candidate.key / model /
                          "export.json").read_text())
        windows[model] = [len(p["windows"]) for p in doc["perfanalyzer"]["points"]]
    assert windows[A] == windows[B], windows


def test_a_link_at_a_models_folder_is_refused_before_anything_changes(tmp_path: Path) -> None:
    from perfanalyzer.search.store import Store

    victim = tmp_path / "victim"
    victim.mkdir()
    cand = tmp_path / "out" / "candidates" / "KEY"
    cand.mkdir(parents=True)
    (cand / ".state.json.tmp").symlink_to(victim / "x")  # a temp name: left alone
    Store(tmp_path / "out").check()
    (cand / A).symlink_to(victim)
    with pytest.raises(OptionError, match="symbolic link"):
        Store(tmp_path / "out").check()
    (cand / A).unlink()
    (tmp_path / "out" / "models").symlink_to(victim)
    with pytest.raises(OptionError, match="symbolic link"):
        Store(tmp_path / "out").check()
