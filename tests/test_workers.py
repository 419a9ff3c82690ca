"""--workers: load spread over processes, records merged exactly (against the real Triton), plus the
pure parts (worker count rule, load split, strided schedules, the watermark merge)."""

from __future__ import annotations

import asyncio
import io
import json
import os
import time
import urllib.request
from typing import Any

import numpy as np
import pytest

from perfanalyzer.config import RunConfig
from perfanalyzer.errors import OptionError
from perfanalyzer.load import workers as W
from perfanalyzer.load.schedule import constant, poisson
from perfanalyzer.load.share import Strided, split
from perfanalyzer.profile.run import profile
from perfanalyzer.profile.settings import load_settings
from perfanalyzer.records import RecordBuffer
from perfanalyzer.results.run import RunResult
from tests.support.cli_runs import url_config as _cfg


def _run(cfg: RunConfig) -> RunResult:
    return asyncio.run(profile(cfg, out=io.StringIO()))


def _success_count(url: str, model: str, expected: int = 0) -> int:
    """The server's success count; with ``expected``, wait up to 2 s for it (Triton updates its
    statistics just after sending the answer), then return the real value (maybe more)."""
    deadline = time.monotonic() + 2.0
    while True:
        with urllib.request.urlopen(f"http://{url}/v2/models/{model}/stats", timeout=30) as r:
            stats = json.load(r)["model_stats"]
        count = sum(int(s["inference_stats"]["success"]["count"]) for s in stats)
        if count >= expected or time.monotonic() > deadline:
            return count
        time.sleep(0.01)


def _check_windows(run: RunResult) -> None:
    """Windows are contiguous slices of the completion-ordered buffer: each request in at most
    one window, in the one its response arrived in."""
    assert run.buffer is not None
    last = run.buffer.last[: run.buffer.count]
    assert np.all(np.diff(last) >= 0)  # the merged buffer is completion-ordered
    for point in run.points:
        prev_hi = None
        for w in point.windows:
            s = w.summary
            if prev_hi is not None:
                assert w.lo == prev_hi  # back to back: nothing skipped, nothing counted twice
            prev_hi = w.hi
            assert s.completed + s.errors == w.hi - w.lo
            window_last = last[w.lo: w.hi]
            assert np.all(window_last > s.start_ns) and np.all(window_last <= s.end_ns)
            # the records just outside the window completed outside it
            if w.hi < run.buffer.count:
                assert last[w.hi] > s.end_ns
            if w.lo > 0:
                assert last[w.lo - 1] <= s.start_ns


# -- against the real server ------------------------------------------------------------------
@pytest.mark.server
@pytest.mark.slow
def test_two_workers_concurrency_counts_exactly(triton: Any) -> None:
    before = _success_count(triton.http_url, "add_sub")
    run = _run(_cfg(triton.http_url, "-m", "add_sub", "--concurrency-range", "3", "-p", "600",
                    "-s", "1000", "-r", "3", "--workers", "2"))
    assert run.buffer is not None and not run.failure
    after = _success_count(triton.http_url, "add_sub", before + run.buffer.count)
    # every request the workers recorded (all drained at stop) is exactly one the server served
    assert run.buffer.count == after - before > 0
    assert int(np.count_nonzero(run.buffer.status[: run.buffer.count])) == 0
    _check_windows(run)
    (point,) = run.points
    assert len(point.windows) == 3
    for w in point.windows:
        # the client CPU of a window includes the workers' CPU: the parent alone only sleeps and
        # merges, far less than the ~50+ µs per request that sending costs
        cpu_per_request = w.summary.client.cpu_ns / max(w.summary.completed, 1)
        assert cpu_per_request > 20_000, cpu_per_request
        assert w.summary.windows_cores == 2


