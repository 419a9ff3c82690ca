"""Reading Triton's counters after load: Triton updates a request's statistics just after it has
sent the answer, so a read right after the last answer can lag by the requests still finishing.
These helpers wait (briefly) for the expected count, then return the real figures — which the tests
then compare exactly, so a wrong count still fails."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request

from perfanalyzer.client.base import InferenceClient, ModelStatistics

SETTLE_S = 3.0


async def settled_delta(c: InferenceClient, model: str, before: ModelStatistics,
                        expected: int) -> ModelStatistics:
    """The statistics delta since ``before`` once success.count reached ``expected`` (or after
    SETTLE_S)."""
    deadline = time.monotonic() + SETTLE_S
    while True:
        (now,) = await c.model_statistics(model, before.version)
        delta = now - before
        if delta.get("success").count >= expected or time.monotonic() > deadline:
            return delta
        await asyncio.sleep(0.01)


def success_count(url: str, model: str) -> int:
    with urllib.request.urlopen(f"http://{url}/v2/models/{model}/stats", timeout=10) as r:
        stats = json.load(r)["model_stats"]
    return sum(int(s["inference_stats"]["success"]["count"]) for s in stats)


def settled_success_count(url: str, model: str, expected: int) -> int:
    """The model's success count once it reached ``expected`` (or after SETTLE_S)."""
    deadline = time.monotonic() + SETTLE_S
    while True:
        count = success_count(url, model)
        if count >= expected or time.monotonic() > deadline:
            return count
        time.sleep(0.01)


async def stats(c: InferenceClient, model: str) -> ModelStatistics:
    """The statistics of version 1 of ``model``."""
    (entry,) = await c.model_statistics(model, "1")
    return entry
