"""perfanalyzer search, constraints and objectives as Model Analyzer users write them: limits on
throughput, average and percentile latency and the server's memory (from --collect-metrics, or
refused with the reason), several objectives with weights, infeasible candidates listed with the
limit they broke; pure, and against the real Triton."""

from __future__ import annotations

import asyncio
import io
import json
import math
from pathlib import Path
from typing import Any

import pytest

from perfanalyzer.cli.search_cmd import configs_from_kwargs
from perfanalyzer.cli.search_cmd import search as search_command
from perfanalyzer.client import ClientOptions, create_client
from perfanalyzer.errors import OptionError
from perfanalyzer.search.limits import Limit, parse_limit, parse_weights, weighted
from perfanalyzer.search.modelconfig import merged_config
from perfanalyzer.search.objective import Objective
from perfanalyzer.search.ranking import beats_default, rank
from perfanalyzer.search.report import write_report
from perfanalyzer.search.runner import run_search
from perfanalyzer.search.space import Candidate
from perfanalyzer.search.store import CandidateResult, Final, PointFigures

pytestmark = pytest.mark.reloads_models  # a Triton of their own (tests/conftest.py)


def _parse(tmp_path: Path, *args: str) -> Any:
    ctx = search_command.make_context("search", ["-m", "x", "--output-dir", str(tmp_path), *args])
    return configs_from_kwargs(dict(ctx.params))[0]


def _p(thr: float, p99: float, mem: float | None = None, level: float = 1) -> PointFigures:
    metrics = {"perf_throughput": thr, "perf_latency_p99": p99, "perf_latency_avg": p99 / 2}
    if mem is not None:
        metrics["cpu_used_ram"] = mem
    return PointFigures(level=level, throughput=thr, latency_ms=p99 / 2, stable=True,
                        metrics=metrics)


def test_constraints_are_parsed_as_model_analyzer_writes_them() -> None:
    assert parse_limit("perf_latency_p99<=20", -1) == Limit(metric="perf_latency_p99", op="<=",
                                                             value=20)
    assert parse_limit("perf_throughput:min=100", -1) == Limit(metric="perf_throughput",
                                                                op=">=", value=100)
    assert parse_limit("gpu_used_memory:max=2000", -1).op == "<="
    assert parse_limit("perf_latency_p75<=5", 75).metric == "perf_latency_p75"
    for bad, msg in (("perf_latency_p75<=5", "not a metric the search measures"),
                     ("latency<5", "expected NAME<=VALUE"), ("perf_throughput>=x", "not a number"),
                     ("perf_throughput>=-1", ">= 0")):
        with pytest.raises(OptionError, match=msg):
            parse_limit(bad, -1)
    assert parse_weights("perf_throughput:2,perf_latency_p99:1", -1) == (
        ("perf_throughput", 2.0), ("perf_latency_p99", 1.0))
    with pytest.raises(OptionError, match="a weight must be > 0"):
        parse_weights("perf_throughput:0", -1)


def test_the_cli_refuses_memory_without_metrics_and_two_objective_flags(tmp_path: Path) -> None:
    with pytest.raises(OptionError, match="cpu_used_ram: the server's memory is read from its "
                       "metrics: add --collect-metrics"):
        _parse(tmp_path, "--constraint", "cpu_used_ram<=100")
    with pytest.raises(OptionError, match="--objective and --objectives: give one"):
        _parse(tmp_path, "--objective", "latency", "--objectives", "perf_throughput:1")
    with pytest.raises(OptionError, match="--constraint/--objectives goodput: give the limits "
                       "with --goodput"):
        _parse(tmp_path, "--constraint", "goodput>=10")
    sc = _parse(tmp_path, "--constraint", "goodput>=10", "--goodput", "ttfr:50")
    assert [str(c) for c in sc.objective.constraints] == ["goodput>=10"]
    assert weighted(parse_weights("goodput:1", -1), {"goodput": 40.0}) == math.log(40.0)
    sc = _parse(tmp_path, "--constraint", "perf_latency_avg<=5", "--constraint",
                "perf_throughput>=10", "--objectives", "perf_throughput:3,perf_latency_p99:1")
    assert sc.objective.kind == "weighted"
    assert [str(c) for c in sc.objective.constraints] == ["perf_latency_avg<=5",
                                                          "perf_throughput>=10"]


def test_constraints_decide_feasibility_and_name_the_limit_broken() -> None:
    obj = Objective(constraints=(Limit(metric="perf_latency_p99", op="<=", value=10),
                                 Limit(metric="cpu_used_ram", op="<=", value=500)))
    assert obj.feasible(_p(100, 8, mem=400))
    assert not obj.feasible(_p(100, 12, mem=400))
    assert not obj.feasible(_p(100, 8))  # memory not measured: the limit is not met
    why = obj.why_infeasible((_p(100, 12, mem=600, level=1), _p(200, 30, mem=400, level=2)),
                             "Concurrency")
    assert why == "at concurrency 2: perf_latency_p99 30 > 10"  # the fewest limits broken
    why = obj.why_infeasible((_p(100, 12, mem=600, level=1),), "Concurrency")
    assert why == "at concurrency 1: perf_latency_p99 12 > 10; cpu_used_ram 600 > 500"


