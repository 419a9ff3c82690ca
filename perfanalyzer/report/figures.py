"""Derived figures shared by the console, CSV and JSON reporters (all in integer µs, as perf_analyzer).

The client send / receive columns are the averages of the records' ``send_ns`` (writing the request) and
``recv_ns`` (first response byte to complete response), measured by each transport (see its ``send``);
the network+server column is what is left of the average latency after them and the server's
accounted time, as perf_analyzer computes it: in integer ns, floored to µs once at the end.

These client-side figures keep perf_analyzer's meaning whatever ``--latency-from`` says: they start
at the actual send (the client's request time), so a send late on its schedule never moves its
delay into network+server or the response wait; the latency from the scheduled send is its own
figure (the percentiles and the average under ``--latency-from scheduled``). The columns' names are
:mod:`perfanalyzer.columns`'.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..measure.metrics import LatencyStats, Summary, accounted_ns

CACHE_KEYS = ("cache_hit", "cache_miss")
COMPUTE_KEYS = ("compute_input", "compute_infer", "compute_output")


def us(ns: float) -> int:
    return int(ns // 1000)


@dataclass(frozen=True, slots=True)
class RowFigures:
    throughput: float
    response_throughput: float
    client_send_us: int
    client_recv_us: int
    avg_latency_us: int
    network_us: int | None
    queue_us: int | None
    compute_input_us: int | None
    compute_infer_us: int | None
    compute_output_us: int | None
    cache_hit_us: int | None
    cache_miss_us: int | None
    percentiles_us: dict[int, int]
    #: Server-accounted time exceeded the client's wait: network+server was floored at 0.
    clamped: bool = False
    #: The client's average request time (µs): from the actual send to the answer, whatever
    #: latency the percentiles report (perf_analyzer's "Avg HTTP/gRPC time").
    request_time_us: int = 0

    @property
    def request_response_us(self) -> int:
        return self.client_send_us + self.client_recv_us

    @property
    def response_wait_us(self) -> int:
        return self.request_time_us - self.client_send_us - self.client_recv_us


def row_figures(s: Summary, *, ensemble_total: bool = False,
                latency: LatencyStats | None = None,
                skip: frozenset[str] = frozenset()) -> RowFigures:
    """The figures of one CSV row / console block from a merged summary. ``latency`` is the
    distribution reported (default ``s.latency``; ``s.corrected`` under --latency-from scheduled)."""
    lat = s.latency if latency is None else latency
    clamped = False
    server = s.server
    if server is None:
        queue = cin = cinf = cout = hit = miss = net = None
    else:
        queue = int(server.avg_us("queue", ensemble_total=ensemble_total, skip=skip))
        cin = int(server.avg_us("compute_input", ensemble_total=ensemble_total, skip=skip))
        cinf = int(server.avg_us("compute_infer", ensemble_total=ensemble_total, skip=skip))
        cout = int(server.avg_us("compute_output", ensemble_total=ensemble_total, skip=skip))
        hit = int(server.avg_us("cache_hit", ensemble_total=ensemble_total, skip=skip))
        miss = int(server.avg_us("cache_miss", ensemble_total=ensemble_total, skip=skip))
        wait_ns = (int(s.latency.avg_ns) - int(s.client_send_ns) - int(s.client_recv_ns))
        raw = wait_ns - accounted_ns(server.model)
        net, clamped = max(0, raw) // 1000, raw < 0
    return RowFigures(
        throughput=s.throughput, response_throughput=s.response_throughput,
        client_send_us=us(s.client_send_ns), client_recv_us=us(s.client_recv_ns),
        avg_latency_us=us(lat.avg_ns), request_time_us=us(s.latency.avg_ns),
        network_us=net, queue_us=queue, compute_input_us=cin, compute_infer_us=cinf,
        compute_output_us=cout, cache_hit_us=hit, cache_miss_us=miss,
        percentiles_us={p: us(v) for p, v in lat.percentiles.items()}, clamped=clamped,
    )


def std_text(lat: LatencyStats) -> str:
    """The latency's sample standard deviation in µs; one request has none (perf_analyzer
    prints UINT64_MAX and a warning there)."""
    return "n/a (one request)" if math.isnan(lat.std_ns) else str(us(lat.std_ns))


def fmt_rate(x: float) -> str:
    """A rate as C++ ostream prints a double by default (6 significant digits)."""
    return f"{x:.6g}"
