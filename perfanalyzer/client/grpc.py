"""KServe v2 / Triton client over gRPC (``grpc.aio``).

Hot path: :meth:`GrpcClient.prepare` serializes a ``ModelInferRequest`` once;
:meth:`GrpcClient.send` hands those bytes to a unary call with no serializer or deserializer, so a
send does no protobuf work (errors arrive as the gRPC status; the response body is not parsed). It
goes through :class:`~.h2.LeanChannel` (its own HTTP/2 connections, ``options.connections`` of
them, a fraction of grpc.aio's CPU per call; also :meth:`GrpcClient.send_nowait`) unless TLS,
request compression or channel arguments are asked for or ``options.grpc_transport`` is
``grpcio``. Everything else (control calls, ``infer``, streams) uses grpc.aio.

Connection: channels are created on first use, inside the running event loop. The first call waits
(at most ``connect_timeout_s``) for every channel to be READY and raises :class:`ConnectError` when
the server cannot be reached (refused, TLS handshake failure) or the time runs out.

Errors are translated at this boundary: UNAVAILABLE from the transport -> ConnectError,
DEADLINE_EXCEEDED -> RequestTimeout, CANCELLED -> RequestCancelled, any other status ->
``ServerError(status=<code name>, message=<details>)``. Cancelling the asyncio task that awaits a
call cancels the RPC, and ``asyncio.CancelledError`` propagates unchanged (so ``asyncio.timeout``,
``TaskGroup`` and friends keep working); RequestCancelled means the RPC was cancelled by something
other than the caller's task (the server, or :meth:`GrpcStream.cancel`).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import grpc
import grpc.aio

from .._proto import grpc_service_pb2 as pb
from ..errors import ClientError, ConnectError, OptionError, ServerError
from . import _convert
from ._convert import (
    COMPRESSION,
    CONTROL_TIMEOUT_S,
    SERVICE,
    channel_args,
    map_rpc_error,
    ssl_credentials,
    target_of,
)
from .base import (
    ClientOptions,
    InferenceClient,
    InferRequest,
    InferResult,
    InferStream,
    IoTimes,
    ModelStatistics,
    stats_from_json,
)
from .h2 import LeanChannel

#: ``--grpc-transport`` values (ClientOptions.grpc_transport).
GRPC_TRANSPORTS = ("lean", "grpcio")


@dataclass(frozen=True, slots=True)
class PreparedInfer:
    """A serialized ``ModelInferRequest``; reusable any number of times, also concurrently."""

    payload: bytes
    request_id: str
    shm_outputs: frozenset[str]


class GrpcClient(InferenceClient):
    """:class:`InferenceClient` over gRPC; ``options.connections`` channels used round-robin."""

    protocol = "grpc"

    def __init__(self, options: ClientOptions) -> None:
        super().__init__(options)
        if options.compression not in COMPRESSION:
            raise OptionError(f"unknown gRPC compression {options.compression!r}; "
                              f"expected one of {', '.join(COMPRESSION)}")
        self.target = target_of(options.url)
        self._credentials = ssl_credentials(options.tls)
        self._args = channel_args(options)
        self._n_channels = max(1, options.connections)
        self._timeout = options.request_timeout_s or None
        self._static_metadata = tuple((k.lower(), str(v)) for k, v in options.headers.items())
        self._channels: list[grpc.aio.Channel] = []
        self._infer_calls: list[Any] = []
        self._next_infer: Iterator[Any] = iter(())
        self._control: dict[str, Any] = {}
        self._ready = False
        self._streams_opened = 0
        self._lean = self._lean_channel()

    def _lean_channel(self) -> LeanChannel | None:
        """The lean hot-path channel, or None where grpc.aio carries ``send`` too:
        ``grpc_transport="grpcio"``, or TLS, request compression or channel arguments."""
        o = self.options
        if o.grpc_transport not in GRPC_TRANSPORTS:
            raise OptionError(f"--grpc-transport: expected lean or grpcio, got {o.grpc_transport!r}")
        if (o.grpc_transport != "lean" or o.tls.enabled or o.compression != "none"
                or o.channel_args):
            return None
        hook = None if o.auth is None else (lambda: self._metadata() or ())
        keepalive = (o.keepalive_time_ms / 1e3, o.keepalive_timeout_ms / 1e3) if o.keepalive_time_ms else None
        return LeanChannel(self.target, SERVICE + "ModelInfer", metadata=self._static_metadata,
                           metadata_hook=hook, connections=max(1, o.connections),
                           connect_timeout_s=o.connect_timeout_s,
                           request_timeout_s=o.request_timeout_s, keepalive_s=keepalive)

    @property
    def transport(self) -> str:
        return "grpc-lean" if self._lean is not None else "grpcio"

    # -- channels -------------------------------------------------------------------------------
    def _open_channels(self) -> None:
        compression = COMPRESSION[self.options.compression]
        for _ in range(self._n_channels):
            if self._credentials is None:
                ch = grpc.aio.insecure_channel(self.target, self._args, compression)
            else:
                ch = grpc.aio.secure_channel(self.target, self._credentials, self._args,
                                             compression)
            self._channels.append(ch)
        self._infer_calls = [
            ch.unary_unary(SERVICE + "ModelInfer", None, None, _registered_method=True)
            for ch in self._channels
        ]
        self._next_infer = itertools.cycle(self._infer_calls)

    async def connect(self) -> None:
        """Open the channels and wait until all are READY (done implicitly by the first call)."""
        if not self._channels:
            self._open_channels()
        timeout = self.options.connect_timeout_s or None
        waits = [asyncio.ensure_future(self._wait_ready(ch)) for ch in self._channels]
        try:
            await asyncio.wait_for(asyncio.gather(*waits), timeout)
        except asyncio.TimeoutError as exc:
            raise ConnectError(f"cannot connect to the gRPC server at {self.target} "
                               f"within {timeout:g} s") from exc
        finally:
            for wait in waits:  # one channel failed: stop waiting for the others
                wait.cancel()
        self._ready = True

    async def _wait_ready(self, channel: grpc.aio.Channel) -> None:
        state = channel.get_state(try_to_connect=True)
        while state is not grpc.ChannelConnectivity.READY:
            if state in (grpc.ChannelConnectivity.TRANSIENT_FAILURE,
                         grpc.ChannelConnectivity.SHUTDOWN):
                tls = " (TLS)" if self._credentials is not None else ""
                raise ConnectError(f"cannot connect to the gRPC server at {self.target}{tls}")
            await channel.wait_for_state_change(state)
            state = channel.get_state(try_to_connect=True)

    async def close(self) -> None:
        if self._lean is not None:
            await self._lean.close()
        channels, self._channels = self._channels, []
        self._ready = False
        self._infer_calls, self._control = [], {}
        await asyncio.gather(*(ch.close() for ch in channels))

    def _metadata(self) -> tuple[tuple[str, str], ...] | None:
        if self.options.auth is None:
            return self._static_metadata or None
        headers = self.options.hooked_headers(dict(self.options.headers))
        return tuple((k.lower(), str(v)) for k, v in headers.items())

    async def _rpc(self, method: str, request: Any, response_type: Any,
                   timeout: float | None = CONTROL_TIMEOUT_S) -> Any:
        """A non-inference unary call on the first channel."""
        if not self._ready:
            await self.connect()
        call = self._control.get(method)
        if call is None:
            call = self._channels[0].unary_unary(
                SERVICE + method, type(request).SerializeToString, response_type.FromString,
                _registered_method=True)
            self._control[method] = call
        try:
            return await call(request, timeout=timeout, metadata=self._metadata())
        except grpc.aio.AioRpcError as exc:
            raise map_rpc_error(exc, self.target) from exc

    # -- health and metadata --------------------------------------------------------------------
    async def is_server_live(self) -> bool:
        resp = await self._rpc("ServerLive", pb.ServerLiveRequest(), pb.ServerLiveResponse)
        return bool(resp.live)

    async def is_server_ready(self) -> bool:
        resp = await self._rpc("ServerReady", pb.ServerReadyRequest(), pb.ServerReadyResponse)
        return bool(resp.ready)

    async def is_model_ready(self, model: str, version: str = "") -> bool:
        resp = await self._rpc("ModelReady", pb.ModelReadyRequest(name=model, version=version),
                               pb.ModelReadyResponse)
        return bool(resp.ready)

    async def server_metadata(self) -> dict[str, Any]:
        resp = await self._rpc("ServerMetadata", pb.ServerMetadataRequest(),
                               pb.ServerMetadataResponse)
        return _convert.message_to_dict(resp)

    async def model_metadata(self, model: str, version: str = "") -> dict[str, Any]:
        req = pb.ModelMetadataRequest(name=model, version=version)
        resp = await self._rpc("ModelMetadata", req, pb.ModelMetadataResponse)
        return _convert.message_to_dict(resp)

    async def model_config(self, model: str, version: str = "") -> dict[str, Any]:
        """The config as Triton's HTTP endpoint prints it (same keys, ints, enum names)."""
        resp = await self._rpc("ModelConfig", pb.ModelConfigRequest(name=model, version=version),
                               pb.ModelConfigResponse)
        return _convert.message_to_dict(resp.config)

    async def repository_index(self, ready_only: bool = False) -> list[dict[str, Any]]:
        resp = await self._rpc("RepositoryIndex", pb.RepositoryIndexRequest(ready=ready_only),
                               pb.RepositoryIndexResponse)
        return [_convert.message_to_dict(m) for m in resp.models]

    async def load_model(self, model: str, config: str | None = None) -> None:
        req = pb.RepositoryModelLoadRequest(model_name=model)
        if config is not None:
            req.parameters["config"].string_param = config
        await self._rpc("RepositoryModelLoad", req, pb.RepositoryModelLoadResponse, timeout=None)

    async def unload_model(self, model: str, unload_dependents: bool = False) -> None:
        req = pb.RepositoryModelUnloadRequest(model_name=model)
        req.parameters["unload_dependents"].bool_param = unload_dependents
        await self._rpc("RepositoryModelUnload", req, pb.RepositoryModelUnloadResponse,
                        timeout=None)

    async def model_statistics(self, model: str = "", version: str = "") -> list[ModelStatistics]:
        resp = await self._rpc("ModelStatistics",
                               pb.ModelStatisticsRequest(name=model, version=version),
                               pb.ModelStatisticsResponse)
        return [stats_from_json(_convert.stats_entry(s)) for s in resp.model_stats]

    # -- shared memory --------------------------------------------------------------------------
    async def register_system_shm(self, name: str, key: str, byte_size: int,
                                  offset: int = 0) -> None:
        req = pb.SystemSharedMemoryRegisterRequest(name=name, key=key, offset=offset,
                                                   byte_size=byte_size)
        await self._rpc("SystemSharedMemoryRegister", req, pb.SystemSharedMemoryRegisterResponse)

    async def unregister_system_shm(self, name: str = "") -> None:
        await self._rpc("SystemSharedMemoryUnregister",
                        pb.SystemSharedMemoryUnregisterRequest(name=name),
                        pb.SystemSharedMemoryUnregisterResponse)

    async def system_shm_status(self, name: str = "") -> list[dict[str, Any]]:
        resp = await self._rpc("SystemSharedMemoryStatus",
                               pb.SystemSharedMemoryStatusRequest(name=name),
                               pb.SystemSharedMemoryStatusResponse)
        return [_convert.message_to_dict(r) for r in resp.regions.values()]

    async def register_cuda_shm(self, name: str, raw_handle: bytes, device_id: int,
                                byte_size: int) -> None:
        req = pb.CudaSharedMemoryRegisterRequest(name=name, raw_handle=raw_handle,
                                                 device_id=device_id, byte_size=byte_size)
        await self._rpc("CudaSharedMemoryRegister", req, pb.CudaSharedMemoryRegisterResponse)

    async def unregister_cuda_shm(self, name: str = "") -> None:
        await self._rpc("CudaSharedMemoryUnregister",
                        pb.CudaSharedMemoryUnregisterRequest(name=name),
                        pb.CudaSharedMemoryUnregisterResponse)

    async def cuda_shm_status(self, name: str = "") -> list[dict[str, Any]]:
        resp = await self._rpc("CudaSharedMemoryStatus",
                               pb.CudaSharedMemoryStatusRequest(name=name),
                               pb.CudaSharedMemoryStatusResponse)
        return [_convert.message_to_dict(r) for r in resp.regions.values()]

    # -- inference ------------------------------------------------------------------------------
    def prepare(self, request: InferRequest) -> PreparedInfer:
        msg = _convert.build_infer_request(request)
        shm = frozenset(o.name for o in request.outputs if o.shm is not None)
        return PreparedInfer(msg.SerializeToString(), request.request_id, shm)

    async def send(self, prepared: Any) -> IoTimes:
        """Hot path: (send_ns, recv_ns). Lean: see LeanChannel.exchange. grpc.aio: send = the
        call's invocation (its core writes on its own thread), recv = from the core having the
        whole response (the call's done callback) to this coroutine holding it."""
        if self._lean is not None:
            return (await self._lean.exchange(prepared.payload))[1:]
        return (await self._timed_send(prepared.payload))[1:]

    def send_nowait(self, prepared: Any, on_done: Callable[[int, int, Any], None], a: int,
                    b: int) -> bool:  # the lean channel's (LeanChannel.send_nowait); not grpc.aio
        return self._lean is not None and self._lean.send_nowait(prepared.payload, on_done, a, b)

    def cancel_nowait(self) -> int:
        return self._lean.cancel_nowait() if self._lean is not None else 0

    async def _timed_send(self, payload: bytes) -> tuple[bytes, int, int]:
        """grpc.aio: the serialized response with (send_ns, recv_ns) as :meth:`send` takes them."""
        if not self._ready:
            await self.connect()
        clock, done = time.perf_counter_ns, [0]
        t0 = clock()
        call = next(self._next_infer)(payload, timeout=self._timeout, metadata=self._metadata())
        send_ns = clock() - t0
        call.add_done_callback(lambda _c: done.__setitem__(0, clock()))
        try:
            response: bytes = await call
        except grpc.aio.AioRpcError as exc:
            raise map_rpc_error(exc, self.target) from exc
        end = clock()
        return response, send_ns, end - (done[0] or end)

    async def infer(self, request: InferRequest | Any) -> InferResult:
        """Send and decode, over the channel ``send`` uses, with ``send``'s (send_ns, recv_ns)
        in the result (a checked answer is timed like an unchecked one)."""
        prepared = self.prepare(request) if isinstance(request, InferRequest) else request
        if self._lean is not None:
            body, send_ns, recv_ns = await self._lean.exchange(prepared.payload, True)
            raw = body or b""
        else:
            raw, send_ns, recv_ns = await self._timed_send(prepared.payload)
        result = _convert.decode_infer_response(pb.ModelInferResponse.FromString(raw),
                                                prepared.shm_outputs)
        result.send_ns, result.recv_ns = send_ns, recv_ns
        return result

    def stream(self) -> GrpcStream:
        """A new ``ModelStreamInfer`` stream (opened on enter/first write); successive streams
        use the channels in turn."""
        return GrpcStream(self)

    async def _open_stream(self) -> Any:
        if not self._ready:
            await self.connect()
        self._streams_opened += 1
        channel = self._channels[self._streams_opened % len(self._channels)]
        method = channel.stream_stream(SERVICE + "ModelStreamInfer", None, None,
                                       _registered_method=True)
        return method(metadata=self._metadata())