@pytest.mark.server
def test_idle_worker_does_not_hold_back_count_windows(triton: Any) -> None:
    """Concurrency 1 over 2 workers: one worker has nothing to send. Count windows and warm-up
    wait on records reaching the parent, which the idle worker's advancing watermark allows."""
    before = _success_count(triton.http_url, "add_sub")
    t0 = time.monotonic()
    run = _run(_cfg(triton.http_url, "-m", "add_sub", "--concurrency-range", "1",
                    "--measurement-mode", "count_windows", "--measurement-request-count", "40",
                    "--warmup-request-count", "10", "-s", "1000", "-r", "3", "--workers", "2"))
    assert time.monotonic() - t0 < 30  # no window ran into its 300 s cap
    assert run.buffer is not None and not run.failure
    after = _success_count(triton.http_url, "add_sub", before + run.buffer.count)
    assert run.buffer.count == after - before
    _check_windows(run)
    (point,) = run.points
    assert point.windows[0].lo >= 10  # the warm-up requests belong to no window
    assert all(w.summary.completed >= 40 for w in point.windows)


@pytest.mark.server
@pytest.mark.slow
def test_workers_cpu_is_counted(triton: Any) -> None:
    """Same load with 1 and 2 workers: the CPU figure with workers is at least what the workers
    themselves reported (not only the coordinating parent's)."""
    cfg = _cfg(triton.http_url, "-m", "add_sub", "--concurrency-range", "2", "-p", "500",
               "-s", "1000", "-r", "3", "--workers", "2")
    seen: list[int] = []
    original = W.WorkerLoad.extra_cpu_ns

    def spy(self: W.WorkerLoad) -> int:
        value = original(self)
        seen.append(value)
        return value

    W.WorkerLoad.extra_cpu_ns = spy  # type: ignore[method-assign]
    try:
        run = _run(cfg)
    finally:
        W.WorkerLoad.extra_cpu_ns = original  # type: ignore[method-assign]
    (point,) = run.points
    worker_cpu = seen[-1] - seen[0]
    window_cpu = sum(w.summary.client.cpu_ns for w in point.windows)
    assert worker_cpu > 0
    assert window_cpu >= worker_cpu * 0.99  # parent's own CPU comes on top


@pytest.mark.server
@pytest.mark.slow
def test_two_workers_request_rate_interleave(triton: Any) -> None:
    rate = 400
    before = _success_count(triton.http_url, "add_sub")
    run = _run(_cfg(triton.http_url, "-m", "add_sub", "--request-rate-range", str(rate),
                    "-p", "600", "-s", "1000", "-r", "3", "--workers", "2"))
    assert run.buffer is not None and not run.failure
    after = _success_count(triton.http_url, "add_sub", before + run.buffer.count)
    assert run.buffer.count == after - before > 0
    _check_windows(run)
    # the union of the two workers' intended times is the one-process schedule: equally spaced.
    # Each worker stops on its own, so at the very end one may have sent a slot or more after the
    # other stopped (a loaded box saw one): from the first hole on, only every other slot is there.
    n = run.buffer.count
    intended = np.sort(run.buffer.intended[:n])
    period = 1e9 / rate
    gaps = np.diff(intended)
    holes = np.flatnonzero(np.abs(gaps - period) > 1)
    body, tail = (gaps, gaps[:0]) if not len(holes) else (gaps[:holes[0]], gaps[holes[0]:])
    assert np.max(np.abs(body - period)) <= 1
    assert np.max(np.abs(tail - 2 * period), initial=0) <= 1 and len(tail) <= 0.05 * n, tail
    (point,) = run.points
    assert point.merged.throughput == pytest.approx(rate, rel=0.1)


@pytest.mark.server
def test_workers_refuse_a_sequence_model(triton: Any) -> None:
    cfg = _cfg(triton.http_url, "-m", "sequence_acc", "--concurrency-range", "2", "-p", "300",
               "--workers", "2")
    with pytest.raises(OptionError, match="--workers 2: model 'sequence_acc' is a sequence"):
        _run(cfg)


