"""The command line in request-rate, custom-interval, sequence and streaming modes against the real
Triton: CSV and console figures, and one-line errors (exit 3) before any request is sent."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from perfanalyzer.cli.main import main

pytestmark = pytest.mark.server


def _counts(url: str) -> dict[str, int]:
    """Every model's inference count plus failed requests: any request that reached a model."""
    with urllib.request.urlopen(f"http://{url}/v2/models/stats", timeout=30) as r:
        stats = json.load(r)["model_stats"]
    return {f"{s['name']}/{s['version']}": int(s["inference_count"])
            + int(s["inference_stats"]["fail"]["count"]) for s in stats}


def _main(*args: str) -> int:
    with pytest.raises(SystemExit) as done:
        main(list(args))
    code = done.value.code
    return code if isinstance(code, int) else 1


def _cli(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "perfanalyzer", *args], capture_output=True,
                          text=True, timeout=timeout, check=False)


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open() as f:
        return list(csv.DictReader(f))


def _bad_inputs(tmp: Path) -> list[tuple[list[str], str]]:
    (tmp / "empty.txt").write_text("\n\n")
    (tmp / "words.txt").write_text("1000\n2000\nsoon\n")
    (tmp / "zero.txt").write_text("1000\n0\n")
    return [
        (["-m", "add_sub", "--request-rate-range", "0"], "--request-rate-range: start must be > 0"),
        (["-m", "add_sub", "--request-rate-range", "-5:10"], "--request-rate-range"),
        (["-m", "add_sub", "--request-rate-range", "fast"], "--request-rate-range"),
        (["-m", "add_sub", "--request-rate-range", "10:20:0"], "step must be > 0"),
        (["-m", "add_sub", "--request-intervals", str(tmp / "empty.txt")], "file is empty"),
        (["-m", "add_sub", "--request-intervals", str(tmp / "words.txt")],
         "words.txt:3: 'soon' is not a positive integer interval"),
        (["-m", "add_sub", "--request-intervals", str(tmp / "zero.txt")], "zero.txt:2: '0'"),
        (["-m", "add_sub", "--request-intervals", str(tmp / "missing.txt")], "cannot read"),
        (["-m", "add_sub", "--request-rate-range", "10", "--max-threads", "-1"], "--max-threads"),
        (["-m", "add_sub", "--sequence-length", "5"],
         "--sequence-length: model 'add_sub' has no sequence batching"),
        (["-m", "add_sub", "--request-rate-range", "10", "--serial-sequences"],
         "--serial-sequences: model 'add_sub' has no sequence batching"),
        (["-m", "sequence_acc", "--request-rate-range", "10", "--num-of-sequences", "4",
          "--sequence-id-range", "1:2"],
         "--sequence-id-range 1:2 holds 2 ids, fewer than the 4 sequences"),
        (["-m", "sequence_acc", "--concurrency-range", "3", "--sequence-id-range", "5:6"],
         "--sequence-id-range 5:6 holds 2 ids, fewer than the 3"),
        (["-m", "sequence_acc", "-b", "2"], "-b: model 'sequence_acc' is a sequence model"),
        (["-m", "repeat", "-i", "grpc", "--shape", "IN:4"],
         "-m: model 'repeat' is decoupled; profile it with -i grpc --streaming or -i http "
         "--endpoint generate_stream"),
        (["-m", "repeat", "--streaming", "--shape", "IN:4"],
         "--streaming: streaming needs the gRPC protocol"),
    ]


