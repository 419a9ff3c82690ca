"""Helpers for the gRPC client tests: a client for the test server and the lean channel's path."""

from __future__ import annotations

from typing import Any

from perfanalyzer.client.base import ClientOptions
from perfanalyzer.client.grpc import GrpcClient
from perfanalyzer.client.h2 import LeanChannel
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
