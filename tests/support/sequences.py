"""Sequence sources for the sequence tests: the sequence_acc model's data steps."""

from __future__ import annotations

from typing import Any

import numpy as np

from perfanalyzer.client.base import InferRequest, InputTensor, RequestedOutput
from perfanalyzer.load.sequences import SequenceOptions, SequenceSource

STEPS = 40  # data steps; step k sends INPUT = k + 1


def steps(n: int = STEPS) -> list[InferRequest]:
    """``n`` data steps for the sequence_acc model."""
    return [InferRequest(model="sequence_acc",
                         inputs=(InputTensor.from_numpy("INPUT", np.array([k + 1], np.int32)),),
                         outputs=(RequestedOutput("OUTPUT"), RequestedOutput("COUNT")))
            for k in range(n)]


def sequence_source(prepare: Any = lambda r: r, **kw: Any) -> SequenceSource:
    """A SequenceSource over ``steps()`` (or the given ``streams``); ``kw`` are SequenceOptions."""
    user_data = kw.pop("user_data", False)
    streams = kw.pop("streams", [steps()])
    return SequenceSource(prepare, streams, SequenceOptions(**kw), user_data=user_data)
