"""Load-level sweeps: linear ranges and perf_analyzer's binary search (pure)."""

from __future__ import annotations

import pytest

from perfanalyzer.config import parse_range
from perfanalyzer.errors import OptionError
from perfanalyzer.profile.sweep import BinarySearch, Outcome, linear


def _search(start: float, end: float, step: float, limit: float) -> tuple[list[float],
                                                                          float | None]:
    b = BinarySearch(start, end, step, integer=True)
    seen: list[float] = []
    last = None
    while (level := b.next_level(last)) is not None:
        seen.append(level)
        last = Outcome(level, level <= limit)
    return seen, b.best


def test_binary_search_finds_the_highest_passing_level() -> None:
    seen, best = _search(1, 64, 1, limit=20)
    assert best == 20
    assert seen[:2] == [1, 64]
    assert len(seen) <= 2 + 7  # log2(64) bisections


def test_binary_search_stops_when_start_fails_or_end_passes() -> None:
    assert _search(4, 64, 1, limit=2) == ([4], None)
    assert _search(1, 64, 1, limit=100) == ([1, 64], 64)


def test_binary_search_precision_is_the_step() -> None:
    _seen, best = _search(1, 65, 8, limit=30)
    assert best is not None and 30 - 8 < best <= 30


def test_linear_ranges() -> None:
    assert list(linear(1, 8, 3, integer=True)) == [1, 4, 7]
    assert list(linear(0.1, 0.3, 0.1, integer=False)) == pytest.approx([0.1, 0.2, 0.3])
    unbounded = linear(2, 0, 2, integer=True)
    assert [next(unbounded) for _ in range(4)] == [2, 4, 6, 8]


@pytest.mark.parametrize(("text", "integer", "message"), [
    ("0:4", True, "start must be > 0"),
    ("4:2", True, "end 2 is below start 4"),
    ("1:4:0", True, "step must be > 0"),
    ("a:b", True, "must be integers"),
    ("1:2:3:4", True, "expected start[:end[:step]]"),
    ("-5", False, "start must be > 0"),
    ("nan", False, "must be finite"),
])
def test_bad_ranges_name_the_flag(text: str, integer: bool, message: str) -> None:
    with pytest.raises(OptionError, match="--r") as exc:
        parse_range(text, "--range", integer=integer)
    assert message in str(exc.value)


def test_good_ranges() -> None:
    assert parse_range("1:8", "--c", integer=True) == (1, 8, 1)
    assert parse_range("2", "--c", integer=True) == (2, 2, 1)
    assert parse_range("10:100:7.5", "--r", integer=False) == (10.0, 100.0, 7.5)
