"""--fixed-schedule: requests go at the input data's timestamps, one window of all of them."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from perfanalyzer.errors import OptionError
from perfanalyzer.load.fixed_schedule import FixedSchedule
from perfanalyzer.profile.run import profile
from tests.support.cli_runs import cli_config as _cfg

#: Irregular gaps (ms): a constant-rate schedule cannot produce them.
STAMPS = [0, 2, 3, 10, 10, 25, 26, 40, 41, 42, 60, 75, 76, 90, 110, 111, 130, 131, 150, 170]


def _write(path: Path, stamps: list[Any]) -> Path:
    steps = [{"INPUT0": list(range(16)), "INPUT1": [1] * 16, "timestamp": [t]} for t in stamps]
    path.write_text(json.dumps({"data": steps}))
    return path


def test_schedule_offsets_are_the_timestamps() -> None:
    s = FixedSchedule([5, 7, 12])
    assert s.offsets(0, 4).tolist() == [0, 2_000_000, 7_000_000, 10_500_000]
    assert s.rate == pytest.approx(3 / 0.0105)


def test_options(tmp_path: Path) -> None:
    data = str(_write(tmp_path / "d.json", STAMPS))
    cfg = _cfg("-m", "add_sub", "--fixed-schedule", "--input-data", data,
               "--warmup-request-count", "2")
    assert cfg.load.fixed_schedule and cfg.measurement.request_count == len(STAMPS) - 2
    for extra, needle in ((["--request-count", "5"], "--request-count"),
                          (["--concurrency-range", "2"], "Cannot use both"),
                          (["-b", "2"], "-b must be 1")):
        with pytest.raises(OptionError, match=needle):
            _cfg("-m", "add_sub", "--fixed-schedule", "--input-data", data, *extra)
    with pytest.raises(OptionError, match=r"data\[1\]: --fixed-schedule needs"):
        _cfg("-m", "add_sub", "--fixed-schedule", "--input-data",
             str(_write(tmp_path / "bad.json", [0, "x"])))
    with pytest.raises(OptionError, match=r"data\[2\]: timestamp 1 ms is before"):
        _cfg("-m", "add_sub", "--fixed-schedule", "--input-data",
             str(_write(tmp_path / "order.json", [0, 5, 1])))
    with pytest.raises(OptionError, match=r"needs --input-data FILE\.json"):
        _cfg("-m", "add_sub", "--fixed-schedule")


@pytest.mark.server
def test_requests_are_sent_at_the_timestamps(triton: Any, tmp_path: Path) -> None:
    data = str(_write(tmp_path / "d.json", STAMPS))
    cfg = _cfg("-u", triton.http_url, "-m", "add_sub", "--fixed-schedule", "--input-data", data)
    run = asyncio.run(profile(cfg, out=io.StringIO()))
    (point,) = run.points
    assert len(point.windows) == 1 and point.merged.completed == len(STAMPS)
    assert run.buffer is not None
    w = point.windows[0]
    intended = np.sort(run.buffer.intended[w.lo:w.hi])
    gaps_ms = np.diff(intended - intended[0]) / 1e6
    assert gaps_ms.tolist() == pytest.approx(np.diff(STAMPS).tolist(), abs=1e-6)
