"""perf_analyzer keeps a point whose throughput settled but latency did not ("throughput only")
only in its async mode: asked with -a, forced by --streaming or a sequence model, never with --sync.
perfanalyzer sends asynchronously by default but judges by the mode the user asked for."""

from __future__ import annotations

import pytest

from perfanalyzer.cli.main import cli, profile_config
from perfanalyzer.config import RunConfig
from perfanalyzer.measure.stabilizer import MAX_TRIALS, THROUGHPUT_ONLY, WindowFigures, judge
from perfanalyzer.profile.settings import window_plan


def _cfg(*args: str) -> RunConfig:
    argv = ["-m", "m", "-u", "localhost:1", *args]
    return profile_config(cli.commands["profile"].make_context("profile", argv).params)


#: Ten windows: throughput within 2 %, latency swinging 30 % (as a saturated async load does).
WINDOWS = [WindowFigures(1000.0 + (k % 2) * 20, 10e6 * (1.3 if k % 2 else 1.0), 100)
           for k in range(10)]


@pytest.mark.parametrize(("args", "sequence", "reason"), [
    ((), False, MAX_TRIALS),  # perf_analyzer's default (synchronous): the point is unstable
    (("-a",), False, THROUGHPUT_ONLY),
    (("-i", "grpc", "--streaming"), False, THROUGHPUT_ONLY),
    ((), True, THROUGHPUT_ONLY),  # a sequence model forces perf_analyzer's async mode
    (("--sync",), True, MAX_TRIALS),
    (("--request-rate-range", "100"), False, MAX_TRIALS),
    (("--request-rate-range", "100", "-a"), False, THROUGHPUT_ONLY),
])
def test_throughput_only_is_accepted_in_perf_analyzers_async_mode_only(
        args: tuple[str, ...], sequence: bool, reason: str) -> None:
    plan = window_plan(_cfg("-r", "10", *args), sequence=sequence)
    verdict = judge(WINDOWS, plan.criteria)
    assert verdict.done and verdict.reason == reason
    assert verdict.stable is (reason == THROUGHPUT_ONLY)
