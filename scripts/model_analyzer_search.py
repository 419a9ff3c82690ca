"""Model Analyzer's search and ``perfanalyzer search`` side by side on one model, winners re-measured.

The model is tests/models/delay (a Python model sleeping 50 ms per request, no batching) copied
with one instance, so its optimum is known: the most instances (each request then waits for no
other). Both tools search the same space: the instance counts given (default 1,2,4), dynamic
batching off (the model has ``max_batch_size: 0``, so neither tool can turn it on), one
concurrency (default 4), gRPC.

1. Model Analyzer (``model-analyzer profile``, brute search over ``model_config_parameters``)
   in *local* launch mode: it starts and restarts Triton itself to load each candidate, which
   remote mode cannot (it would need the model repository API). The ``tritonserver`` it starts
   is a wrapper around the nvidia-pytriton wheel's binary that adds what
   :mod:`perfanalyzer.server.launcher` adds (its libraries, the python backend with this
   interpreter's stub, a private shared-memory prefix). Its perf_analyzer is the real one
   (run through ``/work/shared/tools/perf_analyzer.sh``, which installs it and sets its path).
2. ``perfanalyzer search --mode full`` against a bundled Triton in explicit model control mode.
3. Each distinct winning configuration is re-measured by ``perfanalyzer profile --repeat N`` on
   a fresh server serving it; the table shows each tool's winner, its own figure and the
   re-measured one with its 95 % interval, and each search's wall time.

Model Analyzer lives in a venv of its own (see scripts/model_analyzer_check.py)::

    python3 -m venv /tmp/ma && /tmp/ma/bin/pip install triton-model-analyzer==1.58.0
    python scripts/model_analyzer_search.py --ma-venv /tmp/ma
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODEL = "delay"
#: Installs (once) and runs the real perf_analyzer 2.50 with the CUDA runtime it links against
#: on its library path (the bare binary under ~/.cache/perfanalyzer-anchor/ cannot start without).
PA_DEFAULT = Path("/work/shared/tools/perf_analyzer.sh")

WRAPPER = '''#!/bin/sh
# The wheel's tritonserver with what perfanalyzer's launcher adds; Model Analyzer's flags first.
export LD_LIBRARY_PATH={libs}${{LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}}
export PATH={pybin}:$PATH
exec {binary} "$@" --backend-directory={backends} \\
    --backend-config=python,shm-region-prefix-name={shm} --allow-gpu-metrics=false
'''


def _with_config(src: Path, dst: Path, config: str) -> None:
    """Copy the model folder ``src`` to ``dst`` with ``config`` as its config.pbtxt."""
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("config.pbtxt", "__pycache__"))
    (dst / "config.pbtxt").write_text(re.sub(r'(?m)^name:\s*"[^"]*"', f'name: "{MODEL}"',
                                             config))


def _instances(config: str) -> str:
    counts = re.findall(r"count:\s*(\d+)", config)
    db = "on" if "dynamic_batching" in config else "off"
    return f"instances {'+'.join(counts) or '1'}, dynamic batching {db}"


def _wrapper(work: Path, shm: str) -> Path:
    """A ``tritonserver`` for Model Analyzer's local mode."""
    from perfanalyzer.server.launcher import TritonInstall

    inst = TritonInstall.find()
    backends = work / "backends"
    shutil.copytree(inst.backend, backends / "python",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(inst.stub, backends / "python" / "triton_python_backend_stub")
    bin_dir = work / "bin"
    bin_dir.mkdir()
    path = bin_dir / "tritonserver"
    path.write_text(WRAPPER.format(libs=inst.libs, pybin=Path(sys.executable).parent,
                                   binary=inst.binary, backends=backends, shm=shm))
    path.chmod(0o755)
    return path


def _ma_throughputs(ckpt: Path) -> dict[str, float]:
    """Model Analyzer's measured throughput per configuration, from its checkpoint (``profile``
    writes no results table with the summary reports skipped). Its objective is throughput by
    default, so the largest is its winner."""
    out: dict[str, float] = {}

    def walk(node: object, variant: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "_non_gpu_data":
                    for tag, rec in value:
                        if tag == "perf_throughput":
                            out[variant] = max(out.get(variant, 0.0), rec["_value"])
                else:
                    walk(value, variant)
        elif isinstance(node, list):
            for value in node:
                walk(value, variant)

    for path in sorted(ckpt.glob("*.ckpt")):
        results = json.loads(path.read_text())["ResultManager.results"]["_results"]
        for variants in results.values():
            for variant, node in variants.items():
                walk(node, variant)
    return out


def _ma_search(args: argparse.Namespace, work: Path, repo: Path) -> dict[str, object]:
    """Run Model Analyzer's brute search; its winner (config text, figure) or the failure."""
    shm = f"ma_search_{uuid.uuid4().hex[:8]}_"
    server = _wrapper(work, shm)
    counts = ", ".join(str(int(c)) for c in args.instance_counts.split(","))
    from perfanalyzer.server.launcher import free_port

    http, grpc, metrics = free_port(), free_port(), free_port()  # not 8000-8002: shared machine
    out_repo = work / "ma_models"
    cfg = work / "ma.yaml"
    cfg.write_text(f"""model_repository: {repo}
output_model_repository_path: {out_repo}
override_output_model_repository: true
checkpoint_directory: {work / 'ma_ckpt'}
export_path: {work / 'ma_export'}
triton_launch_mode: local
triton_server_path: {server}
triton_output_path: {work / 'ma_triton.log'}
perf_analyzer_path: {args.perf_analyzer}
perf_output: true
perf_output_path: {work / 'ma_perf_analyzer.log'}
client_protocol: grpc
triton_http_endpoint: localhost:{http}
triton_grpc_endpoint: localhost:{grpc}
triton_metrics_url: http://localhost:{metrics}/metrics
run_config_search_mode: brute
skip_summary_reports: true
profile_models:
  {MODEL}:
    model_config_parameters:
      instance_group:
        - kind: KIND_CPU
          count: [{counts}]
    parameters:
      concurrency: [{args.concurrency}]
      batch_sizes: [1]
""")
    cmd = [str(args.ma_venv / "bin" / "model-analyzer"), "profile", "-f", str(cfg)]
    env = {**os.environ, "PATH": f"{server.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    print("$", " ".join(cmd), flush=True)
    t0 = time.monotonic()
    try:
        ma = subprocess.run(cmd, env=env, cwd=work, capture_output=True, text=True,
                            timeout=args.timeout, check=False)
        text, rc = ma.stdout + ma.stderr, ma.returncode
    except subprocess.TimeoutExpired as e:
        text, rc = str(e.stdout or "") + str(e.stderr or ""), 124
    wall = time.monotonic() - t0
    for seg in Path("/dev/shm").glob(f"{shm}*"):
        seg.unlink(missing_ok=True)
    (work / "ma_output.log").write_text(text)
    result: dict[str, object] = {"wall_s": wall, "rc": rc}
    figures = _ma_throughputs(work / "ma_ckpt")
    if rc != 0 or not figures:
        errors = [ln for ln in text.splitlines() if "error" in ln.lower() or "fail" in ln.lower()]
        result["error"] = (errors or text.strip().splitlines() or ["(no output)"])[-1]
        print(f"model-analyzer exit {rc}; last lines:\n  "
              + "\n  ".join(text.strip().splitlines()[-15:]))
        return result
    print(f"Model Analyzer measured {len(figures)} configurations:")
    for name, tput in sorted(figures.items(), key=lambda kv: -kv[1]):
        print(f"  {name}: {tput} infer/s")
    best = max(figures, key=lambda k: figures[k])
    result.update(name=best, figure=figures[best],
                  config=(out_repo / best / "config.pbtxt").read_text())
    return result


def _pa_search(args: argparse.Namespace, work: Path, repo: Path) -> dict[str, object]:
    """Run ``perfanalyzer search`` on a bundled Triton; its winner (config text, figure)."""
    from perfanalyzer.server.launcher import TritonLauncher

    out = work / "pa_search"
    server = TritonLauncher(model_repository=repo, explicit_models=[MODEL],
                            die_with_parent=True).start(timeout_s=180)
    try:
        cmd = [sys.executable, "-m", "perfanalyzer", "search", "-m", MODEL, "-i", "grpc",
               "-u", server.grpc_url, "--output-dir", str(out), "--mode", "full",
               "--instance-counts", args.instance_counts, "--dynamic-batching", "off",
               "--concurrency-range", str(args.concurrency), "--replicates", "0",
               "-p", str(args.window_ms)]
        print("$", " ".join(cmd), flush=True)
        t0 = time.monotonic()
        ps = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout,
                            check=False, env={**os.environ, "PYTHONPATH": str(ROOT)})
        wall = time.monotonic() - t0
    finally:
        server.stop()
    (work / "pa_search.log").write_text(ps.stdout + ps.stderr)
    result: dict[str, object] = {"wall_s": wall, "rc": ps.returncode}
    if ps.returncode != 0 or not (out / "config.pbtxt").exists():
        result["error"] = (ps.stdout + ps.stderr).strip().splitlines()[-1:]
        return result
    ranking = json.loads((out / "search.json").read_text())["ranking"]
    print(f"perfanalyzer search measured {len(ranking)} configurations:")
    for r in ranking:
        print(f"  {r['candidate']}: {r['throughput']} infer/s")
    result.update(name=ranking[0]["candidate"], figure=float(ranking[0]["throughput"]),
                  config=(out / "config.pbtxt").read_text())
    return result


def _remeasure(args: argparse.Namespace, work: Path, config: str, tag: str) -> str:
    """Throughput of ``config`` by ``perfanalyzer profile --repeat N``: ``mean ± half-width``."""
    from perfanalyzer.server.launcher import TritonLauncher

    repo = work / f"remeasure_{tag}"
    _with_config(ROOT / "tests" / "models" / MODEL, repo / MODEL, config)
    server = TritonLauncher(model_repository=repo, explicit_models=[MODEL],
                            die_with_parent=True).start(timeout_s=180)
    try:
        cmd = [sys.executable, "-m", "perfanalyzer", "profile", "-m", MODEL, "-i", "grpc",
               "-u", server.grpc_url, "--concurrency-range", str(args.concurrency),
               "-p", str(args.window_ms), "--repeat", str(args.repeat)]
        run = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout,
                             check=False, env={**os.environ, "PYTHONPATH": str(ROOT)})
    finally:
        server.stop()
    (work / f"remeasure_{tag}.log").write_text(run.stdout + run.stderr)
    m = re.search(rf"(?m)^{args.concurrency}\s+{args.repeat}\s+(\S+ ± \S+)", run.stdout)
    return m.group(1) if m else f"(no figure, exit {run.returncode})"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ma-venv", type=Path, required=True, help="venv with triton-model-analyzer")
    ap.add_argument("--perf-analyzer", type=Path, default=PA_DEFAULT,
                    help="the perf_analyzer binary Model Analyzer runs")
    ap.add_argument("--instance-counts", default="1,2,4")
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--window-ms", type=int, default=2000, help="perfanalyzer's -p")
    ap.add_argument("--repeat", type=int, default=3, help="runs per re-measurement")
    ap.add_argument("--timeout", type=float, default=900, help="seconds per tool run")
    args = ap.parse_args()
    if not args.perf_analyzer.exists():
        print(f"{args.perf_analyzer} is missing: give --perf-analyzer")
        return 2

    work = Path(tempfile.mkdtemp(prefix="ma-search-"))
    src = ROOT / "tests" / "models" / MODEL
    config = (src / "config.pbtxt").read_text()
    one = re.sub(r"count:\s*\d+", "count: 1", config)  # the search's starting point
    for name in ("ma_repo", "pa_repo"):
        _with_config(src, work / name / MODEL, one)
    ma = _ma_search(args, work, work / "ma_repo")
    pa = _pa_search(args, work, work / "pa_repo")

    measured: dict[str, str] = {}
    for tool, res in (("ma", ma), ("pa", pa)):
        if "config" in res:
            key = _instances(str(res["config"]))
            if key not in measured:
                measured[key] = _remeasure(args, work, str(res["config"]), tool)

    print(f"\nModel {MODEL} (50 ms per request, starting from 1 instance), concurrency "
          f"{args.concurrency}, instance counts {args.instance_counts}, gRPC; re-measured by "
          f"perfanalyzer profile -p {args.window_ms} --repeat {args.repeat} (95 % interval)")
    print("| search | wall time | winner | its own figure (infer/s) | re-measured (infer/s) |")
    print("|---|---|---|---|---|")
    for label, res in (("Model Analyzer 1.58 (brute, local mode, perf_analyzer 2.50)", ma),
                       ("perfanalyzer search --mode full", pa)):
        if "config" not in res:
            print(f"| {label} | {float(res['wall_s']):.0f} s | failed (exit {res['rc']}): "
                  f"{res.get('error')} | | |")
            continue
        key = _instances(str(res["config"]))
        print(f"| {label} | {float(res['wall_s']):.0f} s | {res['name']} ({key}) | "
              f"{float(res['figure']):.1f} | {measured[key]} |")
    print(f"(files kept in {work})")
    return 0 if "config" in ma and "config" in pa else 1


if __name__ == "__main__":
    sys.exit(main())
