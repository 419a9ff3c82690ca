#!/usr/bin/env python3
"""Client memory with and without shared memory: a 64 MiB FP32 input at concurrency 8.

Starts the test Triton (``tests/models``), then profiles ``identity_fp32`` with ``--shape
INPUT0:16777216`` (64 MiB per request) at concurrency 8, once per mode (``system``, ``none``), each in
its own child process, and prints the child's peak resident memory (``ru_maxrss`` from ``wait4``)
next to a baseline run with a 64-byte tensor. Shared-memory outputs get a 64 MiB region
(``--output-shared-memory-size``), since the output shape is dynamic. It reports; it asserts nothing.

    .venv/bin/python scripts/bench_shm_memory.py [--protocol http|grpc] [-p MS]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "tests" / "models"
ELEMENTS = 16 * 1024 * 1024  # FP32 → 64 MiB
MIB = 1024 * 1024


def perfanalyzer_cmd() -> list[str]:
    exe = Path(sys.executable).with_name("perfanalyzer")
    if exe.exists():
        return [str(exe)]
    found = shutil.which("perfanalyzer")
    return [found] if found else [sys.executable, "-m", "perfanalyzer.cli.main"]


@dataclass
class Sample:
    """One child run: exit code, peak RSS (ru_maxrss), max RSS sampled while the load ran, max
    bytes of its /dev/shm regions, wall seconds, the last summary line."""

    code: int = 0
    peak_rss: int = 0
    load_rss: int = 0
    shm_bytes: int = 0
    seconds: float = 0.0
    tail: str = ""


def _vm_rss(pid: int) -> int:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    m = re.search(r"^VmRSS:\s+(\d+) kB", text, re.M)
    return int(m.group(1)) * 1024 if m else 0


def _shm_bytes(pid: int) -> int:
    total = 0
    for seg in Path("/dev/shm").glob(f"pa_{pid}_*"):
        with contextlib.suppress(OSError):
            total += seg.stat().st_blocks * 512
    return total


def run_child(url: str, protocol: str, mode: str, elements: int, interval_ms: int,
              csv: Path) -> Sample:
    """Run one profile in a child process, sampling its memory every 20 ms."""
    tensor = elements * 4
    args = [*perfanalyzer_cmd(), "-m", "identity_fp32", "-u", url, "-i", protocol,
            "--shape", f"INPUT0:{elements}", "--concurrency-range", "8",
            "-p", str(interval_ms), "-r", "3", "--shared-memory", mode,
            "--output-shared-memory-size", str(max(tensor, 64)), "-f", str(csv)]
    sample, lines, loading = Sample(), [], threading.Event()
    start = time.monotonic()
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=dict(os.environ, PYTHONUNBUFFERED="1"))

    def reader() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.rstrip())
            if "Measurement Settings" in line:  # printed once the payloads are built
                loading.set()

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if loading.is_set():
            sample.load_rss = max(sample.load_rss, _vm_rss(proc.pid))
        sample.shm_bytes = max(sample.shm_bytes, _shm_bytes(proc.pid))
        time.sleep(0.02)
    thread.join(5)
    proc.returncode = sample.code = os.waitstatus_to_exitcode(status)
    sample.peak_rss = usage.ru_maxrss * 1024  # KiB on Linux
    sample.seconds = time.monotonic() - start
    sample.tail = next((ln.strip() for ln in reversed(lines) if "throughput" in ln),
                       lines[-1] if lines else "")
    return sample


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--protocol", default="http", choices=["http", "grpc"])
    ap.add_argument("-p", "--measurement-interval", type=int, default=2000)
    opts = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    from perfanalyzer.server.launcher import TritonLauncher

    server = TritonLauncher(model_repository=MODELS, explicit_models=["identity_fp32"]).start(
        timeout_s=180)
    url = server.grpc_url if opts.protocol == "grpc" else server.http_url
    tensor = ELEMENTS * 4
    rows: list[tuple[str, str, Sample]] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for label, mode, elements in (("baseline: 64 B tensor, none", "none", 16),
                                          ("baseline: 64 B tensor, system", "system", 16),
                                          ("64 MiB tensor, --shared-memory system", "system",
                                           ELEMENTS),
                                          ("64 MiB tensor, --shared-memory none", "none",
                                           ELEMENTS)):
                rows.append((label, mode, run_child(url, opts.protocol, mode, elements,
                                                    opts.measurement_interval,
                                                    Path(tmp) / "x.csv")))
    finally:
        server.stop()
    report(rows, tensor, opts.protocol)
    return 0


def report(rows: list[tuple[str, str, Sample]], tensor: int, protocol: str) -> None:
    print(f"identity_fp32, concurrency 8, -i {protocol}, tensor {tensor / MIB:.0f} MiB "
          "(input, and the echoed output)")
    base = {mode: s for label, mode, s in rows if label.startswith("baseline")}
    print(f"{'run':38} {'exit':>4} {'peak RSS':>9} {'+base':>8} {'x tensor':>8}  "
          f"{'RSS in load':>11} {'+base':>8} {'x tensor':>8}  {'/dev/shm':>8} {'time':>5}")
    for label, mode, s in rows:
        peak, load = s.peak_rss - base[mode].peak_rss, s.load_rss - base[mode].load_rss
        print(f"{label:38} {s.code:>4} {s.peak_rss / MIB:>5.0f} MiB {peak / MIB:>4.0f} MiB "
              f"{peak / tensor:>7.2f}x  {s.load_rss / MIB:>7.0f} MiB {load / MIB:>4.0f} MiB "
              f"{load / tensor:>7.2f}x  {s.shm_bytes / MIB:>4.0f} MiB {s.seconds:>4.0f}s")
    for label, _mode, s in rows:
        print(f"  {label}: {s.tail}")
    print("peak RSS: the child's ru_maxrss (includes building the input data once); RSS in load: "
          "max VmRSS sampled every 20 ms after the payloads were built; +base: minus the same run "
          "with a 64-byte tensor; /dev/shm: the run's regions (tmpfs pages, mapped by the server, "
          "written by the client with pwrite, so not in its RSS).")


if __name__ == "__main__":
    raise SystemExit(main())
