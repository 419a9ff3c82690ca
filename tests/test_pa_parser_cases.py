"""perf_analyzer's own command-line parser cases (``src/test_command_line_parser.cc``), one
test per leaf SUBCASE of the table in tests/support/pa_parser_cases.py, run through perfanalyzer's
profile flags → RunConfig path; refusals also through the CLI (exit 3, one line, no connection)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.pa_parser_cases import CASES, Case, M, outcome
from tests.support.paths import ROOT


def _get(cfg: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        cfg = getattr(cfg, part)
    return getattr(cfg, "value", cfg)


def agrees(case: Case) -> tuple[bool, str]:
    kind, got = outcome(case.argv)
    if case.refused is not None:
        if kind != "refused":
            return False, "accepted, expected a refusal"
        assert isinstance(got, str)
        ok = "\n" not in got.strip() and re.search(case.refused, got) is not None
        return ok, got
    if kind != "accepted":
        return False, f"refused: {got}"
    wrong = {k: _get(got, k) for k, v in case.values.items() if _get(got, k) != v}
    return not wrong, f"values {wrong}" if wrong else "ok"


def test_the_table_has_every_leaf_subcase() -> None:
    assert len(CASES) == 122
    assert len({c.name for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_perf_analyzer_parser_case(case: Case) -> None:
    ok, detail = agrees(case)
    assert ok, f"{case.name}: perf_analyzer {case.pa!r}; perfanalyzer: {detail}"


def test_every_difference_is_documented() -> None:
    text = (ROOT / "docs" / "flags.md").read_text()
    for case in CASES:
        if case.differs:
            assert case.differs[1] in text, (case.name, case.differs)


@pytest.mark.parametrize("argv", [
    ("--concurrency-range", "100:0:25", "--latency-threshold", "0"),
    ("--streaming",),
    ("--shape", "input_name:-1,2,3"),
])
def test_refused_before_any_connection(argv: tuple[str, ...]) -> None:
    """The CLI refuses with exit 3 and one line, before connecting (nobody listens on port 9)."""
    res = subprocess.run([sys.executable, "-m", "perfanalyzer", *M, "-u", "127.0.0.1:9", *argv],
                         capture_output=True, text=True, timeout=120, check=False,
                         cwd=Path(ROOT))
    assert res.returncode == 3, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), res.stderr
    assert "connect" not in res.stderr.lower()


def test_a_negative_sequence_length_is_refused_before_load() -> None:
    """perf_analyzer takes any value <= 0 as its default; 0 is read so here, a negative length is
    refused with the option table's one line (it used to fail only once a sequence model loaded)."""
    kind, line = outcome((*M, "--sequence-length", "-5"))
    assert kind == "refused" and "--sequence-length -5" in str(line)
