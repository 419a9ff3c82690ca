#!/usr/bin/env python3
"""Client cost and throughput of perfanalyzer against the official perf_analyzer, same server.

Starts the test Triton (tests/models), then for every case (model, protocol, concurrency, batch)
runs perf_analyzer (``../shared/tools/perf_analyzer.sh``) and perfanalyzer alternately
(PA, ours, PA, ours ...) and prints, per case, the medians and their ratios (ours / PA):

* client CPU per request: the tool's whole process tree (wrapper, workers, forkserver included),
  sampled from /proc while it runs and divided by the requests the server counted in the same
  interval (``success.count`` of the model's statistics). The *steady* figure uses the samples
  taken while requests were being served (start-up and shutdown excluded); the *whole* figure is
  RUSAGE_CHILDREN over the whole run (start-up included) per request served;
* throughput: infer/s from the server's own count over the steady interval (× batch);
* p50 / p99 latency: from each tool's CSV (the last measured point).

``--max-rate`` adds the highest request rate one host reaches: add_sub over HTTP at concurrency 32,
perf_analyzer against perfanalyzer with ``--workers 1`` and ``--workers 2``. The workers only pay off
where the server answers faster than one Python core can send (~15-20 k requests/s); on a small
machine shared with the server, the server is the limit and the rows show that instead.

It never asserts a timing; it reports. The machine is usually shared: look at the ratios, which are
taken within the same run, and at ``load average`` (printed at the start and the end).

    python scripts/bench_vs_perf_analyzer.py                  # the full table (~10 min)
    python scripts/bench_vs_perf_analyzer.py --quick          # add_sub HTTP+gRPC, c=1,16
    python scripts/bench_vs_perf_analyzer.py --max-rate       # + highest rate: PA vs --workers 1/2
    python scripts/bench_vs_perf_analyzer.py --url 127.0.0.1:8000 --grpc-url 127.0.0.1:8001
"""

from __future__ import annotations

import argparse
import compileall
import csv
import datetime
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PA = Path(os.environ.get("PA_SCRIPT", ROOT.parent / "shared" / "tools" / "perf_analyzer.sh"))
TICK = os.sysconf("SC_CLK_TCK")
SAMPLE_S = 0.2
#: Samples this close to the first/last served request are left out of the steady interval.
EDGE_S = 0.4
LARGE_ELEMENTS = 262_144  # identity_fp32 INPUT0: 1 MiB per request
#: A run taking longer is stopped (SIGTERM, then SIGKILL) and reported as failed. perf_analyzer
#: 2.50 was seen hanging at HTTP concurrency 32 on a loaded 2-core machine.
RUN_TIMEOUT_S = 180.0


@dataclass(frozen=True)
class Case:
    model: str
    protocol: str
    concurrency: int
    batch: int = 1
    extra: tuple[str, ...] = ()
    ours_extra: tuple[str, ...] = ()
    label: str = ""

    @property
    def name(self) -> str:
        return self.label or f"{self.model} {self.protocol} c={self.concurrency} b={self.batch}"


@dataclass
class Sample:
    t: float
    cpu_s: float
    count: int


@dataclass
class Measured:
    tool: str
    rc: int
    whole_cpu_s: float
    served: int
    steady_cpu_us: float | None
    steady_rate: float | None  # requests/s counted by the server
    p50_us: float | None
    p99_us: float | None
    samples: list[Sample] = field(default_factory=list)


# -- measuring a process tree -----------------------------------------------------------------
def _stat(pid: int) -> tuple[int, float] | None:
    """(ppid, utime+stime+cutime+cstime seconds) of ``pid``, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read()
    except OSError:
        return None
    fields = raw[raw.rfind(b")") + 2:].split()
    ppid = int(fields[1])
    ticks = sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
    return ppid, ticks / TICK


def tree_cpu_s(root: int) -> float:
    """CPU seconds of ``root`` and its live descendants (reaped ones are in their parents'
    cutime/cstime)."""
    stats: dict[int, tuple[int, float]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            st = _stat(int(entry))
            if st is not None:
                stats[int(entry)] = st
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in stats.items():
        children.setdefault(ppid, []).append(pid)
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        if pid in stats:
            total += stats[pid][1]
        todo.extend(children.get(pid, ()))
    return total


class StatsReader:
    def __init__(self, http_url: str) -> None:
        self.base = f"http://{http_url}"

    def count(self, model: str) -> int:
        with urllib.request.urlopen(f"{self.base}/v2/models/{model}/stats", timeout=10) as r:
            entry = json.load(r)["model_stats"][0]
        return int(entry["inference_stats"]["success"]["count"])


def steady(samples: list[Sample]) -> tuple[float | None, float | None]:
    """(client CPU µs per request, requests/s) over the samples taken while requests were
    served, EDGE_S away from the first and the last rise of the server's count."""
    if len(samples) < 3:
        return None, None
    c0, c1 = samples[0].count, samples[-1].count
    rising = [s for s in samples if c0 < s.count < c1]
    if not rising:
        return None, None
    lo_t, hi_t = rising[0].t + EDGE_S, rising[-1].t - EDGE_S
    inside = [s for s in samples if lo_t <= s.t <= hi_t]
    if len(inside) < 2 or inside[-1].count == inside[0].count:
        return None, None
    a, b = inside[0], inside[-1]
    n = b.count - a.count
    return (b.cpu_s - a.cpu_s) / n * 1e6, n / (b.t - a.t)