class StreamResponseError(ServerError):
    """An error response on a stream; ``request_id`` names the request it answers (may be "")."""

    def __init__(self, message: str, request_id: str = "") -> None:
        super().__init__("STREAM_ERROR", message)
        self.request_id = request_id


@dataclass(frozen=True, slots=True)
class _Failure:
    error: BaseException


_END = object()


class GrpcStream(InferStream):
    """A ``ModelStreamInfer`` call. A reader task moves responses into a queue as they arrive, so
    :meth:`close` can drain the stream whether or not anybody iterates :meth:`responses`.

    A failure of the whole stream (connection lost...) is raised by :meth:`responses` after the
    responses that arrived before it; error *responses* are yielded as StreamResponseError. A
    response's ``recv_ns``: from ``read`` returning its bytes to its decoded result."""

    def __init__(self, client: GrpcClient) -> None:
        self._client = client
        self._call: Any = None
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._reader: asyncio.Task[None] | None = None
        self._shm: dict[str, frozenset[str]] = {}
        self._half_closed = False
        self._cancelled = False

    async def open(self) -> None:
        if self._call is None:
            self._call = await self._client._open_stream()
            self._reader = asyncio.get_running_loop().create_task(self._read())

    async def write(self, request: InferRequest | Any) -> None:
        if self._call is None:
            await self.open()
        client = self._client
        prepared = client.prepare(request) if isinstance(request, InferRequest) else request
        if prepared.shm_outputs:
            self._shm[prepared.request_id] = prepared.shm_outputs
        try:
            await self._call.write(prepared.payload)
        except grpc.aio.AioRpcError as exc:
            raise map_rpc_error(exc, client.target) from exc
        except asyncio.InvalidStateError as exc:
            raise ClientError(f"stream is closed: {exc}") from exc

    async def _read(self) -> None:
        call, put = self._call, self._queue.put_nowait
        try:
            while True:
                raw = await call.read()
                if raw is grpc.aio.EOF:
                    break
                t0 = time.perf_counter_ns()
                item = self._decode(raw)
                if not isinstance(item, BaseException):
                    item.recv_ns = time.perf_counter_ns() - t0
                put(item)
        except grpc.aio.AioRpcError as exc:
            if not self._cancelled:
                put(_Failure(map_rpc_error(exc, self._client.target)))
        except asyncio.CancelledError:
            if not self._cancelled:
                raise
        finally:
            put(_END)

    def _decode(self, raw: bytes) -> InferResult | StreamResponseError:
        msg = pb.ModelStreamInferResponse.FromString(raw)
        resp = msg.infer_response
        if msg.error_message:
            return StreamResponseError(msg.error_message, resp.id)
        return _convert.decode_infer_response(resp, self._shm.get(resp.id, ()))

    async def responses(self) -> AsyncIterator[InferResult | BaseException]:
        while True:
            item = await self._queue.get()
            if item is _END:
                self._queue.put_nowait(_END)  # later iterations end too
                return
            if isinstance(item, _Failure):
                raise item.error
            yield item

    async def close(self) -> None:
        if self._call is None:
            return
        if not (self._half_closed or self._cancelled):
            self._half_closed = True
            # A failure here is the stream's; the reader reports it.
            with contextlib.suppress(grpc.aio.AioRpcError, asyncio.InvalidStateError):
                await self._call.done_writing()
        if self._reader is not None:
            await self._reader

    def cancel(self) -> None:
        self._cancelled = True
        if self._call is not None:
            self._call.cancel()


