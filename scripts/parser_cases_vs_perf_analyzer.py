#!/usr/bin/env python3
"""perf_analyzer's parser cases (tests/support/pa_parser_cases.py) given to the real binary and to
perfanalyzer: does each tool refuse the command line before connecting, or accept it? The binary
is pointed at a port nobody listens on, so "accepted" shows as its connection error. Prints one
line per case (XX where the two differ, with the table's reason when it differs on purpose) and
the totals. Reports; never asserts.

    python scripts/parser_cases_vs_perf_analyzer.py      # needs ../shared/tools/perf_analyzer.sh
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.support.pa_parser_cases import CASES, outcome  # noqa: E402

#: the checkout's sibling shared/ (a git worktree under wt/ looks one level higher)
PA = Path(os.environ.get("PA_SCRIPT") or next(
    (p for p in (ROOT.parent / "shared" / "tools" / "perf_analyzer.sh",
                 ROOT.parents[1] / "shared" / "tools" / "perf_analyzer.sh") if p.exists()),
    ROOT.parent / "shared" / "tools" / "perf_analyzer.sh"))
NOBODY = "127.0.0.1:9"
CONNECTING = ("Couldn't connect", "failed to get model metadata", "failed to connect",
              "unavailable")


def binary_outcome(argv: tuple[str, ...]) -> tuple[str, str]:
    res = subprocess.run(["bash", str(PA), *argv, "-u", NOBODY], capture_output=True, text=True,
                         timeout=120, check=False)
    text = res.stdout + res.stderr
    first = next((ln for ln in text.splitlines() if ln.strip() and not ln.startswith("\t")), "")
    connected = any(c.lower() in text.lower() for c in CONNECTING)
    return ("accepted" if connected else "refused"), first[:110]


def main() -> int:
    if not PA.exists():
        sys.stderr.write(f"no perf_analyzer script at {PA} (set PA_SCRIPT)\n")
        return 2
    same = 0
    for case in CASES:
        pa_kind, pa_line = binary_outcome(case.argv)
        ours, _ = outcome(case.argv)
        agree = pa_kind == ours
        same += agree
        why = f" (on purpose: {case.differs[0]})" if case.differs and not agree else ""
        print(f"{'  ' if agree else 'XX'} {case.name}: perf_analyzer {pa_kind} [{pa_line}]; "
              f"perfanalyzer {ours}{why}")
    print(f"same outcome in {same} of {len(CASES)} cases")
    return 0


if __name__ == "__main__":
    sys.exit(main())