def run_tool(tool: str, cmd: list[str], model: str, stats: StatsReader, csv_path: Path,
             env: dict[str, str] | None = None, timeout_s: float = RUN_TIMEOUT_S) -> Measured:
    samples: list[Sample] = []
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    count0 = stats.count(model)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    out: list[bytes] = []
    reader = threading.Thread(target=lambda: out.append(proc.stdout.read()))  # type: ignore[union-attr]
    reader.start()
    t_start = time.perf_counter()
    while proc.poll() is None:
        cpu = tree_cpu_s(proc.pid)
        samples.append(Sample(time.perf_counter() - t_start, cpu, stats.count(model)))
        if samples[-1].t > timeout_s:
            sys.stderr.write(f"{tool}: still running after {timeout_s:g} s, stopped: {cmd}\n")
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
            break
        time.sleep(SAMPLE_S)
    proc.wait()
    reader.join()
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    served = stats.count(model) - count0
    whole = (r1.ru_utime + r1.ru_stime) - (r0.ru_utime + r0.ru_stime)
    cpu_us, rate = steady(samples)
    p50 = p99 = None
    if csv_path.exists():
        with csv_path.open() as f:
            rows = list(csv.DictReader(f))
        if rows:
            p50, p99 = float(rows[-1]["p50 latency"]), float(rows[-1]["p99 latency"])
    if proc.returncode not in (0, 2):  # 2: not stable, still measured
        text = b"".join(out).decode(errors="replace")
        sys.stderr.write(f"{tool} exited {proc.returncode}:\n{text[-1500:]}\n")
    return Measured(tool, proc.returncode, whole, served, cpu_us, rate, p50, p99, samples)


# -- cases ------------------------------------------------------------------------------------
def commands(case: Case, url: str, interval_ms: int, work: Path, tag: str) -> tuple[list[str],
                                                                                 list[str]]:
    common = ["-m", case.model, "-i", case.protocol, "-u", url,
              "--concurrency-range", str(case.concurrency), "-b", str(case.batch),
              "-p", str(interval_ms), "-s", "1000", "-r", "3", *case.extra]
    pa = ["bash", str(PA), *common, "-f", str(work / f"pa_{tag}.csv")]
    ours = [sys.executable, "-m", "perfanalyzer", *common, *case.ours_extra,
            "-f", str(work / f"ours_{tag}.csv")]
    return pa, ours


def default_cases(quick: bool) -> list[Case]:
    large = ("--shape", f"INPUT0:{LARGE_ELEMENTS}")
    if quick:
        return [Case("add_sub", p, c) for p in ("http", "grpc") for c in (1, 16)]
    cases = [Case("add_sub", p, c, b) for p in ("http", "grpc") for b in (1, 8)
             for c in (1, 4, 16)]
    cases += [Case("identity_fp32", p, c, 1, large, label=f"identity_fp32 1MiB {p} c={c}")
              for p in ("http", "grpc") for c in (1, 4)]
    return cases


def max_rate_cases(concurrency: int) -> list[tuple[Case, Case]]:
    """(PA case, ours case) pairs: the same high-concurrency load, ours with 1 and 2 workers."""
    out = []
    for workers in (1, 2):
        base = Case("add_sub", "http", concurrency, label=f"max rate add_sub http c={concurrency}")
        ours = Case("add_sub", "http", concurrency, ours_extra=("--workers", str(workers)),
                    label=f"max rate add_sub http c={concurrency} --workers {workers}")
        out.append((base, ours))
    return out


