"""--html and ``report RUN.json --html``: one self-contained page (no script, nothing fetched) with
every figure of the run, made from the saved-run model, so a live run's page and the re-report of
its export are the same bytes. The run is a short real profile run against the test Triton."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from perfanalyzer.cli.main import main
from perfanalyzer.report.caveats import verdict_line
from perfanalyzer.report.export import write_export
from perfanalyzer.report.html.run_report import run_html
from perfanalyzer.report.saved import load_run
from tests.support.cli_runs import profile_cli
from tests.support.html_checks import HTML_RUN_SECRET as SECRET
from tests.support.html_checks import figures, self_contained_problems
from tests.support.saved_runs import saved_run

#: Figures a concurrency run with server statistics and --collect-metrics shows (their names).
RUN_FIGURES = ("Throughput vs latency", "Latency breakdown", "windows over time",
               "Latency distribution", "client load", "server metrics over time")


@pytest.mark.server
def test_report_html_of_the_saved_run_equals_the_live_page(html_run: dict[str, Path],
                                                           tmp_path: Path) -> None:
    again = tmp_path / "again.html"
    with pytest.raises(SystemExit) as e:
        main(["report", str(html_run["json"]), "--html", str(again)])
    assert e.value.code == 0
    assert again.read_bytes() == html_run["html"].read_bytes()


@pytest.mark.server
def test_live_page_is_self_contained_with_every_figure(html_run: dict[str, Path]) -> None:
    text = html_run["html"].read_text(encoding="utf-8")
    assert self_contained_problems(text) == []
    drawn = figures(text)
    for name in RUN_FIGURES:
        found = [n for n, count in drawn if name.lower() in n.lower()]
        assert found, f"no figure named {name!r} in {[n for n, _ in drawn]}"
    assert all(count > 20 for _, count in drawn), drawn  # every figure has drawn content
    run = load_run(html_run["json"])
    assert verdict_line(run, None) in text.replace("&#39;", "'")
    assert text.count('<tr class="mark">') >= sum(not p.stable for p in run.points)
    assert "@media print" in text


def test_page_shows_composing_models_and_warnings_of_a_saved_ensemble_run(tmp_path: Path) -> None:
    path = tmp_path / "synthetic.json"
    write_export(saved_run(), path)
    text = run_html(load_run(path))
    assert self_contained_problems(text) == []
    assert "Composing models (ensemble): step_a, step_b" in text
    assert "↳ step_a" in text and "↳ step_b" in text  # per-model server statistics
    assert 'id="warnings"' in text
    # header values are never shown (a header may carry a credential), names are
    assert "X-A (values not shown)" in text


def test_report_html_checks_its_path_before_reading_the_run(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing_dir = tmp_path / "nowhere" / "r.html"
    with pytest.raises(SystemExit) as e:
        main(["report", str(tmp_path / "absent.json"), "--html", str(missing_dir)])
    assert e.value.code == 3
    assert capsys.readouterr().err.startswith("error: --html ")
    target = tmp_path / "real.html"
    target.write_text("mine")
    link = tmp_path / "link.html"
    link.symlink_to(target)
    path = tmp_path / "synthetic.json"
    write_export(saved_run(), path)
    with pytest.raises(SystemExit) as e:
        main(["report", str(path), "--html", str(link)])
    assert e.value.code == 3
    assert "symbolic link" in capsys.readouterr().err
    assert target.read_text() == "mine"


def test_profile_html_is_checked_before_any_load(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    # nothing listens on port 9: the error must come from --html, before any connection
    with pytest.raises(SystemExit) as e:
        main(["-m", "add_sub", "-u", "127.0.0.1:9", "--html", str(tmp_path / "no" / "r.html")])
    assert e.value.code == 3
    assert capsys.readouterr().err.startswith("error: --html ")


@pytest.mark.server
def test_repeat_page_shows_each_run_and_the_interval(triton: Any, tmp_path: Path) -> None:
    proc = profile_cli("-m", "add_sub", "-u", triton.http_url, "--concurrency-range", "1",
                       "-p", "200", "--repeat", "2", "--html", "rep.html",
                       "--profile-export-file", "rep.json", cwd=tmp_path)
    assert proc.returncode in (0, 2), proc.stderr[-2000:]
    text = (tmp_path / "rep.html").read_text(encoding="utf-8")
    assert run_html(load_run(tmp_path / "rep.json")) == text  # the saved run's page too
    assert self_contained_problems(text) == []
    names = [n for n, _ in figures(text)]
    assert "Runs" in names
    assert sum("windows over time" in n for n in names) == 2  # one per run
    assert "Across 2 runs: mean ± half-width of the 95 % interval" in text


@pytest.mark.server
def test_events_hold_every_window_and_point_and_the_end(html_run: dict[str, Path]) -> None:
    lines = html_run["events"].read_text(encoding="utf-8").splitlines()
    events = [json.loads(line) for line in lines]
    run = load_run(html_run["json"])
    windows = [(e["point"], e["index"]) for e in events if e["type"] == "window"]
    assert windows == [(k, w.index) for k, p in enumerate(run.points) for w in p.windows]
    points = [e for e in events if e["type"] == "point"]
    assert [(e["level"], e["stable"], e["windows"]) for e in points] == [
        (p.level, p.stable, len(p.windows)) for p in run.points]
    first = events[0]
    w0 = run.points[0].windows[0].summary
    assert first["completed"] == w0.completed
    assert first["latency_us"]["p99"] == w0.latency.p(99) / 1e3
    assert [e["type"] for e in events[-1:]] == ["end"]
    end = events[-1]
    assert end["exit_code"] == int(html_run["rc"].read_text())
    assert {Path(f).name for f in end["files"]} == {"run.json", "run.html", "events.jsonl"}
    for e in events:  # each event once its window / point finished: time goes forward
        assert e["time_s"] >= 0
    assert [e["time_s"] for e in events] == sorted(e["time_s"] for e in events)


@pytest.mark.server
def test_no_secret_in_the_page_or_the_events(html_run: dict[str, Path]) -> None:
    for name in ("html", "events", "json"):
        assert SECRET not in html_run[name].read_text(encoding="utf-8"), name
    assert "Authorization (values not shown)" in html_run["html"].read_text(encoding="utf-8")


def test_events_path_is_checked_before_any_load(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "mine.jsonl"
    target.write_text("keep")
    link = tmp_path / "events.jsonl"
    link.symlink_to(target)
    with pytest.raises(SystemExit) as e:
        main(["-m", "add_sub", "-u", "127.0.0.1:9", "--events", str(link)])
    assert e.value.code == 3
    assert capsys.readouterr().err.startswith("error: --events ")
    assert target.read_text() == "keep"


def test_events_end_says_why_a_run_could_not_start(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    with pytest.raises(SystemExit) as e:  # nothing listens on port 9
        main(["-m", "add_sub", "-u", "127.0.0.1:9", "--events", str(path)])
    events = [json.loads(line) for line in path.read_text().splitlines()]
    assert [ev["type"] for ev in events] == ["end"]
    assert events[0]["exit_code"] == e.value.code != 0
    assert events[0]["error"]


def test_events_to_a_fifo_without_reader_is_refused_before_any_load(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fifo = tmp_path / "events.fifo"
    os.mkfifo(fifo)
    with pytest.raises(SystemExit) as e:  # no reader: an error, never a hang
        main(["-m", "add_sub", "-u", "127.0.0.1:9", "--events", str(fifo)])
    assert e.value.code == 3
    assert "--events" in capsys.readouterr().err


def test_breakdown_table_holds_the_csv_figures_the_bars_draw(tmp_path: Path) -> None:
    from perfanalyzer.report.frame import run_frames
    from perfanalyzer.report.html.tables import breakdown_table

    path = tmp_path / "synthetic.json"
    write_export(saved_run(), path)
    run = load_run(path)
    table = breakdown_table(run)
    assert table is not None
    points = run_frames(run, "x").points
    by_level = {f"c={lv:g}": row for lv, row in zip(points["Concurrency"],
                                                   points.to_dict("records"), strict=True)}
    for row in table.rows:
        csv = by_level[row[0]]
        assert [int(c) for c in row[1:8]] == [
            csv["Client Send"], csv["Network+Server Send/Recv"], csv["Server Queue"],
            csv["Server Compute Input"], csv["Server Compute Infer"],
            csv["Server Compute Output"], csv["Client Recv"]]


def test_rate_run_without_server_statistics_says_so_instead_of_drawing(tmp_path: Path) -> None:
    path = tmp_path / "rate.json"
    write_export(saved_run(mode="request_rate", server=False), path)
    run = load_run(path)
    text = run_html(run)
    assert self_contained_problems(text) == []
    names = [n for n, _ in figures(text)]
    assert "Latency breakdown" not in names  # no server statistics: said instead of drawn
    assert "Server statistics are not reported: the server does not offer statistics" in text
    assert "50/s" in text and "125.5/s" in text
