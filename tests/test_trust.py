"""Numbers a performance engineer can trust.

-f holds what perf_analyzer writes (stable points under -l) while every point stays visible
(console, JSON, plots, --csv-all-points); no invented cells; stalls and spreads reported; one
verdict line per run.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from perfanalyzer.measure.metrics import ClientLoad, summarize
from perfanalyzer.measure.stabilizer import NO_REQUESTS_MESSAGE, Verdict
from perfanalyzer.measure.status import Judging, point_status
from perfanalyzer.measure.window import PointResult, Window, merge
from perfanalyzer.records import RecordBuffer
from perfanalyzer.report import console
from perfanalyzer.report.caveats import verdict_line
from perfanalyzer.report.csv import STATUS_COLUMN, csv_text
from perfanalyzer.report.plots import throughput_latency_figure
from tests.support.saved_runs import MS, WINDOW, saved_run

HEADER = ("Concurrency,Inferences/Second,Response Throughput,Client Send,Network+Server Send/Recv,"
          "Server Queue,Server Compute Input,Server Compute Infer,Server Compute Output,"
          "Client Recv,p50 latency,p75 latency,p90 latency,p95 latency,p99 latency")


def _pa(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "perfanalyzer", *args], capture_output=True,
                          text=True, timeout=timeout, check=False)


# --- -f: stable points only; every point elsewhere --------------------------------------------

def test_default_csv_holds_only_stable_points_and_keeps_perf_analyzers_header() -> None:
    run = saved_run()
    assert [p.stable for p in run.points] == [True, False]
    lines = csv_text(run).splitlines()
    assert lines[0] == HEADER
    assert len(lines) == 2 and lines[1].startswith("1,")


def test_csv_all_points_marks_every_point_in_one_trailing_column() -> None:
    run = saved_run()
    rows = list(csv.reader(io.StringIO(csv_text(run, all_points=True))))
    assert rows[0] == [*HEADER.split(","), STATUS_COLUMN]
    assert sorted((r[0], r[-1]) for r in rows[1:]) == [("1", "stable"), ("2", "unstable")]
    # Apart from the status, a row is the row the default CSV writes.
    stable = next(r for r in rows[1:] if r[-1] == "stable")
    assert ",".join(stable[:-1]) == csv_text(run).splitlines()[1]


def test_a_point_over_the_latency_limit_is_not_written() -> None:
    run = saved_run()
    run.record(latency_threshold_ms=0.5)  # every point is slower than 0.5 ms
    assert [run.status(p) for p in run.points] == ["over_limit", "over_limit"]
    assert all(run.judged(p).over_limit for p in run.points)
    assert len(csv_text(run).splitlines()) == 1
    assert "(over the -l limit) [not in -f]" in console.table_text(run)


def test_json_keeps_every_point_with_its_status_and_spread(tmp_path: Path) -> None:
    from perfanalyzer.report.export import export_dict

    doc = export_dict(saved_run())
    points = doc["perfanalyzer"]["points"]
    assert [p["status"] for p in points] == ["stable", "unstable"]
    assert points[0]["verdict"]["throughput_spread"] == 0.05
    assert len(doc["experiments"]) == 2


def test_plot_marks_points_that_are_not_stable() -> None:
    from perfanalyzer.report.frame import frame_from_csv_text
    from perfanalyzer.report.plots import Source

    df = frame_from_csv_text(csv_text(saved_run(), verbose=True, all_points=True), "run.json")
    fig = throughput_latency_figure([Source("run.json", df)])
    gids = [line.get_gid() for line in fig.axes[0].get_lines()]
    flagged = [line for line in fig.axes[0].get_lines()
               if str(line.get_gid()).endswith("|flagged")]
    assert "run.json|p50" in gids and len(flagged) == 3
    assert all(len(line.get_xdata()) == 1 and line.get_marker() == "X" for line in flagged)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert "c=2 (not stable)" in texts and "c=1" in texts


# --- no invented values ------------------------------------------------------------------------

def _window(buf: RecordBuffer, index: int, start: int, n: int, lat_ms: float,
            server: Any = None, percentiles: tuple[int, ...] = ()) -> Window:
    lo = buf.count
    for i in range(n):
        done = start + (i + 1) * WINDOW // (n + 1)
        buf.add_full(done - int(lat_ms * MS), done - int(lat_ms * MS), done, done, 0, 1, 0)
    s = summarize(buf.view(lo, buf.count), start_ns=start, end_ns=start + WINDOW, batch_size=1,
                  server=server, client=ClientLoad(), percentiles=percentiles, sent=n)
    return Window(index, lo, buf.count, s)


def test_a_window_without_server_statistics_leaves_the_point_without_them() -> None:
    run = saved_run(ensemble=False)
    p = run.points[0]
    broken = list(p.windows)
    w = broken[-1]
    broken[-1] = Window(w.index, w.lo, w.hi, dataclasses.replace(w.summary, server=None))
    assert run.buffer is not None
    run.points[0] = dataclasses.replace(p, windows=tuple(broken),
                                        merged=merge(broken[-3:], run.buffer))
    assert run.points[0].merged.server is None
    row = csv_text(run).splitlines()[1].split(",")
    assert row[4:9] == ["", "", "", "", ""]  # Network+Server ... Compute Output: empty, not 0
    text = console.point_text(run, run.points[0], "http")
    assert text.count("statistics could not be read") == 1


def test_extra_percentile_comes_from_the_merged_records_even_if_the_first_window_is_empty() -> None:
    buf = RecordBuffer()
    ws = [_window(buf, 0, 0, 0, 1.0, percentiles=(75,)),
          _window(buf, 1, WINDOW, 10, 2.0, percentiles=(75,)),
          _window(buf, 2, 2 * WINDOW, 10, 4.0, percentiles=(75,))]
    merged = merge(ws, buf, (75,))
    assert merged.latency.p(75) == 4 * MS
    assert merge(ws, buf).latency.p(75) == 4 * MS  # also without being told


def test_a_point_without_completions_gets_perf_analyzers_error_not_zeros() -> None:
    run = saved_run()
    buf = RecordBuffer()
    ws = [_window(buf, i, i * WINDOW, 0, 1.0) for i in range(3)]
    verdict = Verdict(done=True, stable=False, reason="no_requests", throughput_spread=math.inf,
                      latency_spread=math.inf, over_threshold=False)
    point = PointResult(level=3.0, windows=tuple(ws), verdict=verdict, merged=merge(ws, buf))
    text = console.point_text(run, point, "http")
    assert NO_REQUESTS_MESSAGE in text
    assert "Avg latency" not in text and "Throughput" not in text
    run.points.append(point)
    assert point_status(point, Judging()) == "no_requests"
    assert not any(line.startswith("3,") for line in csv_text(run).splitlines())
    row = next(r for r in csv.reader(io.StringIO(csv_text(run, all_points=True)))
               if r[0] == "3")
    assert row[-1] == "no_requests" and row[10:15] == ["", "", "", "", ""]


def test_clamp_warning_when_server_time_exceeds_the_client_wait() -> None:
    run = saved_run(ensemble=False)
    # The synthetic server says ~540 µs per request; make the client latency shorter than that.
    buf = RecordBuffer()
    server = run.points[0].windows[0].summary.server
    ws = [_window(buf, i, i * WINDOW, 5, 0.1, server=server) for i in range(3)]
    point = dataclasses.replace(run.points[0], windows=tuple(ws), merged=merge(ws, buf))
    text = console.point_text(run, point, "http")
    assert console.CLAMP_WARNING in text


def test_settings_say_poisson_under_poisson() -> None:
    kw: dict[str, Any] = dict(batch_size=1, count_windows=False, interval_ms=100,
                              request_count=50, async_mode=True, percentile=-1,
                              mode="request_rate", streaming=False)
    assert "Using uniform distribution" in console.settings_text(**kw)
    text = console.settings_text(**kw, distribution="poisson")
    assert "uniform" not in text and "Using poisson distribution" in text


def test_verdict_line_names_files_counts_and_cause() -> None:
    run = saved_run()
    line = verdict_line(run, ["a.csv"])
    assert line.startswith("Verdict: wrote a.csv; 1 of 2 points stable (1 unstable); likely cause:")
    # Windows of 3-6 requests are too short to judge: perf_analyzer's advice applies.
    assert "window too short" in line and "increase the --measurement-interval" in line


def test_server_noisy_advice_holds_for_a_server_without_statistics() -> None:
    # Long windows (40+ requests) whose latency varies, from a server that reports no statistics:
    # the advice must not speak of the server's own figures, which do not exist here.
    run = saved_run(ensemble=False)
    buf = RecordBuffer()
    ws = [_window(buf, i, i * WINDOW, 40, lat) for i, lat in enumerate((1.0, 2.0, 4.0))]
    verdict = Verdict(done=True, stable=False, reason="unstable", throughput_spread=0.0,
                      latency_spread=3.0, over_threshold=False)
    point = PointResult(level=1.0, windows=tuple(ws), verdict=verdict, merged=merge(ws, buf))
    assert point.merged.server is None
    run.points[:] = [point]
    line = verdict_line(run, None)
    assert "likely cause: server noisy" in line
    assert "server's own figures" not in line
    assert "The measured throughput or latency varied between windows" in line


# --- against the real Triton ------------------------------------------------------------------

@pytest.mark.server
def test_impossible_stability_exits_2_with_an_empty_csv_but_shows_the_point(
        triton: Any, tmp_path: Path) -> None:
    out, js = tmp_path / "perf.csv", tmp_path / "run.json"
    r = _pa("-m", "add_sub", "-u", triton.http_url, "-p", "200", "-s", "0.0001", "-r", "3",
            "-f", str(out), "--profile-export-file", str(js))
    assert r.returncode == 2, r.stderr
    lines = out.read_text().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Concurrency,Inferences/Second,")
    assert "Request concurrency: 1" in r.stdout and "Throughput:" in r.stdout
    # (A window without completions on a stalled machine gives perf_analyzer's other message.)
    assert ("Failed to obtain stable measurement within 3 measurement windows" in r.stdout
            or NO_REQUESTS_MESSAGE in r.stdout)
    assert "(not stable) [not in -f]" in r.stdout
    (point,) = json.loads(js.read_text())["perfanalyzer"]["points"]
    assert point["status"] == "unstable" and point["stable"] is False
    assert point["summary"]["completed"] > 0
    if NO_REQUESTS_MESSAGE not in r.stdout:  # an empty window has no latency spread to judge
        assert point["verdict"]["latency_spread"] is not None
    assert "0 of 1 points stable (1 unstable)" in r.stderr and "Exit 2" in r.stderr
    # The re-report writes the same CSV; --csv-all-points shows the point, marked.
    again, every = tmp_path / "again.csv", tmp_path / "every.csv"
    rep = _pa("report", str(js), "-f", str(again))
    assert rep.returncode == 0, rep.stderr
    assert again.read_bytes() == out.read_bytes()
    assert _pa("report", str(js), "-f", str(every), "--csv-all-points").returncode == 0
    rows = list(csv.reader(io.StringIO(every.read_text())))
    assert rows[0][-1] == STATUS_COLUMN and rows[0][:-1] == lines[0].split(",")
    assert len(rows) == 2 and rows[1][0] == "1" and rows[1][-1] == "unstable"


# --- --latency-from, stalls -------------------------------------------------------------------

def test_latency_from_scheduled_reports_the_corrected_latency_in_csv_table_and_gate() -> None:
    from perfanalyzer.gate.inputs import side_from_run

    run = saved_run(mode="request_rate")
    sent = csv_text(run, all_points=True)
    run.record(latency_from="scheduled")
    scheduled = csv_text(run, all_points=True)
    a = list(csv.DictReader(io.StringIO(sent)))
    b = list(csv.DictReader(io.StringIO(scheduled)))
    for ra, rb, p in zip(a, b, sorted(run.points, key=lambda p: p.merged.throughput),
                         strict=True):
        assert int(ra["p99 latency"]) == p.merged.latency.p(99) // 1000
        assert int(rb["p99 latency"]) == p.merged.corrected.p(99) // 1000
        assert int(rb["p99 latency"]) > int(ra["p99 latency"])  # schedule lag included
    assert "latency from scheduled send" in console.table_text(run)
    side = side_from_run(run, "run")
    point = side.points[min(side.points)]
    assert point.values["Avg latency"] == pytest.approx(run.points[0].merged.corrected.avg_ns / 1e3)


def test_a_window_far_longer_than_asked_is_reported_as_a_stall() -> None:
    from perfanalyzer.report.caveats import stall_lines

    run = saved_run()
    p = run.points[0]
    w = p.windows[1]
    long = dataclasses.replace(w.summary, end_ns=w.summary.start_ns + 5 * WINDOW)
    windows = list(p.windows)
    windows[1] = Window(w.index, w.lo, w.hi, long)
    point = dataclasses.replace(p, windows=tuple(windows))
    assert stall_lines(run, p) == []
    (line,) = stall_lines(run, point)
    assert "Stall: window 2 lasted 0.50 s, 0.1 s asked" in line
    assert line.strip() in console.point_text(run, point, "http")


def test_a_latency_spread_far_outside_s_is_reported() -> None:
    from perfanalyzer.report.caveats import spread_lines

    run = saved_run()
    p = run.points[0]
    wide = dataclasses.replace(p, verdict=dataclasses.replace(p.verdict, latency_spread=0.8))
    assert not any("far outside" in line for line in spread_lines(run, p))
    (line,) = [x for x in spread_lines(run, wide) if "far outside" in x]
    assert "Latency spread 80%" in line and "-s 10%" in line


def test_the_verdict_blames_a_saturated_client_and_withholds_the_interval_advice() -> None:
    run = saved_run()
    p = run.points[1]
    busy = [Window(w.index, w.lo, w.hi, dataclasses.replace(
        w.summary, client=ClientLoad(cpu_ns=w.summary.end_ns - w.summary.start_ns)))
        for w in p.windows]
    run.points[1] = dataclasses.replace(p, windows=tuple(busy))
    line = verdict_line(run, [])
    assert "likely cause: client saturated" in line
    assert "--measurement-interval" not in line
    text = console.point_text(run, run.points[1], "http")
    assert "Failed to obtain stable measurement within" in text  # Model Analyzer greps this
    assert "increase the --measurement-interval" not in text


def test_a_rate_point_whose_requests_in_flight_grew_says_the_server_fell_behind() -> None:
    run = saved_run(mode="request_rate")
    p = run.points[0]
    s = p.merged
    answered = s.completed + s.errors
    steady = dataclasses.replace(p, merged=dataclasses.replace(s, sent=answered))
    assert "fell behind" not in console.point_text(run, steady, "http")
    behind = dataclasses.replace(p, merged=dataclasses.replace(s, sent=answered * 3,
                                                              late_sends=answered))
    lines = console.point_text(run, behind, "http").splitlines()
    (i,) = [k for k, line in enumerate(lines) if "[WARNING] The server fell behind" in line]
    assert lines[i + 1] == "  Client: "  # before the numbers
    assert f"requests in flight grew by {2 * answered} " in lines[i]
    (late,) = [line for line in lines if "[WARNING] asked" in line]
    assert "the in-flight cap held sends back while the server fell behind" in late
