"""What the run knows about its model once checked: metadata, config, inputs, the data, and the
requests to send (built once, before any load)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..client.base import InferRequest, RequestedOutput
from ..config import RunConfig
from .data import InputData
from .model import ModelIO, ModelTraits


@dataclass(frozen=True)
class ModelSetup:
    metadata: dict[str, Any]
    config: dict[str, Any]
    io: ModelIO
    traits: ModelTraits
    data: InputData
    #: The requests to send (per stream, per step), once rewritten for shared memory; None: build
    #: them with :func:`requests_for`.
    requests: list[list[InferRequest]] | None = None


def requests_for(cfg: RunConfig, setup: ModelSetup) -> list[list[InferRequest]]:
    """One InferRequest per data step, per stream (before any shared-memory rewriting)."""
    binary = cfg.inputs.output_tensor_format == "binary"
    outputs = tuple(RequestedOutput(o.name, binary=binary) for o in setup.io.outputs)
    return [[InferRequest(model=cfg.server.model, version=cfg.server.model_version, inputs=step.inputs,
                          outputs=outputs) for step in stream]
            for stream in setup.data.streams]


__all__ = ["ModelSetup", "requests_for"]
