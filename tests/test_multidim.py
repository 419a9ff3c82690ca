"""Multi-dimensional sweeps: -b lists and --shape sets parsed, one combined CSV with a row per
combination (keys leading, the rest perf_analyzer's columns), one export whose requests match the
server's own counter exactly, a figure per dimension, a bad combination refused before load, and
Ctrl-C that writes the combinations measured so far."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from perfanalyzer.config.dims import parse_batch_sizes, parse_shape_sets
from perfanalyzer.errors import OptionError
from perfanalyzer.report.combined import KEY_COLUMNS
from perfanalyzer.report.combined_plots import dimension_figures, read_combined
from tests.support.triton_stats import settled_success_count, success_count

MODEL = "identity_fp32"  # max_batch_size 8, INPUT0 dims [-1]


def test_batch_size_lists() -> None:
    assert parse_batch_sizes("1") == (1,)
    assert parse_batch_sizes(4) == (4,)
    assert parse_batch_sizes("1,2, 8") == (1, 2, 8)
    for bad in ("0", "1,x", "", "2,2", "-1"):
        with pytest.raises(OptionError, match=r"^-b"):
            parse_batch_sizes(bad)


def test_shape_sets_keep_the_single_shape_meaning_and_zip_alternatives() -> None:
    assert parse_shape_sets(["A:1,2", "B:3"]) == ((("A", (1, 2)), ("B", (3,))),)
    assert parse_shape_sets([]) == ((),)
    sets = parse_shape_sets(["C:7", "A:1,2|3,4", "ns:B:5|6"])
    assert sets == ((("C", (7,)), ("A", (1, 2)), ("ns:B", (5,))),
                    (("C", (7,)), ("A", (3, 4)), ("ns:B", (6,))))
    with pytest.raises(OptionError, match=r"--shape B:5\|6\|7: 3 alternatives"):
        parse_shape_sets(["A:1|2", "B:5|6|7"])
    with pytest.raises(OptionError, match="--shape"):
        parse_shape_sets(["A:1|x"])


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "perfanalyzer", *args], capture_output=True,
                          text=True, timeout=180, check=False)


def _count_requests(run: dict[str, Any]) -> int:
    pa = run["perfanalyzer"]
    return (sum(len(e["requests"]) for e in run["experiments"])
            + sum(len(p.get("unwindowed_requests", ())) for p in pa["points"])
            + len(pa["trailing_requests"]))


@pytest.mark.server
def test_batch_by_shape_sweep_writes_one_csv_and_one_export(triton: Any, tmp_path: Path) -> None:
    url = triton.http_url
    out, export = tmp_path / "all.csv", tmp_path / "all.json"
    before = success_count(url, MODEL)
    res = _cli("-u", url, "-m", MODEL, "-b", "1,2", "--shape", "INPUT0:4|8",
               # --request-count is one level only (perf_analyzer's rule): short loose windows
               "--concurrency-range", "1:2", "-p", "100", "-s", "1000", "-f", str(out),
               "--profile-export-file", str(export))
    assert res.returncode == 0, res.stderr
    doc = json.loads(export.read_text())
    combos = doc["combinations"]
    sent = sum(_count_requests(c["run"]) for c in combos)
    # Every request the export holds is exactly one the server served (batch 1 and 2 alike).
    assert settled_success_count(url, MODEL, before + sent) - before == sent
    rows = list(csv.reader(out.read_text().splitlines()))
    single = tmp_path / "one.csv"
    one = _cli("-u", url, "-m", MODEL, "-b", "2", "--shape", "INPUT0:8", "--request-count",
               "10", "-f", str(single))
    assert one.returncode == 0, one.stderr
    single_header = single.read_text().splitlines()[0]
    assert single_header.startswith("Concurrency,Inferences/Second,")
    assert rows[0] == [*KEY_COLUMNS, *single_header.split(",")]
    keys = [(r[0], r[1], r[2]) for r in rows[1:]]
    assert sorted(keys) == sorted((b, f"INPUT0:{s}", c) for b in ("1", "2") for s in ("4", "8")
                                  for c in ("1", "2"))
    assert [(c["batch_size"], c["shape_set"]) for c in combos] == [
        (1, "INPUT0:4"), (1, "INPUT0:8"), (2, "INPUT0:4"), (2, "INPUT0:8")]
    assert all(c["run"]["perfanalyzer"]["batch_size"] == c["batch_size"] for c in combos)
    df = read_combined(out)
    figs = dimension_figures(df)
    assert set(figs) == {"batch_size", "shape_set"}
    line = next(ln for ln in figs["batch_size"].axes[0].get_lines()
                if ln.get_gid() == "concurrency 1, shape set INPUT0:4")
    want = df[(df["Concurrency"] == 1) & (df["Shape Set"] == "INPUT0:4")]["Inferences/Second"]
    assert list(line.get_ydata()) == list(want)
    plots = _cli("plot", str(out), "-o", str(tmp_path / "plots"), "--format", "png")
    assert plots.returncode == 0, plots.stderr
    assert {p.name for p in (tmp_path / "plots").iterdir()} == {"batch_size_all.png",
                                                                 "shape_set_all.png"}


@pytest.mark.server
def test_a_bad_combination_is_refused_before_any_load(triton: Any, tmp_path: Path) -> None:
    url = triton.http_url
    before = success_count(url, MODEL)
    res = _cli("-u", url, "-m", MODEL, "-b", "1,16", "--shape", "INPUT0:4", "--request-count", "10",
               "-f", str(tmp_path / "x.csv"))
    assert res.returncode == 3, res.stderr
    assert "-b" in res.stderr or "batch" in res.stderr
    assert success_count(url, MODEL) == before
    assert not (tmp_path / "x.csv").exists()


@pytest.mark.server
def test_ctrl_c_writes_the_combinations_measured_so_far(triton: Any, tmp_path: Path) -> None:
    out, export = tmp_path / "all.csv", tmp_path / "all.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "perfanalyzer", "-u", triton.http_url, "-m", MODEL, "-b", "1,2",
         "--shape", "INPUT0:4|8", "--concurrency-range", "1:64", "-p", "300", "-s", "100",
         "-f", str(out), "--profile-export-file", str(export)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not out.exists() and time.monotonic() < deadline:
        time.sleep(0.05)  # the combined CSV appears after the first load point
    os.kill(proc.pid, signal.SIGINT)
    _stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    combos = json.loads(export.read_text())["combinations"]
    assert len(combos) == 1 and combos[0]["run"]["perfanalyzer"]["interrupted"] is True
    assert combos[0]["run"]["perfanalyzer"]["points"]
    assert len(out.read_text().splitlines()) >= 2  # the header and the finished point(s)
