"""--collect-metrics: Prometheus scraping, perf_analyzer's merge rules and GPU cells, against a GPU
server's /metrics text (written from the documented families) and the real Triton's metrics port."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import http.server
import io
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from perfanalyzer.measure import prometheus as pm
from tests.support.cli_runs import run_cli as _cli
from tests.support.fault_servers import handler_server

GPU_A = "GPU-0a1b2c3d-0000-1111-2222-333344445555"
GPU_B = "GPU-9f8e7d6c-aaaa-bbbb-cccc-ddddeeeeffff"

#: What a GPU Triton's /metrics holds (nv_gpu_* families, gpu_uuid labels), plus noise.
GPU_TEXT = f"""# HELP nv_inference_count Number of inferences performed
# TYPE nv_inference_count counter
nv_inference_count{{model="add_sub",version="1"}} 42
# HELP nv_gpu_utilization GPU utilization rate [0.0 - 1.0)
# TYPE nv_gpu_utilization gauge
nv_gpu_utilization{{gpu_uuid="{GPU_A}"}} 0.5
nv_gpu_utilization{{gpu_uuid="{GPU_B}"}} 0.25
# HELP nv_gpu_power_usage GPU power usage in watts
# TYPE nv_gpu_power_usage gauge
nv_gpu_power_usage{{gpu_uuid="{GPU_A}"}} 61.25
nv_gpu_power_usage{{gpu_uuid="{GPU_B}"}} 48
# HELP nv_gpu_memory_used_bytes GPU used memory, in bytes
# TYPE nv_gpu_memory_used_bytes gauge
nv_gpu_memory_used_bytes{{gpu_uuid="{GPU_A}"}} 1234567168
nv_gpu_memory_used_bytes{{gpu_uuid="{GPU_B}"}} 268435456
# HELP nv_gpu_memory_total_bytes GPU total memory, in bytes
# TYPE nv_gpu_memory_total_bytes gauge
nv_gpu_memory_total_bytes{{gpu_uuid="{GPU_A}"}} 17179869184
nv_gpu_memory_total_bytes{{gpu_uuid="{GPU_B}"}} 8589934592
"""
EXPECTED_CELLS = {
    "Avg GPU Utilization": f"{GPU_A}:0.5;{GPU_B}:0.25;",
    "Avg GPU Power Usage": f"{GPU_A}:61.25;{GPU_B}:48;",
    "Max GPU Memory Usage": f"{GPU_A}:1234567168;{GPU_B}:268435456;",
    "Total GPU Memory": f"{GPU_A}:17179869184;{GPU_B}:8589934592;",
}


def test_parse_reads_the_documented_families_per_gpu() -> None:
    values = pm.parse_metrics(GPU_TEXT)
    assert values[pm.GPU_UTIL] == {GPU_A: 0.5, GPU_B: 0.25}
    assert values[pm.GPU_MEM_TOTAL][GPU_B] == 8589934592
    assert "nv_inference_count" not in values


def test_merge_rules_are_perf_analyzers() -> None:
    def scrape(t: int, util: float, used: float, total: float) -> pm.Scrape:
        return pm.Scrape(t, {pm.GPU_UTIL: {"g": util}, pm.GPU_POWER: {"g": util * 100},
                             pm.GPU_MEM_USED: {"g": used}, pm.GPU_MEM_TOTAL: {"g": total}})

    merged = pm.merge_scrapes([scrape(1, 0.2, 10, 100), scrape(2, 0.4, 30, 200),
                               scrape(3, 0.9, 20, 300)])
    assert merged[pm.GPU_UTIL]["g"] == pytest.approx(0.5)  # average
    assert merged[pm.GPU_POWER]["g"] == pytest.approx(50.0)  # average
    assert merged[pm.GPU_MEM_USED]["g"] == 30  # max
    assert merged[pm.GPU_MEM_TOTAL]["g"] == 100  # first
    # perf_analyzer's own writer test: "a:1;,a:2.2;,a:3;,a:4;,"
    one = {pm.GPU_UTIL: {"a": 1.0}, pm.GPU_POWER: {"a": 2.2}, pm.GPU_MEM_USED: {"a": 3.0},
           pm.GPU_MEM_TOTAL: {"a": 4.0}}
    assert [pm.gpu_cell(one, f) for _n, f in pm.GPU_COLUMNS] == ["a:1;", "a:2.2;", "a:3;", "a:4;"]


@pytest.mark.parametrize(("url", "expected"), [
    ("localhost:8001", "localhost:8002/metrics"),
    ("http://10.0.0.7:8000/some/path", "10.0.0.7:8002/metrics"),
    ("myhost", "myhost:8002/metrics"),
    ("[::1]:8000", "[::1]:8002/metrics"),
])
def test_default_metrics_url_takes_the_host_of_u(url: str, expected: str) -> None:
    assert pm.default_metrics_url(url) == expected


class _MetricsHandler(http.server.BaseHTTPRequestHandler):
    body = GPU_TEXT.encode()
    hits = 0

    def do_GET(self) -> None:
        type(self).hits += 1
        if self.path != "/metrics":
            self.send_response(404)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(self.body)  # the scraper may stop mid-scrape

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture()
def gpu_metrics_server() -> Iterator[str]:
    """A small HTTP server serving a GPU server's /metrics text."""
    with handler_server(_MetricsHandler) as port:
        yield f"127.0.0.1:{port}/metrics"


