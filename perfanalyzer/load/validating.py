"""``validation_data`` checked: a closed loop that decodes every response and compares it with the
expected outputs of its data entry (``--input-data`` JSON). The same loop keeps every request's data
entry and decoded outputs for ``--export-tensors`` (``request_inputs`` / ``response_outputs``).

A mismatch is a failed request (counted as an error in its window, like a server error) whose
message names the output tensor and the data entry. Decoding costs client time, so this loop is used
only when the input data carries ``validation_data``; it serves closed-loop concurrency without
sequences, streaming or shared memory, and other load modes refuse such data with one line before
any load is sent.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..client.base import InferenceClient, InferResult
from ..client.errors import ClientError, OptionError
from ..config import LoadMode, RunConfig
from ..measure.records import RecordBuffer
from .base import LoadManager
from .concurrency import WorkerPool

if TYPE_CHECKING:
    from ..profile.setup import ModelSetup

Expected = Mapping[str, np.ndarray] | None


def mismatch(result: InferResult, expected: Expected, origin: str) -> str | None:
    """The first output that differs from ``expected`` (message naming tensor and data entry)."""
    if not expected:
        return None
    for name, want in expected.items():
        got = result.outputs.get(name)
        if got is None:
            return f"validation_data: output {name!r} missing from the response to {origin}"
        a, b = np.asarray(got).reshape(-1), np.asarray(want).reshape(-1)
        if a.dtype.kind in "OSU" or b.dtype.kind in "OSU":
            a = np.array([x.encode() if isinstance(x, str) else bytes(x) for x in a], dtype=object)
            b = np.array([x.encode() if isinstance(x, str) else bytes(x) for x in b], dtype=object)
        if a.shape != b.shape or not bool(np.all(a == b)):
            return f"validation_data: output {name!r} does not match the expected value of {origin}"
    return None


class ValidatingManager(WorkerPool):
    """Keeps ``level`` requests in flight through ``client.infer`` and checks every answer."""

    def __init__(self, client: InferenceClient, payloads: Sequence[Any],
                 expected: Sequence[Expected], origins: Sequence[str],
                 buffer: RecordBuffer | None = None, keep_tensors: bool = False) -> None:
        if not payloads or len(payloads) != len(expected):
            raise ValueError("one expected output set per payload")
        super().__init__()
        self.client = client
        self.payloads = list(payloads)
        self.expected = list(expected)
        self.origins = list(origins)
        self.buffer = buffer if buffer is not None else RecordBuffer()
        self.keep_tensors = keep_tensors

    async def _worker(self, stop: list[bool]) -> None:
        n, buf, clock = len(self.payloads), self.buffer, time.perf_counter_ns
        while not stop[0]:
            i = self._next % n
            self._next += 1
            self.sent += 1
            self._in_flight += 1
            t0 = clock()
            try:
                result = await self.client.infer(self.payloads[i])
                t1 = clock()
                bad = mismatch(result, self.expected[i], self.origins[i])
                buf.add(t0, t0, t1, buf.error_code(bad) if bad else 0)
                if self.keep_tensors:
                    buf.tensors[buf.count - 1] = (i, dict(result.outputs))
            except ClientError as exc:
                buf.add(t0, t0, clock(), buf.error_code(str(exc)))
                await asyncio.sleep(0)
            finally:
                self._in_flight -= 1


def build_validating(cfg: RunConfig, client: InferenceClient, setup: ModelSetup,
                     payloads: Sequence[Any], buffer: RecordBuffer) -> LoadManager | None:
    """A :class:`ValidatingManager` when the input data has ``validation_data``; else None."""
    if not setup.data.has_validation and not cfg.export_tensors:
        return None
    where = "--input-data validation_data" if setup.data.has_validation else "--export-tensors"
    if cfg.mode is not LoadMode.CONCURRENCY:
        flag = ("--request-rate-range" if cfg.mode is LoadMode.REQUEST_RATE
                else "--request-intervals")
        raise OptionError(f"{where}: supported in concurrency mode only, not with {flag}")
    if setup.traits.sequence or cfg.streaming or cfg.shared_memory != "none":
        raise OptionError(f"{where}: not supported for sequence models, --streaming or "
                          "--shared-memory")
    steps = [step for stream in setup.data.streams for step in stream]
    return ValidatingManager(client, payloads, [s.expected_outputs for s in steps],
                             [s.origin or f"data entry {k}" for k, s in enumerate(steps)],
                             buffer, keep_tensors=cfg.export_tensors)


__all__ = ["ValidatingManager", "build_validating", "mismatch"]
