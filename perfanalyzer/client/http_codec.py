"""KServe v2 REST inference bodies: encoding (once per request) and response decoding.

Pure functions, no I/O. :func:`encode_infer` builds the complete HTTP request of an
:class:`~perfanalyzer.client.base.InferRequest` (path, body, headers) so the hot path only posts
bytes; :func:`decode_infer` turns a response body into an :class:`InferResult`.

Two tensor encodings:

* **binary** (Triton's binary tensor extension): a JSON header, then the raw tensor bytes
  concatenated in input order. The header's byte length travels in the
  ``Inference-Header-Content-Length`` HTTP header; each input carries
  ``parameters.binary_data_size`` and each output is requested with
  ``parameters.binary_data = true``. The response uses the same layout.
* **JSON** (plain KServe v2): every tensor as a flat ``data`` list, for servers without the
  extension. Triton refuses FP16 and BF16 tensors in JSON (``ServerError`` 400); use the binary
  encoding for them.
"""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from ..errors import OptionError, ProtocolError
from . import tensors
from .base import InferRequest, InferResult, InputTensor, RequestedOutput, ShmRef

#: The binary tensor extension's header: byte length of the JSON part of a body.
HEADER_LENGTH = "Inference-Header-Content-Length"
COMPRESSIONS = ("none", "gzip", "deflate")


@dataclass(frozen=True, slots=True)
class PreparedHttpRequest:
    """A fully serialized inference request; immutable, safe to send concurrently and repeatedly.

    ``body`` is already compressed when ``headers`` has ``Content-Encoding``."""

    model: str
    path: str
    body: bytes
    headers: dict[str, str]
    #: Size of the uncompressed JSON header (0 for a plain JSON body).
    header_length: int = 0
    #: The absolute URL the client posts to (a ``yarl.URL``).
    url: Any = None


def model_path(model: str, version: str = "") -> str:
    """``/v2/models/{model}[/versions/{version}]`` with both names percent-encoded."""
    path = "/v2/models/" + quote(model, safe="")
    if version:
        path += "/versions/" + quote(str(version), safe="")
    return path


def compress(body: bytes, algorithm: str) -> bytes:
    """``gzip`` → gzip member; ``deflate`` → zlib stream (what HTTP calls ``deflate``)."""
    if algorithm == "gzip":
        return gzip.compress(body, compresslevel=6, mtime=0)
    if algorithm == "deflate":
        return zlib.compress(body)
    if algorithm == "none":
        return body
    raise OptionError(f"compression: unknown algorithm {algorithm!r}; expected {COMPRESSIONS}")


def _shm_params(ref: ShmRef) -> dict[str, Any]:
    params: dict[str, Any] = {
        "shared_memory_region": ref.region,
        "shared_memory_byte_size": ref.byte_size,
    }
    if ref.offset:
        params["shared_memory_offset"] = ref.offset
    return params


def _input_entry(tensor: InputTensor, binary: bool) -> tuple[dict[str, Any], bytes]:
    entry: dict[str, Any] = {"name": tensor.name, "shape": list(tensor.shape),
                             "datatype": tensor.datatype}
    if tensor.shm is not None:
        entry["parameters"] = _shm_params(tensor.shm)
        return entry, b""
    if tensor.data is None:
        raise OptionError(f"input {tensor.name!r} has neither data nor a shared-memory region")
    if binary:
        entry["parameters"] = {"binary_data_size": len(tensor.data)}
        return entry, tensor.data
    entry["data"] = tensors.to_json_values(tensor.to_numpy(), tensor.datatype)
    return entry, b""


def _output_entry(out: RequestedOutput, binary: bool) -> dict[str, Any]:
    params: dict[str, Any] = {}
    if out.shm is not None:
        params.update(_shm_params(out.shm))
    else:
        params["binary_data"] = bool(binary and out.binary)
    if out.class_count:
        params["classification"] = out.class_count
    return {"name": out.name, "parameters": params}


