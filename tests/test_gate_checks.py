"""--fail-on specs: aliases, direction, units, binding to CSV columns, and the errors (exit 2)."""

from __future__ import annotations

import pytest

from perfanalyzer.errors import EXIT_CANNOT_COMPARE, CompareError
from perfanalyzer.gate.checks import bind_checks, higher_is_better, parse_check, resolve_metric

COLUMNS = ("Inferences/Second", "Client Send", "Network+Server Send/Recv", "Server Queue",
           "Server Compute Input", "Server Compute Infer", "Server Compute Output", "Client Recv",
           "p50 latency", "p90 latency", "p95 latency", "p99 latency", "Avg latency")


@pytest.mark.parametrize(("spec", "column", "sign", "amount", "relative", "text"), [
    ("throughput:-5%", "Inferences/Second", -1, 5.0, True, "-5%"),
    ("p99:+10%", "p99 latency", 1, 10.0, True, "+10%"),
    ("p99 latency:+2ms", "p99 latency", 1, 2000.0, False, "+2000us"),
    ("Server Queue:+100us", "Server Queue", 1, 100.0, False, "+100us"),
    ("server queue:+100µs", "Server Queue", 1, 100.0, False, "+100us"),
    ("p50:+0.5 ms", "p50 latency", 1, 500.0, False, "+500us"),
    ("avg:+1500ns", "Avg latency", 1, 1.5, False, "+1.5us"),
    ("throughput:-100 infer/s", "Inferences/Second", -1, 100.0, False, "-100infer/s"),
    ("Inferences/Second:+3%", "Inferences/Second", 1, 3.0, True, "+3%"),
    ("p90:7%", "p90 latency", 1, 7.0, True, "+7%"),  # no sign: the bad direction (a rise)
    ("throughput:7%", "Inferences/Second", -1, 7.0, True, "-7%"),  # ... a drop for throughput
    ("queue:+0.1ms", "Server Queue", 1, 100.0, False, "+100us"),
])
def test_parse_and_bind(spec: str, column: str, sign: int, amount: float, relative: bool,
                        text: str) -> None:
    check = parse_check(spec).bind(COLUMNS)
    assert (check.column, check.sign, check.relative, check.threshold_text) == (
        column, sign, relative, text)
    assert check.amount == pytest.approx(amount)


def test_direction_and_strict_threshold() -> None:
    tput = parse_check("throughput:-5%").bind(COLUMNS)
    assert tput.fails(100.0, 94.9) and not tput.fails(100.0, 95.0) and not tput.fails(100, 130)
    assert tput.improves(100.0, 105.1) and not tput.improves(100.0, 104.0)
    p99 = parse_check("p99:+2ms").bind(COLUMNS)
    assert p99.fails(10_000.0, 12_001.0) and not p99.fails(10_000.0, 12_000.0)
    assert p99.improves(10_000.0, 7_999.0)
    assert p99.delta(10_000.0, 12_500.0) == 2500.0


@pytest.mark.parametrize(("spec", "message"), [
    ("p99", "expected METRIC:+N%"),
    (":+5%", "expected METRIC:+N%"),
    ("p99:+abc", "is not [+|-]NUMBER[UNIT]"),
    ("p99:+5", "give a unit"),
    ("p99:+5parsecs", "unknown unit 'parsecs'"),
    ("p99:++5%", "is not [+|-]NUMBER[UNIT]"),
])
def test_syntax_errors_are_compare_errors(spec: str, message: str) -> None:
    with pytest.raises(CompareError, match=message.replace("[", r"\[").replace("+", r"\+")) as e:
        parse_check(spec)
    assert e.value.exit_code == EXIT_CANNOT_COMPARE == 2
    assert spec in str(e.value)


@pytest.mark.parametrize(("spec", "message"), [
    ("p75:+5%", "metric 'p75' ('p75 latency') is not a column of both runs"),
    ("Response Throughput:-5%", "is not a column"),
    ("throughput:-2ms", "is a rate (infer/s or %)"),
    ("p99:+10infer/s", "is a time (ns, us, ms, s or %)"),
])
def test_binding_errors_name_the_spec(spec: str, message: str) -> None:
    with pytest.raises(CompareError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_check(spec).bind(COLUMNS)


def test_defaults_fill_unchecked_columns_only() -> None:
    checks = bind_checks([parse_check("p99:+20%"), parse_check("Server Queue:+50us")], COLUMNS)
    assert [(c.column, c.threshold_text) for c in checks] == [
        ("Inferences/Second", "-5%"), ("Server Queue", "+50us"), ("p99 latency", "+20%")]
    assert bind_checks([], COLUMNS, defaults=False) == []
    # A default whose column is missing is dropped; an explicit one is an error.
    assert [c.column for c in bind_checks([], ("Inferences/Second",))] == ["Inferences/Second"]


def test_metric_names_are_case_and_space_insensitive() -> None:
    assert resolve_metric("P99   LATENCY", COLUMNS) == "p99 latency"
    assert resolve_metric("Throughput", COLUMNS) == "Inferences/Second"
    assert higher_is_better("Response Throughput") and not higher_is_better("Server Queue")
