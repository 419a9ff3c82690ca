"""``--repeat N``: the pooled run, its export and re-report, and the gate catching a real +15 %
delay change against the real Triton (the ``delay`` model vs ``delay_slow``, 50 vs 57.5 ms)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from perfanalyzer.report.csv import csv_text
from perfanalyzer.report.export import write_export
from perfanalyzer.report.repeat import intervals_text, plain, point_intervals
from perfanalyzer.report.saved import console_text, load_run
from perfanalyzer.results.combine import combine_runs, merged_windows
from tests.support.synthetic_runs import synthetic_run


def test_pooled_run_pools_the_merged_windows_of_every_run() -> None:
    runs = [synthetic_run((1, 2), seed=s, window_sigma=0.0, jitter=0.0) for s in (1, 2, 3)]
    pooled = combine_runs(runs)
    assert pooled.replicates == runs and [p.level for p in pooled.points] == [1.0, 2.0]
    for point in pooled.points:
        assert len(point.windows) == 9 and point.merged.windows == 9  # 3 runs x 3 merged windows
        assert point.merged.completed == 3 * sum(
            w.summary.completed for w in merged_windows(runs[0].points[int(point.level) - 1]))
        assert point.merged.throughput == pytest.approx(100.0 * point.level)
        assert point.merged.latency.p(99) == 10_000_000  # shifting times changes no latency
    assert len(csv_text(pooled).splitlines()) == 3  # header + one row per load point
    assert combine_runs(runs[:1]) is runs[0]


def test_intervals_across_runs() -> None:
    runs = [synthetic_run((1,), seed=1, slowdown=f, window_sigma=0.0, jitter=0.0)
            for f in (1.0, 1.1, 0.9)]
    ((level, n, ivs),) = point_intervals(combine_runs(runs))
    assert (level, n) == (1.0, 3)
    p50 = ivs["p50 latency (us)"]
    assert p50.mean == pytest.approx(10_000.0) and p50.std == pytest.approx(1000.0)
    assert p50.half_width == pytest.approx(4.302653 * 1000.0 / 3 ** 0.5, rel=1e-6)
    text = intervals_text(combine_runs(runs))
    assert "Across 3 runs" in text and "10000 ± 2484" in text


def test_plain_numbers() -> None:
    assert plain(1037230.0) == "1037230" and plain(79.83124) == "79.8312"
    assert plain(88.0) == "88" and plain(0.000123) == "0.000123"
    assert plain(79.83124, 0.41) == "79.83" and plain(0.41, 0.41) == "0.41"
    assert plain(1037230.0, 2500.0) == "1037230" and "e" not in plain(1.5e9)


def test_repeated_export_re_reports(tmp_path: Path) -> None:
    pooled = combine_runs([synthetic_run(seed=s, queue_us=50.0) for s in (1, 2, 3)])
    path = tmp_path / "r.json"
    write_export(pooled, path)
    doc = json.loads(path.read_text())
    assert len(doc["experiments"]) == 6 and len(doc["perfanalyzer"]["repeats"]) == 2
    back = load_run(path)
    assert len(back.replicates) == 3
    assert csv_text(back) == csv_text(pooled)
    assert console_text(back) == console_text(pooled)
    assert console_text(back).count("*** Run ") == 3
    single = tmp_path / "one.json"
    write_export(pooled.replicates[0], single)
    assert "repeats" not in json.loads(single.read_text())["perfanalyzer"]


# --- against the real Triton ---------------------------------------------------------------------

def _pa(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "perfanalyzer", *args], capture_output=True,
                          text=True, timeout=300, check=False)


@pytest.mark.server
@pytest.mark.slow
def test_repeat_3_catches_a_15_percent_slower_delay(triton: Any, tmp_path: Path) -> None:
    # This test is about --repeat and the gate, not stability: 500 ms windows hold ~38 requests
    # (300 ms held ~24, short enough to miss -s 10 from the counting alone on a loaded machine),
    # and -s 25 leaves room for a stalled client; the gate's intervals come from the runs alone.
    common = ["-u", triton.http_url, "--concurrency-range", "4", "-p", "500", "-s", "25",
              "--repeat", "3"]
    base, base_csv = tmp_path / "base.json", tmp_path / "base.csv"
    live = _pa("-m", "delay", *common, "--profile-export-file", str(base), "-f", str(base_csv))
    assert live.returncode == 0, live.stderr
    assert live.stdout.count("*** Run ") == 3 and "Across 3 runs" in live.stdout
    assert len(base_csv.read_text().splitlines()) == 2  # one row: the runs pooled
    doc = json.loads(base.read_text())
    assert len(doc["perfanalyzer"]["repeats"]) == 2 and len(doc["experiments"]) == 3
    again = _pa("report", str(base))
    assert again.returncode == 0 and again.stdout == live.stdout  # re-reported byte for byte

    js = tmp_path / "verdict.json"
    # delay_slow stands for a slower build of delay: another model name, so the gate refuses it
    # unless told the comparison is meant (and the verdict line names the gate, not stability)
    slow_json = tmp_path / "slow.json"
    slow = _pa("-m", "delay_slow", *common, "--baseline", str(base),
               "--profile-export-file", str(slow_json))
    assert slow.returncode == 2, slow.stdout + slow.stderr
    assert "is not the baseline's 'delay'" in slow.stdout
    assert "Exit 2: --baseline could not be compared." in slow.stderr
    assert "did not stabilize" not in slow.stderr
    meant = _pa("compare", str(base), str(slow_json), "--allow-different-model")
    assert meant.returncode == 1, meant.stdout + meant.stderr
    assert "(3v3 runs)" in meant.stdout and "RESULT: REGRESSION" in meant.stdout
    print(meant.stdout)
    same = _pa("compare", str(base), str(base), "--json", str(js))
    assert same.returncode == 0, same.stdout
    verdict = json.loads(js.read_text())
    assert verdict["status"] == "pass" and verdict["runs"] == {"baseline": 3, "current": 3}
    assert {r["verdict"] for r in verdict["rows"]} == {"ok"}
    assert all(r["change_pct"] == 0.0 and r["ci"][0] < 0 < r["ci"][1] for r in verdict["rows"])
