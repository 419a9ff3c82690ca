"""pandas loaders: perf_analyzer's and our CSVs, saved JSON runs, one-line errors, a cheap import."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import perfanalyzer
from perfanalyzer.errors import OptionError
from perfanalyzer.report.csv import csv_text
from perfanalyzer.report.export import write_export
from tests.support.paths import GOLDEN
from tests.support.saved_runs import CLOCK, WALL, saved_run


@pytest.mark.parametrize("name", ["concurrency", "request_rate", "decoupled"])
def test_read_csv_reads_perf_analyzer_csvs_with_numeric_dtypes(name: str) -> None:
    path = GOLDEN / f"perf_analyzer_2.50_{name}.csv"
    df = perfanalyzer.read_csv(path)
    with path.open() as fh:
        rows = list(csv.reader(fh))
    assert list(df.columns) == rows[0]
    assert len(df) == len(rows) - 1
    assert all(pd.api.types.is_numeric_dtype(t) for t in df.dtypes)
    assert df["Inferences/Second"].dtype == np.float64
    assert df["p99 latency"].dtype == np.int64
    for i, row in enumerate(rows[1:]):
        assert df.iloc[i].tolist() == [float(v) for v in row]
    level = "Request Rate" if name == "request_rate" else "Concurrency"
    assert df.attrs == {"source": str(path), "level": level}
    assert df[level].dtype == (np.float64 if level == "Request Rate" else np.int64)


def test_read_csv_reads_ours_verbose_and_plain(tmp_path: Path) -> None:
    run = saved_run()
    for verbose in (False, True):
        path = tmp_path / f"ours_{verbose}.csv"
        # Every point (the default -f holds the stable one only), with its status as text.
        path.write_text(csv_text(run, verbose=verbose, all_points=True))
        df = perfanalyzer.read_csv(path)
        assert sorted(df["Concurrency"]) == [1, 2]
        assert sorted(df["Status"]) == ["stable", "unstable"]
        by_level = df.set_index("Concurrency")
        for p in run.points:
            assert by_level.loc[int(p.level), "p99 latency"] == p.merged.latency.p(99) // 1000
            assert by_level.loc[int(p.level), "p75 latency"] == p.merged.latency.p(75) // 1000
        assert ("Avg latency" in df.columns) is False  # --percentile given: no Avg column
        assert ("response wait" in df.columns) is verbose


@pytest.mark.parametrize(("text", "message"), [
    ("Concurrency,Client Send,p50 latency\n1,2,3\n",
     r"bad\.csv: not a perf_analyzer CSV: missing column 'Inferences/Second'$"),
    ("Model,Inferences/Second\nx,1\n",
     r"bad\.csv: not a perf_analyzer CSV: first column is 'Model', expected 'Concurrency' or "
     r"'Request Rate'$"),
    ('{"experiments": []}\n', r"bad\.csv: not a perf_analyzer CSV: first column is "),
    ("", r"bad\.csv: not a CSV file \(No columns to parse from file\)$"),
    ("Concurrency,Inferences/Second,Client Send,Client Recv,p50 latency,p90 latency,"
     "p95 latency,p99 latency\n1,10.5,0,0,5,6,7,8\n2,11,0,0,5,six,7,8\n",
     r"bad\.csv: column 'p90 latency' row 2: 'six' is not a number$"),
])
def test_read_csv_errors_name_the_file_and_the_column(tmp_path: Path, text: str,
                                                      message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(OptionError, match=message):
        perfanalyzer.read_csv(path)


def test_read_csv_missing_file(tmp_path: Path) -> None:
    with pytest.raises(OptionError, match=r"nope\.csv: cannot read: No such file"):
        perfanalyzer.read_csv(tmp_path / "nope.csv")


def test_read_run_gives_one_row_per_request_and_per_window(tmp_path: Path) -> None:
    run = saved_run()
    path = tmp_path / "run.json"
    write_export(run, path)
    frames = perfanalyzer.read_run(path)
    buf = run.buffer
    assert buf is not None
    req = frames.requests
    assert len(req) == buf.count == 1 + 35 + 1 + 24 + 2
    assert req["sent_ns"].tolist() == (buf.sent[: buf.count] + WALL - CLOCK).tolist()
    assert req["latency_us"].tolist() == ((buf.last - buf.sent)[: buf.count] / 1e3).tolist()
    assert req["window"].iloc[0] == -1 and not req["in_window"].iloc[0]  # the warm-up request
    assert req["point"].tolist()[-2:] == [1, 1] and req["window"].tolist()[-2:] == [-1, -1]
    assert req.loc[req["status"] != 0, "error"].tolist() == ["[500] model failed",
                                                              "[503] overloaded"]
    assert int(req.loc[req["sequence_id"] == 17, "responses"].iloc[0]) == 3
    assert int(req["merged"].sum()) == sum(p.merged.completed + p.merged.errors
                                           for p in run.points)
    win = frames.windows
    for col in ("level", "window", "start_ns", "end_ns", "duration_s", "Inferences/Second",
                "Avg latency", "p50 latency", "p90 latency", "p95 latency", "p99 latency",
                "p75 latency", "completed", "errors", "merged", "stable"):
        assert col in win.columns
    assert len(win) == 4 + 3
    flat = [(p, w) for p in run.points for w in p.windows]
    assert win["Inferences/Second"].tolist() == [w.summary.throughput for _, w in flat]
    assert win["p99 latency"].tolist() == [w.summary.latency.p(99) / 1e3 for _, w in flat]
    assert win["completed"].tolist() == [w.summary.completed for _, w in flat]
    assert win["merged"].tolist() == [False, True, True, True, True, True, True]
    assert win["stable"].tolist() == [True] * 4 + [False] * 3
    assert win["start_ns"].iloc[0] == flat[0][1].summary.start_ns + WALL - CLOCK
    assert win["Server Queue"].tolist() == [w.summary.server.avg_us("queue")  # type: ignore[union-attr]
                                            for _, w in flat]
    assert win["merged"].dtype == bool and win["completed"].dtype == np.int64
    pts = frames.points
    assert list(pts.columns)[:2] == ["Concurrency", "Inferences/Second"]
    assert sorted(pts["Concurrency"]) == [1, 2]


def test_read_run_without_server_statistics_has_nan_server_columns(tmp_path: Path) -> None:
    path = tmp_path / "run.json"
    write_export(saved_run(server=False, ensemble=False), path)
    win = perfanalyzer.read_run(path).windows
    assert win["Server Queue"].isna().all()


def test_import_perfanalyzer_does_not_import_pandas() -> None:
    code = ("import sys, perfanalyzer; assert 'pandas' not in sys.modules; "
            "f = perfanalyzer.read_csv; assert 'pandas' in sys.modules; "
            "assert 'read_run' in dir(perfanalyzer); print(f.__module__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "perfanalyzer.report.frame"
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        perfanalyzer.nothing  # noqa: B018
