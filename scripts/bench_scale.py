#!/usr/bin/env python3
"""Concurrency 16,384 on one host against the real Triton: gRPC (streams over one connection)
and HTTP (one connection per request in flight), with the client's CPU and memory.

Starts the test Triton (tests/models; its open-file limit raised to the hard limit first, since
the server needs a socket per HTTP connection too), then runs perfanalyzer once per protocol at
``--concurrency-range N`` on add_sub and prints, per protocol: the exit code, the requests the
server counted (success and failure), the errors perfanalyzer reported, throughput, the client's
CPU (whole process tree, RUSAGE_CHILDREN: start-up included) per request, and its peak resident
memory (ru_maxrss of the largest child: the client process).

    python scripts/bench_scale.py                        # c=16384, gRPC and HTTP
    python scripts/bench_scale.py --concurrency 4096 --only grpc

The HTTP run needs ``N + 128`` open files on each side; perfanalyzer checks its own limit and
refuses the run (exit 3) when the hard limit is lower. It never asserts a timing; it reports.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODEL = "add_sub"
RUN_TIMEOUT_S = 600.0


def raise_nofile() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def server_counts(http_url: str) -> tuple[int, int]:
    with urllib.request.urlopen(f"http://{http_url}/v2/models/{MODEL}/stats", timeout=30) as r:
        stats = json.load(r)["model_stats"][0]["inference_stats"]
    return int(stats["success"]["count"]), int(stats["fail"]["count"])


def run(protocol: str, url: str, http_url: str, args: argparse.Namespace, work: Path) -> str:
    csv_path = work / f"{protocol}.csv"
    cmd = [sys.executable, "-m", "perfanalyzer", "-m", MODEL, "-i", protocol, "-u", url,
           "--concurrency-range", str(args.concurrency), "-p", str(args.interval),
           "-s", "100", "-r", "5", "-f", str(csv_path)]
    ok0, fail0 = server_counts(http_url)
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
        rc, out = proc.returncode, proc.stdout + proc.stderr
    except subprocess.TimeoutExpired as exc:
        text = [x.decode(errors="replace") if isinstance(x, bytes) else x or ""
                for x in (exc.stdout, exc.stderr)]
        rc, out = 124, "".join(text)
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    time.sleep(1.0)  # the server updates its statistics just after answering
    ok1, fail1 = server_counts(http_url)
    served, failed = ok1 - ok0, fail1 - fail0
    cpu = (r1.ru_utime + r1.ru_stime) - (r0.ru_utime + r0.ru_stime)
    errors = sum(int(n) for n in re.findall(r"Failed requests: (\d+)", out))
    tput = re.search(r"throughput: ([0-9.]+) infer/sec", out)
    if rc not in (0, 2):
        sys.stderr.write(f"{protocol}: exit {rc}\n{out[-3000:]}\n")
    per_req = f"{cpu / served * 1e6:.0f}" if served else "n/a"
    return (f"| {protocol} | {args.concurrency} | {rc} | {served} | {failed} "
            f"| {errors} | {tput.group(1) if tput else 'n/a'} | {cpu:.1f} | {per_req} "
            f"| {r1.ru_maxrss / 1024:.0f} | {wall:.0f} |")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--concurrency", type=int, default=16384)
    ap.add_argument("-p", "--interval", type=int, default=8000, help="-p (ms)")
    ap.add_argument("--only", choices=("grpc", "http"))
    args = ap.parse_args()
    limit = raise_nofile()
    sys.path.insert(0, str(ROOT))
    from perfanalyzer.server.launcher import TritonLauncher

    server = TritonLauncher(model_repository=ROOT / "tests" / "models",
                            explicit_models=[MODEL]).start(timeout_s=180)
    started = datetime.datetime.now(datetime.timezone.utc)
    print(f"# {started:%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.2f}, open-file limit {limit}; -p {args.interval} -s 100 -r 5\n"
          "| protocol | concurrency | exit | served | server failures | failed (client) "
          "| infer/s | client CPU s | CPU µs/req (whole run) | client peak RSS MiB | wall s |\n"
          "|---|---|---|---|---|---|---|---|---|---|---|", flush=True)
    try:
        with tempfile.TemporaryDirectory(prefix="pa-scale-") as tmp:
            for protocol in ("grpc", "http"):
                if args.only and args.only != protocol:
                    continue
                url = server.grpc_url if protocol == "grpc" else server.http_url
                print(run(protocol, url, server.http_url, args, Path(tmp)), flush=True)
    finally:
        server.stop()
    print(f"# done, load average {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
