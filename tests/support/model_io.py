"""Model I/O descriptions for the input tests, built from hand-written Triton-shaped metadata and
config dicts, and small helpers around the input-data loader."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest

from perfanalyzer.errors import OptionError
from perfanalyzer.inputs import DataOptions, ModelIO, Step, load_input_data, model_io
from tests.support.paths import TESTS

#: The input-data files (JSON, directories) of the input tests.
DATA = TESTS / "data" / "inputs"
ALL_TYPES = ("BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64",
             "FP16", "FP32", "FP64", "BF16", "BYTES")
Tensor = tuple  # (name, datatype, dims[, optional])


def make_io(name: str, inputs: Sequence[Tensor], outputs: Sequence[Tensor] = (), mbs: int = 0,
            **config: Any) -> ModelIO:
    """ModelIO through model_io(), from Triton-shaped metadata and config dicts."""
    batch = [-1] if mbs > 0 else []

    def meta(t: Tensor) -> dict[str, Any]:
        return {"name": t[0], "datatype": t[1], "shape": batch + list(t[2])}

    def conf(t: Tensor) -> dict[str, Any]:
        return {"name": t[0], "data_type": "TYPE_STRING" if t[1] == "BYTES" else f"TYPE_{t[1]}",
                "dims": list(t[2]), "optional": bool(t[3]) if len(t) > 3 else False}

    metadata = {"name": name, "versions": ["1"], "platform": "python",
                "inputs": [meta(t) for t in inputs], "outputs": [meta(t) for t in outputs]}
    cfg = {"name": name, "max_batch_size": mbs, "input": [conf(t) for t in inputs],
           "output": [conf(t) for t in outputs], **config}
    return model_io(metadata, cfg)


M = make_io("m", [("INPUT0", "INT32", [16]), ("INPUT1", "INT32", [16])],
            [("OUTPUT0", "INT32", [16]), ("OUTPUT1", "INT32", [16])], mbs=8)
IDENT = make_io("identity_fp32", [("INPUT0", "FP32", [-1])], [("OUTPUT0", "FP32", [-1])], mbs=8)
SEQ = make_io("seq", [("INPUT", "INT32", [1])], [("OUTPUT", "INT32", [1])],
              sequence_batching={"max_sequence_idle_microseconds": 1000000})
MIXED = make_io("mixed", [("INPUT_FP32", "FP32", [-1, 2]), ("INPUT_BYTES", "BYTES", [-1]),
                          ("INPUT_INT8", "INT8", [4], True)], [("OUT", "FP32", [-1])])
TYPES = make_io("types", [(f"INPUT_{dt}", dt, [-1], True) for dt in ALL_TYPES])


def arrays(step: Step) -> dict[str, np.ndarray]:
    """A step's input tensors as numpy arrays by name."""
    return {t.name: t.to_numpy() for t in step.inputs}


def option_error(io: ModelIO, **options: Any) -> str:
    """The OptionError message that loading input data for ``io`` with ``options`` raises."""
    with pytest.raises(OptionError) as info:
        load_input_data(io, DataOptions(**options))
    return str(info.value)
