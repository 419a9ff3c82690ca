"""perfanalyzer search: the search space (pure), the config it writes, and against the real Triton: a
setting that changes throughput, the best configuration re-measured, the original configuration restored
after an error and after Ctrl-C, a stopped search resumed, a server without model control refused."""

from __future__ import annotations

import asyncio
import io
import json
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import text_format
from hypothesis import given, settings
from hypothesis import strategies as st

from perfanalyzer._proto import model_config_pb2
from perfanalyzer.cli.search_cmd import configs_from_kwargs
from perfanalyzer.cli.search_cmd import search as search_command
from perfanalyzer.client import ClientOptions, create_client
from perfanalyzer.config import RunConfig
from perfanalyzer.errors import OptionError
from perfanalyzer.profile.run import profile
from perfanalyzer.search.modelconfig import default_candidate, merged_config, to_pbtxt
from perfanalyzer.search.report import pareto_front, write_report
from perfanalyzer.search.runner import SearchConfig, run_search
from perfanalyzer.search.space import Candidate, QuickSearch, Space, grid
from perfanalyzer.search.store import PointFigures

pytestmark = pytest.mark.reloads_models  # a Triton of their own (tests/conftest.py)
DELAY = "delay"  # tests/models/delay: sleeps 50 ms per request, 4 instances, no batching
SIMPLE_CONFIG = {"name": "m", "backend": "python", "max_batch_size": 8,
                 "instance_group": [{"name": "m_0", "kind": "KIND_CPU", "count": 1}],
                 "dynamic_batching": {"max_queue_delay_microseconds": "0"},
                 "input": [{"name": "IN", "data_type": "TYPE_FP32", "dims": ["4"]}]}


def _c(ic: int = 1, mbs: int = 8, db: bool = True, qd: int = 0, pref: tuple[int, ...] = (),
       b: int = 1) -> Candidate:
    return Candidate(instance_count=ic, max_batch_size=mbs, dynamic_batching=db,
                     max_queue_delay_us=qd, preferred_batch_sizes=pref, client_batch=b)


def run_quick(space: Space, default: Candidate, measure: Callable[[Candidate], float | None],
              done: Sequence[tuple[Candidate, float | None]] = ()) -> QuickSearch:
    """A quick search driven to its end by ``measure`` (returns a score), ``done`` recorded
    first (a resumed search)."""
    q = QuickSearch(space, default)
    for cand, score in done:
        q.record(cand, score)
    while (nxt := q.next()) is not None:
        q.record(nxt, measure(nxt))
    return q


# -- pure ------------------------------------------------------------------------------------

def test_grid_lists_valid_combinations_once_default_first() -> None:
    default = _c()
    space = Space(instance_count=(1, 2), dynamic_batching=(True, False),
                  max_queue_delay_us=(0, 100), client_batch=(1, 16))
    cands = grid(space, default)
    assert cands[0] == default
    assert len({c.key for c in cands}) == len(cands)
    assert all(c.valid() for c in cands)
    assert all(c.client_batch == 1 for c in cands)  # 16 > max_batch_size 8: dropped
    # off: no queue delay variants (they mean nothing): 2 ic x (on x 2 delays + off)
    assert len(cands) == 2 * 3


def test_quick_search_finds_the_optimum_of_a_separable_score_and_resumes() -> None:
    space = Space(instance_count=(1, 2, 3, 4), dynamic_batching=(True, False),
                  client_batch=(1, 2, 4, 8))

    def score(c: Candidate) -> float:  # best: 3 instances, batching on, client batch 4
        return -abs(c.instance_count - 3) - abs(c.client_batch - 4) + (1 if c.dynamic_batching
                                                                        else 0)

    measured: list[Candidate] = []
    q = run_quick(space, _c(), lambda c: measured.append(c) or score(c))
    assert (q.best.instance_count, q.best.dynamic_batching, q.best.client_batch) == (3, True, 4)
    assert len(measured) < len(grid(space, _c()))  # cheaper than the grid
    assert len({c.key for c in measured}) == len(measured)  # never measures twice
    # Resumed after the first three: the rest is measured, nothing again, same best.
    again: list[Candidate] = []
    done = [(c, score(c)) for c in measured[:3]]
    q2 = run_quick(space, _c(), lambda c: again.append(c) or score(c), done)
    assert q2.best == q.best
    assert not {c.key for c in again} & {c.key for c, _ in done}


@settings(max_examples=40, deadline=None)
@given(st.dictionaries(st.tuples(st.sampled_from((1, 2, 3)), st.booleans(),
                                 st.sampled_from((1, 2, 4, 8))),
                       st.one_of(st.none(), st.floats(0, 100)), min_size=24, max_size=24))