def test_weighted_objectives_trade_percent_for_percent() -> None:
    w = (("perf_throughput", 2.0), ("perf_latency_p99", 1.0))
    base = weighted(w, {"perf_throughput": 100, "perf_latency_p99": 10})
    # +10 % throughput for +21 % latency: even at weights 2:1 (1.1 ** 2 == 1.21)
    even = weighted(w, {"perf_throughput": 110, "perf_latency_p99": 12.1})
    assert base is not None and even is not None and math.isclose(base, even)
    obj = Objective(kind="weighted", weights=w)

    def cand(ic: int) -> Candidate:
        return Candidate(instance_count=ic, max_batch_size=0, dynamic_batching=False)

    def res(ic: int, p: PointFigures) -> CandidateResult:
        return CandidateResult(candidate=cand(ic), points=(p,), best=p, score=obj.score(p))

    # ic2: twice the throughput at 1.5 times the latency: better at 2:1
    results = [res(1, _p(100, 10)), res(2, _p(200, 15))]
    finals = {cand(1).key: Final(key=cand(1).key, level=1,
                                 points=(_p(100, 10), _p(101, 10), _p(99, 10))),
              cand(2).key: Final(key=cand(2).key, level=1,
                                 points=(_p(200, 15), _p(202, 15), _p(198, 15)))}
    rows = rank(obj, results, finals, cand(1).key)
    assert rows[0].result.candidate.instance_count == 2
    ch = rows[0].vs_default
    # (2 ** 2 / 1.5) ** (1 / 3) - 1 = +38.7 %
    assert ch is not None and ch.lo < 0.387 < ch.hi and ch.lo > 0.3
    assert beats_default(obj, rows) == rows[:1]
    from perfanalyzer.search.report import summary_text
    from perfanalyzer.search.runner import SearchConfig, SearchOutcome

    text = summary_text(SearchConfig(output_dir="x", objective=obj),
                        SearchOutcome(original={}, default=cand(1), results=results,
                                      finals=finals), "Concurrency", "m")
    assert "- Objective: weighted objective (perf_throughput:2, perf_latency_p99:1)" in text
    assert f"Measurably better than the default: `{cand(2).key}`" in text


# -- against the real server -----------------------------------------------------------------

async def _model(url: str, model: str, config: str | None = None) -> dict[str, Any]:
    c = create_client("http", ClientOptions(url=url))
    try:
        if config is not None:
            await c.load_model(model, config)
        return await c.model_config(model)
    finally:
        await c.close()


@pytest.mark.server
@pytest.mark.slow
def test_a_latency_constraint_leaves_out_the_slow_configuration(triton: Any,
                                                                tmp_path: Path) -> None:
    """The delay model at concurrency 4: with one instance each request waits for the three
    before it (p99 about 200 ms, never under 150), with four none does (about 50 ms; a loaded CI
    box has seen 125 ms). A p99 limit of 150 ms makes one instance infeasible, listed with its
    p99."""
    url = triton.http_url
    original = asyncio.run(_model(url, "delay"))
    one = Candidate(instance_count=1, max_batch_size=0, dynamic_batching=False)
    asyncio.run(_model(url, "delay", json.dumps(merged_config(original, one))))
    try:
        ctx = search_command.make_context(
            "search", ["-u", url, "-m", "delay", "--output-dir", str(tmp_path),
                       "--instance-counts", "1,4", "--concurrency-range", "4", "-p", "1000",
                       "--constraint", "perf_latency_p99<=150", "--replicates", "0"])
        sc, cfg = configs_from_kwargs(dict(ctx.params))
        outcome = asyncio.run(run_search(sc, cfg, stop=asyncio.Event(), out=io.StringIO()))
    finally:
        asyncio.run(_model(url, "delay", json.dumps(original)))
    write_report(sc, outcome, "Concurrency", "delay")
    summary = (tmp_path / "summary.md").read_text()
    assert "- Constraints: perf_latency_p99<=150" in summary
    line = next(s for s in summary.splitlines() if s.startswith(f"- `{one.key}`"))
    assert "at concurrency 4: perf_latency_p99 " in line and " > 150" in line, summary
    ranking = json.loads((tmp_path / "search.json").read_text())["ranking"]
    assert [r["candidate"] for r in ranking] == ["ic4-mbs0-db-off-b1"]


@pytest.mark.server
def test_memory_limits_use_the_servers_metrics_or_are_refused(triton: Any,
                                                              tmp_path: Path) -> None:
    """The test server has no GPU: a GPU memory limit is refused before anything changes; its CPU
    memory is in its metrics, so a CPU memory limit below it leaves every candidate infeasible,
    each listed with the memory it used."""
    url = triton.http_url
    before = asyncio.run(_model(url, "add_sub"))
    common = ["-u", url, "-m", "add_sub", "--collect-metrics", "--metrics-url",
              triton.metrics_url, "--instance-counts", "1", "--dynamic-batching", "on",
              "--concurrency-range", "1", "-p", "500", "-s", "50", "--replicates", "0"]

    def search(out: Path, limit: str) -> Any:
        ctx = search_command.make_context("search", [*common, "--output-dir", str(out),
                                                     "--constraint", limit])
        sc, cfg = configs_from_kwargs(dict(ctx.params))
        outcome = asyncio.run(run_search(sc, cfg, stop=asyncio.Event(), out=io.StringIO()))
        write_report(sc, outcome, "Concurrency", "add_sub")
        return outcome

    with pytest.raises(OptionError, match="gpu_used_memory: its metrics have no "
                       "nv_gpu_memory_used_bytes: the server reports no GPU"):
        search(tmp_path / "gpu", "gpu_used_memory<=1000")
    assert not (tmp_path / "gpu" / "search.json").exists()
    outcome = search(tmp_path / "cpu", "cpu_used_ram<=1")
    assert asyncio.run(_model(url, "add_sub")) == before
    (only,) = outcome.results
    assert only.best is None
    used = [p.metrics["cpu_used_ram"] for p in only.points]
    assert used and all(m > 1 for m in used)
    summary = (tmp_path / "cpu" / "summary.md").read_text()
    assert f"- `{only.candidate.key}`: at concurrency 1: cpu_used_ram " in summary, summary
