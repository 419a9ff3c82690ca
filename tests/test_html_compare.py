"""``compare ... --html``: the gate's verdict as a self-contained page with, per check, every load
point's change, its interval across replicate runs and the threshold drawn."""

from __future__ import annotations

from pathlib import Path

import pytest

from perfanalyzer.cli.main import main
from perfanalyzer.report.export import write_export
from perfanalyzer.results.combine import combine_runs
from tests.support.html_checks import figures, self_contained_problems
from tests.support.saved_runs import csv_file as _csv_file
from tests.support.synthetic_runs import synthetic_run


def _compare(*args: str | Path) -> int:
    with pytest.raises(SystemExit) as e:
        main(["compare", *map(str, args)])
    return int(e.value.code or 0)


def test_regression_page_draws_each_check_with_its_threshold(tmp_path: Path) -> None:
    base = _csv_file(tmp_path / "base.csv", synthetic_run(seed=1))
    cur = _csv_file(tmp_path / "cur.csv", synthetic_run(seed=2, slowdown=1.3))
    page = tmp_path / "gate.html"
    assert _compare(base, cur, "--html", page) == 1
    text = page.read_text(encoding="utf-8")
    assert self_contained_problems(text) == []
    assert [n for n, _ in figures(text)] == ["Check throughput:-5%", "Check p99:+10%"]
    assert all(count > 20 for _, count in figures(text))
    assert text.count('id="f1-threshold"') == 1 and text.count('id="f2-threshold"') == 1
    assert "RESULT: REGRESSION" in text and 'class="verdict bad"' in text
    assert text.count('<tr class="mark">') == 4  # the four regressed rows


def test_replicate_runs_draw_the_interval_of_each_change(tmp_path: Path) -> None:
    reps = [combine_runs([synthetic_run(seed=s, window_sigma=0.05, slowdown=f) for s in seeds])
            for seeds, f in (((1, 2, 3), 1.0), ((4, 5, 6), 1.02))]
    base, cur = tmp_path / "b.json", tmp_path / "c.json"
    write_export(reps[0], base)
    write_export(reps[1], cur)
    page = tmp_path / "gate.html"
    assert _compare(base, cur, "--html", page) == 0
    text = page.read_text(encoding="utf-8")
    assert self_contained_problems(text) == []
    assert text.count('-interval|') == 4  # two checks at two load points
    assert "95% bounds [" in text and 'class="verdict"' in text


def test_html_path_is_checked_before_the_runs_are_read(tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    assert _compare(tmp_path / "absent.csv", tmp_path / "absent2.csv", "--html",
                    tmp_path / "no" / "gate.html") == 2
    assert "--html " in capsys.readouterr().err
