"""Console lines of a ``--periodic-concurrency-range`` run: its settings and one line per step."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .figures import fmt_rate, us


def settings_lines(start: int, end: int, step: int, period: int) -> list[str]:
    return [f"  Periodic concurrency: {start} to {end} requests, {step} more each time every "
            f"request of the last step got {period} responses",
            "  One window over the whole run: no stability check (as perf_analyzer)"]


def header(periodic: Mapping[str, Any]) -> str:
    start, end, step = periodic["range"]
    return (f"Periodic concurrency: {start} to {end} (step {step}, request period "
            f"{periodic['request_period']}), {periodic['requests_sent']} requests sent")


def _us(ns: float | None) -> str:
    return "-" if ns is None else f"{us(ns)} usec"


def step_lines(periodic: Mapping[str, Any]) -> list[str]:
    """One line per step: when it began, its concurrency, what arrived during it."""
    lines = ["  Steps (concurrency = requests sent so far; responses = arrived during the step):"]
    for s in periodic.get("steps", ()):
        rate = s.get("response_rate")
        lines.append(
            f"    +{s['start_s']:.3f} s concurrency {s['concurrency']} ({s['in_flight_at_start']} "
            f"in flight): {s['responses']} responses"
            f"{'' if rate is None else f' ({fmt_rate(rate)}/sec)'}, avg inter-response "
            f"{_us(s.get('avg_inter_response_ns'))}, avg first response of its "
            f"{s['added']} new {_us(s.get('avg_first_response_ns'))}")
    return lines


__all__ = ["header", "settings_lines", "step_lines"]
