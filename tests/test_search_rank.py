"""perfanalyzer search, noise-aware ranking: the finalists and the default re-measured as replicate
runs, their objective as 95 % intervals, "within noise of the best", the change against the
default as an interval; pure arithmetic here, and against the real Triton a known optimum (the
delay model's throughput scales with its instance count) and a model where nothing matters."""

from __future__ import annotations

import asyncio
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from perfanalyzer.cli.search_cmd import configs_from_kwargs
from perfanalyzer.cli.search_cmd import search as search_command
from perfanalyzer.errors import OptionError
from perfanalyzer.search.modelconfig import merged_config
from perfanalyzer.search.objective import Objective
from perfanalyzer.search.ranking import beats_default, rank
from perfanalyzer.search.report import summary_text, write_report
from perfanalyzer.search.runner import SearchConfig, SearchOutcome, run_search
from perfanalyzer.search.space import Candidate
from perfanalyzer.search.store import CandidateResult, Final, PointFigures
from tests.support.search_runs import load_model, model_config, search

pytestmark = pytest.mark.reloads_models  # a Triton of their own (tests/conftest.py)


def _cand(ic: int) -> Candidate:
    return Candidate(instance_count=ic, max_batch_size=0, dynamic_batching=False)


def _p(thr: float, lat: float = 1.0, stable: bool = True) -> PointFigures:
    return PointFigures(level=4, throughput=thr, latency_ms=lat, stable=stable)


def _result(ic: int, thr: float) -> CandidateResult:
    return CandidateResult(candidate=_cand(ic), points=(_p(thr),), best=_p(thr), score=thr)


def _final(ic: int, *thr: float, stable: bool = True) -> Final:
    return Final(key=_cand(ic).key, level=4, points=tuple(_p(t, stable=stable) for t in thr))


# -- pure ------------------------------------------------------------------------------------

def test_ranking_by_replicates_marks_noise_and_the_change_against_the_default() -> None:
    obj = Objective()
    results = [_result(1, 100), _result(2, 130), _result(3, 125), _result(4, 90)]
    finals = {f.key: f for f in (_final(1, 100, 101, 99), _final(2, 120, 121, 119),
                                 _final(3, 122, 119, 123))}
    rows = rank(obj, results, finals, _cand(1).key)
    # ic3 leads on the replicates although ic2 led the exploration; ic2 overlaps it
    assert [r.result.candidate.instance_count for r in rows] == [3, 2, 1, 4]
    assert rows[1].within_noise and not rows[2].within_noise
    assert rows[3].interval is None and rows[3].final is None  # not re-measured: last
    assert rows[0].interval is not None and rows[0].interval.half_width is not None
    ch = rows[0].vs_default
    assert ch is not None and 0.1 < ch.lo < ch.estimate < ch.hi < 0.35
    assert rows[2].vs_default is None  # the default itself
    assert {r.result.candidate.instance_count for r in beats_default(obj, rows)} == {2, 3}


def test_a_change_within_noise_of_the_default_is_not_a_win() -> None:
    obj = Objective()
    results = [_result(1, 100), _result(2, 104)]
    finals = {f.key: f for f in (_final(1, 100, 92, 108), _final(2, 103, 97, 106))}
    rows = rank(obj, results, finals, _cand(1).key)
    assert rows[0].result.candidate.instance_count == 2 and rows[1].within_noise
    ch = rows[0].vs_default
    assert ch is not None and ch.lo < 0 < ch.hi
    assert beats_default(obj, rows) == []
    sc = SearchConfig(output_dir="x")
    out = SearchOutcome(original={}, default=_cand(1), results=results, finals=finals)
    text = summary_text(sc, out, "Concurrency", "m")
    assert "No configuration beat the default measurably" in text
    assert "within noise of the best" in text


def test_a_replicate_whose_point_the_csv_leaves_out_gives_no_figure() -> None:
    obj = Objective()
    results = [_result(1, 100), _result(2, 200)]
    finals = {f.key: f for f in (_final(1, 100, 101, 99), _final(2, 200, 300, stable=False))}
    rows = rank(obj, results, finals, _cand(1).key)
    assert rows[0].result.candidate.instance_count == 1  # ic2: no replicate counted
    assert rows[1].final is not None and rows[1].interval is None
    sc = SearchConfig(output_dir="x")
    text = summary_text(sc, SearchOutcome(original={}, default=_cand(1), results=results,
                                          finals=finals), "Concurrency", "m")
    assert "no replicate run counted" in text


def test_latency_objective_ranks_lower_first_and_a_win_is_a_drop() -> None:
    obj = Objective(kind="latency")

    def fin(ic: int, *lat: float) -> Final:
        return Final(key=_cand(ic).key, level=4, points=tuple(_p(100, lat=v) for v in lat))

    results = [_result(1, 100), _result(2, 100)]
    rows = rank(obj, results, {f.key: f for f in (fin(1, 10, 10.2, 9.8), fin(2, 5, 5.1, 4.9))},
                _cand(1).key)
    assert rows[0].result.candidate.instance_count == 2
    assert [r.result.candidate.instance_count for r in beats_default(obj, rows)] == [2]


