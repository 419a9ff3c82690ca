"""``perfanalyzer --baseline BASELINE ...``: profile, then gate the run against the baseline.

:func:`baseline_hook` is called by the profile command (``perfanalyzer.cli.profile_main``) when
``--baseline`` is given. It compares the
run in memory (its windows included, so significance is judged against a JSON baseline) with the
default checks (throughput −5 %, p99 +10 %), prints the comparison, appends the markdown summary to
``$GITHUB_STEP_SUMMARY`` when that variable names a file (GitHub Actions), and returns 1 on a
regression or 2 when the baseline cannot be compared (unreadable, other load mode, no common point).
"""

from __future__ import annotations

import os
import sys
from typing import TextIO

from ..errors import CompareError
from ..results import RunResult
from .compare import Comparison, compare
from .inputs import load_side, side_from_run
from .render import console_text, markdown_text

CURRENT_LABEL = "this run"


def gate_run(run: RunResult, baseline_path: str) -> Comparison:
    """The comparison of a finished run with a baseline file (never raises CompareError)."""
    try:
        return compare(load_side(baseline_path), side_from_run(run, CURRENT_LABEL))
    except CompareError as exc:
        return Comparison.failed(baseline_path, CURRENT_LABEL, str(exc))


def baseline_hook(baseline: str | None, run: RunResult, out: TextIO | None = None) -> int | None:
    """Exit code 1 (regression) or 2 (cannot compare) of ``run`` against the ``--baseline``
    file; None when there is nothing to gate."""
    if not baseline or not run.points:
        return None
    out = out or sys.stdout
    result = gate_run(run, baseline)
    out.write("\n" + console_text(result))
    out.flush()
    if result.error:
        print(f"error: --baseline: {result.error}", file=sys.stderr)
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        try:
            with open(summary, "a", encoding="utf-8") as fh:
                fh.write(markdown_text(result))
        except OSError as exc:
            print(f"warning: cannot append to $GITHUB_STEP_SUMMARY ({summary}): {exc}",
                  file=sys.stderr)
    return result.exit_code or None


__all__ = ["baseline_hook", "gate_run"]
