"""What the run knows about its model once checked: metadata, config, inputs, the data, and the
requests to send (built once, before any load)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..client.base import InferRequest, RequestedOutput
from .data import InputData
from .model import ModelIO, ModelTraits
from .parameters import typed_parameters


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
    #: Lines to print before measuring (e.g. how a model without configuration is batched).
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestSettings:
    """What a request carries besides its data (-m, -x, --output-tensor-format,
    --request-parameter)."""

    model: str
    model_version: str
    binary_outputs: bool
    #: --request-parameter: (name, value, type) as given
    parameters: tuple[tuple[str, str, str], ...]


def requests_for(settings: RequestSettings, setup: ModelSetup) -> list[list[InferRequest]]:
    """One InferRequest per data step, per stream (before any shared-memory rewriting)."""
    binary = settings.binary_outputs
    outputs = tuple(RequestedOutput(o.name, binary=binary) for o in setup.io.outputs)
    params = typed_parameters(settings.parameters)
    return [[InferRequest(model=settings.model, version=settings.model_version, inputs=step.inputs,
                          outputs=outputs, parameters=params) for step in stream]
            for stream in setup.data.streams]


__all__ = ["ModelSetup", "RequestSettings", "requests_for"]
