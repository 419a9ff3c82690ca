"""Helpers of the gRPC client: protobuf <-> Python conversions, error mapping, channel set-up.

* :func:`message_to_dict` turns any response message into the JSON shape Triton's HTTP endpoint
  returns (field names as in the .proto, 64-bit integers as ``int``, enums as names, scalar
  defaults, empty lists and maps included, unset sub-messages and oneof members left out), unlike
  ``MessageToDict``, which renders 64-bit integers as strings.
* :func:`build_infer_request` / :func:`decode_infer_response` translate between the
  transport-neutral :class:`~.base.InferRequest` / :class:`~.base.InferResult` and the protocol.
* :func:`map_rpc_error` translates ``grpc.aio.AioRpcError`` into the perfanalyzer error tree;
  :func:`channel_args` and :func:`ssl_credentials` turn :class:`~.base.ClientOptions` into channel
  settings.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import grpc
import grpc.aio
import numpy as np
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from .._proto import grpc_service_pb2 as pb
from ..errors import (
    ClientError,
    OptionError,
    grpc_status_error,
)
from . import tensors
from .base import (
    STAT_KEYS,
    ClientOptions,
    InferRequest,
    InferResult,
    ParamValue,
    ShmRef,
    TlsOptions,
)

_INT64 = frozenset({
    FieldDescriptor.TYPE_INT64, FieldDescriptor.TYPE_UINT64, FieldDescriptor.TYPE_SINT64,
    FieldDescriptor.TYPE_FIXED64, FieldDescriptor.TYPE_SFIXED64,
})
_MESSAGE = FieldDescriptor.TYPE_MESSAGE
_ENUM = FieldDescriptor.TYPE_ENUM
_FLOAT = FieldDescriptor.TYPE_FLOAT
_BYTES = FieldDescriptor.TYPE_BYTES
_INT64_MAX = 2**63 - 1

#: Request/output parameter names of the shared-memory extension.
SHM_REGION = "shared_memory_region"
SHM_BYTE_SIZE = "shared_memory_byte_size"
SHM_OFFSET = "shared_memory_offset"


# -- generic message -> dict ----------------------------------------------------------------------

def _scalar(field: FieldDescriptor, value: Any) -> Any:
    kind = field.type
    if kind == _ENUM:
        ev = field.enum_type.values_by_number.get(value)
        return ev.name if ev is not None else int(value)
    if kind == _FLOAT:
        # float32 widened to double prints as 0.10000000149...; JSON prints the shortest form.
        return float(repr(np.float32(value)))
    if kind == _BYTES:
        return base64.b64encode(value).decode("ascii")
    if kind in _INT64:
        return int(value)
    return value


def _value(field: FieldDescriptor, value: Any) -> Any:
    if field.type == _MESSAGE:
        return message_to_dict(value)
    return _scalar(field, value)


def message_to_dict(message: Message) -> dict[str, Any]:
    """``message`` as a JSON-shaped dict, the way Triton's HTTP API prints it (see module doc).

    Map keys are strings (as in JSON, also for integer-keyed maps)."""
    out: dict[str, Any] = {}
    for field in message.DESCRIPTOR.fields:
        name = field.name
        value = getattr(message, name)
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            vfield = field.message_type.fields_by_name["value"]
            out[name] = {str(k): _value(vfield, v) for k, v in value.items()}
        elif field.is_repeated:
            out[name] = [_value(field, v) for v in value]
        elif field.type == _MESSAGE or field.containing_oneof is not None:
            if message.HasField(name):
                out[name] = _value(field, value)
        else:
            out[name] = _scalar(field, value)
    return out


# -- parameters ---------------------------------------------------------------------------------

def set_param(target: pb.InferParameter, value: ParamValue) -> None:
    """Store a Python value in an ``InferParameter`` (bool before int: bool is an int subclass).

    Integers go in ``int64_param``, the one integer type every Triton version accepts for
    ``sequence_id``/``priority``/``timeout`` (2.51 refuses ``uint64_param`` for ``sequence_id``);
    values above INT64_MAX are sent as their two's complement, which Triton reads back as the
    uint64 it stores (the C++ clients do the same)."""
    if isinstance(value, bool):
        target.bool_param = value
    elif isinstance(value, int):
        if not -(2**63) <= value < 2**64:
            raise ValueError(f"integer parameter {value} does not fit in 64 bits")
        target.int64_param = value - 2**64 if value > _INT64_MAX else value
    elif isinstance(value, float):
        target.double_param = value
    elif isinstance(value, str):
        target.string_param = value
    else:
        raise TypeError(f"parameter value {value!r} is not bool, int, float or str")


def get_param(param: pb.InferParameter) -> ParamValue:
    which = param.WhichOneof("parameter_choice")
    if which is None:
        return ""
    value: ParamValue = getattr(param, which)
    return value


def params_to_dict(params: Mapping[str, pb.InferParameter]) -> dict[str, ParamValue]:
    return {k: get_param(v) for k, v in params.items()}


def _set_shm(params: Any, shm: ShmRef) -> None:
    params[SHM_REGION].string_param = shm.region
    params[SHM_BYTE_SIZE].int64_param = shm.byte_size
    if shm.offset:
        params[SHM_OFFSET].int64_param = shm.offset


# -- inference ----------------------------------------------------------------------------------

def build_infer_request(request: InferRequest) -> pb.ModelInferRequest:
    """The protocol message for ``request``: tensors as ``raw_input_contents`` (one entry per
    input not in shared memory, in input order), shm tensors as ``shared_memory_*`` parameters."""
    msg = pb.ModelInferRequest(model_name=request.model, model_version=request.version,
                               id=request.request_id)
    for key, value in request.protocol_parameters().items():
        set_param(msg.parameters[key], value)
    for tensor in request.inputs:
        item = msg.inputs.add(name=tensor.name, datatype=tensor.datatype, shape=tensor.shape)
        if tensor.shm is not None:
            _set_shm(item.parameters, tensor.shm)
        elif tensor.data is not None:
            msg.raw_input_contents.append(tensor.data)
        else:
            raise ValueError(f"input {tensor.name!r} has neither data nor a shared-memory region")
    for out in request.outputs:
        item_out = msg.outputs.add(name=out.name)
        if out.class_count:
            item_out.parameters["classification"].int64_param = out.class_count
        if out.shm is not None:
            _set_shm(item_out.parameters, out.shm)
    return msg


def decode_infer_response(response: pb.ModelInferResponse,
                          shm_outputs: Iterable[str] = ()) -> InferResult:
    """An :class:`InferResult` from a response; outputs named in ``shm_outputs`` (or that the
    server reports as written to shared memory) go to ``InferResult.shm_outputs``."""
    in_shm = set(shm_outputs)
    result = InferResult(model_name=response.model_name, model_version=response.model_version,
                         id=response.id, outputs={},
                         parameters=params_to_dict(response.parameters))
    raw = response.raw_output_contents
    # Triton sends one raw entry per output; be lenient with servers that skip shm outputs.
    aligned = len(raw) == len(response.outputs)
    next_raw = 0
    for index, out in enumerate(response.outputs):
        shape = tuple(out.shape)
        if out.name in in_shm or SHM_REGION in out.parameters:
            result.shm_outputs[out.name] = (out.datatype, shape)
            if aligned:
                next_raw += 1
            continue
        if aligned:
            data = raw[index]
        elif next_raw < len(raw):
            data = raw[next_raw]
        else:
            result.outputs[out.name] = _from_contents(out, shape)
            continue
        next_raw += 1
        result.outputs[out.name] = tensors.from_raw(data, out.datatype, shape)
    return result


def _from_contents(out: Any, shape: tuple[int, ...]) -> np.ndarray:
    """Decode a tensor sent in the typed ``contents`` field (servers that do not send raw)."""
    dt = out.datatype
    c = out.contents
    if dt == "BYTES":
        values: list[Any] = list(c.bytes_contents)
        arr = np.empty(len(values), dtype=np.object_)
        arr[:] = values
        return arr.reshape(shape)
    source = {
        "BOOL": c.bool_contents, "INT8": c.int_contents, "INT16": c.int_contents,
        "INT32": c.int_contents, "INT64": c.int64_contents, "UINT8": c.uint_contents,
        "UINT16": c.uint_contents, "UINT32": c.uint_contents, "UINT64": c.uint64_contents,
        "FP32": c.fp32_contents, "FP64": c.fp64_contents,
    }.get(dt)
    if source is None:
        raise ValueError(f"output {out.name!r} ({dt}) came without raw_output_contents")
    return np.asarray(list(source), dtype=tensors.NUMPY_DTYPES[dt]).reshape(shape)


def stats_entry(s: pb.ModelStatistics) -> dict[str, Any]:
    """The ``model_stats`` fields :func:`~.base.stats_from_json` reads (cheaper than a dict
    of the whole message)."""
    inf = s.inference_stats
    durations = {k: {"count": getattr(inf, k).count, "ns": getattr(inf, k).ns}
                 for k in STAT_KEYS}
    return {"name": s.name, "version": s.version, "inference_count": s.inference_count,
            "execution_count": s.execution_count, "inference_stats": durations}


# -- transport ----------------------------------------------------------------------------------

SERVICE = "/inference.GRPCInferenceService/"
#: Largest message either side may send (gRPC's own limit is INT32_MAX); the default 4 MiB is far
#: too small for image or LLM tensors.
MAX_MESSAGE_BYTES = 2**31 - 1
#: Deadline of the non-inference RPCs (metadata, statistics, shm...); load/unload have none.
CONTROL_TIMEOUT_S = 30.0
#: Reconnect quickly after the server comes back (gRPC's default backoff grows to 120 s).
DEFAULT_CHANNEL_ARGS: tuple[tuple[str, Any], ...] = (
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
)
COMPRESSION = {
    "none": grpc.Compression.NoCompression,
    "gzip": grpc.Compression.Gzip,
    "deflate": grpc.Compression.Deflate,
}

def map_rpc_error(exc: grpc.aio.AioRpcError, target: str = "") -> ClientError:
    """The perfanalyzer error for a failed RPC (the mapping is described in ``client/grpc.py``)."""
    return grpc_status_error(exc.code().name, exc.details() or "", target)


def channel_args(options: ClientOptions) -> list[tuple[str, Any]]:
    """Channel arguments: defaults, then keepalive, then the user's ``channel_args`` (last wins)."""
    args = dict(DEFAULT_CHANNEL_ARGS)
    if options.keepalive_time_ms > 0:
        args["grpc.keepalive_time_ms"] = options.keepalive_time_ms
        args["grpc.keepalive_timeout_ms"] = options.keepalive_timeout_ms
        args["grpc.keepalive_permit_without_calls"] = 1
        args["grpc.http2.max_pings_without_data"] = 0
    if options.connections > 1:
        # Otherwise channels with equal arguments share one subchannel, i.e. one TCP connection.
        args["grpc.use_local_subchannel_pool"] = 1
    args.update(dict(options.channel_args))
    return list(args.items())


def ssl_credentials(tls: TlsOptions) -> grpc.ChannelCredentials | None:
    """Channel credentials for ``tls`` (None when TLS is off). Files are read here, once."""
    if not tls.enabled:
        return None
    if not (tls.verify_peer and tls.verify_host):
        raise OptionError("gRPC TLS always verifies the server certificate and host name; "
                          "verify_peer/verify_host can only be switched off for HTTPS")

    def read(path: str | None, what: str) -> bytes | None:
        if path is None:
            return None
        try:
            return Path(path).read_bytes()
        except OSError as exc:
            raise OptionError(f"cannot read the TLS {what} file {path!r}: {exc}") from exc

    return grpc.ssl_channel_credentials(
        root_certificates=read(tls.ca_file, "CA"),
        private_key=read(tls.key_file, "private key"),
        certificate_chain=read(tls.cert_file, "certificate chain"),
    )


def target_of(url: str) -> str:
    return url.split("://", 1)[1] if "://" in url else url