def test_scraper_fetches_over_http_and_stops(gpu_metrics_server: str) -> None:
    async def go() -> pm.Scraper:
        s = pm.Scraper(pm.ScrapeSettings(url=gpu_metrics_server, interval_s=0.05))
        s.start()
        for _ in range(200):
            if len(s.scrapes) >= 3:
                break
            await asyncio.sleep(0.02)
        await s.stop()
        return s

    s = asyncio.run(go())
    assert len(s.scrapes) >= 3 and s.failures == 0
    assert s.scrapes[0].values[pm.GPU_POWER][GPU_A] == 61.25


def test_failed_scrape_is_one_warning_and_never_raises() -> None:
    async def fetch(url: str, timeout: float) -> str:
        raise ConnectionRefusedError("refused")

    async def go() -> tuple[pm.Scraper, str]:
        err = io.StringIO()
        s = pm.Scraper(pm.ScrapeSettings(url="x:1/metrics"), warn=err, fetch=fetch)
        for _ in range(3):
            assert await s.scrape_once(0.1) is None
        return s, err.getvalue()

    s, text = asyncio.run(go())
    assert s.failures == 3 and s.scrapes == []
    assert text.count("WARNING") == 1 and "could not scrape x:1/metrics" in text


def test_slow_endpoint_hits_the_scrape_deadline() -> None:
    async def fetch(url: str, timeout: float) -> str:
        await asyncio.sleep(10)
        return ""

    async def go() -> pm.Scraper:
        s = pm.Scraper(pm.ScrapeSettings(url="slow/metrics"), warn=io.StringIO(), fetch=fetch)
        await asyncio.wait_for(s.scrape_once(0.05), 2)
        return s

    assert asyncio.run(go()).failures == 1


def test_stop_ends_the_scraper_when_a_scrape_completes_as_it_is_cancelled() -> None:
    # The cancel lands while the scrape's answer is in but not yet handed on: Python 3.11's
    # asyncio.wait_for swallowed it there, and the scraper went on scraping with stop() waiting.
    async def go() -> tuple[bool, int]:
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[str] = loop.create_future()
        calls = [0]

        async def fetch(url: str, timeout: float) -> str:
            calls[0] += 1
            return GPU_TEXT if calls[0] > 1 else await answer

        s = pm.Scraper(pm.ScrapeSettings(url="x/metrics", interval_s=0.01), warn=io.StringIO(),
                       fetch=fetch)
        s.start()
        while not calls[0]:
            await asyncio.sleep(0)
        answer.set_result(GPU_TEXT)
        await asyncio.sleep(0)  # the fetch ends; its waiter is released only at the next turn
        stopping = asyncio.ensure_future(s.stop())
        # a bound so that this test cannot hang (stop() takes milliseconds)
        done, _ = await asyncio.wait({stopping}, timeout=20)
        if not done:
            stopping.cancel()
        return bool(done), calls[0]

    stopped, calls = asyncio.run(go())
    assert stopped
    assert calls == 1  # no scrape after stop()