def median(values: list[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return statistics.median(vals) if vals else None


def ratio(ours: float | None, pa: float | None) -> str:
    if ours is None or pa is None or pa == 0:
        return "n/a"
    return f"{ours / pa:.2f}"


def fmt(v: float | None, digits: int = 0) -> str:
    return "n/a" if v is None else f"{v:.{digits}f}"


HEADER = ("| case | CPU µs/req PA | ours | ratio | whole-run ratio | infer/s PA | ours | ratio "
          "| p50 µs PA | ours | ratio | p99 ratio |")


def row(case: Case, pa: list[Measured], ours: list[Measured]) -> str:
    def m(runs: list[Measured], attr: str) -> float | None:
        return median([getattr(r, attr) for r in runs])

    def whole(runs: list[Measured]) -> float | None:
        return median([r.whole_cpu_s / r.served * 1e6 if r.served else None for r in runs])

    cpu_pa, cpu_ours = m(pa, "steady_cpu_us"), m(ours, "steady_cpu_us")
    rate_pa, rate_ours = m(pa, "steady_rate"), m(ours, "steady_rate")
    tp_pa = rate_pa * case.batch if rate_pa else None
    tp_ours = rate_ours * case.batch if rate_ours else None
    p50_pa, p50_ours = m(pa, "p50_us"), m(ours, "p50_us")
    return (f"| {case.name} | {fmt(cpu_pa)} | {fmt(cpu_ours)} | {ratio(cpu_ours, cpu_pa)} "
            f"| {ratio(whole(ours), whole(pa))} | {fmt(tp_pa)} | {fmt(tp_ours)} "
            f"| {ratio(tp_ours, tp_pa)} | {fmt(p50_pa)} | {fmt(p50_ours)} "
            f"| {ratio(p50_ours, p50_pa)} | {ratio(m(ours, 'p99_us'), m(pa, 'p99_us'))} |")


def compare(pa_case: Case, ours_case: Case, urls: dict[str, str], stats: StatsReader,
            args: argparse.Namespace, work: Path, index: int) -> str:
    url = urls[pa_case.protocol]
    pa_runs: list[Measured] = []
    ours_runs: list[Measured] = []
    for rep in range(args.repeats):
        tag = f"{index}_{rep}"
        pa_cmd, _ = commands(pa_case, url, args.interval, work, tag)
        _, ours_cmd = commands(ours_case, url, args.interval, work, tag)
        pa_runs.append(run_tool("pa", pa_cmd, pa_case.model, stats, work / f"pa_{tag}.csv"))
        ours_runs.append(run_tool("ours", ours_cmd, ours_case.model, stats,
                                  work / f"ours_{tag}.csv"))
    line = row(ours_case, pa_runs, ours_runs)
    print(line, flush=True)
    return line


def start_server() -> tuple[object, dict[str, str]]:
    sys.path.insert(0, str(ROOT))
    from perfanalyzer.server.launcher import TritonLauncher

    server = TritonLauncher(model_repository=ROOT / "tests" / "models",
                            explicit_models=["add_sub", "identity_fp32"]).start(timeout_s=180)
    return server, {"http": server.http_url, "grpc": server.grpc_url}


def byte_compile() -> str:
    """Byte-compile the perfanalyzer package the runs will import, as ``pip install`` does:
    without it (e.g. PYTHONDONTWRITEBYTECODE=1 and a source checkout) every run compiles ~150
    modules again, about 1 s of CPU charged to the whole-run figure."""
    probe = "import perfanalyzer; print(perfanalyzer.__path__[0])"
    where = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                           check=True).stdout.strip()
    compileall.compile_dir(where, quiet=1)
    return where


def prepare(args: argparse.Namespace, what: str) -> tuple[object | None, dict[str, str],
                                                           StatsReader]:
    """The server (started unless --url names one), its statistics reader, the package
    byte-compiled, and the bench's first comment line (``what``: the settings it reports)."""
    server = None
    if args.url:
        urls = {"http": args.url, "grpc": args.grpc_url or ""}
    else:
        server, urls = start_server()
    stats = StatsReader(urls["http"])
    compiled = byte_compile()
    started = datetime.datetime.now(datetime.timezone.utc)
    print(f"# {started:%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.2f}; {what}; {compiled} byte-compiled first\n"
          f"# {' '.join([Path(sys.argv[0]).name, *sys.argv[1:]])}")
    return server, urls, stats


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="add_sub only, c=1 and 16")
    ap.add_argument("--max-rate", action="store_true",
                    help="also the highest request rate: PA vs ours --workers 1 and 2")
    ap.add_argument("--max-rate-only", action="store_true", help="only the max-rate rows")
    ap.add_argument("--max-rate-concurrency", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=2, help="runs per tool and case (median)")
    ap.add_argument("-p", "--interval", type=int, default=2000, help="-p of both tools (ms)")
    ap.add_argument("--only", help="run only the cases whose name contains this text")
    ap.add_argument("--url", help="HTTP host:port of a running server (default: start one)")
    ap.add_argument("--grpc-url", help="gRPC host:port of that server")
    args = ap.parse_args()
    server, urls, stats = prepare(args, f"-p {args.interval} -s 1000 -r 3, {args.repeats} runs "
                                  "per tool (median), alternating")
    print(HEADER)
    print("|" + "---|" * (HEADER.count("|") - 1))
    try:
        with tempfile.TemporaryDirectory(prefix="pa-bench-") as tmp:
            work = Path(tmp)
            pairs: list[tuple[Case, Case]] = []
            if not args.max_rate_only:
                pairs += [(c, c) for c in default_cases(args.quick)]
            if args.max_rate or args.max_rate_only:
                pairs += max_rate_cases(args.max_rate_concurrency)
            for i, (pa_case, ours_case) in enumerate(pairs):
                if not urls.get(pa_case.protocol) or (args.only and args.only not in ours_case.name):
                    continue
                compare(pa_case, ours_case, urls, stats, args, work, i)
    finally:
        if server is not None:
            server.stop()  # type: ignore[attr-defined]
    print(f"# done, load average {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
