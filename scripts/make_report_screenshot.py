#!/usr/bin/env python3
"""Make the README's screenshot of an HTML report (docs/report_screenshot.png).

    python scripts/make_report_screenshot.py [--run RUN.json | -u HOST:PORT [-m add_sub]]
        [--out docs/report_screenshot.png]

With ``--run`` the page of that saved run is drawn; with ``-u`` a short sweep of the model on that
server is measured first; with neither, ``--launch-server`` starts the bundled Triton for it. The
page is rendered by headless Chromium (scripts/install_chromium.sh) and its top is kept.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from matplotlib import image as mpimg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from scripts.render_html import screenshot

ROOT = Path(__file__).resolve().parents[1]
#: Pixels of the page kept from the top (title, verdict, first figure and table, breakdown).
KEEP_PX = 1750
WIDTH = 1100


def measure(tmp: Path, url: str | None, model: str) -> Path:
    run = tmp / "run.json"
    where = ["-u", url] if url else ["--launch-server"]
    subprocess.run([sys.executable, "-m", "perfanalyzer", "-m", model, *where,
                    "--concurrency-range", "1:4", "-p", "1000", "--collect-metrics",
                    "--profile-export-file", str(run)], check=False, cwd=ROOT,
                   stdout=subprocess.DEVNULL)
    return run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", type=Path)
    ap.add_argument("-u", dest="url")
    ap.add_argument("-m", dest="model", default="add_sub")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "report_screenshot.png")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        run = a.run or measure(tmp, a.url, a.model)
        page = tmp / "report.html"
        subprocess.run([sys.executable, "-m", "perfanalyzer", "report", str(run), "--html",
                        str(page)], check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
        pixels = screenshot(page, tmp / "page.png", WIDTH)
        a.out.parent.mkdir(parents=True, exist_ok=True)
        mpimg.imsave(a.out, pixels[:KEEP_PX])
    print(a.out)


if __name__ == "__main__":
    main()