def _validate(doc: Any) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    from perfanalyzer.report.export import SCHEMA_FILE

    jsonschema.Draft202012Validator(json.loads(SCHEMA_FILE.read_text())).validate(doc)


@pytest.mark.parametrize("args", [["--metrics-url", "h:8002/metrics"],
                                  ["--metrics-interval", "500"],
                                  ["--collect-metrics", "--metrics-interval", "0"]])
def test_metrics_options_need_collect_metrics(args: list[str]) -> None:
    res = _cli("-m", "add_sub", "-u", "127.0.0.1:1", *args)
    assert res.returncode == 3
    assert len(res.stderr.strip().splitlines()) == 1
    assert "--metrics-" in res.stderr


@pytest.mark.server
def test_gpu_columns_in_perf_analyzers_cell_format(triton: Any, gpu_metrics_server: str,
                                                   tmp_path: Path) -> None:
    out, export = tmp_path / "pa.csv", tmp_path / "run.json"
    res = _cli("-m", "add_sub", "-u", triton.http_url, "-p", "400", "-s", "1000", "-r", "3",
               "--collect-metrics", "--metrics-url", gpu_metrics_server,
               "--metrics-interval", "100", "--verbose-csv", "-f", str(out),
               "--profile-export-file", str(export))
    assert res.returncode in (0, 2), res.stderr  # 2: not stable on a loaded machine
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert len(rows) == 1
    for column, cell in EXPECTED_CELLS.items():
        assert rows[0][column] == cell
    assert "Server Prometheus Metrics:" in res.stdout
    assert f"      {GPU_A} : 50%" in res.stdout
    doc = json.loads(export.read_text())
    _validate(doc)
    point = doc["perfanalyzer"]["points"][0]
    assert point["metrics"]["scrapes"] >= 1
    assert point["metrics"][pm.GPU_MEM_USED][GPU_B] == 268435456
    # Per window too: merged figures and the scrapes they come from.
    windows = point["windows"]
    assert sum(w["metrics"]["scrapes"] for w in windows) == sum(
        len(w["metrics_scrapes"]) for w in windows) >= point["metrics"]["scrapes"]
    assert all(w["metrics"][pm.GPU_UTIL][GPU_A] == 0.5 for w in windows if w["metrics_scrapes"])
    # Re-reported from the saved run, the CSV is the same bytes.
    again = tmp_path / "again.csv"
    rep = _cli("report", str(export), "-f", str(again), "--verbose-csv")
    assert rep.returncode == 0, rep.stderr
    assert again.read_text() == out.read_text()


@pytest.mark.server
def test_real_triton_cpu_metrics_in_console_and_json(triton: Any, tmp_path: Path) -> None:
    out, export = tmp_path / "pa.csv", tmp_path / "run.json"
    res = _cli("-m", "add_sub", "-u", triton.http_url, "-p", "400", "-s", "1000", "-r", "3",
               "--collect-metrics", "--metrics-url", triton.metrics_url,
               "--metrics-interval", "100", "--verbose-csv", "-f", str(out),
               "--profile-export-file", str(export))
    assert res.returncode in (0, 2), res.stderr  # 2: not stable on a loaded machine
    assert "Avg CPU Utilization:" in res.stdout and "Max CPU Memory Used:" in res.stdout
    # This Triton has no GPU: the four columns are there and empty, said once on stderr.
    row = next(csv.DictReader(io.StringIO(out.read_text())))
    assert all(row[c] == "" for c in EXPECTED_CELLS)
    assert res.stderr.count("exports no GPU metrics") == 1
    doc = json.loads(export.read_text())
    _validate(doc)
    metrics = doc["perfanalyzer"]["points"][0]["metrics"]
    assert metrics["scrapes"] >= 1
    assert 0.0 <= metrics[pm.CPU_UTIL][""] <= 1.0
    assert 0 < metrics[pm.CPU_MEM_USED][""] <= metrics[pm.CPU_MEM_TOTAL][""]