def test_quick_search_properties(table: dict[tuple[int, bool, int], float | None]) -> None:
    """Any scores: only valid candidates, none twice, and the best (when one scored) cannot be
    improved by changing one dimension (a coordinate-wise optimum) once the search converged."""
    space = Space(instance_count=(1, 2, 3), dynamic_batching=(True, False),
                  client_batch=(1, 2, 4, 8))
    seen: list[Candidate] = []

    def score(c: Candidate) -> float | None:
        assert c.valid()
        seen.append(c)
        return table[(c.instance_count, c.dynamic_batching, c.client_batch)]

    q = run_quick(space, _c(), score)
    assert len({c.key for c in seen}) == len(seen)
    best = q.scores[q.best.key]
    if best is None or not q.converged:
        return
    neighbours = [_c(ic=ic, db=q.best.dynamic_batching, b=q.best.client_batch) for ic in (1, 2, 3)]
    neighbours += [_c(ic=q.best.instance_count, db=db, b=q.best.client_batch)
                   for db in (True, False)]
    neighbours += [_c(ic=q.best.instance_count, db=q.best.dynamic_batching, b=b)
                   for b in (1, 2, 4, 8)]
    for n in neighbours:
        s = table[(n.instance_count, n.dynamic_batching, n.client_batch)]
        assert s is None or s <= best


def test_merged_config_and_pbtxt_round_trip() -> None:
    cand = _c(ic=3, mbs=4, db=True, qd=250, pref=(2, 4))
    merged = merged_config(SIMPLE_CONFIG, cand)
    msg = text_format.Parse(to_pbtxt(merged), model_config_pb2.ModelConfig())
    assert msg.instance_group[0].count == 3 and msg.max_batch_size == 4
    assert msg.dynamic_batching.max_queue_delay_microseconds == 250
    assert list(msg.dynamic_batching.preferred_batch_size) == [2, 4]
    assert msg.input[0].name == "IN" and list(msg.input[0].dims) == [4]
    off = text_format.Parse(to_pbtxt(merged_config(SIMPLE_CONFIG, _c(db=False))),
                            model_config_pb2.ModelConfig())
    assert not off.HasField("dynamic_batching")
    assert default_candidate(SIMPLE_CONFIG, 1) == _c()
    assert SIMPLE_CONFIG["instance_group"][0]["count"] == 1  # the original is not changed


def test_pareto_front_keeps_only_undominated_points() -> None:
    pts = [PointFigures(level=i, throughput=t, latency_ms=lat, stable=True)
           for i, (t, lat) in enumerate([(100, 1.0), (90, 2.0), (200, 3.0), (150, 3.5),
                                         (250, 9.0)])]
    assert [(p.throughput, p.latency_ms) for p in pareto_front(pts)] == \
        [(100, 1.0), (200, 3.0), (250, 9.0)]


def test_flags_the_search_sets_itself_are_refused(tmp_path: Path) -> None:
    for extra, flag in ((["-l", "5"], "-l"), (["-f", "x.csv"], "-f"),
                        (["--shape", "IN:1|2"], "--shape"),
                        (["--periodic-concurrency-range", "1:4"], "--periodic-concurrency-range: "
                         "not a search flag"),
                        (["--request-period", "4"], "--request-period: not a search flag")):
        ctx = search_command.make_context(
            "search", ["-m", "x", "--output-dir", str(tmp_path), *extra])
        with pytest.raises(OptionError, match=flag):
            configs_from_kwargs(dict(ctx.params))


def test_objective_picks_the_best_feasible_point() -> None:
    from perfanalyzer.search.objective import Objective

    pts = [PointFigures(level=i, throughput=t, latency_ms=lat, stable=True)
           for i, (t, lat) in enumerate([(100, 1.0), (200, 3.0), (300, 9.0)], 1)]
    thr = Objective(kind="throughput", latency_budget_ms=5.0, percentile=99)
    assert [thr.feasible(p) for p in pts] == [True, True, False]
    assert max(filter(thr.feasible, pts), key=thr.score).level == 2
    lat = Objective(kind="latency", min_throughput=150)
    assert max(filter(lat.feasible, pts), key=lat.score).level == 2
    assert thr.latency_label == "p99 latency" and lat.latency_label == "avg latency"


