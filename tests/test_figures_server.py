"""Figures against the real Triton: a checked (validation_data) run measures Client Send / Recv
like a plain one, on every transport."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from perfanalyzer.report.figures import row_figures

from .test_profile import _cfg, _run

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
    # ... so Network+Server is what is left after them (not the client's time as well).
    f = row_figures(s)
    assert f.network_us is not None and f.queue_us is not None
    server = (f.queue_us + (f.compute_input_us or 0) + (f.compute_infer_us or 0)
              + (f.compute_output_us or 0) + (f.cache_hit_us or 0) + (f.cache_miss_us or 0))
    assert f.network_us == max(0, f.avg_latency_us - f.client_send_us - f.client_recv_us - server)
