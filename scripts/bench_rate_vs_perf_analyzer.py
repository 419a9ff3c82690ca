#!/usr/bin/env python3
"""Request-rate (open-loop) client cost and punctuality of perfanalyzer against perf_analyzer.

Same server (the test Triton, tests/models, started once), same run: for every case (protocol,
rate) perf_analyzer (``../shared/tools/perf_analyzer.sh``) and perfanalyzer run alternately
(PA, ours, PA, ours ...), and the table shows the medians and their ratios (ours / PA):

* client CPU per request: the tool's whole process tree (wrapper, workers included), sampled from
  /proc while it runs, divided by the requests the server counted (``success.count``) over the
  same steady interval (start-up and shutdown left out) — the helpers of
  ``bench_vs_perf_analyzer.py``;
* the share of sends more than 1 ms behind their schedule, from each tool's
  ``--profile-export-file``:

  - *ours*: every request carries its ``intended_timestamp``; late = ``timestamp - intended``
    > 1 ms, exactly what the console's late count uses;
  - *PA* (its export has no intended time): the schedule of a constant rate R is
    ``t0 + k/R`` for the k-th send in time order; t0 is taken as the latest start that puts no
    send early (``min_k(ts_k - k/R)``), the most favourable schedule for perf_analyzer, so its
    late share is a lower bound. The same fit is printed for ours ("fit") to show the two
    judgements agree;
* the achieved rate (server count / steady interval).

It never asserts a timing; it reports. The machine is usually shared: read the ratios, which are
taken within the same run, and the load average (printed at the start and the end).

    python scripts/bench_rate_vs_perf_analyzer.py            # HTTP+gRPC × 2000, 4000 req/s, 3 runs
    python scripts/bench_rate_vs_perf_analyzer.py --quick    # 1 run each, 1 s windows
    python scripts/bench_rate_vs_perf_analyzer.py --ours-extra=--workers=2 --only grpc
    python scripts/bench_rate_vs_perf_analyzer.py --baseline /tmp/main_tree  # + before/after

``--baseline DIR`` adds a third tool to the alternation: perfanalyzer imported from the source tree
DIR (e.g. ``git archive main perfanalyzer | tar -x -C DIR``), and the ratio ours / baseline, so a
change is judged against the code before it in the same run. Set ``PA_SCRIPT`` where
perf_analyzer.sh is not at ``../shared/tools`` (e.g. from a git worktree).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_vs_perf_analyzer import (
    PA,
    Measured,
    StatsReader,
    fmt,
    median,
    prepare,
    ratio,
    run_tool,
)

MODEL = "add_sub"
LATE_NS = 1_000_000


@dataclass(frozen=True)
class RateCase:
    protocol: str
    rate: int

    @property
    def name(self) -> str:
        return f"{MODEL} {self.protocol} {self.rate}/s"


@dataclass
class Punctuality:
    sends: int
    late_exact: float | None  # from intended_timestamp (ours only)
    late_fit: float | None  # from the fitted constant-rate schedule


def fitted_late_share(stamps: list[int], rate: float) -> float | None:
    """Share of sends > 1 ms behind the schedule ``t0 + k/rate`` (k-th send in time order), t0
    the latest start that makes no send early: a lower bound of the real late share."""
    if len(stamps) < 2:
        return None
    ts = sorted(stamps)
    period = 1e9 / rate
    t0 = min(t - k * period for k, t in enumerate(ts))
    late = sum(1 for k, t in enumerate(ts) if t - (t0 + k * period) > LATE_NS)
    return late / len(ts)


def punctuality(export: Path, rate: float) -> Punctuality | None:
    """Late shares of the last experiment in a profile export (None if it is missing)."""
    try:
        doc = json.loads(export.read_text())
    except (OSError, ValueError):
        return None
    exps = doc.get("experiments") or []
    if not exps:
        return None
    reqs = exps[-1].get("requests") or []
    stamps = [int(r["timestamp"]) for r in reqs]
    exact = None
    if reqs and all("intended_timestamp" in r for r in reqs):
        late = sum(1 for r in reqs if int(r["timestamp"]) - int(r["intended_timestamp"]) > LATE_NS)
        exact = late / len(reqs)
    return Punctuality(len(reqs), exact, fitted_late_share(stamps, rate))


def commands(case: RateCase, url: str, args: argparse.Namespace, work: Path,
             tag: str) -> tuple[list[str], list[str], list[str]]:
    common = ["-m", MODEL, "-i", case.protocol, "-u", url,
              "--request-rate-range", str(case.rate), "-p", str(args.interval), "-s", "1000",
              "-r", str(args.max_trials)]
    pa = ["bash", str(PA), *common, "-f", str(work / f"pa_{tag}.csv"),
          "--profile-export-file", str(work / f"pa_{tag}.json")]
    ours = [sys.executable, "-m", "perfanalyzer", *common, *args.ours_extra,
            "-f", str(work / f"ours_{tag}.csv"), "--profile-export-file",
            str(work / f"ours_{tag}.json")]
    # -P: the package comes from PYTHONPATH (the baseline tree), not from the working directory
    base = [sys.executable, "-P", "-m", "perfanalyzer", *common, *args.ours_extra,
            "-f", str(work / f"base_{tag}.csv"), "--profile-export-file",
            str(work / f"base_{tag}.json")]
    return pa, ours, base


def pct(v: float | None) -> str:
    return "n/a" if v is None else f"{100 * v:.1f} %"


HEADER = ("| case | CPU µs/req PA | ours | ratio | late PA (fit) | late ours | ours (fit) "
          "| req/s PA | ours | whole-run ratio |")
BASE_HEADER = " CPU µs/req baseline | ours / baseline | late baseline |"

Runs = list[tuple[Measured, "Punctuality | None"]]


def row(case: RateCase, pa: Runs, ours: Runs, base: Runs) -> str:
    def cpu(runs: list[tuple[Measured, Punctuality | None]]) -> float | None:
        return median([m.steady_cpu_us for m, _ in runs])

    def rate(runs: list[tuple[Measured, Punctuality | None]]) -> float | None:
        return median([m.steady_rate for m, _ in runs])

    def whole(runs: list[tuple[Measured, Punctuality | None]]) -> float | None:
        return median([m.whole_cpu_s / m.served * 1e6 if m.served else None for m, _ in runs])

    def late(runs: list[tuple[Measured, Punctuality | None]], attr: str) -> float | None:
        return median([getattr(p, attr) if p else None for _, p in runs])

    c_pa, c_ours = cpu(pa), cpu(ours)
    line = (f"| {case.name} | {fmt(c_pa)} | {fmt(c_ours)} | {ratio(c_ours, c_pa)} "
            f"| {pct(late(pa, 'late_fit'))} | {pct(late(ours, 'late_exact'))} "
            f"| {pct(late(ours, 'late_fit'))} | {fmt(rate(pa))} | {fmt(rate(ours))} "
            f"| {ratio(whole(ours), whole(pa))} |")
    if base:
        c_base = cpu(base)
        line += f" {fmt(c_base)} | {ratio(c_ours, c_base)} | {pct(late(base, 'late_exact'))} |"
    return line


def compare(case: RateCase, url: str, stats: StatsReader, args: argparse.Namespace,
            work: Path, index: int) -> str:
    runs: dict[str, Runs] = {"pa": [], "ours": [], "base": []}
    for rep in range(args.repeats):
        tag = f"{index}_{rep}"
        pa_cmd, ours_cmd, base_cmd = commands(case, url, args, work, tag)
        todo: list[tuple[str, list[str], dict[str, str] | None]] = [
            ("pa", pa_cmd, None), ("ours", ours_cmd, None)]
        if args.baseline:
            todo.append(("base", base_cmd, dict(os.environ, PYTHONPATH=args.baseline)))
        for tool, cmd, env in todo:
            m = run_tool(tool, cmd, MODEL, stats, work / f"{tool}_{tag}.csv", env=env)
            runs[tool].append((m, punctuality(work / f"{tool}_{tag}.json", case.rate)))
    line = row(case, runs["pa"], runs["ours"], runs["base"])
    print(line, flush=True)
    return line


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="1 run per tool and case, -p 1000")
    ap.add_argument("--repeats", type=int, help="runs per tool and case (median; default 3)")
    ap.add_argument("-p", "--interval", type=int, help="-p of both tools (ms; default 2000)")
    ap.add_argument("--max-trials", type=int, default=3, help="-r of both tools")
    ap.add_argument("--rates", default="2000,4000", help="comma-separated request rates")
    ap.add_argument("--only", help="run only the cases whose name contains this text")
    ap.add_argument("--ours-extra", action="append", default=[],
                    help="extra perfanalyzer argument (repeatable, e.g. --ours-extra=--workers=2)")
    ap.add_argument("--baseline", metavar="DIR",
                    help="also run perfanalyzer from this source tree (before/after, same run)")
    ap.add_argument("--url", help="HTTP host:port of a running server (default: start one)")
    ap.add_argument("--grpc-url", help="gRPC host:port of that server")
    args = ap.parse_args()
    if not PA.exists():
        sys.exit(f"perf_analyzer wrapper not found at {PA}: set PA_SCRIPT")
    args.repeats = args.repeats or (1 if args.quick else 3)
    args.interval = args.interval or (1000 if args.quick else 2000)
    server, urls, stats = prepare(args, f"request rate, -p {args.interval} -s 1000 -r "
                                  f"{args.max_trials}, {args.repeats} runs per tool (median), "
                                  "alternating")
    header = HEADER + (BASE_HEADER if args.baseline else "")
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    cases = [RateCase(p, int(r)) for p in ("http", "grpc") for r in args.rates.split(",")]
    try:
        with tempfile.TemporaryDirectory(prefix="pa-rate-bench-") as tmp:
            for i, case in enumerate(cases):
                if not urls.get(case.protocol) or (args.only and args.only not in case.name):
                    continue
                compare(case, urls[case.protocol], stats, args, Path(tmp), i)
    finally:
        if server is not None:
            server.stop()  # type: ignore[attr-defined]
    print(f"# done, load average {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