def test_bad_load_options_are_one_line_errors_before_any_request(
        triton: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = _counts(triton.http_url)
    for args, message in _bad_inputs(tmp_path):
        url = triton.grpc_url if "grpc" in args else triton.http_url
        code = _main("-u", url, *args)
        err = capsys.readouterr().err.strip()
        assert code == 3, (args, err)
        assert err.startswith("error: ") and message in err, (args, err)
        assert len(err.splitlines()) == 1, (args, err)
    assert _counts(triton.http_url) == before  # not one request reached a model


def test_a_bad_rate_exits_3_from_the_real_command(triton: Any) -> None:
    p = _cli("-m", "add_sub", "-u", triton.http_url, "--request-rate-range", "0:10")
    assert p.returncode == 3
    assert p.stderr.strip().splitlines() == [
        "error: --request-rate-range: start must be > 0, got 0"]


@pytest.mark.slow
def test_request_rate_sweep_csv_and_achieved_rate(triton: Any, tmp_path: Path) -> None:
    out = tmp_path / "rate.csv"
    # 2 s windows: a send or an answer a busy box shifts across a window edge moves a 1 s
    # window's figure at 100/s by 1 %. Up to 10 windows (-r): on a busy box a latency spike can
    # keep 3 windows in a row from agreeing even within 90 % (a clean-clone CI run saw exit 2 with
    # -r 4); a stable point still needs 3 that agree.
    p = _cli("-m", "add_sub", "-u", triton.http_url, "--request-rate-range", "100:200:100",
             "-p", "2000", "-r", "10", "-s", "90", "-f", str(out))
    assert p.returncode == 0, p.stderr
    rows = _rows(out)
    assert next(iter(rows[0])) == "Request Rate"
    assert [float(r["Request Rate"]) for r in rows] == [100.0, 200.0]
    for rate, r in zip((100.0, 200.0), rows, strict=True):
        assert float(r["Inferences/Second"]) == pytest.approx(rate, rel=0.03)
    sent = [float(line.split(":")[1].split()[0]) for line in p.stdout.splitlines()
            if "Avg send request rate" in line]
    # Window edges fall wherever the loop wakes (the 1 % check on records is in
    # test_request_rate.py); a busy box can shift a few sends across an edge.
    assert sent == [pytest.approx(100.0, rel=0.02), pytest.approx(200.0, rel=0.02)]
    assert "Avg latency from scheduled send" in p.stdout


@pytest.mark.slow
def test_custom_intervals_report_n_over_the_sum(triton: Any, tmp_path: Path) -> None:
    intervals = tmp_path / "intervals.txt"
    intervals.write_text("2000\n8000\n5000\n")  # 3 requests per 15 ms: 200 requests/s
    out = tmp_path / "custom.csv"
    # 2 s windows and up to 10 of them, as in the sweep above: a clean-clone CI run on a busy box
    # saw 1 s windows at 200/s not agree within 90 % four times in a row (exit 2).
    p = _cli("-m", "add_sub", "-i", "grpc", "-u", triton.grpc_url, "--request-intervals",
             str(intervals), "-p", "2000", "-r", "10", "-s", "90", "-f", str(out))
    assert p.returncode == 0, p.stderr
    (row,) = _rows(out)
    assert next(iter(row)) == "Request Rate" and float(row["Request Rate"]) == 200.0
    assert "Request Rate: 200 inference requests per seconds" in p.stdout
    sent = next(float(line.split(":")[1].split()[0]) for line in p.stdout.splitlines()
                if "Avg send request rate" in line)
    assert sent == pytest.approx(200.0, rel=0.02)


@pytest.mark.slow
def test_the_client_says_when_it_cannot_keep_the_rate(triton: Any) -> None:
    # delay takes 50 ms; one request in flight can send 20/s of the 100/s asked.
    p = _cli("-m", "delay", "-u", triton.http_url, "--request-rate-range", "100",
             "--max-threads", "1", "-p", "1000", "-r", "3", "-s", "90")
    assert p.returncode in (0, 2), p.stderr
    (warning,) = [line.strip() for line in p.stdout.splitlines() if "[WARNING] asked" in line]
    assert warning.startswith("[WARNING] asked 100 req/s, sent ")
    sent = float(warning.split("sent ")[1].split()[0])
    assert 10 <= sent <= 21
    late = int(warning.split("); ")[1].split("%")[0])
    assert late >= 90


def _settle(url: str, limit_s: float = 60.0) -> None:
    """Wait (at most ``limit_s``) until the server's counts stop growing for a second: the
    requests a run left queued there are done before the next test measures."""
    deadline = time.monotonic() + limit_s
    before = _counts(url)
    while time.monotonic() < deadline:
        time.sleep(1.0)
        now = _counts(url)
        if now == before:
            return
        before = now


def _peak_in_flight(export: Path) -> int:
    """The most recorded requests in flight at once: +1 at a send, -1 at its last response (the
    windows' requests, those before the first window and the drain's after the last)."""
    doc = json.loads(export.read_text())
    ours = doc["perfanalyzer"]
    reqs = [r for e in doc["experiments"] for r in e["requests"]] + ours["trailing_requests"] \
        + [r for pt in ours["points"] for r in pt.get("unwindowed_requests", [])]
    events = sorted([(r["timestamp"], 1) for r in reqs]
                    + [(r["response_timestamps"][-1], -1) for r in reqs if r["response_timestamps"]])
    peak = now = 0
    for _, step in events:
        now += step
        peak = max(peak, now)
    return peak


@pytest.mark.slow
def test_a_server_that_falls_behind_bounds_the_client(triton: Any, tmp_path: Path) -> None:
    # delay serves 4 x 20/s = 80/s; 1000/s asked without --max-threads: without a default cap
    # the requests in flight grew by ~900/s (a connection each) and outlived the windows. With
    # the cap (1024) the windows end, the drain finishes, the CSV is written and the point says
    # before its numbers that the server fell behind. (The subprocess timeout bounds the run.)
    out, export = tmp_path / "behind.csv", tmp_path / "behind.json"
    try:
        p = _cli("-m", "delay", "-u", triton.http_url, "--request-rate-range", "1000", "-p",
                 "1000", "-r", "3", "-s", "90", "--csv-all-points", "-f", str(out),
                 "--profile-export-file", str(export), timeout=120)
    finally:
        _settle(triton.http_url)  # requests the drain cancelled still queue at the server
    assert p.returncode in (0, 2), p.stderr
    lines = p.stdout.splitlines()
    (behind,) = [i for i, line in enumerate(lines) if "[WARNING] The server fell behind" in line]
    assert lines[behind].strip().startswith("[WARNING] The server fell behind: asked 1000 req/s")
    assert lines[behind + 1] == "  Client: "  # said before the numbers
    grew = int(lines[behind].split("grew by ")[1].split()[0])
    assert grew > 0
    (row,) = _rows(out)
    assert float(row["Request Rate"]) == 1000.0 and float(row["Inferences/Second"]) > 0
    peak = _peak_in_flight(export)
    assert 900 <= peak <= 1024  # the cap was reached and held
