"""What a run concludes, against the real Triton: exit codes and refusals."""

from __future__ import annotations

from typing import Any

import pytest

from .test_profile import _cli

pytestmark = pytest.mark.server


def test_binary_search_ending_over_the_limit_exits_0(triton: Any) -> None:
    # -s 0: no point can settle; the delay model's 50 ms is over -l 10 at the first probe, which
    # ends the search there. Over the limit is a finding, not an unstable point: exit 0.
    r = _cli("-m", "delay", "-u", triton.http_url, "--concurrency-range", "1:4",
             "--binary-search", "-l", "10", "-s", "0", "-p", "200")
    assert "Measured latency went over the set limit of 10 msec." in r.stdout
    assert r.returncode == 0, r.stderr
