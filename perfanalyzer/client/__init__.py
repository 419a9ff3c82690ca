"""Async KServe v2 clients behind one interface: HTTP over a lean HTTP/1.1 pool, gRPC over a lean
HTTP/2 channel on the hot path and grpc.aio for the rest."""

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