@pytest.mark.server
def test_dead_metrics_endpoint_warns_once_and_the_run_completes(triton: Any,
                                                                tmp_path: Path) -> None:
    import socket

    out = tmp_path / "pa.csv"
    with socket.socket() as held:  # bound, never listening: refused, and no one else can take it
        held.bind(("127.0.0.1", 0))
        res = _cli("-m", "add_sub", "-u", triton.http_url, "-p", "300", "-s", "1000", "-r", "3",
                   "--collect-metrics", "--metrics-url",
                   f"127.0.0.1:{held.getsockname()[1]}/metrics",
                   "--metrics-interval", "100", "--verbose-csv", "-f", str(out))
    assert res.returncode in (0, 2), res.stderr  # 2: not stable on a loaded machine
    assert res.stderr.count("could not scrape") == 1
    row = next(csv.DictReader(io.StringIO(out.read_text())))
    assert row["Avg GPU Utilization"] == "" and float(row["Inferences/Second"]) > 0


class _TricklingHandler(http.server.BaseHTTPRequestHandler):
    """Answers /metrics one byte at a time, never finishing (until ``done`` is set): each read
    is quick, so a socket timeout never fires."""

    done = threading.Event()

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(10 ** 6))
        self.end_headers()
        with contextlib.suppress(OSError):
            while not self.done.wait(0.1):
                self.wfile.write(b"#")
                self.wfile.flush()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.mark.server
def test_endpoint_that_never_ends_its_answers_does_not_hold_the_run(triton: Any,
                                                                    tmp_path: Path) -> None:
    out, export = tmp_path / "pa.csv", tmp_path / "run.json"
    _TricklingHandler.done.clear()
    try:
        with handler_server(_TricklingHandler) as port:
            # run_cli's timeout: the run must end, not wait for its stuck scrapes
            res = _cli("-m", "add_sub", "-u", triton.http_url, "-p", "300", "-s", "1000",
                       "-r", "3", "--collect-metrics", "--metrics-url",
                       f"127.0.0.1:{port}/metrics", "--metrics-interval", "100",
                       "--verbose-csv", "-f", str(out), "--profile-export-file", str(export))
    finally:
        _TricklingHandler.done.set()
    assert res.returncode in (0, 2), res.stderr  # 2: not stable on a loaded machine
    assert res.stderr.count("could not scrape") <= 1  # (none if the run ended within 1 s)
    assert "No metrics scrape completed" in res.stdout
    row = next(csv.DictReader(io.StringIO(out.read_text())))
    assert row["Avg GPU Utilization"] == "" and float(row["Inferences/Second"]) > 0
    assert json.loads(export.read_text())["perfanalyzer"]["points"][0]["metrics"]["scrapes"] == 0


def test_metrics_interval_longer_than_the_window_warns() -> None:
    res = _cli("-m", "add_sub", "-u", "127.0.0.1:1", "--collect-metrics", "-p", "500")
    assert "--metrics-interval 1000 ms is longer than the measurement window" in res.stderr
    quiet = _cli("-m", "add_sub", "-u", "127.0.0.1:1", "--collect-metrics", "-p", "500",
                 "--metrics-interval", "100")
    assert "longer than the measurement window" not in quiet.stderr
