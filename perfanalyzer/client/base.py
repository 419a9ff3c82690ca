"""The client interface shared by the HTTP and gRPC transports, and its request/result types.

Everything above the client layer imports only this module (and ``errors``): a load manager holds an
:class:`InferenceClient`, prepares its requests once with :meth:`InferenceClient.prepare`, and sends
the prepared object many times with :meth:`InferenceClient.send`.

Return conventions shared by both transports:

* metadata, config, repository index and shared-memory status are plain JSON-shaped ``dict``/``list``
  values, keyed by the protocol's field names, with integers as ``int`` (never strings);
* statistics are :class:`ModelStatistics` values;
* server errors raise :class:`~perfanalyzer.errors.ServerError`, transport failures a
  :class:`~perfanalyzer.errors.TransportError` subclass.
"""

from __future__ import annotations

import abc
import asyncio
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..config.headers import check_headers
from ..errors import RequestTimeout, TransportError
from . import tensors

ParamValue = bool | int | float | str
#: What :meth:`InferenceClient.send` returns: (send_ns, recv_ns), the client's time to write the
#: request and to receive the response (from its first byte to its end), as each transport
#: defines them in its ``send`` docstring.
IoTimes = tuple[int, int]

#: Inference-statistics durations the harness reads, in protocol order.
STAT_KEYS: tuple[str, ...] = (
    "success",
    "fail",
    "queue",
    "compute_input",
    "compute_infer",
    "compute_output",
    "cache_hit",
    "cache_miss",
)


@dataclass(frozen=True, slots=True)
class ShmRef:
    """A tensor living in a registered shared-memory region, ``byte_size`` bytes at ``offset``."""

    region: str
    byte_size: int
    offset: int = 0


@dataclass(frozen=True, slots=True)
class InputTensor:
    """One input: raw little-endian bytes (BYTES: length-prefixed elements) or a shm reference."""

    name: str
    datatype: str
    shape: tuple[int, ...]
    data: bytes | None = None
    shm: ShmRef | None = None

    @classmethod
    def from_numpy(
        cls, name: str, array: np.ndarray | Sequence[Any], datatype: str | None = None
    ) -> InputTensor:
        arr = np.asarray(array)
        dt = tensors.check_datatype(datatype) if datatype else tensors.datatype_of(arr)
        return cls(name=name, datatype=dt, shape=tuple(int(d) for d in arr.shape),
                   data=tensors.to_raw(arr, dt))

    def to_numpy(self) -> np.ndarray:
        if self.data is None:
            raise ValueError(f"input {self.name!r} lives in shared memory; read it from the region")
        return tensors.from_raw(self.data, self.datatype, self.shape)


@dataclass(frozen=True, slots=True)
class RequestedOutput:
    name: str
    binary: bool = True
    class_count: int = 0
    shm: ShmRef | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class InferRequest:
    """A complete inference request, transport-neutral."""

    model: str
    inputs: tuple[InputTensor, ...]
    outputs: tuple[RequestedOutput, ...] = ()
    version: str = ""
    request_id: str = ""
    sequence_id: int | str = 0
    sequence_start: bool = False
    sequence_end: bool = False
    priority: int = 0
    timeout_us: int = 0
    parameters: Mapping[str, ParamValue] = field(default_factory=dict)

    def protocol_parameters(self) -> dict[str, ParamValue]:
        """Request-level parameters as the protocol carries them (sequence, priority, timeout...)."""
        params: dict[str, ParamValue] = dict(self.parameters)
        if self.sequence_id:
            params["sequence_id"] = self.sequence_id
            params["sequence_start"] = self.sequence_start
            params["sequence_end"] = self.sequence_end
        if self.priority:
            params["priority"] = self.priority
        if self.timeout_us:
            params["timeout"] = self.timeout_us
        return params


@dataclass(slots=True)
class InferResult:
    model_name: str
    model_version: str
    id: str
    outputs: dict[str, np.ndarray]
    parameters: dict[str, ParamValue] = field(default_factory=dict)
    #: Output name -> (datatype, shape) for outputs written to shared memory (no data here).
    shm_outputs: dict[str, tuple[str, tuple[int, ...]]] = field(default_factory=dict)
    #: The client's time to write the request and to receive this response (ns), as the
    #: transport's ``send`` measures them (streams: receive only, see GrpcStream); 0: not measured.
    recv_ns: int = 0
    send_ns: int = 0

    @property
    def final(self) -> bool:
        """For streamed (decoupled) responses: is this the request's last response?"""
        return bool(self.parameters.get("triton_final_response", True))

    def as_numpy(self, name: str) -> np.ndarray:
        return self.outputs[name]


@dataclass(frozen=True, slots=True)
class StatDuration:
    count: int = 0
    ns: int = 0