def test_goodput_objective_picks_the_most_goodput_and_needs_limits(tmp_path: Path) -> None:
    from perfanalyzer.search.objective import Objective

    pts = [PointFigures(level=i, throughput=t, latency_ms=1.0, stable=True, goodput=g)
           for i, (t, g) in enumerate([(100, 90.0), (200, 120.0), (300, 0.0)], 1)]
    good = Objective(kind="goodput")
    assert [good.feasible(p) for p in pts] == [True, True, False]
    assert max(filter(good.feasible, pts), key=good.score).level == 2
    from perfanalyzer.search.store import CandidateResult

    saved = CandidateResult(candidate=_c(mbs=0, db=False), points=tuple(pts), best=pts[1],
                            score=120.0)
    assert CandidateResult.from_json(json.loads(json.dumps(saved.to_json()))) == saved
    ctx = search_command.make_context(
        "search", ["-m", "x", "--output-dir", str(tmp_path), "--objective", "goodput"])
    with pytest.raises(OptionError, match="--objective goodput: give the limits with --goodput"):
        configs_from_kwargs(dict(ctx.params))
    ctx = search_command.make_context(
        "search", ["-m", "x", "--output-dir", str(tmp_path), "--objective", "goodput",
                   "--goodput", "ttfr:50"])
    sc, cfg = configs_from_kwargs(dict(ctx.params))
    assert sc.objective.kind == "goodput" and cfg.measurement.goodput == "ttfr:50"


def _csv_levels(run: Any) -> set[float]:
    from perfanalyzer.report.csv import csv_text

    return {float(line.split(",")[0]) for line in csv_text(run).splitlines()[1:]}


def test_the_best_point_is_one_the_candidates_csv_holds() -> None:
    """A point is judged by the same decision as -f: stable, under -l (perf_analyzer: a latency
    at the limit is over it)."""
    import dataclasses

    from perfanalyzer.search.objective import Objective
    from tests.support.synthetic_runs import CONFIG, synthetic_run

    cand = _c(mbs=0, db=False)
    run = synthetic_run((1, 4), window_sigma=0.0, jitter=0.0)
    p4 = run.points[1]  # 4 times the throughput, but it did not stabilize: -f leaves it out
    run.points[1] = dataclasses.replace(p4, verdict=dataclasses.replace(p4.verdict, stable=False))
    res = Objective().judge(cand, run)
    assert _csv_levels(run) == {1.0}
    assert res.best is not None and res.best.level == 1
    at_limit = synthetic_run((1, 4), window_sigma=0.0, jitter=0.0,
                             config={**CONFIG, "latency_threshold_ms": 10.0})  # 10 ms each
    assert _csv_levels(at_limit) == set()
    assert Objective(latency_budget_ms=10.0).judge(cand, at_limit).best is None


def _late_rate_run(latency_from: str, limit_ms: float) -> Any:
    """One stable request-rate point: 10 ms from the send, each sent 5 ms after its schedule."""
    from perfanalyzer.measure.metrics import ClientLoad, summarize
    from perfanalyzer.measure.stabilizer import Verdict
    from perfanalyzer.measure.window import PointResult, Window, merge
    from perfanalyzer.records import RecordBuffer
    from perfanalyzer.results.run import ModelTraits, RunResult

    buf, windows, t0 = RecordBuffer(), [], 10**12
    for i in range(3):
        lo = buf.count
        for k in range(1, 101):
            done = t0 + k * 10_000_000
            buf.add(done - 15_000_000, done - 10_000_000, done)
        windows.append(Window(i, lo, buf.count, summarize(
            buf.view(lo, buf.count), start_ns=t0, end_ns=t0 + 10**9, batch_size=1, server=None,
            client=ClientLoad(), sent=100)))
        t0 += 10**9
    verdict = Verdict(done=True, stable=True, reason="stable", throughput_spread=0.0,
                      latency_spread=0.0, over_threshold=False)
    point = PointResult(level=100.0, windows=tuple(windows), verdict=verdict,
                        merged=merge(windows, buf))
    return RunResult(mode="request_rate", model=ModelTraits(name="m", max_batch_size=0),
                     batch_size=1, buffer=buf, points=[point],
                     config={"latency_from": latency_from, "latency_threshold_ms": limit_ms,
                             "percentile": -1})


def test_the_search_judges_latency_from_the_send_time_the_csv_uses() -> None:
    from perfanalyzer.search.objective import Objective

    cand = _c(mbs=0, db=False)
    sent = Objective(latency_budget_ms=12.0).judge(cand, _late_rate_run("sent", 12.0))
    assert sent.best is not None and sent.best.latency_ms == pytest.approx(10.0)
    scheduled = _late_rate_run("scheduled", 12.0)  # 15 ms from the schedule: over the limit
    assert _csv_levels(scheduled) == set()
    assert Objective(latency_budget_ms=12.0).judge(cand, scheduled).best is None
    unlimited = Objective().judge(cand, _late_rate_run("scheduled", 0.0))
    assert unlimited.best is not None and unlimited.best.latency_ms == pytest.approx(15.0)


