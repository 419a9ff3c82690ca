#!/usr/bin/env python3
"""--enable-mpi scaling: aggregate throughput of K merged ranks vs K x one rank's, on a server-bound
model (a fixed-delay model with an instance per request in flight), plus the merged-count check and
the window-edge skew.

    python scripts/bench_mpi.py --ranks 1 2 4 --concurrency 2 -p 2000

For each K: ``mpiexec -n K perfanalyzer --enable-mpi -m bench_delay --concurrency-range C``; the
merged row's throughput should be K x the K=1 figure (within 5 %: the server is the bottleneck and
has enough instances), and the leader's records (every rank's, drain included) must equal the
server's success-count delta exactly. The skew: two ranks in different groups (HTTP and gRPC to the
same model) export their window edges; on one host the monotonic clocks are the same, so the
difference of matching edges is the edge skew.
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from perfanalyzer.server.launcher import TritonLauncher  # noqa: E402
from tests.support.mpi_runs import MPIEXEC, PA, export_requests, window_edges  # noqa: E402
from tests.support.triton_stats import settled_success_count, success_count  # noqa: E402

MODEL = "bench_delay"


def model_repo(where: Path, instances: int, delay_ms: int) -> Path:
    src = ROOT / "tests" / "models" / "delay"
    dst = where / "models" / MODEL
    shutil.copytree(src, dst)
    cfg = (dst / "config.pbtxt").read_text()
    cfg = cfg.replace('name: "delay"', f'name: "{MODEL}"')
    cfg = cfg.replace('string_value: "50"', f'string_value: "{delay_ms}"')
    cfg = cfg.replace("count: 4", f"count: {instances}")
    (dst / "config.pbtxt").write_text(cfg)
    return dst.parent


def run_k(k: int, url: str, args: argparse.Namespace, tmp: Path) -> dict[str, float]:
    csv_path, export = tmp / f"k{k}.csv", tmp / f"k{k}.json"
    before = success_count(url, MODEL)
    cmd = [str(MPIEXEC), "-n", str(k), *PA, "--enable-mpi", "-u", url, "-m", MODEL,
           "--concurrency-range", str(args.concurrency), "-p", str(args.p), "-s", "10",
           "-f", str(csv_path), "--profile-export-file", str(export)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    if r.returncode not in (0, 2):
        raise SystemExit(f"K={k}: exit {r.returncode}\n{r.stderr}")
    with open(csv_path, newline="") as f:
        (row,) = list(csv.DictReader(f))
    total = export_requests(export)
    served = settled_success_count(url, MODEL, before + total) - before
    return {"k": k, "level": float(row["Concurrency"]), "throughput": float(row["Inferences/Second"]),
            "records": total, "served": served}


def skew(url: str, grpc_url: str, args: argparse.Namespace,
         tmp: Path) -> tuple[list[float], list[dict[str, float]]]:
    exports = [tmp / "skew_http.json", tmp / "skew_grpc.json"]
    segs = [[*PA, "--enable-mpi", "-u", u, "-i", proto, "-m", MODEL, "--concurrency-range",
             str(args.concurrency), "-p", str(args.p), "-s", "10",
             "--profile-export-file", str(e)]
            for u, proto, e in ((url, "http", exports[0]), (grpc_url, "grpc", exports[1]))]
    cmd = [str(MPIEXEC), "-n", "1", *segs[0], ":", "-n", "1", *segs[1]]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    if r.returncode not in (0, 2):
        raise SystemExit(f"skew run: exit {r.returncode}\n{r.stderr}")
    (a,), (b,) = (window_edges(e) for e in exports)
    notices = [json.loads(e.read_text())["perfanalyzer"]["provenance"]["mpi"]["edge_notice_ms"]
               for e in exports]
    return [abs(x - y) / 1e6 for x, y in zip(a, b, strict=True)], notices


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--concurrency", type=int, default=2, help="per rank")
    ap.add_argument("-p", type=int, default=2000, help="window (ms)")
    ap.add_argument("--delay-ms", type=int, default=50)
    args = ap.parse_args()
    if MPIEXEC is None:
        raise SystemExit("mpiexec not found: pip install 'perfanalyzer[mpi]'")
    with tempfile.TemporaryDirectory(prefix="bench-mpi-") as d:
        tmp = Path(d)
        repo = model_repo(tmp, max(args.ranks) * args.concurrency, args.delay_ms)
        server = TritonLauncher(model_repository=repo).start(timeout_s=300)
        try:
            results = [run_k(k, server.http_url, args, tmp) for k in args.ranks]
            edges, notices = skew(server.http_url, server.grpc_url, args, tmp)
        finally:
            server.stop()
    one = next((r["throughput"] for r in results if r["k"] == 1), None)
    print(f"model {MODEL}: {args.delay_ms} ms per request, {max(args.ranks) * args.concurrency} "
          f"instances; {args.concurrency} in flight per rank; -p {args.p}")
    print(f"{'K':>3} {'Concurrency':>11} {'infer/s':>9} {'vs K x 1 rank':>14} "
          f"{'records':>8} {'server':>8} {'count':>6}")
    for r in results:
        ratio = f"{r['throughput'] / (r['k'] * one) - 1:+.1%}" if one else "n/a"
        ok = "exact" if r["records"] == r["served"] else "DIFF"
        print(f"{r['k']:>3} {r['level']:>11g} {r['throughput']:>9.2f} {ratio:>14} "
              f"{r['records']:>8} {r['served']:>8} {ok:>6}")
    print(f"window-edge skew between two ranks over {len(edges)} edges: max {max(edges):.2f} ms, "
          f"median {sorted(edges)[len(edges) // 2]:.2f} ms")
    print("each rank's own bound (how late it saw its exchanges complete, no common clock): "
          + "; ".join(f"max {n['max']:.2f} ms, p50 {n['p50']:.2f} ms" for n in notices))


if __name__ == "__main__":
    t0 = time.monotonic()
    main()
    print(f"({time.monotonic() - t0:.0f} s)")
