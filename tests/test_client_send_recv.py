"""Client Send / Client Recv measured on every transport against the real Triton:
lean HTTP/1.1, lean gRPC (h2c), grpc.aio and gRPC streaming. Each must be > 0 per request, less
than the request's latency together, and reach the CSV and the console line as perf_analyzer
writes them ("Network+Server Send/Recv" then excludes them)."""

from __future__ import annotations

import asyncio
import csv
import io
from pathlib import Path
from typing import Any

import pytest

from perfanalyzer.cli.main import cli
from perfanalyzer.config.build import build as config_from_kwargs
from perfanalyzer.measure.metrics import accounted_ns
from perfanalyzer.profile.run import profile
from perfanalyzer.report import console
from perfanalyzer.report.csv import csv_text
from perfanalyzer.report.export import write_export
from perfanalyzer.report.figures import row_figures, us
from perfanalyzer.report.saved import load_run
from perfanalyzer.results.run import RunResult

pytestmark = pytest.mark.server


def _profile(url: str, *args: str) -> RunResult:
    ctx = cli.commands["profile"].make_context(
        "profile", ["-u", url, "-p", "400", "-r", "3", "-s", "100", *args])
    return asyncio.run(profile(config_from_kwargs(dict(ctx.params)), out=io.StringIO()))


def _check(run: RunResult, protocol: str, stream: bool = False) -> None:
    assert not run.failure and run.points and run.buffer is not None
    v = run.buffer.view()
    ok = v.status == 0
    assert ok.all(), v.errors
    latency = v.last - v.sent
    # measured for every request, and a part of its latency
    assert (v.send_ns > 0).all() and (v.recv_ns > 0).all()
    if stream:  # recv includes decoding the empty final response, which comes after "last"
        assert (v.send_ns <= latency).all()
    else:
        assert (v.send_ns + v.recv_ns < latency).all()
    s = run.points[-1].merged
    assert 0 < s.client_send_ns + s.client_recv_ns < s.latency.avg_ns
    f = row_figures(s)
    assert (f.client_send_us, f.client_recv_us) == (us(s.client_send_ns), us(s.client_recv_ns))
    # one load level: one row (stable or not: the machine's load decides that)
    (row,) = csv.DictReader(io.StringIO(csv_text(run, all_points=True)))
    assert (row["Client Send"], row["Client Recv"]) == (str(f.client_send_us),
                                                        str(f.client_recv_us))
    if f.network_us is not None and f.network_us > 0:  # perf_analyzer's subtraction, unclamped
        assert s.server is not None  # in integer ns, floored to us once
        assert f.network_us == (int(s.latency.avg_ns) - int(s.client_send_ns)
                                - int(s.client_recv_ns) - accounted_ns(s.server.model)) // 1000
    text = console.point_text(run, run.points[-1], protocol)
    assert (f"send/recv {f.client_send_us + f.client_recv_us} usec + response wait "
            f"{f.avg_latency_us - f.client_send_us - f.client_recv_us} usec") in text


def test_lean_http_and_a_saved_run_keeps_them(triton: Any, tmp_path: Path) -> None:
    path = tmp_path / "run.json"
    run = _profile(triton.http_url, "-m", "add_sub", "--concurrency-range", "2")
    _check(run, "http")
    write_export(run, path)
    back = load_run(path)
    assert back.buffer is not None and run.buffer is not None
    for name in ("send_ns", "recv_ns"):
        assert (getattr(back.buffer.view(), name) == getattr(run.buffer.view(), name)).all()
    assert csv_text(back) == csv_text(run)


def test_lean_grpc(triton: Any) -> None:
    _check(_profile(triton.grpc_url, "-m", "add_sub", "-i", "grpc", "--concurrency-range", "2"),
           "grpc")


def test_grpc_aio(triton: Any) -> None:
    _check(_profile(triton.grpc_url, "-m", "add_sub", "-i", "grpc", "--grpc-transport", "grpcio",
                    "--concurrency-range", "1"), "grpc")


def test_grpc_streaming(triton: Any) -> None:
    _check(_profile(triton.grpc_url, "-m", "repeat", "-i", "grpc", "--streaming", "--shape",
                    "IN:3", "--concurrency-range", "1"), "grpc", stream=True)


def test_rate_mode_records_them_too(triton: Any) -> None:
    _check(_profile(triton.http_url, "-m", "add_sub", "--request-rate-range", "100"), "http")
