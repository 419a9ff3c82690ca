#!/usr/bin/env python3
"""Client CPU per request of a whole profile run with the live status line drawn (stderr on a
pseudo-terminal) and without it (stderr a pipe), optionally against another checkout ("before").

    python scripts/bench_live_status.py -u HOST:PORT [-m add_sub] [--rounds 3]
        [--before /path/to/other/checkout]

Each round runs every variant once (alternating, so a shared machine's drift hits all alike);
the figure is the client CPU time of all measurement windows over their completed requests, read
from the run's export. Prints per-round figures and medians (µs of client CPU per request).
"""

from __future__ import annotations

import argparse
import json
import os
import pty
import statistics
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def cpu_per_request_us(export: Path) -> float:
    ours = json.loads(export.read_text())["perfanalyzer"]
    cpu = sum(w["client"]["cpu_ns"] for p in ours["points"] for w in p["windows"])
    done = sum(w["hi"] - w["lo"] for p in ours["points"] for w in p["windows"])
    return cpu / max(done, 1) / 1e3


def one(code: Path, args: list[str], *, tty: bool) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        export = Path(tmp) / "run.json"
        cmd = [sys.executable, "-m", "perfanalyzer", *args, "--profile-export-file", str(export)]
        env = {**os.environ, "PYTHONPATH": str(code)}
        if tty:
            master, slave = pty.openpty()
            sink = threading.Thread(target=_drain, args=(master,), daemon=True)
            sink.start()
            proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=slave, env=env)
            os.close(slave)
            proc.wait(timeout=600)
            os.close(master)
        else:
            subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env,
                           timeout=600, check=False)
        return cpu_per_request_us(export)


def _drain(fd: int) -> None:
    while True:
        try:
            if not os.read(fd, 65536):
                return
        except OSError:
            return


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-u", required=True)
    ap.add_argument("-m", default="add_sub")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--before", type=Path, default=None)
    a = ap.parse_args()
    args = ["-m", a.m, "-u", a.u, "--concurrency-range", "4", "-p", "2000", "-r", "4",
            "-s", "1000"]  # four windows of 2 s, never stopped early
    variants = [("live line (tty)", ROOT, True), ("no line (pipe)", ROOT, False)]
    if a.before:
        variants += [("before (tty)", a.before, True), ("before (pipe)", a.before, False)]
    results: dict[str, list[float]] = {name: [] for name, _, _ in variants}
    for r in range(a.rounds):
        for name, code, tty in variants:
            results[name].append(one(code, args, tty=tty))
            print(f"round {r + 1} {name}: {results[name][-1]:.1f} us/request", flush=True)
    for name, values in results.items():
        print(f"median {name}: {statistics.median(values):.1f} us of client CPU per request")


if __name__ == "__main__":
    main()
