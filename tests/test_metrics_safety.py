"""--metrics-url and what a metrics endpoint sends back: only http(s) is scraped (refused before any
load otherwise), a password in the URL is never printed or saved, and Prometheus label values
reach the console, CSV and export escaped and cut (a newline in a label cannot forge a line)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import http.server
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from perfanalyzer.measure import prometheus as pm
from tests.support.fault_servers import handler_server

PASSWORD = "s3cretPW0rd"
FORGED = "FORGED a line the server wrote"
HUGE = "G" * 100_000
#: A GPU server's /metrics whose labels carry a newline, a terminal escape and 100 KB.
HOSTILE_TEXT = f"""# TYPE nv_gpu_utilization gauge
nv_gpu_utilization{{gpu_uuid="GPU-1\\n{FORGED}"}} 0.5
nv_gpu_utilization{{gpu_uuid="GPU-2\x1b[31m"}} 0.25
nv_gpu_utilization{{gpu_uuid="{HUGE}"}} 0.75
nv_gpu_utilization{{gpu_uuid="GPU-3,extra;x:1"}} 1
"""


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "perfanalyzer", *args], capture_output=True,
                          text=True, timeout=300)


@pytest.mark.parametrize("url", ["file:///etc/passwd", "FILE:///etc/passwd", "ftp://127.0.0.1/x",
                                 "gopher://127.0.0.1:70/", "http://", "http:// bad host/m"])
def test_only_http_metrics_urls_are_accepted(url: str) -> None:
    r = _cli("-m", "simple", "-u", "127.0.0.1:1", "--collect-metrics", "--metrics-url", url)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 3, r.stderr
    assert len(lines) == 1 and lines[0].startswith("error: --metrics-url: "), lines
    assert "root:" not in r.stdout + r.stderr


def test_a_refused_url_does_not_show_its_password() -> None:
    r = _cli("-m", "simple", "-u", "127.0.0.1:1", "--collect-metrics", "--metrics-url",
             f"ftp://admin:{PASSWORD}@127.0.0.1/metrics")
    assert r.returncode == 3 and PASSWORD not in r.stderr and "<redacted>@" in r.stderr


def test_the_scraper_never_reads_a_file_url() -> None:
    warn = io.StringIO()
    scraper = pm.Scraper(pm.ScrapeSettings(url="file:///etc/passwd"), warn=warn)
    assert asyncio.run(scraper.scrape_once(2.0)) is None
    assert scraper.failures == 1 and "root:" not in warn.getvalue()


def test_a_scrape_warning_does_not_show_the_password() -> None:
    warn = io.StringIO()
    url = f"http://admin:{PASSWORD}@127.0.0.1:1/metrics"
    asyncio.run(pm.Scraper(pm.ScrapeSettings(url=url), warn=warn).scrape_once(2.0))
    assert "could not scrape" in warn.getvalue()
    assert PASSWORD not in warn.getvalue() and "<redacted>@127.0.0.1:1" in warn.getvalue()


def test_label_values_are_escaped_and_cut() -> None:
    values = pm.parse_metrics(HOSTILE_TEXT)[pm.GPU_UTIL]
    assert f"GPU-1\\n{FORGED}" in values and "GPU-2\\x1b[31m" in values
    assert "GPU-3\\x2cextra\\x3bx\\x3a1" in values
    assert all(len(k) <= pm.MAX_LABEL_CHARS and k.isprintable() for k in values)
    assert pm.label_text("GPU-0a1b2c3d-0000-1111-2222-333344445555") == (
        "GPU-0a1b2c3d-0000-1111-2222-333344445555")


class _Hostile(http.server.BaseHTTPRequestHandler):
    """/metrics with hostile labels, for the Basic credentials of the URL only."""

    authorized = 0

    def do_GET(self) -> None:
        token = base64.b64encode(f"admin:{PASSWORD}".encode()).decode()
        if self.headers.get("Authorization") != f"Basic {token}":
            self.send_response(401)
            self.end_headers()
            return
        type(self).authorized += 1
        body = HOSTILE_TEXT.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.mark.server
def test_hostile_labels_and_the_url_password_on_a_real_run(triton: Any, tmp_path: Path) -> None:
    out, export = tmp_path / "pa.csv", tmp_path / "run.json"
    with handler_server(_Hostile) as port:
        r = _cli("-m", "add_sub", "-u", triton.http_url, "-p", "400", "-s", "1000", "-r", "3",
                 "--collect-metrics", "--metrics-interval", "100",
                 "--metrics-url", f"http://admin:{PASSWORD}@127.0.0.1:{port}/metrics",
                 "--verbose-csv", "-f", str(out), "--profile-export-file", str(export))
    assert r.returncode in (0, 2), r.stderr[-3000:]  # 2: not stable on a loaded machine
    assert _Hostile.authorized >= 1  # the user-info is sent as Basic authorization
    files = out.read_text() + export.read_text()
    assert PASSWORD not in r.stdout + r.stderr + files
    doc = json.loads(export.read_text())
    assert doc["perfanalyzer"]["config"]["metrics_url"] == (
        f"http://<redacted>@127.0.0.1:{port}/metrics")
    console = r.stdout.splitlines()
    assert not any(line.startswith(FORGED) for line in console)
    assert f"GPU-1\\n{FORGED} : 50%" in r.stdout and "\x1b" not in r.stdout
    assert max(map(len, console)) < 300 and HUGE[:1000] not in r.stdout + files
    header, row = out.read_text().splitlines()  # one row: no forged CSV line, no extra column
    assert len(header.split(",")) == len(row.split(","))
