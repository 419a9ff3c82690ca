"""Synthetic runs for the gate and search tests: real RecordBuffers, real summarize/merge,
known shifts and noise.

A run is a closed loop at each level ``c``: window ``i`` of a point holds ``c / latency`` requests per
second scaled by ``tp_factors[i]``, each with latency ``latency_ms × slowdown × lat_factors[i] ×
lognormal(0, jitter)`` (seeded). The stabilizer's merged windows are the last three, as in a live run.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from perfanalyzer.client.base import ModelStatistics, StatDuration
from perfanalyzer.measure.metrics import ClientLoad, ServerDelta, summarize
from perfanalyzer.measure.stabilizer import Verdict
from perfanalyzer.measure.window import PointResult, Window, merge
from perfanalyzer.records import RecordBuffer
from perfanalyzer.results.run import ModelTraits, RunResult

WINDOW_NS = 1_000_000_000
MERGED = 3
WALL_ANCHOR_NS = 1_760_000_000_000_000_000
PROVENANCE = {"perfanalyzer": "0.1.0", "python": "3.11.9", "platform": "Linux-6.1-x86_64",
              "machine": "x86_64", "hostname": "ci-runner-1", "cpus": 16}
CONFIG = {"model": "synthetic", "model_version": "", "batch_size": 1, "protocol": "http",
          "url": "127.0.0.1:8000", "mode": "concurrency", "measurement_interval_ms": 1000,
          "shared_memory": "none", "concurrency_range": [1, 2, 1], "filename": None}


def window_noise(n: int, sigma: float, seed: int) -> list[float]:
    """``n`` seeded lognormal window factors (median 1)."""
    return np.exp(np.random.default_rng(seed).normal(0.0, sigma, n)).tolist()


def _stats(n: int, queue_us: float) -> ServerDelta:
    dur = {"success": StatDuration(n, n * 1000), "queue": StatDuration(n, int(n * queue_us * 1000)),
           "compute_input": StatDuration(n, 0), "compute_infer": StatDuration(n, n * 500_000),
           "compute_output": StatDuration(n, 0)}
    return ServerDelta(model=ModelStatistics(name="synthetic", version="1", inference_count=n,
                                             execution_count=n, durations=dur))


def _point(buf: RecordBuffer, level: float, start_ns: int, lat_ns: float,
           lat_factors: Sequence[float], tp_factors: Sequence[float], jitter: float,
           rng: np.random.Generator, queue_us: float | None) -> tuple[PointResult, int]:
    windows: list[Window] = []
    t0 = start_ns
    for i, (lf, tf) in enumerate(zip(lat_factors, tp_factors, strict=True)):
        n = max(1, round(level * 1e9 / lat_ns * tf * WINDOW_NS / 1e9))
        done = t0 + np.linspace(WINDOW_NS / n, WINDOW_NS, n).astype(np.int64)
        lats = (lat_ns * lf * np.exp(rng.normal(0.0, jitter, n))).astype(np.int64)
        lo = buf.count
        for last, lat in zip(done.tolist(), lats.tolist(), strict=True):
            buf.add(last - lat, last - lat, last)
        server = None if queue_us is None else _stats(n, queue_us * lf)
        s = summarize(buf.view(lo, buf.count), start_ns=t0, end_ns=t0 + WINDOW_NS, batch_size=1,
                      server=server, client=ClientLoad(), sent=n)
        windows.append(Window(i, lo, buf.count, s))
        t0 += WINDOW_NS
    verdict = Verdict(done=True, stable=True, reason="stable", throughput_spread=0.0,
                      latency_spread=0.0, over_threshold=False)
    return PointResult(level=float(level), windows=tuple(windows), verdict=verdict,
                       merged=merge(windows[-MERGED:], buf)), t0


def synthetic_run(levels: Sequence[float] = (1, 2), *, latency_ms: float = 10.0,
                  slowdown: float = 1.0, windows: int = 8, window_sigma: float = 0.03,
                  jitter: float = 0.05, seed: int = 0,
                  lat_factors: Sequence[float] | None = None,
                  tp_factors: Sequence[float] | None = None, queue_us: float | None = None,
                  mode: str = "concurrency", config: dict[str, Any] | None = None,
                  provenance: dict[str, Any] | None = None) -> RunResult:
    """A run whose latencies are ``slowdown`` × the base; the closed loop makes its throughput
    ``1 / slowdown`` × the base. Window factors are seeded noise unless given."""
    buf = RecordBuffer()
    rng = np.random.default_rng(seed)
    run = RunResult(mode=mode, model=ModelTraits(name="synthetic", max_batch_size=8), batch_size=1,
                    server_stats=queue_us is not None, buffer=buf, wall_anchor_ns=WALL_ANCHOR_NS,
                    clock_anchor_ns=0, config=dict(CONFIG if config is None else config),
                    provenance=dict(PROVENANCE if provenance is None else provenance))
    if mode != "concurrency":
        run.config["mode"] = mode
    t = 1_000_000_000_000
    for k, level in enumerate(levels):
        lf = lat_factors or window_noise(windows, window_sigma, seed * 1000 + 2 * k)
        noise = window_noise(len(lf), window_sigma, seed * 1000 + 2 * k + 1)
        tf = tp_factors or [1.0 / (x * y) for x, y in zip(lf, noise, strict=True)]
        point, t = _point(buf, level, t, latency_ms * 1e6 * slowdown, lf, tf, jitter, rng,
                          queue_us)
        run.points.append(point)
        t += WINDOW_NS // 10
    return run
