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
and the request-rate modes. A prepared payload is matched to its data entry by identity: the
payload list, or, for sequence models, each step's payload as :class:`~.sequences.SequenceSource`
prepares it (the entry is the data step the sequence step sends). With ``--streaming`` every
non-empty response of a request is compared with its data entry's expected outputs (perf_analyzer
checks each response it gets the same way), and the request fails at its final response.
``--export-tensors`` with sequences or ``--streaming``, and shared memory, are refused with one line
before any load is sent.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..client.base import InferenceClient, InferResult
from ..errors import ClientError, OptionError
from .send import SenderFactory, SendResult
from .sequences import PAYLOAD_CACHE_MAX
from .settings import LoadSettings

if TYPE_CHECKING:
    from ..inputs.setup import ModelSetup
    from .sequences import SequenceSource

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


class Entries:
    """Which data entry a prepared payload came from (by identity), and the check of an answer.

    Payloads prepared on the way (sequence steps) are held here, so an id is never reused while it
    is known; the registry keeps two generations of at most ``PAYLOAD_CACHE_MAX`` each, like the
    sequence source's own cache, so a payload still in flight after a turnover is still known."""

    def __init__(self, payloads: Sequence[Any], expected: Sequence[Expected],
                 origins: Sequence[str], stop: bool) -> None:
        self.fixed = {id(p): k for k, p in enumerate(payloads)}
        self.expected, self.origins, self.stop = expected, origins, stop
        self.offsets: list[int] = []
        self._new: dict[int, tuple[Any, int]] = {}
        self._old: dict[int, tuple[Any, int]] = {}

    def sequence_step(self, prepared: Any, stream: int, step: int) -> None:
        """``prepared`` sends data step ``step`` of data stream ``stream``."""
        if len(self._new) >= PAYLOAD_CACHE_MAX:
            self._old, self._new = self._new, {}
        self._new[id(prepared)] = (prepared, self.offsets[stream] + step)

    def index(self, prepared: Any) -> int | None:
        k = self.fixed.get(id(prepared))
        if k is None:
            known = self._new.get(id(prepared)) or self._old.get(id(prepared))
            k = known[1] if known is not None and known[0] is prepared else None
        return k

    def check(self, prepared: Any, result: InferResult) -> int | None:
        """Raise ValidationMismatch when ``result`` differs from its entry; the entry's index."""
        k = self.index(prepared)
        if k is not None:
            bad = mismatch(result, self.expected[k], self.origins[k])
            if bad:
                raise ValidationMismatch(bad, ends_run=self.stop)
        return k


def checking_sender(client: InferenceClient, payloads: Sequence[Any],
                    expected: Sequence[Expected], origins: Sequence[str],
                    keep_tensors: bool, stop: bool = True,
                    entries: Entries | None = None) -> SenderFactory:
    """Every caller shares one sender that decodes, checks and (optionally) keeps the answer;
    ``stop``: a mismatch ends the run (else it is only counted)."""
    known = entries or Entries(payloads, expected, origins, stop)

    async def send(prepared: Any) -> SendResult:
        result = await client.infer(prepared)
        done = time.perf_counter_ns()
        k = known.check(prepared, result)
        # the transport's send/recv times, as the plain sender returns them
        return SendResult(done, done, 1, result.send_ns, result.recv_ns,
                          tensors=(k, dict(result.outputs)) if keep_tensors and k is not None
                          else None)

    async def make() -> tuple[Callable[[Any], Awaitable[SendResult]], Callable[[], Awaitable[None]]]:
        async def close() -> None:
            return None

        return send, close

    return make


def check_on_mismatch(on_mismatch: str, setup: ModelSetup) -> None:
    """``--on-mismatch count`` needs validation_data to check (never accepted and ignored)."""
    if not setup.data.has_validation and on_mismatch != "stop":
        raise OptionError(f"--on-mismatch {on_mismatch}: the --input-data has no "
                          "validation_data to check")


def sender_for(load: LoadSettings, client: InferenceClient, setup: ModelSetup,
               payloads: Sequence[Any],
               sequences: SequenceSource | None = None) -> SenderFactory | None:
    """The checking sender when the data has ``validation_data`` or --export-tensors is given;
    None otherwise. Raises OptionError (before any load) where it cannot apply. ``sequences``:
    the run's sequence source, whose step payloads are matched to their data entries."""
    export = load.export_tensors
    check_on_mismatch(load.on_mismatch, setup)
    if not setup.data.has_validation and not export:
        return None
    where = "--export-tensors" if export else "--input-data validation_data"
    if export and (setup.traits.sequence or load.streaming):
        raise OptionError(f"{where}: not supported for sequence models or --streaming")
    if load.shared_memory != "none" or load.endpoint != "infer":
        raise OptionError(f"{where}: not supported with --shared-memory or --endpoint generate*")
    steps = [step for stream in setup.data.streams for step in stream]
    if sequences is None and len(steps) != len(payloads):
        raise OptionError(f"{where}: {len(steps)} data entries but {len(payloads)} requests")
    entries = Entries(() if sequences else payloads, [s.expected_outputs for s in steps],
                      [s.origin or f"data entry {k}" for k, s in enumerate(steps)],
                      stop=load.on_mismatch == "stop")
    if sequences is not None:
        entries.offsets = [0]
        for stream in setup.data.streams[:-1]:
            entries.offsets.append(entries.offsets[-1] + len(stream))
        sequences.on_prepare = entries.sequence_step
    if load.streaming:
        from .streaming import stream_sender  # gRPC streams: protobuf, only then

        return stream_sender(client, check=entries.check)
    return checking_sender(client, payloads, entries.expected, entries.origins, export,
                           entries=entries)


__all__ = ["PA_MISMATCH", "Entries", "ValidationMismatch", "check_on_mismatch", "checking_sender", "mismatch",
           "sender_for"]
