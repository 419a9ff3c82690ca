"""One exception tree and one set of exit codes for the whole tool (the bottom layer).

Transport libraries (grpc.aio, ssl, the lean transports) raise their own exceptions; the client
modules translate them here, at the boundary, with ``raise ... from exc``. Code above the client layer
only ever sees these.

Exit codes (perf_analyzer's, plus the gate's):

====  ==========================================================================================
0     ok (``compare``: no regression)
1     ``compare`` / ``--baseline``: a regression (the gate's verdict; perf_analyzer has no 1)
2     a load point never stabilized; ``compare``: the runs cannot be compared (no verdict)
3     option error (bad flag, config key, shape, dtype or input file), found before any load
99    any other error
130   interrupted by Ctrl-C (what was measured is still written)
====  ==========================================================================================
"""

from __future__ import annotations

EXIT_OK = 0
#: The gate found a regression (``perfanalyzer compare``, ``--baseline``).
EXIT_REGRESSION = 1
EXIT_UNSTABLE = 2
#: ``compare`` could not reach a verdict; the same code as an unstable point: "no clean answer".
EXIT_CANNOT_COMPARE = 2
EXIT_OPTION = 3
EXIT_GENERIC = 99
#: After Ctrl-C (what was measured is still written).
EXIT_INTERRUPTED = 130


class PerfAnalyzerError(Exception):
    """Base of every error perfanalyzer raises on purpose."""

    exit_code = EXIT_GENERIC


class OptionError(PerfAnalyzerError):
    """Bad command-line option, config key, shape, dtype or input file (found before any load)."""

    exit_code = EXIT_OPTION


class ClientError(PerfAnalyzerError):
    """Base of the client layer's errors. A failed request is data (counted in its window); one
    whose error has ``ends_run`` set also ends the run once its window is measured."""

    ends_run = False


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


#: Words in an UNAVAILABLE status's message that mean "no connection", not the server's answer.
GRPC_TRANSPORT_HINTS = ("failed to connect", "connection refused", "connection reset",
                        "socket closed", "goaway", "broken pipe", "ssl", "handshake",
                        "connections to all backends", "endpoint", "not connected",
                        "dns resolution")


def grpc_status_error(code_name: str, message: str, target: str = "") -> ClientError:
    """The error for a gRPC call that ended with status ``code_name`` (e.g. ``"NOT_FOUND"``);
    shared by the grpc.aio client and the lean h2c transport."""
    if code_name == "UNAVAILABLE" and (
            not message or any(h in message.lower() for h in GRPC_TRANSPORT_HINTS)):
        return ConnectError(f"cannot reach the gRPC server at {target}: {message}")
    if code_name == "DEADLINE_EXCEEDED":
        return RequestTimeout(f"gRPC deadline exceeded ({message})")
    if code_name == "CANCELLED":
        return RequestCancelled(f"gRPC call cancelled ({message})")
    return ServerError(code_name, message)


class CompareError(PerfAnalyzerError):
    """The runs cannot be compared: unreadable file, mismatched load points or modes, a bad
    ``--fail-on`` spec or a checked metric missing from one side. One line, naming the file or spec.

    Option errors of ``compare`` exit 2 too (not 3): a CI gate has three answers, pass, regression,
    and "no verdict".
    """

    exit_code = EXIT_CANNOT_COMPARE
