"""Bytes of client memory per request over a run: is memory flat in run length?

Starts a local Triton with the test models, runs one closed-loop load point in-process for
``--windows`` windows of ``--window-ms`` (stability 0 %, so every window runs), samples the
process's resident memory every 50 ms, and prints the growth between the end of window 4 (the in-memory
working set has its size by then) and the end of the run divided by the requests completed in between.

    python scripts/bench_memory.py --windows 12 --window-ms 1000 --concurrency 8
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import threading
import time
from pathlib import Path

from perfanalyzer.config import RunConfig
from perfanalyzer.profile.run import profile
from perfanalyzer.server.launcher import TritonLauncher

MODELS = Path(__file__).resolve().parent.parent / "tests" / "models"
PAGE = os.sysconf("SC_PAGE_SIZE")
#: Growth is measured from the end of this window (0-based) to the end of the run.
SETTLE = 3


def rss_bytes() -> int:
    with open("/proc/self/statm", encoding="ascii") as fh:
        return int(fh.read().split()[1]) * PAGE


class Sampler(threading.Thread):
    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.samples: list[tuple[int, int]] = []  # (perf_counter_ns, RSS bytes)
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.05):
            self.samples.append((time.perf_counter_ns(), rss_bytes()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--windows", type=int, default=12)
    ap.add_argument("--window-ms", type=int, default=1000)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--model", default="add_sub")
    args = ap.parse_args()
    server = TritonLauncher(model_repository=MODELS, explicit_models=[args.model]).start(
        timeout_s=180, models=[args.model])
    try:
        cfg = RunConfig.of(model=args.model, url=server.http_url,
                        concurrency_range=(args.concurrency, args.concurrency, 1),
                        measurement_interval_ms=args.window_ms, max_trials=args.windows,
                        stability_percentage=0.0).validate()
        sampler = Sampler()
        sampler.start()
        run = asyncio.run(profile(cfg, out=io.StringIO()))
        sampler.stop.set()
        sampler.join()
    finally:
        server.stop()
    point = run.points[0]
    # from the end of window SETTLE (the in-memory working set has its size) to the end
    settle = point.windows[min(SETTLE, len(point.windows) - 1)]
    last = point.windows[-1]
    at_settle = [r for t, r in sampler.samples if t <= settle.summary.end_ns][-1]
    peak = max(r for _t, r in sampler.samples)
    requests = last.hi - settle.hi
    print(f"windows: {len(point.windows)}, requests after window {settle.index}: {requests}")
    print(f"RSS after window {settle.index}: {at_settle / 2**20:.1f} MiB, "
          f"peak: {peak / 2**20:.1f} MiB")
    print(f"growth per request: {(peak - at_settle) / max(1, requests):.1f} bytes")

if __name__ == "__main__":
    main()