def encode_infer(request: InferRequest, *, binary: bool, compression: str = "none",
                 base_headers: dict[str, str] | None = None,
                 url: Callable[[str], Any] | None = None) -> PreparedHttpRequest:
    """Serialize ``request`` into a :class:`PreparedHttpRequest` (raises OptionError on bad input).

    ``url`` maps the request path to the absolute URL stored in the result."""
    header: dict[str, Any] = {}
    if request.request_id:
        header["id"] = request.request_id
    params: dict[str, Any] = request.protocol_parameters()
    if binary and not request.outputs:
        params["binary_data_output"] = True  # all outputs, binary
    if params:
        header["parameters"] = params
    chunks: list[bytes] = []
    inputs = []
    for tensor in request.inputs:
        entry, raw = _input_entry(tensor, binary)
        inputs.append(entry)
        if raw:
            chunks.append(raw)
    header["inputs"] = inputs
    if request.outputs:
        header["outputs"] = [_output_entry(o, binary) for o in request.outputs]
    json_part = json.dumps(header, separators=(",", ":")).encode()
    headers = dict(base_headers or {})
    if chunks:
        headers[HEADER_LENGTH] = str(len(json_part))
        headers["Content-Type"] = "application/octet-stream"
        body = b"".join([json_part, *chunks])
    else:
        headers["Content-Type"] = "application/json"
        body = json_part
    if compression != "none":
        body = compress(body, compression)
        headers["Content-Encoding"] = compression
    path = model_path(request.model, request.version) + "/infer"
    return PreparedHttpRequest(
        model=request.model,
        path=path,
        body=body,
        headers=headers,
        header_length=len(json_part) if chunks else 0,
        url=url(path) if url is not None else None,
    )


def split_body(body: bytes, header_length: str | None) -> tuple[dict[str, Any], memoryview]:
    """Split a response body into its JSON header and the binary part that follows it."""
    n = int(header_length) if header_length else len(body)
    try:
        header = json.loads(body[:n])
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProtocolError(f"undecodable inference response: {body[:80]!r}") from exc
    if not isinstance(header, dict):
        raise ProtocolError(f"inference response is not a JSON object: {body[:80]!r}")
    return header, memoryview(body)[n:]


def decode_infer(body: bytes, header_length: str | None) -> InferResult:
    """Decode an inference response. Binary outputs are numpy views into ``body`` (read-only);
    BYTES outputs are object arrays of ``bytes``; BF16 is decoded to float32; outputs that carry
    no data (written to shared memory) appear in ``shm_outputs`` as (datatype, shape)."""
    header, binary = split_body(body, header_length)
    outputs: dict[str, Any] = {}
    shm_outputs: dict[str, tuple[str, tuple[int, ...]]] = {}
    offset = 0
    try:
        for out in header.get("outputs") or ():
            name, datatype = out["name"], out["datatype"]
            shape = tuple(int(d) for d in out["shape"])
            size = (out.get("parameters") or {}).get("binary_data_size")
            if size is not None:
                end = offset + int(size)
                if end > len(binary):
                    raise ProtocolError(f"output {name!r}: binary data cut off")
                outputs[name] = tensors.from_raw(binary[offset:end], datatype, shape)
                offset = end
            elif "data" in out:
                outputs[name] = tensors.from_json_values(out["data"], datatype, shape)
            else:  # written to shared memory: Triton sends neither data nor a binary size
                shm_outputs[name] = (datatype, shape)
    except (KeyError, TypeError, ValueError) as exc:
        raise ProtocolError(f"malformed inference response: {exc!r}") from exc
    return InferResult(
        model_name=str(header.get("model_name", "")),
        model_version=str(header.get("model_version", "")),
        id=str(header.get("id", "")),
        outputs=outputs,
        parameters=dict(header.get("parameters") or {}),
        shm_outputs=shm_outputs,
    )
