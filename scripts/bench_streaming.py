#!/usr/bin/env python3
"""Client CPU per streamed response: perfanalyzer against the official perf_analyzer, same model.

Starts the test Triton (tests/models) and streams the decoupled ``repeat`` model, which answers
one response per element of IN as fast as it can (``--shape IN:N``: N short responses per request),
at one concurrency. Runs alternate, perf_analyzer then perfanalyzer, over gRPC streaming
(``-i grpc --streaming``); perfanalyzer also runs over HTTP ``--endpoint generate_stream`` (no
perf_analyzer counterpart). For each, the client's whole process tree CPU is sampled from /proc
while requests are served (:mod:`bench_vs_perf_analyzer`'s steady interval, start-up and shutdown
left out) and divided by the requests the server counted, then by N: client CPU per response.

It never asserts a timing; it reports medians and the ratio ours / perf_analyzer, taken within the
same run. The machine is usually shared: read ``load average`` (printed at the start and the end).

    python scripts/bench_streaming.py [--responses 64] [--concurrency 4] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_vs_perf_analyzer import PA, ROOT, Measured, StatsReader, byte_compile, run_tool

MODEL = "repeat"


def commands(proto: str, url: str, n: int, concurrency: int, interval_ms: int,
             csv_path: Path) -> dict[str, list[str]]:
    common = ["-m", MODEL, "-u", url, "--shape", f"IN:{n}", "--concurrency-range",
              str(concurrency), "-p", str(interval_ms), "-s", "1000", "-r", "3",
              "-f", str(csv_path)]
    if proto == "grpc":
        stream = ["-i", "grpc", "--streaming"]
        return {"perf_analyzer grpc --streaming": ["bash", str(PA), *common, *stream],
                "perfanalyzer grpc --streaming": [sys.executable, "-m", "perfanalyzer",
                                                  *common, *stream]}
    return {"perfanalyzer http generate_stream": [
        sys.executable, "-m", "perfanalyzer", *common, "-i", "http", "--endpoint",
        "generate_stream"]}


def per_response(runs: list[Measured], n: int) -> float | None:
    values = [m.steady_cpu_us / n for m in runs if m.steady_cpu_us is not None]
    return statistics.median(values) if values else None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--responses", type=int, default=64, help="responses per request (IN:N)")
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--interval-ms", type=int, default=2000)
    args = ap.parse_args()
    byte_compile()
    from perfanalyzer.server.launcher import TritonLauncher

    server = TritonLauncher(model_repository=ROOT / "tests" / "models",
                            explicit_models=[MODEL]).start(timeout_s=180)
    urls = {"grpc": server.grpc_url, "http": server.http_url}
    stats = StatsReader(server.http_url)
    results: dict[str, list[Measured]] = {}
    print(f"load average at start: {os.getloadavg()}")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for k in range(args.rounds):
                for proto in ("grpc", "http"):
                    csv_path = Path(tmp) / f"r{k}_{proto}.csv"
                    for tool, cmd in commands(proto, urls[proto], args.responses,
                                              args.concurrency, args.interval_ms,
                                              csv_path).items():
                        csv_path.unlink(missing_ok=True)
                        m = run_tool(tool, cmd, MODEL, stats, csv_path)
                        results.setdefault(tool, []).append(m)
                        cpu = m.steady_cpu_us / args.responses if m.steady_cpu_us else None
                        print(f"  round {k + 1} {tool}: rc {m.rc}, "
                              f"{'n/a' if cpu is None else f'{cpu:.1f}'} µs CPU per response, "
                              f"{(m.steady_rate or 0) * args.responses:.0f} responses/s")
    finally:
        server.stop()
    print(f"load average at end: {os.getloadavg()}")
    print(f"\nmodel {MODEL}, {args.responses} responses per request, concurrency "
          f"{args.concurrency}: median client CPU per response (µs)")
    base = per_response(results.get("perf_analyzer grpc --streaming", []), args.responses)
    for tool, runs in results.items():
        cpu = per_response(runs, args.responses)
        ratio = f" ({cpu / base:.2f}x perf_analyzer)" if cpu and base else ""
        print(f"  {tool:38s} {'n/a' if cpu is None else f'{cpu:.1f}'}{ratio}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
