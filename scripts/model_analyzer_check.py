"""Model Analyzer's single-model profile with perfanalyzer as its perf_analyzer, end to end.

Starts a Triton (the bundled one) serving one test model, a scripted Prometheus endpoint that
serves GPU metrics (``nv_gpu_utilization``, ``nv_gpu_power_usage``, ``nv_gpu_memory_used_bytes``,
``nv_gpu_memory_total_bytes`` for one fake GPU), and a ``perf_analyzer`` shim that runs this
checkout's perfanalyzer (and keeps a copy of each CSV it writes, which Model Analyzer reads and
then deletes). Then runs ``model-analyzer profile`` in remote mode against them and prints, for
every CSV column Model Analyzer reads (its own ``PerfAnalyzer`` metric tables, asked of the
Model Analyzer install), whether every row filled it. Exit 0 when every column was filled.

Model Analyzer lives in a venv of its own (``pip install triton-model-analyzer==1.58.0``): its
dependencies pin versions this project's venv does not want::

    python3 -m venv /tmp/ma && /tmp/ma/bin/pip install triton-model-analyzer==1.58.0
    python scripts/model_analyzer_check.py --ma-venv /tmp/ma
"""

from __future__ import annotations

import argparse
import csv
import http.server
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "tests" / "models"

#: One fake GPU's figures (watts, bytes, fraction), as Triton's metrics endpoint names them.
GPU_LABEL = 'gpu_uuid="GPU-5eed0000-0000-0000-0000-000000000001"'
GPU_METRICS = {"nv_gpu_utilization": 0.42, "nv_gpu_power_usage": 71.5,
               "nv_gpu_power_limit": 300.0, "nv_gpu_memory_used_bytes": 2.5e9,
               "nv_gpu_memory_total_bytes": 16e9, "nv_energy_consumption": 1000.0}

#: The columns Model Analyzer reads from perf_analyzer's CSV, asked of its own install.
#: The GPU metrics Model Analyzer records from perf_analyzer's CSV.
GPU_TAGS = ("gpu_utilization", "gpu_power_usage", "gpu_used_memory", "gpu_free_memory")
#: A metric may have several names (``send/recv`` is an older perf_analyzer's
#: ``request/response``): Model Analyzer reads whichever the CSV has.
COLUMNS = ("import json; from model_analyzer.perf_analyzer.perf_analyzer import PerfAnalyzer as P;"
           " print(json.dumps([[m[0], m[1]] for m in P.perf_metric_table + P.gpu_metric_table]))")

SHIM = '''#!{python}
import os, shutil, subprocess, sys
argv = sys.argv[1:]
with open({log!r}, "a") as f:
    f.write(" ".join(argv) + "\\n")
rc = subprocess.run([{python!r}, "-m", "perfanalyzer", *argv], check=False).returncode
for flag in ("-f", "--latency-report-file"):
    if flag in argv and os.path.exists(argv[argv.index(flag) + 1]):
        src = argv[argv.index(flag) + 1]
        shutil.copy(src, os.path.join({keep!r}, "%d-%s" % (len(os.listdir({keep!r})),
                                                          os.path.basename(src))))
sys.exit(rc)
'''


