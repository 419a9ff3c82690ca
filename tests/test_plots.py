"""Figures: the plotted data is the data in the files; PNG and SVG are written and valid."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle

import perfanalyzer
from perfanalyzer.cli.main import main
from perfanalyzer.errors import OptionError
from perfanalyzer.report.export import write_export
from perfanalyzer.report.plots import (
    BREAKDOWN,
    breakdown_figure,
    load_source,
    throughput_latency_figure,
    timeline_figure,
    write_figures,
)
from tests.support.paths import GOLDEN
from tests.support.saved_runs import saved_run

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _line(fig: Figure, gid: str, ax: int = 0) -> Line2D:
    return next(ln for ln in fig.axes[ax].get_lines() if ln.get_gid() == gid)


@pytest.fixture
def run_json(tmp_path: Path) -> Path:
    path = tmp_path / "synthetic.json"
    write_export(saved_run(), path)
    return path


def test_throughput_latency_plots_the_csv_figures_per_run() -> None:
    a = load_source(GOLDEN / "perf_analyzer_2.50_concurrency.csv")
    b = load_source(GOLDEN / "perf_analyzer_2.50_decoupled.csv")
    fig = throughput_latency_figure([a, b])
    for src in (a, b):
        df = src.points.sort_values("Concurrency")
        for p in (50, 90, 99):
            line = _line(fig, f"{src.label}|p{p}")
            assert np.array_equal(line.get_xdata(), df["Inferences/Second"].to_numpy(float))
            assert np.array_equal(line.get_ydata(), df[f"p{p} latency"].to_numpy(float) / 1000)
    ax = fig.axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("Throughput (infer/s)", "Latency (ms)")
    legend = ax.get_legend()
    assert legend is not None
    assert [t.get_text() for t in legend.get_texts()] == [a.label, b.label]
    assert a.label == "perf_analyzer_2.50_concurrency.csv"


def test_breakdown_stacks_the_csv_components_in_ms(run_json: Path) -> None:
    src = load_source(run_json)
    df = src.points.sort_values("Concurrency")
    fig = breakdown_figure(src)
    ax = fig.axes[0]
    bars = [p for p in ax.patches if isinstance(p, Rectangle) and p.get_gid()]
    drawn = {c for c, _, _ in BREAKDOWN if c in df.columns and df[c].any()}
    assert {b.get_gid() for b in bars} == drawn
    assert "Client Send" not in drawn  # zero everywhere: named under the axis instead
    assert "Client send" in ax.get_xlabel() and ax.get_xlabel().startswith("Concurrency")
    for column in drawn:
        heights = [b.get_height() for b in bars if b.get_gid() == column]
        assert heights == pytest.approx((df[column] / 1000.0).tolist())
    tops: dict[float, float] = {}
    for b in bars:
        tops[b.get_x()] = max(tops.get(b.get_x(), 0.0), b.get_y() + b.get_height())
    totals = sum(df[c] for c in drawn) / 1000.0
    assert sorted(tops.values()) == pytest.approx(sorted(totals.tolist()))
    assert ax.get_ylabel() == "Average latency (ms)"


def test_timeline_plots_every_window(run_json: Path) -> None:
    src = load_source(run_json)
    frames = perfanalyzer.read_run(run_json)
    w = frames.windows
    fig = timeline_figure(src)
    mid = ((w["t_start_s"] + w["t_end_s"]) / 2).to_numpy()
    tput = _line(fig, "throughput", ax=0)
    assert np.array_equal(tput.get_xdata(), mid)
    assert np.array_equal(tput.get_ydata(), w["Inferences/Second"].to_numpy())
    for p in (50, 90, 99):
        line = _line(fig, f"p{p}", ax=1)
        assert np.array_equal(line.get_ydata(), w[f"p{p} latency"].to_numpy() / 1000)
    assert np.array_equal(_line(fig, "avg", ax=1).get_ydata(), w["Avg latency"].to_numpy() / 1000)
    assert fig.axes[1].get_xlabel() == "Time since the run started (s)"
    assert fig.axes[0].get_ylabel() == "Throughput (infer/s)"
    assert fig.axes[1].get_ylabel() == "Latency (ms)"


def test_timeline_needs_a_json_run() -> None:
    with pytest.raises(OptionError, match=r"concurrency\.csv: latency over time needs a JSON run"):
        timeline_figure(load_source(GOLDEN / "perf_analyzer_2.50_concurrency.csv"))


def _valid(path: Path) -> None:
    if path.suffix == ".png":
        assert path.read_bytes()[:8] == PNG_MAGIC
    else:
        assert ET.parse(path).getroot().tag == "{http://www.w3.org/2000/svg}svg"


def test_write_figures_writes_valid_png_and_svg(run_json: Path, tmp_path: Path) -> None:
    out = tmp_path / "figs"
    written = write_figures([GOLDEN / "perf_analyzer_2.50_request_rate.csv", run_json], out)
    names = sorted(p.name for p in written)
    assert names == sorted(f"{stem}.{ext}" for ext in ("png", "svg") for stem in (
        "throughput_latency", "breakdown_perf_analyzer_2_50_request_rate_csv",
        "breakdown_synthetic_json", "timeline_synthetic_json"))
    for path in written:
        assert path.parent == out and path.stat().st_size > 1000
        _valid(path)


def test_plot_command(run_json: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cli"
    with pytest.raises(SystemExit) as e:
        main(["plot", str(GOLDEN / "perf_analyzer_2.50_concurrency.csv"), str(run_json),
              "-o", str(out), "--format", "png"])
    assert e.value.code == 0
    printed = capsys.readouterr().out.split()
    assert len(printed) == 4 and all(p.endswith(".png") for p in printed)
    assert sorted(Path(p).name for p in printed) == sorted(q.name for q in out.iterdir())
    for p in printed:
        _valid(Path(p))


def test_plot_command_bad_input_is_one_line(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "notes.csv"
    bad.write_text("hello,world\n1,2\n")
    with pytest.raises(SystemExit) as e:
        main(["plot", str(bad), "-o", str(tmp_path / "o")])
    assert e.value.code == 3
    err = capsys.readouterr().err
    assert err == (f"error: {bad}: not a perf_analyzer CSV: first column is 'hello', expected "
                   "'Concurrency' or 'Request Rate'\n")
