"""Streaming (``--streaming``, gRPC bidirectional streams) and decoupled models.

A :class:`StreamChannel` owns one ``ModelStreamInfer`` stream. Each request written to it gets a
fresh request id (appended to the prepared protobuf bytes: a later occurrence of a scalar field
wins when the server parses it, so the prepared payload is reused as is) and asks for the empty
final response (``triton_enable_empty_final_response``, set by :func:`streaming_requests`), so the
request's last response is known even for decoupled models. One reader task matches responses to
requests by id and stamps them on arrival.

The result of a send is ``(first, last, responses, send_ns, recv_ns)``: the times of the first and
last *non-empty* responses and their number (perf_analyzer: the last response, or the second-to-last
when the final one is empty), the time the stream's ``write`` took (grpc.aio completes it when the
message was handed to the transport, or, if that report reaches the event loop after the request's
first response, until that response; the write lock's wait is not counted) and the
sum of the request's responses' receive times (:attr:`InferResult.recv_ns`, see GrpcStream). A
request that got only the empty final response reports that response's time as first and last,
with 0 responses. An error response fails its request with a ServerError; a broken
stream fails every request pending on it, and the next send opens a new stream.

Concurrency mode uses one channel per worker (at most one request in flight per stream, like
perf_analyzer's one stream per context); rate mode shares one channel, so a sequence's requests
keep their order on the wire.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from .._proto import grpc_service_pb2 as pb
from ..client.base import InferenceClient, InferRequest, InferResult, InferStream
from ..errors import ClientError, ServerError, TransportError
from .send import Sender, SenderFactory, SendResult

#: Request parameter asking Triton for an empty response flagged final after the last real one.
EMPTY_FINAL = "triton_enable_empty_final_response"
#: How long closing a stream waits for its outstanding responses.
CLOSE_TIMEOUT_S = 5.0


def streaming_requests(requests: Sequence[Sequence[InferRequest]]) -> list[list[InferRequest]]:
    """The same requests, asking for the empty final response."""
    return [[dataclasses.replace(r, parameters={**r.parameters, EMPTY_FINAL: True}) for r in s]
            for s in requests]


#: Checks one response of a prepared request (raises ClientError when it is wrong).
Check = Callable[[Any, InferResult], object]


class _Pending:
    __slots__ = ("error", "first", "future", "last", "notify", "prepared", "recv", "responses",
                 "send", "start", "times")

    def __init__(self, future: asyncio.Future[SendResult],
                 notify: Callable[[int], None] | None = None, prepared: Any = None) -> None:
        self.future = future
        self.notify = notify  # called with the response count after each non-empty response
        self.prepared = prepared  # kept only when responses are checked
        self.error: ClientError | None = None  # the first wrong response: fails the request
        self.first = 0
        self.last = 0
        self.responses = 0
        self.times: list[int] = []
        self.send = 0  # the write's end (ns, clock)
        self.start = 0  # the write's start
        self.recv = 0

    def result(self) -> SendResult:
        """(first, last, responses, send, recv); every response time too when there were more
        than two."""
        return SendResult(self.first, self.last, self.responses, self.send - self.start,
                          self.recv, tuple(self.times) if self.responses > 2 else ())


class StreamChannel:
    """One stream; :meth:`send` writes a prepared request and returns when its final response
    arrived. Safe for many concurrent sends."""

    def __init__(self, client: InferenceClient, check: Check | None = None) -> None:
        self._client = client
        self._check = check
        self._stream: InferStream | None = None
        self._reader: asyncio.Task[None] | None = None
        self._pending: dict[str, _Pending] = {}
        self._ids = itertools.count(1)
        self._opening = asyncio.Lock()
        self._writing = asyncio.Lock()

    async def send(self, prepared: Any,
                   on_response: Callable[[int], None] | None = None) -> SendResult:
        """Write ``prepared``; return its result once its final response arrived.
        ``on_response(n)`` is called as its n-th non-empty response arrives (periodic mode)."""
        stream = self._stream or await self._open()
        rid = str(next(self._ids))
        future: asyncio.Future[SendResult] = (
            asyncio.get_running_loop().create_future())
        p = self._pending[rid] = _Pending(future, on_response,
                                          prepared if self._check is not None else None)
        payload = prepared.payload + pb.ModelInferRequest(id=rid).SerializeToString()
        try:
            async with self._writing:  # grpc.aio allows one outstanding write per call
                p.start = time.perf_counter_ns()
                await stream.write(dataclasses.replace(prepared, payload=payload, request_id=rid))
                p.send = p.send or time.perf_counter_ns()
        except BaseException:
            self._pending.pop(rid, None)
            raise
        return await future

    def partial(self) -> list[tuple[int, ...]]:
        """The response times so far of the requests still waiting for their final response
        (kept when such a request is given up: what arrived was measured)."""
        return [tuple(p.times) for p in self._pending.values()]

    async def _open(self) -> InferStream:
        async with self._opening:
            if self._stream is None:
                stream = self._client.stream()
                await stream.open()
                self._stream = stream
                self._reader = asyncio.create_task(self._read(stream), name="pa-stream-reader")
            return self._stream

    async def _read(self, stream: InferStream) -> None:
        clock, pending = time.perf_counter_ns, self._pending
        failure: BaseException | None = None
        try:
            async for item in stream.responses():
                t = clock()
                if isinstance(item, BaseException):
                    self._fail_one(getattr(item, "request_id", ""), item)
                    continue
                p = pending.get(item.id)
                if p is None:
                    continue
                p.recv += item.recv_ns
                if not p.send:  # answered before grpc.aio reported the write done: it was
                    p.send = t  # written by then (the completion reached the loop late)
                if item.outputs or item.shm_outputs:  # shm outputs carry no data here
                    if not p.responses:
                        p.first = t
                    p.last = t
                    p.responses += 1
                    p.times.append(t)
                    if p.notify is not None:
                        p.notify(p.responses)
                    if p.prepared is not None and p.error is None:
                        p.error = self._checked(p.prepared, item)
                if item.final:
                    del pending[item.id]
                    if not p.responses:
                        p.first = p.last = t
                    if p.future.done():
                        continue
                    if p.error is not None:
                        p.future.set_exception(p.error)
                    else:
                        p.future.set_result(p.result())
        except ClientError as exc:
            failure = exc
        finally:
            if self._stream is stream:
                self._stream = None  # the next send opens a new stream
            self._fail_all(failure or TransportError("the stream closed before the final "
                                                     "response"))

    def _checked(self, prepared: Any, item: InferResult) -> ClientError | None:
        assert self._check is not None
        try:
            self._check(prepared, item)
        except ClientError as exc:
            return exc
        return None

    def _fail_one(self, rid: str, error: BaseException) -> None:
        p = self._pending.pop(rid, None)
        if p is None and self._pending:  # an error without a usable id: the oldest request
            p = self._pending.pop(next(iter(self._pending)))
        if p is not None and not p.future.done():
            exc = error if isinstance(error, ClientError) else ServerError("STREAM_ERROR",
                                                                           str(error))
            p.future.set_exception(exc)

    def _fail_all(self, error: BaseException) -> None:
        pending, self._pending = self._pending, {}
        for p in pending.values():
            if not p.future.done():
                p.future.set_exception(error)

    async def close(self, timeout_s: float = CLOSE_TIMEOUT_S) -> None:
        """Half-close, wait up to ``timeout_s`` for outstanding responses, then cancel."""
        stream, reader = self._stream, self._reader
        self._stream = self._reader = None
        if stream is None:
            return
        try:
            await asyncio.wait_for(stream.close(), timeout_s)
        except (asyncio.TimeoutError, ClientError):
            stream.cancel()
        if reader is not None:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, ClientError):
                await reader


def stream_sender(client: InferenceClient, check: Check | None = None) -> SenderFactory:
    """A new :class:`StreamChannel` (a new stream) for each call: one per concurrency worker;
    the rate manager calls it once and shares the stream. ``check``: every non-empty response
    is checked (validation_data); a wrong one fails its request at its final response."""

    async def make() -> tuple[Sender, Callable[[], Awaitable[None]]]:
        channel = StreamChannel(client, check)
        return channel.send, channel.close

    return make


__all__ = ["EMPTY_FINAL", "StreamChannel", "stream_sender", "streaming_requests"]
