"""``validation_data`` checked, and ``--export-tensors``: a sender that decodes every answer.

With expected outputs in the ``--input-data`` JSON, each answer is compared with its data entry's
``validation_data``; a mismatch fails the request (a :class:`ValidationMismatch`, counted as an
error in its window like a server error) with a message naming the output tensor and the data
entry and holding perf_analyzer's sentence (:data:`PA_MISMATCH`, which scripts grep for). As in
perf_analyzer, a mismatch ends the run (once its window is measured: exit 99, what was measured
written) unless ``--on-mismatch count`` asks to count it and go on. With ``--export-tensors``
the sender also hands back the data entry and the decoded outputs for the export's
``request_inputs`` / ``response_outputs``.

Decoding costs client time, so this sender is used only when asked for. It serves the closed loop
and the request-rate modes over prepared payloads (matched by identity); sequence models,
``--streaming`` and shared memory are refused with one line before any load is sent.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..client.base import InferenceClient, InferResult
from ..config import RunConfig
from ..errors import ClientError, OptionError
from .request_rate import SenderFactory, SendResult

if TYPE_CHECKING:
    from ..inputs.setup import ModelSetup

Expected = Mapping[str, np.ndarray] | None


#: perf_analyzer's words for a mismatch.
PA_MISMATCH = "Output doesn't match expected output"


class ValidationMismatch(ClientError):
    """An answer differs from its data entry's ``validation_data``."""

    def __init__(self, message: str, ends_run: bool = True) -> None:
        super().__init__(message)
        self.ends_run = ends_run


def _as_bytes(a: np.ndarray) -> np.ndarray:
    return np.array([x.encode() if isinstance(x, str) else bytes(x) for x in a], dtype=object)


def mismatch(result: InferResult, expected: Expected, origin: str) -> str | None:
    """The first output that differs from ``expected`` (message naming tensor and data entry)."""
    if not expected:
        return None
    for name, want in expected.items():
        got = result.outputs.get(name)
        if got is None:
            return (f"validation_data: output {name!r} missing from the response to {origin} "
                    f"({PA_MISMATCH})")
        a, b = np.asarray(got).reshape(-1), np.asarray(want).reshape(-1)
        if a.dtype.kind in "OSU" or b.dtype.kind in "OSU":
            a, b = _as_bytes(a), _as_bytes(b)
        if a.shape != b.shape or not bool(np.all(a == b)):
            return (f"validation_data: output {name!r} does not match the expected value of "
                    f"{origin} ({PA_MISMATCH})")
    return None


def checking_sender(client: InferenceClient, payloads: Sequence[Any],
                    expected: Sequence[Expected], origins: Sequence[str],
                    keep_tensors: bool, stop: bool = True) -> SenderFactory:
    """Every caller shares one sender that decodes, checks and (optionally) keeps the answer;
    ``stop``: a mismatch ends the run (else it is only counted)."""
    entry = {id(p): k for k, p in enumerate(payloads)}

    async def send(prepared: Any) -> SendResult:
        result = await client.infer(prepared)
        done = time.perf_counter_ns()
        k = entry.get(id(prepared))
        if k is not None:
            bad = mismatch(result, expected[k], origins[k])
            if bad:
                raise ValidationMismatch(bad, ends_run=stop)
        # the transport's send/recv times, as the plain sender returns them
        out = SendResult((done, done, 1, result.send_ns, result.recv_ns))
        if keep_tensors and k is not None:
            out.tensors = (k, dict(result.outputs))
        return out

    async def make() -> tuple[Callable[[Any], Awaitable[SendResult]], Callable[[], Awaitable[None]]]:
        async def close() -> None:
            return None

        return send, close

    return make


def check_on_mismatch(cfg: RunConfig, setup: ModelSetup) -> None:
    """``--on-mismatch count`` needs validation_data to check (never accepted and ignored)."""
    if not setup.data.has_validation and cfg.inputs.on_mismatch != "stop":
        raise OptionError(f"--on-mismatch {cfg.inputs.on_mismatch}: the --input-data has no "
                          "validation_data to check")


def sender_for(cfg: RunConfig, client: InferenceClient, setup: ModelSetup,
               payloads: Sequence[Any]) -> SenderFactory | None:
    """The checking sender when the data has ``validation_data`` or --export-tensors is given;
    None otherwise. Raises OptionError (before any load) where it cannot apply."""
    export = cfg.output.export_tensors
    check_on_mismatch(cfg, setup)
    if not setup.data.has_validation and not export:
        return None
    where = "--input-data validation_data" if setup.data.has_validation else "--export-tensors"
    if (setup.traits.sequence or cfg.load.streaming or cfg.inputs.shared_memory != "none"
            or cfg.transport.endpoint != "infer"):
        raise OptionError(f"{where}: not supported for sequence models, --streaming, "
                          "--shared-memory or --endpoint generate*")
    steps = [step for stream in setup.data.streams for step in stream]
    if len(steps) != len(payloads):
        raise OptionError(f"{where}: {len(steps)} data entries but {len(payloads)} requests")
    return checking_sender(client, payloads, [s.expected_outputs for s in steps],
                           [s.origin or f"data entry {k}" for k, s in enumerate(steps)], export,
                           stop=cfg.inputs.on_mismatch == "stop")


__all__ = ["PA_MISMATCH", "ValidationMismatch", "check_on_mismatch", "checking_sender", "mismatch",
           "sender_for"]
