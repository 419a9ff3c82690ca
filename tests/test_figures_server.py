"""Figures against the real Triton: a checked (validation_data) run measures Client Send / Recv
like a plain one, on every transport; --repeat pools the merged windows' metrics scrapes."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import http.server
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from perfanalyzer.measure import prometheus as pm
from perfanalyzer.profile.repeat import profile_runs
from perfanalyzer.report.console import point_text
from perfanalyzer.report.csv import csv_text
from perfanalyzer.report.figures import row_figures
from tests.support.cli_runs import run_profile as _run
from tests.support.cli_runs import url_config as _cfg
from tests.support.console_text import SERVER_LINE
from tests.support.fault_servers import handler_server

pytestmark = pytest.mark.server


def _checked_data(tmp_path: Path) -> Path:
    data = [{"INPUT0": list(range(k, k + 16)), "INPUT1": [1] * 16} for k in range(3)]
    expected = [{"OUTPUT0": [x + 1 for x in d["INPUT0"]], "OUTPUT1": [x - 1 for x in d["INPUT0"]]}
                for d in data]
    path = tmp_path / "data.json"
    path.write_text(json.dumps({"data": data, "validation_data": expected}))
    return path


@pytest.mark.parametrize("transport", [("http", ""), ("grpc", "lean"), ("grpc", "grpcio")])
def test_a_checked_run_measures_client_send_and_recv(triton: Any, tmp_path: Path,
                                                     transport: tuple[str, str]) -> None:
    proto, grpc_transport = transport
    url = triton.http_url if proto == "http" else triton.grpc_url
    extra = ["--grpc-transport", grpc_transport] if grpc_transport else []
    run = _run(_cfg(url, "-i", proto, *extra, "-m", "add_sub", "--input-data",
                    str(_checked_data(tmp_path)), "-p", "200", "-s", "1000", "-r", "3"))
    assert run.buffer is not None and run.buffer.count > 0
    recs = run.buffer.view(0, run.buffer.count)
    assert not recs.status.any()  # every answer matched its validation_data
    # Every request's own transfer times are recorded, as the plain sender records them ...
    assert (recs.send_ns > 0).all() and (recs.recv_ns > 0).all()
    (point,) = run.points
    s = point.merged
    assert s.client_send_ns > 0 and s.client_recv_ns > 0
    # ... so Network+Server is what is left after them, not the client's time as well.
    f = row_figures(s)
    assert f.network_us is not None
    wait_ns = s.latency.avg_ns - s.client_send_ns - s.client_recv_ns
    assert f.network_us * 1000 <= wait_ns < s.latency.avg_ns

class _ChangingGpu(http.server.BaseHTTPRequestHandler):
    """A GPU server's /metrics whose utilization and used memory change at every scrape (so a
    merge over some of the windows differs from a merge over all of them)."""

    hits = 0

    def do_GET(self) -> None:
        n = type(self).hits = type(self).hits + 1
        body = (f'nv_gpu_utilization{{gpu_uuid="GPU-a"}} {(n % 7) / 8}\n'
                f'nv_gpu_power_usage{{gpu_uuid="GPU-a"}} {40 + n}\n'
                f'nv_gpu_memory_used_bytes{{gpu_uuid="GPU-a"}} {1000 * n}\n'
                f'nv_gpu_memory_total_bytes{{gpu_uuid="GPU-a"}} 1000000000\n').encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture()
def changing_gpu() -> Iterator[str]:
    with handler_server(_ChangingGpu) as port:
        yield f"127.0.0.1:{port}/metrics"


def test_repeat_pools_the_metrics_of_every_runs_merged_windows(triton: Any,
                                                               changing_gpu: str) -> None:
    cfg = _cfg(triton.http_url, "-m", "add_sub", "-p", "300", "-s", "1000", "-r", "3",
               "--repeat", "2", "--collect-metrics", "--metrics-url", changing_gpu,
               "--metrics-interval", "50", "--verbose-csv")
    pooled = asyncio.run(profile_runs(cfg, out=io.StringIO()))
    assert len(pooled.replicates) == 2
    (point,) = pooled.points
    mine = [s for run in pooled.replicates for s in run.points[0].metrics]
    assert mine and len(point.metrics) == len(mine)
    want = pm.merge_scrapes(mine)
    (row,) = csv.DictReader(io.StringIO(csv_text(pooled, verbose=True, gpu=True,
                                                 all_points=True)))
    for column, family in pm.GPU_COLUMNS:
        assert row[column] == pm.gpu_cell(want, family) != ""


def test_bls_console_sums_queue_and_compute_over_its_composing_models(triton: Any) -> None:
    run = _run(_cfg(triton.http_url, "-m", "bls_add_sub", "--bls-composing-models", "add_sub",
                    "-p", "300", "-s", "1000", "-r", "3"))
    (point,) = run.points
    server = point.merged.server
    assert server is not None
    (add_sub,) = server.composing

    def avg(key: str) -> int:
        d = add_sub.get(key)
        return int(d.ns / d.count / 1000.0) if d.count else 0

    found = SERVER_LINE.search(point_text(run, point, "http"))
    assert found is not None
    keys = ("queue", "compute_input", "compute_infer", "compute_output")
    assert [int(x) for x in found.groups()] == [avg(k) for k in keys]
