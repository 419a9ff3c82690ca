"""``perfanalyzer compare`` and ``perfanalyzer --baseline``: exit codes, outputs, the real pipeline."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from perfanalyzer.config import RunConfig
from perfanalyzer.gate.hook import baseline_hook
from perfanalyzer.report.repeat import plain
from perfanalyzer.results.combine import combine_runs
from tests.support.cli_runs import compare_in_process as _cli
from tests.support.paths import GOLDEN, PA_CSV
from tests.support.saved_runs import csv_file as _csv_file
from tests.support.saved_runs import export_file as _export
from tests.support.synthetic_runs import synthetic_run

HEADER = PA_CSV.read_text().splitlines()[0]


@pytest.fixture
def slow_pair(tmp_path: Path) -> tuple[Path, Path]:
    return (_csv_file(tmp_path / "base.csv", synthetic_run(seed=1)),
            _csv_file(tmp_path / "cur.csv", synthetic_run(seed=2, slowdown=1.3)))


def test_regression_exits_1_with_table_markdown_and_json(
        capsys: pytest.CaptureFixture[str], slow_pair: tuple[Path, Path], tmp_path: Path) -> None:
    md, js = tmp_path / "summary.md", tmp_path / "verdict.json"
    code, out, err = _cli(capsys, *slow_pair, "--markdown", md, "--json", js)
    assert code == 1 and err == ""
    assert out.splitlines()[0] == f"perfanalyzer compare: baseline {slow_pair[0]} vs current {slow_pair[1]}"
    assert out.count("REGRESSION") == 4 + 1 and "n/a (CSV)" in out
    assert md.read_text().startswith("### ❌ perfanalyzer compare: regression")
    doc = json.loads(js.read_text())
    assert (doc["status"], doc["exit_code"]) == ("regression", 1)
    assert [r["level"] for r in doc["rows"]] == [1.0, 1.0, 2.0, 2.0]


def test_fail_on_replaces_a_default(capsys: pytest.CaptureFixture[str],
                                   slow_pair: tuple[Path, Path]) -> None:
    code, out, _ = _cli(capsys, *slow_pair, "--fail-on", "p99:+50%", "--fail-on", "throughput:-40%")
    assert code == 0 and "+50%" in out and "-40%" in out and "+10%" not in out
    code, out, _ = _cli(capsys, *slow_pair, "--fail-on", "p99:+50%", "--no-default-checks")
    assert code == 0 and "Inferences/Second" not in out


def test_improvement_exits_0(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    base = _csv_file(tmp_path / "b.csv", synthetic_run(seed=1))
    cur = _csv_file(tmp_path / "c.csv", synthetic_run(seed=2, slowdown=0.7))
    code, out, _ = _cli(capsys, base, cur)
    assert code == 0
    assert sum(line.endswith("  improvement") for line in out.splitlines()) == 4
    assert "4 improvement(s)" in out


def test_json_runs_judge_significance(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    reps = [combine_runs([synthetic_run(seed=s, window_sigma=0.05, slowdown=f) for s in seeds])
            for seeds, f in (((1, 2, 3), 1.0), ((4, 5, 6), 1.02))]
    base = _export(tmp_path / "b.json", reps[0])
    cur = _export(tmp_path / "c.json", reps[1])
    code, out, _ = _cli(capsys, base, cur, "--all-metrics")
    assert code == 0
    assert out.count("95% bounds [") >= 4 and "(3v3 runs)" in out and "Method: Welch" in out
    assert "Avg latency" in out  # --all-metrics lists unchecked columns too


@pytest.mark.parametrize(("make", "message"), [
    (lambda d: d / "missing.csv", "cannot read {d}/missing.csv: No such file or directory"),
    (lambda d: _write(d / "x.bin", b"\x00\xff\xfe" * 50), "{d}/x.bin: "),
    (lambda d: _write(d / "e.csv", b""), "{d}/e.csv: not a readable CSV"),
    (lambda d: _write(d / "w.csv", b"Batch,Inferences/Second\n1,2\n"),
     "{d}/w.csv: first column is 'Batch', expected 'Concurrency' or 'Request Rate'"),
    (lambda d: _write(d / "x.json", b'{"experiments": []}'),
     "{d}/x.json: not a readable perfanalyzer run"),
    (lambda d: _write(d / "y.json", b"{not json"), "{d}/y.json: not a readable perfanalyzer run"),
])
def test_unreadable_file_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                 make: Any, message: str) -> None:
    bad = make(tmp_path)
    js = tmp_path / "verdict.json"
    code, out, err = _cli(capsys, PA_CSV, bad, "--json", js)
    assert code == 2
    assert err.startswith("error: " + message.format(d=tmp_path)), err
    assert len(err.strip().splitlines()) == 1
    assert "RESULT: cannot compare" in out
    doc = json.loads(js.read_text())
    assert (doc["status"], doc["exit_code"]) == ("error", 2) and doc["error"] in err


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_mismatched_load_points_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    other = _write(tmp_path / "c8.csv", f"{HEADER}\n8,1000,1,1,1,1,1,1,1,1,1,1,1\n".encode())
    md = tmp_path / "s.md"
    code, _, err = _cli(capsys, PA_CSV, other, "--markdown", md)
    assert code == 2
    assert f"{other}: no common load point with {PA_CSV} (Concurrency {{1}} vs {{8}})" in err
    assert md.read_text().startswith("### ⚠️ perfanalyzer compare: cannot compare")
    rate = GOLDEN / "perf_analyzer_2.50_request_rate.csv"
    code, _, err = _cli(capsys, PA_CSV, rate)
    assert code == 2 and "load mode 'Request Rate' does not match 'Concurrency'" in err


@pytest.mark.parametrize(("args", "message"), [
    (["--fail-on", "p99+10%"], "--fail-on 'p99+10%': expected METRIC:+N%"),
    (["--fail-on", "p99:+10"], "give a unit"),
    (["--fail-on", "p75:+1%"], "metric 'p75' ('p75 latency') is not a column of both runs"),
    (["--fail-on", "throughput:+3ms"], "is a rate"),
    (["--alpha", "2"], "--alpha must be between 0 and 0.5"),
    (["--no-such-flag"], "--no-such-flag"),
    (["--alpha", "x"], "'x' is not a valid float"),
])
def test_option_errors_exit_2(capsys: pytest.CaptureFixture[str], args: list[str],
                              message: str) -> None:
    code, _, err = _cli(capsys, PA_CSV, PA_CSV, *args)
    assert code == 2 and message in err, err


def test_missing_argument_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _cli(capsys, PA_CSV)
    assert code == 2 and "Missing argument 'CURRENT'" in err


def test_subprocess_exit_codes(slow_pair: tuple[Path, Path], tmp_path: Path) -> None:
    js = tmp_path / "v.json"
    r = subprocess.run([sys.executable, "-m", "perfanalyzer", "compare", *map(str, slow_pair),
                        "--json", str(js)], capture_output=True, text=True, timeout=120,
                       check=False)
    assert r.returncode == 1, r.stderr
    assert "RESULT: REGRESSION" in r.stdout and json.loads(js.read_text())["exit_code"] == 1
    r = subprocess.run([sys.executable, "-m", "perfanalyzer", "compare", str(PA_CSV), str(PA_CSV)],
                       capture_output=True, text=True, timeout=120, check=False)
    assert r.returncode == 0 and "RESULT: pass, no regression" in r.stdout
    r = subprocess.run([sys.executable, "-m", "perfanalyzer", "compare", "--help"],
                       capture_output=True, text=True, timeout=120, check=False)
    assert r.returncode == 0 and "--fail-on" in r.stdout and "2 cannot compare" in r.stdout


def test_the_profile_command_calls_the_gate_only_with_baseline(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from perfanalyzer.gate import hook
    from perfanalyzer.profile import flow

    calls: list[str | None] = []

    def fake(baseline: str | None, _run: object) -> int:
        calls.append(baseline)
        return 1

    monkeypatch.setattr(hook, "baseline_hook", fake)
    run = synthetic_run(seed=2)
    assert flow.gate_code(RunConfig.of(model="synthetic"), run) == 0
    assert flow.gate_code(RunConfig.of(model="synthetic", baseline="b.json"), run) == 1
    assert calls == ["b.json"]


def test_baseline_hook(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                       capsys: pytest.CaptureFixture[str]) -> None:
    summary = tmp_path / "step_summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    base = _export(tmp_path / "base.json", combine_runs([synthetic_run(seed=s) for s in (1, 3)]))
    cfg = str(base)
    current = combine_runs([synthetic_run(seed=s, slowdown=1.3) for s in (2, 4)])
    assert baseline_hook(cfg, current) == 1
    out = capsys.readouterr().out
    assert f"baseline {base} vs current this run" in out and "(2v2 runs)" in out
    text = summary.read_text()
    assert text.startswith("earlier step\n### ❌ perfanalyzer compare: regression")
    assert baseline_hook(cfg, synthetic_run(seed=2, slowdown=0.7)) is None  # improvement
    assert baseline_hook(None, synthetic_run(seed=2)) is None
    missing = str(tmp_path / "nope.json")
    assert baseline_hook(missing, synthetic_run(seed=2)) == 2
    assert "error: --baseline: cannot read" in capsys.readouterr().err


# --- the real pipeline: profiles against Triton, exports, the hook ------------------------------

def _pa(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "perfanalyzer", *args], capture_output=True,
                          text=True, timeout=240, check=False)


@pytest.mark.server
@pytest.mark.slow
def test_profile_export_compare_and_baseline_gate(triton: Any, tmp_path: Path) -> None:
    common = ["-m", "delay", "-u", triton.http_url, "--concurrency-range", "2:4:2", "-p", "400",
              "-s", "1000"]  # every point stabilizes (a stalled machine too): both are measured
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    first = _pa(*common, "--profile-export-file", str(a))
    assert first.returncode == 0, first.stderr
    gated = _pa(*common, "--profile-export-file", str(b), "--baseline", str(a))
    assert gated.returncode in (0, 1), gated.stderr  # real noise may go either way
    assert f"perfanalyzer compare: baseline {a} vs current this run" in gated.stdout
    assert "NOT measured under the same conditions" not in gated.stdout  # same machine, settings
    assert "cannot compare" not in gated.stdout

    js = tmp_path / "v.json"
    r = _pa("compare", str(a), str(b), "--json", str(js))
    doc = json.loads(js.read_text())
    assert r.returncode == gated.returncode == doc["exit_code"]
    assert doc["matched"] == [2.0, 4.0] and doc["warnings"] == []
    assert all(row["runs"] == [1, 1] for row in doc["rows"])
    # The hook (run in memory) and compare (both from files) see the same figures.
    for row in doc["rows"]:
        assert plain(row["current"]) in gated.stdout

    same = _pa("compare", str(a), str(a), "--json", str(js))
    assert same.returncode == 0, same.stdout
    rows = json.loads(js.read_text())["rows"]
    assert {r["change_pct"] for r in rows} == {0.0}
    assert all(r["verdict"] in ("within noise", "ok") for r in rows)


@pytest.mark.server
@pytest.mark.slow
def test_baseline_gate_fails_the_profile_on_a_regression(triton: Any, tmp_path: Path) -> None:
    # The delay model serves 4 requests at a time, 50 ms each: ~80 infer/s at concurrency 4.
    fast = _write(tmp_path / "fast.csv", f"{HEADER}\n4,800,0,0,0,0,0,0,0,5000,5000,5000,5000\n".encode())
    slow = _write(tmp_path / "slow.csv", f"{HEADER}\n4,8,0,0,0,0,0,0,0,5e5,5e5,5e5,5e5\n".encode())
    common = ["-m", "delay", "-u", triton.http_url, "--concurrency-range", "4", "-p", "400",
              "-s", "1000"]  # about the gate, not stability: the point must stabilize
    r = _pa(*common, "--baseline", str(fast))
    assert r.returncode == 1, r.stderr
    assert r.stdout.count("REGRESSION") == 2 + 1 and "n/a (CSV)" in r.stdout
    r = _pa(*common, "--baseline", str(slow))
    assert r.returncode == 0, r.stderr
    assert sum(line.endswith("  improvement") for line in r.stdout.splitlines()) == 2
    other = _write(tmp_path / "other.csv", f"{HEADER}\n16,80,0,0,0,0,0,0,0,1,1,1,1\n".encode())
    r = _pa(*common, "--baseline", str(other))
    assert r.returncode == 2 and "error: --baseline:" in r.stderr and "no common load point" in r.stderr
