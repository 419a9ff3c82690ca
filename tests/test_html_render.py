"""The HTML reports as a person sees them: a real headless Chromium (Debian's
chromium-headless-shell, scripts/install_chromium.sh) renders them; every figure is in the DOM it
parsed and drawn (not blank) in its screenshot, and the page is of a readable size. Skipped where
Chromium is not installed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from perfanalyzer.cli.main import main
from scripts.render_html import chromium, dom, figure_pages, screenshot
from tests.support.html_checks import figures, self_contained_problems
from tests.support.saved_runs import csv_file as _csv_file
from tests.support.synthetic_runs import synthetic_run

pytestmark = pytest.mark.skipif(chromium() is None, reason="chromium-headless-shell is not "
                                "installed (scripts/install_chromium.sh)")

#: A page taller than this (px at 1200 px wide) is too long to read; a figure that inks less
#: than this share of its box, or uses fewer colours, is empty.
MAX_PAGE_PX = 15000
MIN_INK = 0.02
MIN_COLOURS = 3


def _drawn(pixels: np.ndarray) -> tuple[float, int]:
    """Share of non-white pixels within the drawing's bounding box, and how many distinct
    colours they use."""
    ink = (pixels < 0.9).any(axis=2)
    rows, cols = np.where(ink.any(axis=1))[0], np.where(ink.any(axis=0))[0]
    if not len(rows):
        return 0.0, 0
    ink = ink[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    pixels = pixels[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    colours = {tuple(c) for c in (pixels[ink] * 16).astype(int)[:: max(1, int(ink.sum()) // 5000)]}
    return float(ink.mean()), len(colours)


def _check_page(html: Path, out: Path) -> None:
    text = html.read_text(encoding="utf-8")
    assert self_contained_problems(text) == []
    parsed = dom(html)
    assert "<script" not in parsed
    names = [n for n, _ in figures(text)]
    assert [n for n, _ in figures(parsed)] == names  # Chromium parsed every figure
    assert all(count > 20 for _, count in figures(parsed))
    page = screenshot(html, out / f"{html.stem}.png")
    assert 1000 < page.shape[0] < MAX_PAGE_PX
    ink, colours = _drawn(page)
    assert ink > MIN_INK and colours >= MIN_COLOURS
    for k, fig_page in enumerate(figure_pages(text, out)):
        pixels = screenshot(fig_page, fig_page.with_suffix(".png"), 1200, 2400)
        ink, colours = _drawn(pixels)
        assert ink > MIN_INK and colours >= MIN_COLOURS, f"figure {names[k]!r} looks empty"
        assert pixels.shape[0] > 150, f"figure {names[k]!r} is not drawn at its size"


@pytest.mark.server
def test_chromium_renders_the_run_report(html_run: dict[str, Path], tmp_path: Path) -> None:
    _check_page(html_run["html"], tmp_path)


def test_chromium_renders_the_compare_report(tmp_path: Path) -> None:
    base = _csv_file(tmp_path / "base.csv", synthetic_run(seed=1))
    cur = _csv_file(tmp_path / "cur.csv", synthetic_run(seed=2, slowdown=1.3))
    page = tmp_path / "gate.html"
    with pytest.raises(SystemExit):
        main(["compare", str(base), str(cur), "--html", str(page)])
    _check_page(page, tmp_path)
