"""Render perfanalyzer's HTML reports with a real headless Chromium (Debian's
chromium-headless-shell, see scripts/install_chromium.sh): a PNG screenshot of the whole page, the
DOM as Chromium parsed it, and one PNG per inline figure.

    python scripts/render_html.py REPORT.html OUT_DIR [--width 1200]

Used by tests/test_html_render.py and to make the README's screenshot
(scripts/make_report_screenshot.py). Chromium runs without network access to anything: the page
is a local file and must need nothing else.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
from matplotlib import image as mpimg

CANDIDATES = ("chromium-headless-shell", "/usr/lib/chromium/chromium-headless-shell",
              "chromium", "chromium-browser")
#: Tallest window Chromium is asked to draw; the white space below the page is cut off.
MAX_HEIGHT = 16000
TIMEOUT_S = 120
_SVG = re.compile(r"<svg\b.*?</svg>", re.S)


def chromium() -> str | None:
    """The headless Chromium binary, or None when it is not installed."""
    for name in CANDIDATES:
        found = shutil.which(name) or (name if os.path.isfile(name) else None)
        if found:
            return found
    return None


def _run(args: list[str]) -> subprocess.CompletedProcess[str]:
    exe = chromium()
    if exe is None:
        raise RuntimeError("chromium-headless-shell is not installed (scripts/install_chromium.sh)")
    with tempfile.TemporaryDirectory(prefix="pa-chromium-") as profile:
        return subprocess.run(
            [exe, "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
             "--disable-extensions", "--disable-background-networking", "--mute-audio",
             f"--user-data-dir={profile}", *args],
            capture_output=True, text=True, timeout=TIMEOUT_S, check=True)


def screenshot(html: Path, png: Path, width: int = 1200, height: int = MAX_HEIGHT) -> np.ndarray:
    """A PNG of ``html`` as Chromium draws it, cut below the last non-white row; returns the
    pixels (rows × columns × RGB, floats 0..1)."""
    _run([f"--window-size={width},{height}", f"--screenshot={png}", html.resolve().as_uri()])
    pixels = mpimg.imread(png)[:, :, :3]
    ink = np.where((pixels < 0.98).any(axis=(1, 2)))[0]
    bottom = int(ink[-1]) + 24 if len(ink) else 1
    pixels = pixels[:min(bottom, pixels.shape[0])]
    mpimg.imsave(png, pixels)
    return pixels


def dom(html: Path) -> str:
    """The DOM after Chromium parsed ``html`` (--dump-dom)."""
    return _run(["--dump-dom", html.resolve().as_uri()]).stdout


def figure_pages(html_text: str, out_dir: Path) -> list[Path]:
    """One page per inline figure (the page's style sheet kept), to screenshot each alone."""
    style = re.search(r"<style>.*?</style>", html_text, re.S)
    pages = []
    for k, m in enumerate(_SVG.finditer(html_text), 1):
        page = out_dir / f"figure_{k}.html"
        page.write_text(f"<!DOCTYPE html><html><head><meta charset='utf-8'>"
                        f"{style.group(0) if style else ''}</head><body>{m.group(0)}</body></html>",
                        encoding="utf-8")
        pages.append(page)
    return pages


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("html", type=Path)
    ap.add_argument("out_dir", type=Path)
    ap.add_argument("--width", type=int, default=1200)
    args = ap.parse_args()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    shot = screenshot(args.html, args.out_dir / "page.png", args.width)
    print(f"{args.out_dir / 'page.png'}: {shot.shape[1]}x{shot.shape[0]}")
    (args.out_dir / "dom.html").write_text(dom(args.html), encoding="utf-8")
    for page in figure_pages(args.html.read_text(encoding="utf-8"), args.out_dir):
        png = page.with_suffix(".png")
        screenshot(page, png, args.width, 2400)
        print(png)


if __name__ == "__main__":
    main()