class _Metrics(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = "".join(f"# TYPE {k} gauge\n{k}{{{GPU_LABEL}}} {v}\n"
                       for k, v in GPU_METRICS.items()).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        return None


def _shim(work: Path) -> tuple[Path, Path, Path]:
    """A ``perf_analyzer`` that runs this checkout's perfanalyzer; its log and CSV folder."""
    bin_dir, keep, log = work / "bin", work / "csv", work / "perf_analyzer.log"
    bin_dir.mkdir()
    keep.mkdir()
    shim = bin_dir / "perf_analyzer"
    shim.write_text(SHIM.format(python=sys.executable, log=str(log), keep=str(keep)))
    shim.chmod(0o755)
    return shim, keep, log


def _columns(ma_python: Path) -> dict[str, list[str]]:
    """Model Analyzer's metric tag -> the CSV column names it reads it from."""
    out = subprocess.run([str(ma_python), "-c", COLUMNS], capture_output=True, text=True,
                         check=True, timeout=120)
    wanted: dict[str, list[str]] = {}
    for tag, name in json.loads(out.stdout):
        wanted.setdefault(tag, []).append(name)
    return wanted


def _report(keep: Path, wanted: dict[str, list[str]]) -> bool:
    """Print, per metric Model Analyzer reads, whether every row of every CSV filled it."""
    rows = []
    for path in sorted(keep.iterdir()):
        lines = path.read_text().split("\n\n")[0]  # the latency table, before any composing part
        rows += list(csv.DictReader(lines.splitlines()))
    print(f"{len(rows)} CSV rows in the {len(list(keep.iterdir()))} CSV files written")
    ok = bool(rows)
    for tag, names in wanted.items():
        present = [n for n in names if rows and n in rows[0]]
        if not present:
            ok = False
            print(f"  {tag}: no column {' or '.join(map(repr, names))}")
            continue
        name = present[0]
        filled = sum(1 for r in rows if (r.get(name) or "").strip())
        ok = ok and filled == len(rows)
        print(f"  {tag}: {name!r} filled {filled}/{len(rows)}"
              + (f", e.g. {rows[0][name]!r}" if filled else ""))
    return ok


def _recorded(ckpt: Path) -> bool:
    """Print the GPU figures Model Analyzer recorded per measurement (its checkpoint)."""
    found: list[dict[str, float]] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "_avg_gpu_data":
                    found.append({tag: rec["_value"] for tag, rec in value})
                else:
                    walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for path in sorted(ckpt.glob("*.ckpt")):
        walk(json.loads(path.read_text()))
    for figures in found:
        print(f"  Model Analyzer recorded: {figures}")
    return bool(found) and all(len(f) == len(GPU_TAGS) for f in found)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ma-venv", type=Path, required=True, help="venv with triton-model-analyzer")
    ap.add_argument("--model", default="add_sub", help="a model of tests/models")
    ap.add_argument("--protocol", choices=("grpc", "http"), default="grpc")
    ap.add_argument("--concurrency", default="1,2")
    ap.add_argument("--timeout", type=float, default=600, help="seconds for Model Analyzer")
    args = ap.parse_args()
    from perfanalyzer.server.launcher import TritonLauncher

    work = Path(tempfile.mkdtemp(prefix="ma-check-"))
    repo = work / "models"
    shutil.copytree(MODELS / args.model, repo / args.model)
    shim, keep, log = _shim(work)
    metrics = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Metrics)
    threading.Thread(target=metrics.serve_forever, daemon=True).start()
    metrics_url = f"http://127.0.0.1:{metrics.server_address[1]}/metrics"
    server = TritonLauncher(model_repository=repo, explicit_models=[args.model],
                            die_with_parent=True).start(timeout_s=180)
    try:
        cmd = [str(args.ma_venv / "bin" / "model-analyzer"), "profile",
               "--model-repository", str(repo), "--profile-models", args.model,
               "--triton-launch-mode", "remote", "--client-protocol", args.protocol,
               "--triton-http-endpoint", server.http_url.removeprefix("http://"),
               "--triton-grpc-endpoint", server.grpc_url, "--triton-metrics-url", metrics_url,
               "--perf-analyzer-path", str(shim), "--run-config-search-disable",
               "--concurrency", args.concurrency, "--batch-sizes", "1",
               "--reload-model-disable",
               "--output-model-repository-path", str(work / "out_models"),
               "--override-output-model-repository", "--checkpoint-directory", str(work / "ckpt"),
               "--export-path", str(work / "export"), "--skip-summary-reports"]
        env = {**os.environ, "PATH": f"{shim.parent}{os.pathsep}{os.environ.get('PATH', '')}",
               "PYTHONPATH": str(ROOT)}
        print("$", " ".join(cmd), flush=True)
        ma = subprocess.run(cmd, env=env, cwd=work, capture_output=True, text=True,
                            timeout=args.timeout, check=False)
        tail = (ma.stdout + ma.stderr).strip().splitlines()[-15:]
        print(f"model-analyzer exit {ma.returncode}; last lines:\n  " + "\n  ".join(tail))
        print("perf_analyzer command lines:\n  " + (log.read_text().strip().replace("\n", "\n  ")
                                                    if log.exists() else "(none)"))
        ok = _report(keep, _columns(args.ma_venv / "bin" / "python")) and ma.returncode == 0
        ok = _recorded(work / "ckpt") and ok
    finally:
        server.stop()
        metrics.shutdown()
    print("every column Model Analyzer reads was filled" if ok else "NOT every column was filled")
    print(f"(files kept in {work})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
