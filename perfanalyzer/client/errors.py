"""One exception tree for the whole tool.

Transport libraries (aiohttp, grpc.aio) raise their own exceptions; the client modules translate them
here, at the boundary, with ``raise ... from exc``. Code above the client layer only ever sees these.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_UNSTABLE = 2
EXIT_OPTION = 3
EXIT_GENERIC = 99


class PerfAnalyzerError(Exception):
    """Base of every error perfanalyzer raises on purpose."""

    exit_code = EXIT_GENERIC


class OptionError(PerfAnalyzerError):
    """Bad command-line option, config key, shape, dtype or input file (found before any load)."""

    exit_code = EXIT_OPTION


class ClientError(PerfAnalyzerError):
    """Base of the client layer's errors."""


class ServerError(ClientError):
    """The server answered, with an error status.

    ``status`` is the HTTP status code (int) for HTTP and the gRPC status name (e.g. ``"NOT_FOUND"``)
    for gRPC; ``message`` is the server's own text.
    """

    def __init__(self, status: int | str, message: str) -> None:
        super().__init__(f"[{status}] {message}")
        self.status = status
        self.message = message


class TransportError(ClientError):
    """The request did not get an answer from the server (connection, protocol, timeout)."""


class ConnectError(TransportError):
    """The server could not be reached (refused, reset, DNS, TLS handshake)."""


class RequestTimeout(TransportError):
    """The request or connection did not finish within its timeout."""


class RequestCancelled(TransportError):
    """The request was cancelled by the caller before it completed."""


class ProtocolError(TransportError):
    """The server's answer could not be understood."""
