"""Helpers for the gRPC client tests: a client for the test server, the lean channel's path and
payloads, and an in-process grpcio server (grpc core's own HTTP/2 stack) for what Triton cannot be
made to do on demand."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import grpc
import grpc.aio

from perfanalyzer._proto import grpc_service_pb2 as pb
from perfanalyzer.client import _convert
from perfanalyzer.client.base import ClientOptions, InferRequest
from perfanalyzer.client.grpc import GrpcClient
from perfanalyzer.client.h2 import LeanChannel
from perfanalyzer.client.h2 import frames as fr
from perfanalyzer.client.h2.connection import Connection

#: The gRPC method the lean channel posts inference to.
INFER = "/inference.GRPCInferenceService/ModelInfer"


def client(triton: Any, **kw: Any) -> GrpcClient:
    """A GrpcClient for the ``triton`` fixture's gRPC endpoint."""
    return GrpcClient(ClientOptions(url=triton.grpc_url, **kw))


async def lean_connection(channel: LeanChannel) -> Connection:
    """The channel's first HTTP/2 connection, once connected."""
    await channel.connect()
    conn = channel._conns[0]
    assert conn is not None
    return conn


def payload(request: InferRequest) -> bytes:
    """The serialized ModelInferRequest of ``request``."""
    return _convert.build_infer_request(request).SerializeToString()


@asynccontextmanager
async def grpc_server(options: list[tuple[str, Any]] = (),  # type: ignore[assignment]
                      delay_s: float = 0.0) -> AsyncIterator[tuple[int, dict[str, Any]]]:
    """grpcio's server answering ModelInfer with an empty response after ``delay_s``; ``state``
    counts calls, peers (connections), the most calls running at once and their metadata."""
    state: dict[str, Any] = {"calls": 0, "active": 0, "peak": 0, "peers": set(), "meta": []}

    async def infer(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        state["calls"] += 1
        state["peers"].add(context.peer())
        state["meta"].append(dict(context.invocation_metadata() or ()))
        state["active"] += 1
        state["peak"] = max(state["peak"], state["active"])
        try:
            await asyncio.sleep(delay_s)
        finally:
            state["active"] -= 1
        return pb.ModelInferResponse(model_name="fake").SerializeToString()

    srv = grpc.aio.server(options=options)
    srv.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(
        "inference.GRPCInferenceService",
        {"ModelInfer": grpc.unary_unary_rpc_method_handler(infer)}),))
    port = srv.add_insecure_port("127.0.0.1:0")
    await srv.start()
    try:
        yield port, state
    finally:
        await srv.stop(None)


class Recorder:
    """Wraps a connection's transport and parses the frames written through it (every write
    starts at a frame boundary)."""

    def __init__(self, conn: Connection) -> None:
        assert conn._transport is not None
        self.inner = conn._transport
        self.frames: list[tuple[int, int, int, bytes]] = []  # type, flags, stream id, payload
        conn._transport = self  # type: ignore[assignment]

    def _parse(self, data: bytes) -> None:
        pos = 0
        while pos < len(data):
            hi, lo, ftype, flags, sid = fr.HEAD.unpack_from(data, pos)
            end = pos + 9 + ((hi << 16) | lo)
            self.frames.append((ftype, flags, sid, data[pos + 9:end]))
            pos = end

    def write(self, data: bytes) -> None:
        self._parse(bytes(data))
        self.inner.write(data)

    def writelines(self, parts: Any) -> None:
        self.write(b"".join(parts))

    def close(self) -> None:
        self.inner.close()

    def of(self, ftype: int) -> list[tuple[int, int, int, bytes]]:
        return [f for f in self.frames if f[0] == ftype]