@dataclass(frozen=True, slots=True)
class ModelStatistics:
    """One model version's cumulative statistics (the fields perf_analyzer uses, plus ``fail``)."""

    name: str
    version: str
    inference_count: int = 0
    execution_count: int = 0
    durations: Mapping[str, StatDuration] = field(default_factory=dict)

    def get(self, key: str) -> StatDuration:
        return self.durations.get(key, StatDuration())

    def __sub__(self, earlier: ModelStatistics) -> ModelStatistics:
        """Counter delta between two snapshots of the same model version."""
        return ModelStatistics(
            name=self.name,
            version=self.version,
            inference_count=self.inference_count - earlier.inference_count,
            execution_count=self.execution_count - earlier.execution_count,
            durations={
                k: StatDuration(self.get(k).count - earlier.get(k).count,
                                self.get(k).ns - earlier.get(k).ns)
                for k in STAT_KEYS
            },
        )


def stats_from_json(entry: Mapping[str, Any]) -> ModelStatistics:
    """Build :class:`ModelStatistics` from one ``model_stats`` entry (HTTP JSON or gRPC as dict)."""
    inf = entry.get("inference_stats", {}) or {}
    durations = {
        k: StatDuration(int((inf.get(k) or {}).get("count", 0)), int((inf.get(k) or {}).get("ns", 0)))
        for k in STAT_KEYS
    }
    return ModelStatistics(
        name=str(entry.get("name", "")),
        version=str(entry.get("version", "")),
        inference_count=int(entry.get("inference_count", 0)),
        execution_count=int(entry.get("execution_count", 0)),
        durations=durations,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class TlsOptions:
    """TLS settings; verification is on unless switched off explicitly."""

    enabled: bool = False
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    verify_peer: bool = True
    verify_host: bool = True
    cert_der: bool = False  # --ssl-https-client-certificate-type DER
    key_der: bool = False  # --ssl-https-private-key-type DER


#: Hook called with the header dict of every request, to add auth headers (token refresh etc).
AuthHook = Callable[[dict[str, str]], None]


def basic_auth(username: str, password: str) -> AuthHook:
    """An :data:`AuthHook` adding an HTTP Basic ``Authorization`` header."""
    import base64

    token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")

    def hook(headers: dict[str, str]) -> None:
        headers["Authorization"] = f"Basic {token}"

    return hook


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientOptions:
    """Connection options common to both transports."""

    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    auth: AuthHook | None = None
    tls: TlsOptions = field(default_factory=TlsOptions)
    #: ``none`` | ``gzip`` | ``deflate``: request compression (gRPC: channel compression).
    compression: str = "none"
    #: HTTP: ask for compressed responses with Accept-Encoding.
    response_compression: str = "none"
    connect_timeout_s: float = 10.0
    #: Per-request timeout; 0 = none.
    request_timeout_s: float = 0.0
    #: Connection pool size (HTTP) / number of channels (gRPC); 0 = transport default.
    connections: int = 0
    #: Extra gRPC channel arguments (name, value).
    channel_args: tuple[tuple[str, Any], ...] = ()
    #: gRPC keepalive: ping every N ms (0 = off).
    keepalive_time_ms: int = 0
    keepalive_timeout_ms: int = 20000
    #: HTTP only: send tensors with the binary extension (False: plain JSON tensors).
    binary_tensors: bool = True
    #: gRPC only: the send path, ``lean`` (own HTTP/2 connections) or ``grpcio`` (grpc.aio).
    grpc_transport: str = "lean"
    #: HTTP only: ``infer`` (KServe), or Triton's ``generate`` / ``generate_stream``.
    endpoint: str = "infer"
    #: HTTP only: ask for ORCA load reports in this format (``text`` | ``json``; "" = none).
    orca_format: str = ""

    def __post_init__(self) -> None:
        # a CR/LF in a header would add headers of its own on the wire: refused on every transport
        check_headers(self.headers.items(), "headers")

    def hooked_headers(self, headers: dict[str, str]) -> dict[str, str]:
        """``headers`` after the auth hook, checked like -H (a CR/LF would inject headers)."""
        if self.auth is not None:
            self.auth(headers)
            check_headers(headers.items(), "auth hook")
        return headers


class InferenceClient(abc.ABC):
    """Async KServe v2 client. Use as ``async with`` or call :meth:`close`."""

    protocol: str = ""

    def __init__(self, options: ClientOptions) -> None:
        self.options = options

    @property
    def transport(self) -> str:
        """The send path in use (recorded in the run's provenance), e.g. ``http1``, ``grpc-lean``."""
        return self.protocol

    async def __aenter__(self) -> InferenceClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- lifecycle / health -------------------------------------------------------------------
    @abc.abstractmethod
    async def close(self) -> None: ...

    @abc.abstractmethod
    async def is_server_live(self) -> bool: ...

    @abc.abstractmethod
    async def is_server_ready(self) -> bool: ...

    @abc.abstractmethod
    async def is_model_ready(self, model: str, version: str = "") -> bool: ...

    async def wait_until_ready(self, timeout_s: float, model: str | None = None,
                               version: str = "", poll_s: float = 0.1) -> None:
        """Poll until the server (and ``model``, if given) is ready, or raise RequestTimeout."""
        deadline = time.monotonic() + timeout_s
        last: BaseException | None = None
        while True:
            try:
                ready = await self.is_server_ready()
                if ready and model is not None:
                    ready = await self.is_model_ready(model, version)
                if ready:
                    return
            except TransportError as exc:
                last = exc
            if time.monotonic() >= deadline:
                what = f"model {model!r}" if model else "server"
                why = f": {last}" if last else ""
                raise RequestTimeout(f"{what} not ready after {timeout_s:g} s{why}")
            await asyncio.sleep(poll_s)

    # -- metadata -----------------------------------------------------------------------------
    @abc.abstractmethod
    async def server_metadata(self) -> dict[str, Any]: ...

    @abc.abstractmethod
    async def model_metadata(self, model: str, version: str = "") -> dict[str, Any]: ...

    @abc.abstractmethod
    async def model_config(self, model: str, version: str = "") -> dict[str, Any]: ...

    @abc.abstractmethod
    async def repository_index(self, ready_only: bool = False) -> list[dict[str, Any]]: ...

    @abc.abstractmethod
    async def load_model(self, model: str, config: str | None = None) -> None: ...

    @abc.abstractmethod
    async def unload_model(self, model: str, unload_dependents: bool = False) -> None: ...

    @abc.abstractmethod
    async def model_statistics(self, model: str = "", version: str = "") -> list[ModelStatistics]:
        """Cumulative statistics; ``model=""`` returns every model's."""

    # -- shared memory ------------------------------------------------------------------------
    @abc.abstractmethod
    async def register_system_shm(self, name: str, key: str, byte_size: int,
                                  offset: int = 0) -> None: ...

    @abc.abstractmethod
    async def unregister_system_shm(self, name: str = "") -> None: ...

    @abc.abstractmethod
    async def system_shm_status(self, name: str = "") -> list[dict[str, Any]]: ...

    @abc.abstractmethod
    async def register_cuda_shm(self, name: str, raw_handle: bytes, device_id: int,
                                byte_size: int) -> None: ...

    @abc.abstractmethod
    async def unregister_cuda_shm(self, name: str = "") -> None: ...

    @abc.abstractmethod
    async def cuda_shm_status(self, name: str = "") -> list[dict[str, Any]]: ...

    # -- inference ----------------------------------------------------------------------------
    @abc.abstractmethod
    def prepare(self, request: InferRequest) -> Any:
        """Serialize ``request`` once; the result can be passed to :meth:`send`/:meth:`infer`
        any number of times (also concurrently)."""

    @abc.abstractmethod
    async def send(self, prepared: Any) -> IoTimes | None:
        """Hot path: send a prepared request and wait for its answer without decoding outputs;
        return the client's (send_ns, recv_ns) for it (None: not measured).
        Raises ServerError / TransportError."""

    def send_nowait(self, prepared: Any, on_done: Callable[[int, int, Any], None], a: int,
                    b: int) -> bool:
        """:meth:`send` without awaiting, where the client can (the open loop's hot path): start
        the request now and return True, then call ``on_done(a, b, answer)`` from the loop once,
        ``answer`` being what :meth:`send` returns or the ClientError it raises; or return False,
        having done nothing (the caller awaits :meth:`send`). By default it never can."""
        return False

    def cancel_nowait(self) -> int:
        """Abort the requests :meth:`send_nowait` started that have not answered (their
        ``on_done`` is not called); return how many."""
        return 0

    @abc.abstractmethod
    async def infer(self, request: InferRequest | Any) -> InferResult:
        """Send a request (or prepared request) and decode its outputs."""

    def stream(self) -> InferStream:
        """Open a bidirectional stream (gRPC only) for decoupled models."""
        from ..errors import OptionError

        raise OptionError(f"streaming needs the gRPC protocol (-i grpc), not {self.protocol}")


class InferStream(abc.ABC):
    """A bidirectional inference stream. ``async with client.stream() as s``; write requests with
    :meth:`write` and iterate responses (``InferResult`` with ``id`` set to the request id)."""

    async def __aenter__(self) -> InferStream:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @abc.abstractmethod
    async def open(self) -> None: ...

    @abc.abstractmethod
    async def write(self, request: InferRequest | Any) -> None: ...

    @abc.abstractmethod
    def responses(self) -> AsyncIterator[InferResult | BaseException]:
        """Responses in arrival order; an error response arrives as a ServerError instance."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Half-close the write side, wait for outstanding responses, release the stream."""

    @abc.abstractmethod
    def cancel(self) -> None: ...