def test_replicate_options(tmp_path: Path) -> None:
    def parse(*args: str) -> Any:
        ctx = search_command.make_context("search", ["-m", "x", "--output-dir", str(tmp_path),
                                                     *args])
        return configs_from_kwargs(dict(ctx.params))[0]

    sc = parse()
    assert (sc.replicates, sc.finalists) == (3, 3)
    assert parse("--replicates", "0").replicates == 0
    with pytest.raises(OptionError, match="--replicates: one run gives no interval"):
        parse("--replicates", "1")
    with pytest.raises(OptionError, match="--repeat: not a search flag"):
        parse("--repeat", "3")


def test_a_default_without_a_counted_point_is_still_the_reference() -> None:
    """The default did not stabilize in the exploration: it is re-measured at the best
    candidate's level, ranked on its replicates, and the change against it is measured."""
    from perfanalyzer.search.finals import finalists

    obj = Objective()
    unstable = CandidateResult(candidate=_cand(1), points=(_p(90, stable=False),))
    results = [unstable, _result(2, 130), _result(3, 125)]
    chosen = finalists(results, _cand(1), obj, 1)
    assert [(c.instance_count, level) for c, level in chosen] == [(2, 4), (1, 4)]
    finals = {f.key: f for f in (_final(1, 100, 101, 99), _final(2, 130, 131, 129))}
    rows = rank(obj, results, finals, _cand(1).key)
    assert [r.result.candidate.instance_count for r in rows] == [2, 1, 3]
    assert rows[0].vs_default is not None and rows[0].vs_default.lo > 0.2
    text = summary_text(SearchConfig(output_dir="x", finalists=1),
                        SearchOutcome(original={}, default=_cand(1), results=results,
                                      finals=finals), "Concurrency", "m")
    assert "no point counted in the exploration: measured at the best's level" in text
    assert f"Measurably better than the default: `{_cand(2).key}`" in text


def test_replicates_measure_only_the_best_level_in_either_load_mode(tmp_path: Path) -> None:
    from perfanalyzer.search.finals import level_config

    for args, attr, want in ((("--concurrency-range", "1:8"), "concurrency_range", (4, 4, 1)),
                             (("--request-rate-range", "100:200:50"), "request_rate_range",
                              (150.0, 150.0, 1.0))):
        ctx = search_command.make_context("search", ["-m", "x", "--output-dir", str(tmp_path),
                                                     *args])
        _, cfg = configs_from_kwargs(dict(ctx.params))
        one = level_config(cfg, float(want[0]), 1)
        assert getattr(one.load, attr) == want and one.measurement.repeat == 1


# -- against the real server -----------------------------------------------------------------

@pytest.mark.server
@pytest.mark.slow
def test_the_known_optimum_is_found_with_intervals(triton: Any, tmp_path: Path) -> None:
    """The delay model sleeps 50 ms per request: at concurrency 4, 1 instance serves ~20/s, 2
    ~40/s, 4 ~80/s. From 1 instance, the search names 4 instances, measurably better than the
    default by about 4 times, 2 instances not within noise of it."""
    url = triton.http_url
    original = asyncio.run(model_config(url, "delay"))
    one = merged_config(original, _cand(1))
    asyncio.run(load_model(url, "delay", json.dumps(one)))
    try:
        _, outcome = search(url, "delay", tmp_path, "--instance-counts", "1,2,4",
                             "--concurrency-range", "4", "-p", "1000", "-s", "10",
                             "--replicates", "3", "--finalists", "2")
        assert int(asyncio.run(model_config(url, "delay"))["instance_group"][0]["count"]) == 1
    finally:
        asyncio.run(load_model(url, "delay", json.dumps(original)))
    assert not outcome.interrupted
    assert set(outcome.finals) == {_cand(4).key, _cand(2).key, _cand(1).key}
    ranking = json.loads((tmp_path / "search.json").read_text())["ranking"]
    assert [r["candidate"] for r in ranking] == [_cand(4).key, _cand(2).key, _cand(1).key]
    best, second, default = ranking
    assert best["objective"]["runs"] == 3 and best["objective"]["half_width"] is not None
    assert 2.5 < best["vs_default"]["lo"] <= best["vs_default"]["hi"] < 3.5  # ~ +300 %
    assert 0.6 < second["vs_default"]["lo"] <= second["vs_default"]["hi"] < 1.4  # ~ +100 %
    assert not second["within_noise_of_best"] and best["beats_default_measurably"]
    assert default["default"] and default["vs_default"] is None
    summary = (tmp_path / "summary.md").read_text()
    assert f"Measurably better than the default: `{_cand(4).key}`" in summary
    assert "±" in summary
    for key in outcome.finals:
        assert (tmp_path / "candidates" / key / "final-export.json").stat().st_size > 0
    # The replicate runs are saved as a --repeat 3 run: perfanalyzer report reads them back.
    shown = subprocess.run([sys.executable, "-m", "perfanalyzer", "report",
                            str(tmp_path / "candidates" / _cand(4).key / "final-export.json")],
                           capture_output=True, text=True, timeout=120, check=False)
    assert shown.returncode == 0, shown.stderr
    assert "*** Run 3 of 3 (--repeat 3) ***" in shown.stdout