# -- pure parts -------------------------------------------------------------------------------
def test_worker_count_rule() -> None:
    def count(*args: str) -> int:
        return W.worker_count(load_settings(_cfg("127.0.0.1:1", "-m", "m", *args)))

    assert count("--concurrency-range", "64") == 1
    assert count("--concurrency-range", "4", "--workers", "3") == 3
    assert count("--request-rate-range", "100") == 1
    many = int(W.AUTO_RATE_PER_WORKER * 3 + 1)
    expected = min(os.cpu_count() or 1, 4)
    assert count("--request-rate-range", f"10:{many}:100") == expected
    with pytest.raises(OptionError, match="--workers"):
        count("--workers", "-1")


def test_split() -> None:
    assert split(16, 3) == [6, 5, 5]
    assert split(1, 2) == [1, 0]
    assert split(0, 2) == [0, 0]
    assert sum(split(1001, 7)) == 1001


class _Manager:
    start_ns = 1_000


@pytest.mark.parametrize("base", [constant(1000.0), poisson(500.0, seed=3)])
def test_strided_schedules_interleave_to_the_base(base: Any) -> None:
    workers, t0 = 3, 5_000
    parts = []
    for i in range(workers):
        s = Strided(base, i, workers, t0, _Manager())
        assert s.rate == pytest.approx(base.rate / workers)
        # chunking must not matter
        chunks = np.concatenate([s.offsets(0, 7), s.offsets(7, 13)])
        assert np.array_equal(chunks, s.offsets(0, 20))
        parts.append(chunks + _Manager.start_ns)  # absolute intended times
    union = np.sort(np.concatenate(parts))
    assert np.array_equal(union, base.offsets(0, 60) + t0)


def _records(last: list[int], status: int = 0) -> np.ndarray:
    buf = RecordBuffer(8)
    for t in last:
        buf.add(t - 10, t - 10, t, status)
    return buf.view().to_structured()


def test_watermark_merge_is_exact_and_ordered() -> None:
    """Records reach the parent's buffer only up to the smallest watermark, in completion order;
    error codes are remapped to the parent's table."""
    load = object.__new__(W.WorkerLoad)
    load.buffer = RecordBuffer(4)
    a, b = W._Child(0, None, None), W._Child(1, None, None)  # type: ignore[arg-type]
    load._children = [a, b]
    load.buffer.error_code("already there")
    a.codes = [0, load.buffer.error_code("boom")]
    a.pending, a.watermark = [_records([10, 30, 50])], 50
    b.pending, b.watermark = [_records([20, 40])], 35
    load._merge()
    assert load.buffer.last[: load.buffer.count].tolist() == [10, 20, 30]
    errs = _records([60], status=1)
    errs["status"] = np.asarray(a.codes, dtype=np.int32)[errs["status"]]
    a.pending.append(errs)
    a.watermark, b.watermark = 70, 65
    load._merge()
    assert load.buffer.last[: load.buffer.count].tolist() == [10, 20, 30, 40, 50, 60]
    assert load.buffer.errors[int(load.buffer.status[5])] == "boom"
    assert int(load.buffer.status[4]) == 0
    assert sum(len(p) for p in a.pending + b.pending) == 0


def test_uvloop_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    from perfanalyzer.load import uvloop_policy

    async def loop_module() -> str:
        return type(asyncio.get_running_loop()).__module__

    uvloop = pytest.importorskip("uvloop")
    assert uvloop_policy.loop_name() == uvloop_policy.loop_name("uvloop") == "uvloop"
    assert uvloop_policy.run(loop_module()).startswith("uvloop")
    assert uvloop_policy.run(loop_module(), "uvloop").startswith("uvloop")
    assert uvloop_policy.loop_name("asyncio") == "asyncio"
    assert uvloop_policy.run(loop_module(), "asyncio").startswith("asyncio")
    # an environment variable alone never changes the loop
    monkeypatch.setenv("PERFANALYZER_LOOP", "asyncio")
    assert uvloop_policy.run(loop_module()).startswith("uvloop")
    with pytest.raises(OptionError, match="--event-loop"):
        uvloop_policy.loop_name("trio")
    assert uvloop is not None