def test_the_budget_is_each_sweeps_latency_limit(tmp_path: Path) -> None:
    ctx = search_command.make_context(
        "search", ["-m", "x", "--output-dir", str(tmp_path), "--concurrency-range", "1:0",
                   "--latency-budget-ms", "50", "--percentile", "99"])
    sc, cfg = configs_from_kwargs(dict(ctx.params))
    assert cfg.measurement.latency_threshold_ms == 50 and cfg.measurement.percentile == 99
    assert sc.objective.latency_budget_ms == 50 and sc.objective.percentile == 99


# -- against the real server -----------------------------------------------------------------

def _configs(url: str, out: Path, *args: str) -> tuple[SearchConfig, RunConfig]:
    ctx = search_command.make_context(
        "search", ["-u", url, "-m", DELAY, "--output-dir", str(out), *args])
    sc, cfg = configs_from_kwargs(dict(ctx.params))
    return sc, cfg


async def _config(url: str) -> dict[str, Any]:
    c = create_client("http", ClientOptions(url=url))
    try:
        return await c.model_config(DELAY)
    finally:
        await c.close()


async def _load(url: str, config: str | None) -> None:
    c = create_client("http", ClientOptions(url=url))
    try:
        await c.load_model(DELAY, config)
    finally:
        await c.close()


def _count(config: dict[str, Any]) -> int:
    return int(config["instance_group"][0]["count"])


@pytest.mark.server
@pytest.mark.slow
def test_instance_count_changes_throughput_and_the_best_reproduces(triton: Any,
                                                                   tmp_path: Path) -> None:
    url = triton.http_url
    original = asyncio.run(_config(url))
    one = merged_config(original, Candidate(instance_count=1, max_batch_size=0,
                                            dynamic_batching=False))
    asyncio.run(_load(url, json.dumps(one)))  # start from 1 instance (restored to this)
    try:
        # 2 s windows: the 4 requests finish in lockstep every 50 ms, so a window edge can
        # split a burst; over 3 windows that is < 1 % of the ~480 requests counted.
        sc, cfg = _configs(url, tmp_path, "--instance-counts", "1,4", "--concurrency-range", "4",
                           "-p", "2000", "-s", "10", "--replicates", "0")
        outcome = asyncio.run(run_search(sc, cfg, stop=asyncio.Event(), out=io.StringIO()))
        assert _count(asyncio.run(_config(url))) == 1  # the state before the search
        by_ic = {r.candidate.instance_count: r for r in outcome.results}
        assert set(by_ic) == {1, 4}
        t1, t4 = (by_ic[i].best.throughput for i in (1, 4))  # type: ignore[union-attr]
        # 50 ms per request: 1 instance serves ~20/s, 4 serve ~80/s at concurrency 4.
        assert t4 > 2.5 * t1
        write_report(sc, outcome, "Concurrency", DELAY)
        pbtxt = (tmp_path / "config.pbtxt").read_text()
        assert text_format.Parse(pbtxt, model_config_pb2.ModelConfig()).instance_group[0].count \
            == 4
        assert (tmp_path / "pareto.png").stat().st_size > 0
        assert "`ic4-mbs0-db-off-b1`" in (tmp_path / "summary.md").read_text()
        # The best configuration, reloaded and re-measured at its best level, reproduces.
        best = by_ic[4]
        assert best.best is not None
        asyncio.run(_load(url, json.dumps(merged_config(original, best.candidate), sort_keys=True)))
        again = asyncio.run(profile(cfg.replace(concurrency_range=(best.best.level,) * 2 + (1,),
                                                measurement_interval_ms=2000),
                                    out=io.StringIO()))
        assert again.points[-1].merged.throughput == pytest.approx(best.best.throughput,
                                                                   rel=0.05), (again, best)
    finally:
        asyncio.run(_load(url, json.dumps(original)))