@pytest.mark.server
@pytest.mark.slow
def test_a_model_where_nothing_matters_says_so(triton: Any, tmp_path: Path) -> None:
    """add_sub at concurrency 1: one request in flight, so a second instance has nothing to do;
    whatever the exploration's single measurements said, the replicate runs find no configuration
    measurably better than the default."""
    url = triton.http_url
    before = asyncio.run(model_config(url, "add_sub"))
    _, outcome = search(url, "add_sub", tmp_path, "--instance-counts", "1,2",
                        "--dynamic-batching", "on", "--concurrency-range", "1", "-p", "500",
                        "-s", "50", "-r", "10", "--replicates", "3")
    assert asyncio.run(model_config(url, "add_sub")) == before
    summary = (tmp_path / "summary.md").read_text()
    assert len(outcome.finals) == 2, summary
    assert "No configuration beat the default measurably" in summary, summary
    ranking = json.loads((tmp_path / "search.json").read_text())["ranking"]
    assert not any(r["beats_default_measurably"] for r in ranking)


def test_saved_replicates_are_reused_only_for_the_same_level_and_run_count(
        tmp_path: Path) -> None:
    from perfanalyzer.search.store import Store

    store = Store(tmp_path)
    store.open({"model": "m"})
    f = _final(2, 120, 121, 119)
    store.save_final(_cand(2), f)
    assert store.final(_cand(2), 4, 3) == f
    assert store.final(_cand(2), 8, 3) is None  # another best level: measured again
    assert store.final(_cand(2), 4, 5) is None  # another --replicates
    (tmp_path / "candidates" / _cand(2).key / "final.json").write_text("{")
    assert store.final(_cand(2), 4, 3) is None  # damaged: measured again
    store.save_ranking([{"rank": 1}])
    store.open({"model": "m"})  # the ranking is not a setting: the rerun resumes
    assert json.loads((tmp_path / "search.json").read_text())["ranking"] == [{"rank": 1}]


@pytest.mark.server
@pytest.mark.slow
def test_stopped_during_the_replicates_keeps_them_and_a_rerun_finishes(triton: Any,
                                                                       tmp_path: Path) -> None:
    """Stopped in the second round of replicate runs: the runs made are saved (final-export.json),
    the summary says INTERRUPTED, the configuration is restored; the rerun measures no explored
    candidate again and makes every replicate run."""
    from perfanalyzer.profile.repeat import profile_runs

    url = triton.http_url
    before = asyncio.run(model_config(url, "delay"))
    ctx = search_command.make_context(
        "search", ["-u", url, "-m", "delay", "--output-dir", str(tmp_path), "--instance-counts",
                   "1,4", "--concurrency-range", "2", "-p", "300", "-s", "50", "--replicates",
                   "2"])  # 2 rounds are enough to stop in the second
    sc, cfg = configs_from_kwargs(dict(ctx.params))
    calls: list[Any] = []

    def measure_stopping_at(n: int) -> Any:
        async def measure(c: Any, stop: asyncio.Event, out: Any) -> Any:
            run = await profile_runs(c, out=out, stop_event=stop)
            calls.append(c)
            if len(calls) == n:
                stop.set()
            return run
        return measure

    # 2 explored candidates, then the replicates: round 1 (2 runs), round 2 stopped after 1.
    first = asyncio.run(run_search(sc, cfg, stop=asyncio.Event(), out=io.StringIO(),
                                   measure=measure_stopping_at(5)))
    write_report(sc, first, "Concurrency", "delay")
    assert first.interrupted and not first.finals
    assert asyncio.run(model_config(url, "delay")) == before
    assert "INTERRUPTED" in (tmp_path / "summary.md").read_text()
    exports = sorted(tmp_path.glob("candidates/*/final-export.json"))
    assert len(exports) == 2 and not list(tmp_path.glob("candidates/*/final.json"))
    calls.clear()
    again = asyncio.run(run_search(sc, cfg, stop=asyncio.Event(), out=io.StringIO(),
                                   measure=measure_stopping_at(0)))
    assert not again.interrupted and again.resumed == 2
    assert len(calls) == 2 * 2  # the replicate runs only, all of them
    assert {len(f.points) for f in again.finals.values()} == {2}
    assert asyncio.run(model_config(url, "delay")) == before
