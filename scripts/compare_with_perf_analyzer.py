#!/usr/bin/env python3
"""Measure the same sweep with the official perf_analyzer and with perfanalyzer, on the same server,
and print how far apart they are (throughput and p50 per load point). Reports; never asserts.

    python scripts/compare_with_perf_analyzer.py                      # add_sub + delay, HTTP + gRPC
    python scripts/compare_with_perf_analyzer.py --model delay --protocol grpc --range 1:4

Needs the server extra (a Triton is started on tests/models) and ../shared/tools/perf_analyzer.sh.
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PA = Path(os.environ.get("PA_SCRIPT", ROOT.parent / "shared" / "tools" / "perf_analyzer.sh"))
TOLERANCE = 0.05


def run_csv(cmd: list[str], out: Path) -> dict[int, dict[str, str]]:
    proc = subprocess.run([*cmd, "-f", str(out)], capture_output=True, text=True, check=False)
    if not out.exists():
        sys.stderr.write(f"{cmd[0]} failed ({proc.returncode}):\n{proc.stdout[-2000:]}"
                         f"{proc.stderr[-2000:]}\n")
        return {}
    with out.open() as f:
        return {int(r["Concurrency"]): r for r in csv.DictReader(f)}


def compare(model: str, protocol: str, rng: str, interval_ms: int, url: str, extra: list[str],
            work: Path) -> list[tuple[str, ...]]:
    common = ["-m", model, "-i", protocol, "-u", url, "--concurrency-range", rng,
              "-p", str(interval_ms), *extra]
    pa = run_csv(["bash", str(PA), *common], work / f"pa_{model}_{protocol}.csv")
    ours = run_csv([sys.executable, "-m", "perfanalyzer", *common],
                   work / f"ours_{model}_{protocol}.csv")
    rows = []
    for level in sorted(set(pa) & set(ours)):
        tp_pa, tp = float(pa[level]["Inferences/Second"]), float(ours[level]["Inferences/Second"])
        p50_pa, p50 = int(pa[level]["p50 latency"]), int(ours[level]["p50 latency"])
        tp_r, p50_r = tp / tp_pa, p50 / max(p50_pa, 1)
        ok = abs(tp_r - 1) <= TOLERANCE and abs(p50_r - 1) <= TOLERANCE
        rows.append((model, protocol, str(level), f"{tp_pa:.1f}", f"{tp:.1f}", f"{tp_r:.3f}",
                     str(p50_pa), str(p50), f"{p50_r:.3f}", "ok" if ok else "DIFFERS"))
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", action="append", help="model(s) of tests/models (default: "
                    "add_sub and delay)")
    ap.add_argument("--protocol", action="append", choices=["http", "grpc"])
    ap.add_argument("--range", default="1:4:3", help="concurrency range (default 1:4:3)")
    ap.add_argument("-p", "--measurement-interval", type=int, default=2000)
    ap.add_argument("extra", nargs="*", help="more flags for both tools (after --)")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    from perfanalyzer.server.launcher import TritonLauncher

    models = args.model or ["add_sub", "delay"]
    protocols = args.protocol or ["http", "grpc"]
    header = ("model", "proto", "conc", "PA infer/s", "ours infer/s", "ratio", "PA p50 us",
              "ours p50 us", "ratio", "within 5%")
    rows: list[tuple[str, ...]] = []
    with TritonLauncher(model_repository=ROOT / "tests" / "models").start() as server, \
            tempfile.TemporaryDirectory() as tmp:
        for model in models:
            for protocol in protocols:
                rows += compare(model, protocol, args.range, args.measurement_interval,
                                server.url(protocol), args.extra, Path(tmp))
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(header)]
    for r in (header, *rows):
        print("  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