@pytest.mark.server
def test_original_configuration_restored_after_an_error(triton: Any, tmp_path: Path) -> None:
    url = triton.http_url
    before = asyncio.run(_config(url))
    calls: list[int] = []

    async def measure(cfg: RunConfig, stop: asyncio.Event, out: Any) -> Any:
        calls.append(1)
        now = await _config(url)
        if _count(now) != _count(before):  # a changed configuration is loaded: fail now
            raise RuntimeError("boom")
        return await profile(cfg.replace(request_count=5), out=out, stop_event=stop)

    sc, cfg = _configs(url, tmp_path, "--instance-counts", "1,4", "-p", "200")
    with pytest.raises(RuntimeError, match="boom"):
        asyncio.run(run_search(sc, cfg, stop=asyncio.Event(), out=io.StringIO(),
                               measure=measure))
    assert len(calls) == 2
    after = asyncio.run(_config(url))
    assert _count(after) == _count(before) == 4


def _search_cli(url: str, out: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "perfanalyzer", "search", "-u", url, "-m", DELAY,
         "--output-dir", str(out), "--instance-counts", "1,4", "--concurrency-range", "2",
         "-p", "300", "-s", "50", "-r", "4", "--replicates", "0"],  # stopped in the exploration
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.mark.server
@pytest.mark.slow
def test_ctrl_c_restores_and_a_rerun_resumes(triton: Any, tmp_path: Path) -> None:
    url = triton.http_url
    proc = _search_cli(url, tmp_path)
    states = tmp_path / "candidates"
    deadline = time.monotonic() + 90
    while not list(states.glob("*/state.json")) and time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[0]
        time.sleep(0.05)
    (first,) = list(states.glob("*/state.json"))
    stamp = first.stat().st_mtime_ns
    proc.send_signal(signal.SIGINT)
    output, _ = proc.communicate(timeout=90)
    assert proc.returncode == 130, output
    assert _count(asyncio.run(_config(url))) == 4  # restored
    assert "INTERRUPTED" in (tmp_path / "summary.md").read_text()
    assert len(list(states.glob("*/state.json"))) == 1
    rerun = _search_cli(url, tmp_path)
    output, _ = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, output
    assert "Resuming: 1 candidate(s)" in output
    assert first.stat().st_mtime_ns == stamp  # not measured again
    assert {p.parent.name for p in states.glob("*/state.json")} == {
        "ic4-mbs0-db-off-b1", "ic1-mbs0-db-off-b1"}
    assert _count(asyncio.run(_config(url))) == 4


@pytest.mark.server
@pytest.mark.slow
def test_server_without_explicit_model_control_is_refused(tmp_path: Path) -> None:
    from perfanalyzer.server.launcher import TritonLauncher

    repo = tmp_path / "repo"
    shutil.copytree(Path(__file__).with_name("models") / "add_sub", repo / "add_sub")
    with TritonLauncher(model_repository=repo).start(timeout_s=120) as srv:
        res = subprocess.run(
            [sys.executable, "-m", "perfanalyzer", "search", "-u", srv.http_url, "-m",
             "add_sub", "--output-dir", str(tmp_path / "out")],
            capture_output=True, text=True, timeout=120, check=False)
    assert res.returncode == 99
    assert "--model-control-mode=explicit" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out" / "candidates").exists()


@pytest.mark.server
@pytest.mark.slow
def test_search_launching_its_own_server(tmp_path: Path) -> None:
    """A search that launches its own server (one load level, no replicate runs, to stay short):
    exit 0, a summary, a Pareto plot and a config.pbtxt, no server left running. Only a stable
    point can be the best (the candidate's profile.csv must hold it): a wide -s band and more
    windows keep a point stable on a shared 2-core machine."""
    import re

    from perfanalyzer.search.store import Store
    from perfanalyzer.server.launcher import port_in_use

    res = subprocess.run(
        [sys.executable, "-m", "perfanalyzer", "search", "-m", "simple", "--launch-server",
         "--concurrency-range", "4", "-p", "500", "-s", "200", "-r", "10",
         "--instance-counts", "1", "--dynamic-batching", "on,off", "--replicates", "0",
         "--output-dir", str(tmp_path)], capture_output=True, text=True, timeout=300, check=False)
    assert res.returncode == 0, res.stderr
    for name in ("summary.md", "pareto.png", "config.pbtxt"):
        assert (tmp_path / name).stat().st_size > 0
    started = re.search(r"HTTP 127\.0\.0\.1:(\d+), gRPC 127\.0\.0\.1:(\d+)", res.stderr)
    assert started is not None, res.stderr
    assert not any(port_in_use(int(p)) for p in started.groups())
    # Both candidates measured (their throughput on a shared 2-core machine is not asserted:
    # the deterministic effect test is the delay model's instance count above).
    assert {r.candidate.key for r in Store(tmp_path).finished()} >= {
        "ic1-mbs8-db-on-qd0-pref8-b1", "ic1-mbs8-db-off-b1"}
