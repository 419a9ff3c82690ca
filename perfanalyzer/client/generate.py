"""Triton's generate extension over HTTP: ``POST /v2/models/M/generate`` (one JSON answer) and
``.../generate_stream`` (one server-sent event per response).

The request body is one JSON object: each input is a field named after it, holding the tensor's
elements as a flat list (BYTES as UTF-8 strings), and the request parameters (``--request-parameter``,
sequence and priority settings) go in ``"parameters"``, as Triton's extension documents.

:class:`StreamedAnswer` receives the ``generate_stream`` body as it arrives: it stamps each
``data`` event with the time the bytes carrying it arrived, and turns an error event (an
``event: error``, or a ``data`` object with an ``"error"`` member, Triton's form) into the
request's :class:`ServerError` with the server's message.
"""

from __future__ import annotations

import json
from time import perf_counter_ns
from typing import Any

import numpy as np

from ..errors import OptionError, ProtocolError, ServerError
from .base import InferRequest
from .http_codec import model_path
from .sse import SseParser

__all__ = ["ENDPOINTS", "StreamedAnswer", "generate_body", "generate_path"]

#: The inference endpoints of the HTTP client: KServe's infer and Triton's generate extension.
ENDPOINTS = ("infer", "generate", "generate_stream")
#: How much of a failed answer's body is kept for its error message.
MAX_ERROR_BODY = 64 * 1024


def generate_path(request: InferRequest, endpoint: str) -> str:
    return f"{model_path(request.model, request.version)}/{endpoint}"


def _values(name: str, array: np.ndarray) -> list[Any]:
    flat = array.reshape(-1)
    if flat.dtype.kind in "OSU":
        try:
            return [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in flat.tolist()]
        except UnicodeDecodeError:
            raise OptionError(f"input '{name}': the generate endpoints carry text; this BYTES "
                              "element is not UTF-8") from None
    return flat.tolist()


def generate_body(request: InferRequest) -> bytes:
    """The JSON body of a generate / generate_stream request (see the module docstring)."""
    body: dict[str, Any] = {}
    for tensor in request.inputs:
        if tensor.shm is not None:
            raise OptionError("--endpoint generate: inputs travel in the JSON body (no shared "
                              "memory)")
        body[tensor.name] = _values(tensor.name, tensor.to_numpy())
    params = request.protocol_parameters()
    if params:
        body["parameters"] = params
    return json.dumps(body, separators=(",", ":")).encode()


class StreamedAnswer:
    """The sink of one ``generate_stream`` answer (falsy, so the HTTP parser keeps no body of
    its own): :attr:`times` of the data events, :attr:`error` of an error event, :attr:`raw`
    (the first bytes, for a non-200 answer's message)."""

    __slots__ = ("error", "parser", "raw", "times")

    def __init__(self) -> None:
        self.parser = SseParser()
        self.times: list[int] = []
        self.error: str | None = None
        self.raw = bytearray()

    def __bool__(self) -> bool:
        return False

    def append(self, data: bytes) -> None:
        t = perf_counter_ns()
        if len(self.raw) < MAX_ERROR_BODY:
            self.raw += data[:MAX_ERROR_BODY - len(self.raw)]
        for event in self.parser.feed(data):
            if event.event == "error":
                self.error = self.error or event.data or "error event"
            elif '"error"' in event.data and (message := _error_of(event.data)) is not None:
                self.error = self.error or message
            else:
                self.times.append(t)

    def finish(self, where: str) -> list[int]:
        """The data events' times once the answer is complete; raises the error event as a
        ServerError, a stream that stopped inside an event as a ProtocolError."""
        cut = self.parser.close()
        if self.error is not None:
            raise ServerError("GENERATE_STREAM", self.error)
        if cut:
            raise ProtocolError(f"{where}: the event stream ended inside an event")
        return self.times


def _error_of(data: str) -> str | None:
    try:
        decoded = json.loads(data)
    except ValueError:
        return None
    if isinstance(decoded, dict) and "error" in decoded:
        return str(decoded["error"])
    return None
