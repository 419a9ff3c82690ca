"""A saved run for the report tests: ``saved_run()`` builds a run with every kind of record the
exporter must keep apart (warm-up, a decoupled multi-response request, errors, sequence ids, requests
between points and after the last window) using the real ``summarize``/``merge``; and the export's
schema check.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from perfanalyzer import __version__
from perfanalyzer.client.base import STAT_KEYS, ModelStatistics, StatDuration
from perfanalyzer.config import RunConfig
from perfanalyzer.measure.metrics import ClientLoad, ServerDelta, summarize
from perfanalyzer.measure.stabilizer import Verdict
from perfanalyzer.measure.window import PointResult, Window, merge
from perfanalyzer.records import RecordBuffer
from perfanalyzer.report.csv import csv_text
from perfanalyzer.report.export import SCHEMA_FILE
from perfanalyzer.results.run import ModelTraits, RunResult

WALL = 1_763_000_000_000_000_000
CLOCK = 7_000_000_000
MS = 1_000_000
WINDOW = 100 * MS


def _stats(name: str, n: int, queue_us: int, infer_us: int) -> ModelStatistics:
    d = {k: StatDuration() for k in STAT_KEYS}
    d.update(success=StatDuration(n, n * (queue_us + infer_us + 30) * 1000),
             queue=StatDuration(n, n * queue_us * 1000),
             compute_input=StatDuration(n, n * 10_000),
             compute_infer=StatDuration(n, n * infer_us * 1000),
             compute_output=StatDuration(n, n * 20_000))
    return ModelStatistics(name=name, version="1", inference_count=n, execution_count=n,
                           durations=d)


def _window(buf: RecordBuffer, index: int, start: int, n: int, lat_ms: float,
            ensemble: bool, server: bool) -> Window:
    lo = buf.count
    for i in range(n):
        done = start + (i + 1) * WINDOW // (n + 1)
        sent = done - int(lat_ms * MS) - i * 1000
        buf.add_full(sent - 200_000, sent, done, done, 0, 1, 0)
    delta = None
    if server:
        composing = (_stats("step_a", n, 50, 300), _stats("step_b", n, 5, 40)) if ensemble else ()
        delta = ServerDelta(_stats("synthetic", n, 100 + 10 * index, 400), composing)
    s = summarize(buf.view(lo, buf.count), start_ns=start, end_ns=start + WINDOW, batch_size=2,
                  server=delta, client=ClientLoad(cpu_ns=n * 50_000, max_loop_lag_ns=index * MS),
                  percentiles=(75,), sent=n + 1, late_sends=index % 2, cores=1.0)
    return Window(index, lo, buf.count, s)


def saved_run(*, mode: str = "concurrency", decoupled: bool = True, ensemble: bool = True,
              server: bool = True) -> RunResult:
    """Two load points (4 and 3 windows) with a warm-up request, a decoupled 3-response request,
    two failures with different messages, sequence ids, a request between the points and two after
    the last window."""
    levels = (1.0, 2.0) if mode == "concurrency" else (50.0, 125.5)
    cfg = RunConfig.of(model="synthetic", batch_size=2, percentile=75, measurement_interval_ms=100,
                    concurrency_range=(1, 2, 1), request_rate_range=(50.0, 125.5, 75.5),
                    latency_threshold_ms=0.0, headers=(("X-A", "1"),), shapes=(("IN", (2, 3)),))
    config = cfg.flat()
    config["mode"] = mode
    buf = RecordBuffer(4)
    run = RunResult(mode=mode, model=ModelTraits(name="synthetic", version="1", decoupled=decoupled,
                                                 ensemble=ensemble,
                                                 composing=("step_a", "step_b") if ensemble else (),
                                                 max_batch_size=8),
                    batch_size=2, percentile=75, server_stats=server,
                    server_stats_reason="" if server else "the server does not offer statistics",
                    buffer=buf, wall_anchor_ns=WALL, clock_anchor_ns=CLOCK, config=config,
                    provenance={"perfanalyzer": __version__, "python": "3.11", "platform": "test"})
    t = CLOCK + 10 * MS
    buf.add_full(t - 3 * MS, t - 2 * MS, t - MS, t - MS, 0, 1, 0)  # warm-up: before any window
    for k, (level, count) in enumerate(zip(levels, (4, 3), strict=True)):
        windows = []
        for i in range(count):
            windows.append(_window(buf, i, t, 5 + 2 * i + k, 1.0 + 0.25 * i + k, ensemble, server))
            if k == 0 and i == 1:  # extra records inside window 1 of point 0, same edges
                last = windows.pop()
                lo = last.lo
                buf.add_full(t + 90 * MS, t + 91 * MS, t + 92 * MS, t + 95 * MS, 0, 3, 17)
                buf.add_full(t + 93 * MS, t + 93 * MS, t + 96 * MS, t + 96 * MS,
                             buf.error_code("[500] model failed"), 1, 18)
                buf.add_full(t + 94 * MS, t + 94 * MS, t + 97 * MS, t + 97 * MS,
                             buf.error_code("[503] overloaded"), 0, 0)
                s = summarize(buf.view(lo, buf.count), start_ns=t, end_ns=t + WINDOW,
                              batch_size=2, server=last.summary.server, client=last.summary.client,
                              percentiles=(75,), sent=last.summary.sent + 3, late_sends=2,
                              cores=1.0)
                windows.append(Window(i, lo, buf.count, s))
            t += WINDOW
        if k == 0:  # completes between the points: belongs to point 1's unwindowed requests
            buf.add_full(t + MS, t + 2 * MS, t + 3 * MS, t + 3 * MS, 0, 1, 0)
            t += 5 * MS
        stable = k == 0
        verdict = Verdict(done=True, stable=stable, reason="stable" if stable else "max_trials",
                          throughput_spread=0.05 if stable else math.inf,
                          latency_spread=0.02 if stable else math.inf, over_threshold=False)
        run.points.append(PointResult(level=level, windows=tuple(windows), verdict=verdict,
                                      merged=merge(windows[-3:], buf)))
    for j in range(2):  # the drain after the last window
        buf.add_full(t + j * MS, t + j * MS, t + (j + 2) * MS, t + (j + 2) * MS, 0, 1, 0)
    return run


def schema_validator() -> Any:
    """A validator for the export's JSON schema (skips without jsonschema)."""
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(SCHEMA_FILE.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def assert_valid(doc: dict[str, Any]) -> None:
    """``doc`` is valid under the export's JSON schema (every error listed when not)."""
    errors = [f"{e.json_path}: {e.message}" for e in schema_validator().iter_errors(doc)]
    assert errors == []


def csv_file(path: Path, run: RunResult) -> Path:
    """``path``, holding the run's perf_analyzer CSV."""
    path.write_text(csv_text(run))
    return path


def export_file(path: Path, run: RunResult) -> Path:
    """A JSON run written by the real --profile-export-file writer (read back by load_run)."""
    pytest.importorskip("perfanalyzer.report.saved")
    export = pytest.importorskip("perfanalyzer.report.export")
    export.write_export(run, path)
    return path
