"""The comparison on synthetic runs with known shifts and noise, as JSON runs and as CSVs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from perfanalyzer.errors import CompareError
from perfanalyzer.gate.compare import (
    IMPROVEMENT,
    METHOD_POOLED,
    METHOD_THRESHOLD,
    METHOD_WELCH,
    NOISE,
    OK,
    REGRESSION,
    Comparison,
    compare,
)
from perfanalyzer.gate.inputs import Side, load_side, side_from_run
from perfanalyzer.gate.render import console_text, json_dict, markdown_text
from perfanalyzer.report.csv import csv_text
from perfanalyzer.results.combine import combine_runs
from perfanalyzer.results.run import RunResult
from tests.support.paths import GOLDEN
from tests.support.synthetic_runs import CONFIG, PROVENANCE, synthetic_run

#: The same eight window factors in two orders: pure noise, but the last three (the merged,
#: reported windows) put the current p99 12.8% above the baseline's.
NOISE_BASE = [1.30, 0.80, 1.18, 0.90, 1.25, 1.00, 0.95, 1.05]
NOISE_CUR = [1.05, 1.30, 1.00, 0.95, 1.25, 0.90, 1.18, 0.80]


def _json(run: RunResult, path: Path) -> Side:
    pytest.importorskip("perfanalyzer.report.saved")
    export = pytest.importorskip("perfanalyzer.report.export")
    export.write_export(run, path)
    return load_side(path)


def _csv(run: RunResult, path: Path) -> Side:
    path.write_text(csv_text(run))
    return load_side(path)


def _rows(cmp: Comparison, metric: str) -> list[Any]:
    return [r for r in cmp.rows if r.metric == metric]


def _reps(seeds: tuple[int, ...] = (1, 2, 3), **kw: Any) -> RunResult:
    """A --repeat run: synthetic runs pooled, holding them as replicates."""
    return combine_runs([synthetic_run(seed=s, **kw) for s in seeds])


def test_30_percent_slowdown_is_a_regression_beyond_noise(tmp_path: Path) -> None:
    base = _json(_reps((1, 2, 3)), tmp_path / "base.json")
    cur = _json(_reps((4, 5, 6), slowdown=1.3), tmp_path / "cur.json")
    assert (base.runs, cur.runs) == (3, 3)
    cmp = compare(base, cur)
    assert cmp.exit_code == 1 and cmp.status == "regression"
    assert [(r.level, r.metric) for r in cmp.regressions] == [
        (1.0, "Inferences/Second"), (1.0, "p99 latency"), (2.0, "Inferences/Second"),
        (2.0, "p99 latency")]
    for row in cmp.rows:
        sig = row.significance
        assert sig.judged and sig.significant and sig.samples == (3, 3)
        assert sig.ci is not None and sig.ci[0] < row.change_pct < sig.ci[1]
        assert sig.method == METHOD_WELCH
    tput = _rows(cmp, "Inferences/Second")
    assert all(-28 < r.change_pct < -17 for r in tput)  # 1/1.3 - 1 = -23.1% ± window noise
    assert "RESULT: REGRESSION" in console_text(cmp)


def test_small_change_passes(tmp_path: Path) -> None:
    base = _json(_reps((1, 2, 3), window_sigma=0.05), tmp_path / "base.json")
    cur = _json(_reps((4, 5, 6), window_sigma=0.05, slowdown=1.02), tmp_path / "cur.json")
    cmp = compare(base, cur)
    assert cmp.exit_code == 0 and cmp.status == "pass"
    assert REGRESSION not in {r.verdict for r in cmp.rows}
    assert "RESULT: pass, no regression" in console_text(cmp)


def test_a_breach_inside_the_run_to_run_noise_is_within_noise() -> None:
    """Runs 10 % apart from each other: a 9 % drop of the mean is beyond -5 %, but its interval
    reaches zero: within noise, and the table shows that interval."""
    def runs(slowdowns: list[float], seed: int) -> RunResult:
        return combine_runs([synthetic_run((1,), seed=seed + i, slowdown=f, window_sigma=0.0)
                             for i, f in enumerate(slowdowns)])
    base = side_from_run(runs([0.9, 1.0, 1.1], 1), "b")
    cur = side_from_run(runs([1.0, 1.1, 1.2], 5), "c")
    cmp = compare(base, cur)
    (tput,) = _rows(cmp, "Inferences/Second")
    assert tput.change_pct < -5 and tput.verdict == NOISE
    lo, hi = tput.significance.ci  # type: ignore[misc]
    assert lo < 0 < hi
    assert cmp.exit_code == 0
    assert "within noise" in console_text(cmp)


def test_improvement_passes_and_is_reported(tmp_path: Path) -> None:
    base = _json(synthetic_run(seed=1), tmp_path / "base.json")
    cur = _json(synthetic_run(seed=2, slowdown=0.7), tmp_path / "cur.json")
    cmp = compare(base, cur)
    assert cmp.exit_code == 0
    assert [r.verdict for r in cmp.rows] == [IMPROVEMENT] * 4
    assert len(cmp.improvements) == 4 and not cmp.regressions
    assert "4 improvement(s)" in console_text(cmp)
    assert json_dict(cmp)["counts"] == {REGRESSION: 0, IMPROVEMENT: 4, NOISE: 0, OK: 0}


def test_single_runs_thresholds_decide_as_json_and_as_csv(tmp_path: Path) -> None:
    """The window noise of one run says nothing about run-to-run noise: single runs are judged by
    the thresholds alone (the reported figures: the last three windows), and the note says so."""
    flat = [1.0] * 8
    b = synthetic_run((1,), seed=1, lat_factors=NOISE_BASE, tp_factors=flat, jitter=0.02)
    c = synthetic_run((1,), seed=1, lat_factors=NOISE_CUR, tp_factors=flat, jitter=0.02)
    as_json = compare(_json(b, tmp_path / "b.json"), _json(c, tmp_path / "c.json"))
    as_csv = compare(_csv(b, tmp_path / "b.csv"), _csv(c, tmp_path / "c.csv"))
    for cmp, reason in ((as_json, "n/a (1 vs 1 run)"), (as_csv, "n/a (CSV)")):
        (p99,) = _rows(cmp, "p99 latency")
        assert p99.change_pct == pytest.approx(12.8, abs=0.05)
        assert p99.verdict == REGRESSION and cmp.exit_code == 1
        assert p99.significance.reason == reason and p99.significance.ci is None
        assert any("could not account for run-to-run noise" in n and "--repeat 3" in n
                   for n in cmp.notes)
        assert cmp.method == METHOD_THRESHOLD


def test_json_and_in_memory_runs_agree(tmp_path: Path) -> None:
    run = synthetic_run(seed=4, queue_us=120.0)
    loaded = _json(run, tmp_path / "r.json")
    live = side_from_run(run, "live")
    assert loaded.columns == live.columns and "Server Queue" in live.columns
    for key, point in live.points.items():
        assert dict(loaded.points[key].values) == pytest.approx(dict(point.values))
    assert live.points[1.0].values["Server Queue"] == pytest.approx(120.0, rel=0.1)


def test_csv_and_run_figures_agree_to_the_csv_rounding(tmp_path: Path) -> None:
    run = synthetic_run(seed=5, queue_us=80.0)
    csv_side = _csv(run, tmp_path / "r.csv")
    live = side_from_run(run, "live")
    for key, point in csv_side.points.items():
        for column, value in point.values.items():
            assert live.points[key].values[column] == pytest.approx(value, abs=1.0, rel=1e-5)


def test_absolute_check_on_server_queue(tmp_path: Path) -> None:
    from perfanalyzer.gate.checks import parse_check

    base = side_from_run(_reps((1, 2, 3), queue_us=100.0), "b")
    cur = side_from_run(_reps((4, 5, 6), queue_us=400.0), "c")
    cmp = compare(base, cur, [parse_check("Server Queue:+100us")])
    queue = _rows(cmp, "Server Queue")
    assert [r.verdict for r in queue] == [REGRESSION, REGRESSION]
    assert all(r.delta > 250 for r in queue)
    assert queue[0].significance.ci is not None and not queue[0].significance.ci_relative


def test_one_side_with_a_single_run_uses_the_other_sides_spread() -> None:
    base = side_from_run(_reps((1, 2, 3, 4)), "b")
    cur = side_from_run(synthetic_run(seed=9, slowdown=1.3), "c")
    cmp = compare(base, cur)
    assert cmp.exit_code == 1 and cmp.runs == (4, 1)
    assert all(r.significance.method == METHOD_POOLED and r.significance.samples == (4, 1)
               for r in cmp.rows)
    assert any("single run" in n for n in cmp.notes)


def test_partial_overlap_lists_the_ignored_points() -> None:
    base = side_from_run(synthetic_run((1, 2, 4), seed=1), "b")
    cur = side_from_run(synthetic_run((2, 4, 8), seed=2), "c")
    cmp = compare(base, cur)
    assert cmp.matched == (2.0, 4.0) and cmp.only_baseline == (1.0,) and cmp.only_current == (8.0,)
    assert "Concurrency 1 only in the baseline: ignored" in cmp.notes
    assert "Concurrency 8 only in the current run: ignored" in cmp.notes


def test_no_common_load_point_cannot_compare() -> None:
    base = side_from_run(synthetic_run((1, 2), seed=1), "base.json")
    cur = side_from_run(synthetic_run((4, 8), seed=2), "cur.json")
    with pytest.raises(CompareError, match=r"cur.json: no common load point with base.json "
                                           r"\(Concurrency \{1, 2\} vs \{4, 8\}\)") as e:
        compare(base, cur)
    assert e.value.exit_code == 2


def test_other_load_mode_cannot_compare() -> None:
    base = load_side(GOLDEN / "perf_analyzer_2.50_concurrency.csv")
    cur = load_side(GOLDEN / "perf_analyzer_2.50_request_rate.csv")
    with pytest.raises(CompareError, match=r"load mode 'Request Rate' does not match "
                                           r"'Concurrency' of .*concurrency\.csv"):
        compare(base, cur)


def test_identical_perf_analyzer_csvs_pass_with_zero_change() -> None:
    side = load_side(GOLDEN / "perf_analyzer_2.50_decoupled.csv")
    assert "Response Throughput" in side.columns
    cmp = compare(side, side, all_metrics=True)
    assert cmp.exit_code == 0 and len(cmp.rows) == len(side.columns)
    assert {r.change_pct for r in cmp.rows} == {0.0}
    assert [r.verdict for r in cmp.rows if r.check] == [OK, OK]


def test_provenance_and_config_differences_warn_loudly(tmp_path: Path) -> None:
    other_machine = {**PROVENANCE, "hostname": "laptop", "cpus": 8}
    other_config = {**CONFIG, "batch_size": 4, "shared_memory": "system",
                    "url": "127.0.0.1:9999", "filename": "elsewhere.csv"}
    base = _json(synthetic_run(seed=1), tmp_path / "b.json")
    cur = _json(synthetic_run(seed=2, provenance=other_machine, config=other_config),
                tmp_path / "c.json")
    cmp = compare(base, cur, different_model=True)  # another batch size: an error without it
    assert cmp.warnings == (
        "machine/version cpus: 16 (baseline) vs 8 (current)",
        'machine/version hostname: "ci-runner-1" (baseline) vs "laptop" (current)',
        "config batch_size: 1 (baseline) vs 4 (current)",
        'config shared_memory: "none" (baseline) vs "system" (current)',
    )  # the port and the CSV file name do not count
    text = console_text(cmp)
    assert text.splitlines()[2].startswith("WARNING: baseline and current were NOT measured")
    assert "> [!WARNING]" in markdown_text(cmp)
    assert json_dict(cmp)["warnings"] == list(cmp.warnings)


def test_transport_and_event_loop_differences_warn(tmp_path: Path) -> None:
    """The send path and the event loop change the client's cost: recorded in provenance (and as
    --grpc-transport / --event-loop in the config), a difference is a warning."""
    base = _json(synthetic_run(seed=1, provenance={**PROVENANCE, "event_loop": "uvloop",
                                                   "transport": "grpc-lean"},
                               config={**CONFIG, "grpc_transport": "lean", "event_loop": "auto"}),
                 tmp_path / "b.json")
    cur = _json(synthetic_run(seed=2, provenance={**PROVENANCE, "event_loop": "asyncio",
                                                  "transport": "grpcio"},
                              config={**CONFIG, "grpc_transport": "grpcio",
                                      "event_loop": "asyncio"}),
                tmp_path / "c.json")
    warnings = compare(base, cur).warnings
    for line in ('machine/version event_loop: "uvloop" (baseline) vs "asyncio" (current)',
                 'machine/version transport: "grpc-lean" (baseline) vs "grpcio" (current)',
                 'config event_loop: "auto" (baseline) vs "asyncio" (current)',
                 'config grpc_transport: "lean" (baseline) vs "grpcio" (current)'):
        assert line in warnings


def test_same_conditions_do_not_warn(tmp_path: Path) -> None:
    cmp = compare(_json(synthetic_run(seed=1), tmp_path / "b.json"),
                  _json(synthetic_run(seed=2), tmp_path / "c.json"))
    assert cmp.warnings == () and "WARNING" not in console_text(cmp)


def test_markdown_summary(tmp_path: Path) -> None:
    cmp = compare(side_from_run(synthetic_run(seed=1), "base.json"),
                  side_from_run(synthetic_run(seed=2, slowdown=1.3), "cur.json"))
    md = markdown_text(cmp)
    lines = md.splitlines()
    assert lines[0] == "### ❌ perfanalyzer compare: regression"
    assert "Baseline `base.json` vs current `cur.json`." in lines
    header = ("| Concurrency | metric | baseline | current | change | threshold | "
              "interval of change | verdict |")
    assert header in lines
    table = [ln for ln in lines if ln.startswith("| 1 |") or ln.startswith("| 2 |")]
    assert len(table) == 4 and all(ln.endswith("| **REGRESSION** |") for ln in table)
    assert lines[-1].startswith("**RESULT: REGRESSION")


def test_json_verdict(tmp_path: Path) -> None:
    cmp = compare(side_from_run(_reps((1, 2, 3)), "base.json"),
                  side_from_run(_reps((4, 5, 6), slowdown=1.3), "cur.json"))
    doc = json.loads(json.dumps(json_dict(cmp), allow_nan=False))
    assert (doc["status"], doc["exit_code"], doc["error"]) == ("regression", 1, None)
    assert [c["spec"] for c in doc["checks"]] == ["throughput:-5%", "p99:+10%"]
    assert doc["checks"][0]["fails_on"] == "drop" and doc["checks"][1]["fails_on"] == "rise"
    row = doc["rows"][0]
    assert row["metric"] == "Inferences/Second" and row["verdict"] == "REGRESSION"
    assert row["runs"] == [3, 3] and row["confidence"] == 0.95 and row["df"] > 1
    assert row["ci_unit"] == "%" and row["ci"][0] < row["change_pct"] < row["ci"][1] < -5
    assert row["method"] == METHOD_WELCH == doc["method"]
    assert doc["runs"] == {"baseline": 3, "current": 3} and doc["unstable_points"] == []
    assert doc["counts"]["REGRESSION"] == 4
    failed = json_dict(Comparison.failed("a.csv", "b.csv", "a.csv: cannot read"))
    assert (failed["status"], failed["exit_code"], failed["rows"]) == ("error", 2, [])


def test_unstable_points_are_noted() -> None:
    import dataclasses

    from perfanalyzer.measure.stabilizer import Verdict

    run = synthetic_run((1, 2), seed=2)
    shaky = Verdict(done=True, stable=False, reason="max_trials", throughput_spread=0.3,
                    latency_spread=0.3, over_threshold=False)
    run.points[1] = dataclasses.replace(run.points[1], verdict=shaky)
    cmp = compare(side_from_run(synthetic_run((1, 2), seed=1), "b"), side_from_run(run, "c"))
    assert cmp.unstable == ("current c: Concurrency 2 did not stabilize: its figures are "
                            "unreliable",)
    assert "WARNING: some compared load points did not stabilize:" in console_text(cmp)
    assert json_dict(cmp)["unstable_points"] == list(cmp.unstable)
    reps = combine_runs([synthetic_run((1, 2), seed=3), run, synthetic_run((1, 2), seed=4)])
    cmp = compare(side_from_run(reps, "b"), side_from_run(synthetic_run((1, 2), seed=1), "c"))
    assert cmp.unstable == ("baseline b: Concurrency 2 did not stabilize (run 2 of 3): its "
                            "figures are unreliable",)


def test_provenance_keys_are_compared_generically(tmp_path: Path) -> None:
    """A key one side lacks (e.g. a transport or event loop a newer version records) and nested
    keys (the server's version) warn too; the repeat count does not (the verdict accounts for it)."""
    newer = {**PROVENANCE, "transport": "grpc-aio", "server": {"name": "triton", "version": "2.51"}}
    older = {**PROVENANCE, "server": {"name": "triton", "version": "2.50"}}
    base = side_from_run(synthetic_run(seed=1, provenance=older), "b")
    cur = side_from_run(synthetic_run(seed=2, provenance=newer,
                                      config={**CONFIG, "repeat": 3}), "c")
    assert compare(base, cur).warnings == (
        'machine/version server.version: "2.50" (baseline) vs "2.51" (current)',
        'machine/version transport: (absent) (baseline) vs "grpc-aio" (current)',
    )
