#!/usr/bin/env python3
"""Measure the regression gate on this machine: false-alarm and detection rates with real runs.

Starts a private Triton serving two models from tests/models, copied to a temporary repository:
``delay`` (sleeps 50 ms per request, 4 instances) and ``add_sub``. Then, M times:

* identical pairs: two independent ``perfanalyzer -m delay --concurrency-range 4 --repeat R``
  profiles (and two of ``add_sub``) compared with ``perfanalyzer compare``: any regression is a
  false alarm;
* a slower pair: the delay model's delay is raised by 15 % (57.5 ms: its config.pbtxt rewritten and
  the model reloaded, same name, as a new build would be), profiled again and compared with the
  first profile of that iteration: a pass is a missed detection; the delay goes back to 50 ms.

Every profile uses perfanalyzer's default measurement settings unless you pass other ones after
``--`` (e.g. ``-- -p 1000``). Prints each verdict and the rates; ``--json FILE`` also writes them.

    python scripts/bench_gate.py -M 5                  # docs/gate.md's figures (defaults, --repeat 3)
    python scripts/bench_gate.py -M 1 -- -p 500        # a quick look
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from perfanalyzer.server.launcher import TritonLauncher  # noqa: E402

MODELS = ROOT / "tests" / "models"
BASE_DELAY_MS = 50.0
SLOWER = 1.15
PROFILE_TIMEOUT_S = 1800


def parse() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-M", "--pairs", type=int, default=5, help="pairs of each kind (default 5)")
    ap.add_argument("--repeat", type=int, default=3, help="--repeat of every profile (default 3)")
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--json", default=None, help="also write the results here")
    ap.add_argument("extra", nargs="*", help="extra perfanalyzer profile flags, after --")
    return ap.parse_args()


def set_delay(repo: Path, url: str, delay_ms: float) -> None:
    """Rewrite the delay model's delay and reload it (explicit model control)."""
    cfg = repo / "delay" / "config.pbtxt"
    text = cfg.read_text()
    start = text.index('key: "delay_ms" value: { string_value: "') + len(
        'key: "delay_ms" value: { string_value: "')
    end = text.index('"', start)
    cfg.write_text(text[:start] + f"{delay_ms:g}" + text[end:])
    req = urllib.request.Request(f"http://{url}/v2/repository/models/delay/load", data=b"{}",
                                 method="POST")
    with urllib.request.urlopen(req, timeout=120) as resp:
        resp.read()


def profile(model: str, url: str, out: Path, args: argparse.Namespace) -> float:
    """One ``--repeat`` profile exported to ``out``; returns its wall time in seconds."""
    cmd = [sys.executable, "-m", "perfanalyzer", "-m", model, "-u", url, "--concurrency-range",
           str(args.concurrency), "--repeat", str(args.repeat), "--profile-export-file",
           str(out), *args.extra]
    t0 = time.monotonic()
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=PROFILE_TIMEOUT_S,
                       check=False, cwd=ROOT)
    if r.returncode not in (0, 2) or not out.exists():  # 2: a point did not stabilize
        raise SystemExit(f"profile failed ({r.returncode}): {' '.join(cmd)}\n{r.stderr[-2000:]}")
    return time.monotonic() - t0


def verdict(base: Path, cur: Path, work: Path) -> dict[str, Any]:
    js = work / f"verdict-{base.stem}-{cur.stem}.json"
    r = subprocess.run([sys.executable, "-m", "perfanalyzer", "compare", str(base), str(cur),
                        "--json", str(js)], capture_output=True, text=True, timeout=300,
                       check=False, cwd=ROOT)
    doc = json.loads(js.read_text())
    rows = [f"{row['metric']} {row['change_pct']:+.1f}% {row['interval']} -> {row['verdict']}"
            for row in doc["rows"]]
    return {"exit_code": r.returncode, "status": doc["status"], "rows": rows,
            "warnings": doc["warnings"] + doc["unstable_points"],
            "by_threshold_alone": beyond_threshold(doc)}


def beyond_threshold(doc: dict[str, Any]) -> bool:
    """Would the thresholds alone (no interval) have failed this comparison?"""
    for row in doc["rows"]:
        check = next((c for c in doc["checks"] if c["spec"] == row["check"]), None)
        if check is None or check["unit"] != "%" or row["change_pct"] is None:
            continue
        sign = 1 if check["fails_on"] == "rise" else -1
        if sign * row["change_pct"] > check["amount"]:
            return True
    return False


def main() -> int:
    args = parse()
    work = Path(tempfile.mkdtemp(prefix="bench-gate-"))
    repo = work / "models"
    for name in ("delay", "add_sub"):
        shutil.copytree(MODELS / name, repo / name)
    server = TritonLauncher(model_repository=repo, explicit_models=["delay", "add_sub"],
                            die_with_parent=True).start(
        timeout_s=300)
    results: dict[str, list[dict[str, Any]]] = {"identical": [], "slower": []}
    t_start = time.monotonic()
    try:
        url = server.http_url
        for i in range(args.pairs):
            runs: dict[str, Path] = {}
            for tag, model in (("delay_a", "delay"), ("delay_b", "delay"),
                               ("add_sub_a", "add_sub"), ("add_sub_b", "add_sub")):
                runs[tag] = work / f"{tag}_{i}.json"
                profile(model, url, runs[tag], args)
            set_delay(repo, url, BASE_DELAY_MS * SLOWER)
            try:
                runs["delay_slow"] = work / f"delay_slow_{i}.json"
                profile("delay", url, runs["delay_slow"], args)
            finally:
                set_delay(repo, url, BASE_DELAY_MS)
            for model in ("delay", "add_sub"):
                v = verdict(runs[f"{model}_a"], runs[f"{model}_b"], work)
                results["identical"].append({"pair": i, "model": model, **v})
                report(f"identical {model} #{i + 1}", v)
            v = verdict(runs["delay_a"], runs["delay_slow"], work)
            results["slower"].append({"pair": i, "model": "delay +15%", **v})
            report(f"delay +15% #{i + 1}", v)
    finally:
        server.stop()
    summary(results, args, time.monotonic() - t_start)
    shutil.rmtree(work, ignore_errors=True)
    return 0


def report(what: str, v: dict[str, Any]) -> None:
    print(f"{what}: {v['status']}", flush=True)
    for row in v["rows"]:
        print(f"    {row}")
    for w in v["warnings"]:
        print(f"    warning: {w}")


def summary(results: dict[str, list[dict[str, Any]]], args: argparse.Namespace,
            seconds: float) -> None:
    same, slow = results["identical"], results["slower"]
    alarms = sum(r["status"] == "regression" for r in same)
    caught = sum(r["status"] == "regression" for r in slow)
    settings = " ".join(args.extra) or "perfanalyzer defaults"
    print(f"\nbench_gate: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, M={args.pairs}, "
          f"--repeat {args.repeat}, concurrency {args.concurrency}, settings: {settings}, "
          f"{seconds / 60:.1f} min")
    naive = sum(r["by_threshold_alone"] for r in same)
    print(f"false alarms: {alarms}/{len(same)} identical pairs (delay and add_sub); "
          f"the thresholds alone would have failed {naive}")
    print(f"detected:     {caught}/{len(slow)} pairs with the delay raised by 15 %")
    if args.json:
        Path(args.json).write_text(json.dumps({"pairs": args.pairs, "repeat": args.repeat,
                                               "settings": settings, "results": results,
                                               "false_alarms": alarms, "detected": caught},
                                              indent=2))


if __name__ == "__main__":
    sys.exit(main())
