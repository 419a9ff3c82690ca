#!/usr/bin/env python3
"""The highest request rate one client core keeps on schedule (open loop, no server cost).

The request-rate manager of a run (``load/request_rate.py``: the timerfd alarm, lanes, records)
drives the lean HTTP or gRPC client against a trivial local server that answers at once (the one
of ``bench_client_hot_path.py``, a subprocess on the other core, its CPU not counted), at rising
constant rates. Per rate: the share of sends more than 1 ms behind their intended time (the
console's late count), the achieved send rate, and the client's CPU per request (process time,
the whole process). The ceiling printed is the highest rate with at most 1 % late sends; the
load average is printed at the start and the end, since a shared machine moves it.

    python scripts/bench_rate_ceiling.py [--rates 2000,4000,...] [--seconds 4] [--protocol http]
        [--repeats 3]

It asserts nothing; it reports (median of ``--repeats`` runs per rate, rates interleaved).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_client_hot_path import start_server

from perfanalyzer.client import ClientOptions, create_client
from perfanalyzer.client.base import InferRequest, InputTensor
from perfanalyzer.load.request_rate import RequestRateManager, RoundRobin
from perfanalyzer.load.schedule import constant
from perfanalyzer.load.send import unary_sender
from perfanalyzer.load.uvloop_policy import loop_factory
from perfanalyzer.records import LATE_SEND_NS, RecordBuffer

A = np.arange(16, dtype=np.int32).reshape(1, 16)
REQUEST = InferRequest(model="add_sub", inputs=(InputTensor.from_numpy("INPUT0", A),
                                                InputTensor.from_numpy("INPUT1", A)))


async def one(protocol: str, url: str, rate: float, seconds: float) -> tuple[float, float, float]:
    """(late %, achieved sends/s, client CPU µs per request) of ``seconds`` at ``rate``."""
    client = create_client(protocol, ClientOptions(url=url))
    try:
        prepared = client.prepare(REQUEST)

        def manager() -> RequestRateManager:
            return RequestRateManager(unary_sender(client), RecordBuffer(), constant,
                                      RoundRobin([prepared]), nowait=client)

        warm = manager()  # connections open, code paths warm
        await warm.apply(200.0)
        await asyncio.sleep(0.5)
        await warm.stop()
        m = manager()
        cpu0, t0 = time.process_time(), time.perf_counter_ns()
        await m.apply(rate)
        await asyncio.sleep(seconds)
        await m.stop()
        cpu = time.process_time() - cpu0
        v = m.buffer.view()
        n = m.buffer.count
        late = float((v.sent - v.intended > LATE_SEND_NS).mean() * 100) if n else 100.0
        span = (int(v.sent.max()) - t0) / 1e9 if n else seconds
        return late, n / span, cpu / max(n, 1) * 1e6
    finally:
        await client.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rates", default="2000,4000,6000,8000,10000,12000")
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--protocol", choices=("http", "grpc"), default="http")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    rates = [float(r) for r in args.rates.split(",")]
    server, port = start_server(args.protocol)
    factory = loop_factory("auto")
    results: dict[float, list[tuple[float, float, float]]] = {r: [] for r in rates}
    print(f"load average at the start: {os.getloadavg()[0]:.2f}; {args.protocol}, "
          f"{args.seconds:g} s per run, {args.repeats} runs per rate (interleaved)", flush=True)
    try:
        for _ in range(args.repeats):
            for rate in rates:
                coro = one(args.protocol, f"127.0.0.1:{port}", rate, args.seconds)
                loop = factory() if factory is not None else asyncio.new_event_loop()
                try:
                    results[rate].append(loop.run_until_complete(coro))
                finally:
                    loop.close()
    finally:
        server.kill()
    print("| asked req/s | late > 1 ms | sent req/s | client CPU µs/req |")
    print("|---|---|---|---|")
    ceiling = 0.0
    for rate in rates:
        late, sent, cpu = (statistics.median(x) for x in zip(*results[rate], strict=True))
        print(f"| {rate:.0f} | {late:.2f} % | {sent:.0f} | {cpu:.1f} |")
        if late <= 1.0 and sent >= 0.99 * rate:
            ceiling = max(ceiling, rate)
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")
    print(f"highest rate with at most 1 % of sends late: {ceiling:.0f} req/s" if ceiling
          else "no rate kept 1 %")


if __name__ == "__main__":
    main()
