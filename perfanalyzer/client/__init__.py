"""Async KServe v2 clients (HTTP over aiohttp, gRPC over grpc.aio) behind one interface."""

from __future__ import annotations

from ..errors import (
    ClientError,
    ConnectError,
    OptionError,
    PerfAnalyzerError,
    ProtocolError,
    RequestCancelled,
    RequestTimeout,
    ServerError,
    TransportError,
)
from .base import (
    ClientOptions,
    InferenceClient,
    InferRequest,
    InferResult,
    InputTensor,
    ModelStatistics,
    RequestedOutput,
    ShmRef,
    TlsOptions,
    basic_auth,
)


def create_client(protocol: str, options: ClientOptions) -> InferenceClient:
    """An :class:`InferenceClient` for ``protocol`` ("http" or "grpc")."""
    if protocol == "http":
        from .http import HttpClient

        return HttpClient(options)
    if protocol == "grpc":
        from .grpc import GrpcClient

        return GrpcClient(options)
    raise OptionError(f"-i: unknown protocol {protocol!r}; expected http or grpc")


__all__ = [
    "ClientError", "ClientOptions", "ConnectError", "InferRequest", "InferResult",
    "InferenceClient", "InputTensor", "ModelStatistics", "OptionError", "PerfAnalyzerError",
    "ProtocolError", "RequestCancelled", "RequestTimeout", "RequestedOutput", "ServerError",
    "ShmRef", "TlsOptions", "TransportError", "basic_auth", "create_client",
]
