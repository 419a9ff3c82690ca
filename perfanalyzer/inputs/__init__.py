"""Model inputs → pre-built request payloads (random, zero, JSON file or directory data).

Typical use, once before any load is sent::

    io = model_io(metadata, config)
    data = load_input_data(io, DataOptions(batch_size=4, shapes={"INPUT0": (16,)}))
    step = data.step(stream=0, index=i)   # step.inputs: tuple[InputTensor, ...]
"""

from __future__ import annotations

from ..config.parse import parse_shape
from .data import InputData, Step, load_input_data
from .model import ModelIO, TensorSpec, format_shape, model_io
from .options import DataOptions, check_options

__all__ = [
    "DataOptions",
    "InputData",
    "ModelIO",
    "Step",
    "TensorSpec",
    "check_options",
    "format_shape",
    "load_input_data",
    "model_io",
    "parse_shape",
]
