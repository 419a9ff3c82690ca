"""Reaching the server before any load, with deadlines and one precise line per failure.

* A plain TCP connect first (``--connect-timeout``): refused → "no server is listening" (with the
  hint to start one); no answer to the connect → "cannot reach"; anything else is the protocol's.
* Every start-up call (health, metadata, config, statistics) runs under ``--startup-timeout``:
  a server that accepts and never answers ends the run with "did not answer within N s".
* :func:`explain` turns a transport failure into its own line: TLS certificate refused, TLS
  handshake failed, connection closed without an answer (with a hint about TLS ports), an answer
  that is not the protocol (garbage), a timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Awaitable, Iterable
from typing import TypeVar

from ..config.safety import (
    DEFAULT_CONNECT_TIMEOUT_S,
    DEFAULT_REQUEST_TIMEOUT_S,
    DEFAULT_STARTUP_TIMEOUT_S,
)
from ..errors import (
    ConnectError,
    PerfAnalyzerError,
    ProtocolError,
    RequestTimeout,
    TransportError,
)
from ..redact import redact_url

T = TypeVar("T")


class ServerUnavailable(TransportError):
    """Nothing answered at the URL (exit 99), with a hint on how to start a server."""


class NoAnswer(TransportError):
    """The server accepted the connection but did not answer in time."""


def host_port(url: str, protocol: str) -> tuple[str, int]:
    """(host, port) of ``[scheme://][user@]host[:port][/path]``."""
    rest = url.strip()
    scheme = ""
    if "://" in rest:
        scheme, rest = rest.split("://", 1)
    rest = rest.split("/", 1)[0].rsplit("@", 1)[-1]
    default = 443 if scheme.lower() == "https" else (8001 if protocol == "grpc" else 80)
    if rest.startswith("["):
        host, _, tail = rest[1:].partition("]")
        port = tail[1:] if tail.startswith(":") else ""
    else:
        host, _, port = rest.partition(":")
    try:
        return host or "localhost", int(port) if port else default
    except ValueError:
        return host, default


async def probe_tcp(url: str, protocol: str, timeout_s: float, hint: str) -> None:
    """Raise ServerUnavailable (refused) or ConnectError (unreachable) before any protocol."""
    host, port = host_port(url, protocol)
    shown = redact_url(url)
    try:
        _reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port),
                                                 timeout_s or None)
    except ConnectionRefusedError as exc:
        raise ServerUnavailable(hint) from exc
    except asyncio.TimeoutError as exc:
        raise ConnectError(f"cannot reach {shown}: no answer to the TCP connect within "
                           f"{timeout_s:g} s (--connect-timeout)") from exc
    except OSError as exc:
        raise ConnectError(f"cannot reach {shown}: {exc.strerror or exc}") from exc
    writer.close()
    with contextlib.suppress(OSError, asyncio.TimeoutError):
        await asyncio.wait_for(writer.wait_closed(), 1.0)


_H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"


async def h2_probe(url: str, timeout_s: float) -> str:
    """What a plaintext HTTP/2 (gRPC) server at ``url`` does with a connection preface:
    ``ok`` (a SETTINGS frame), ``silent``, ``closed`` or ``garbage``."""
    host, port = host_port(url, "grpc")
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port),
                                                timeout_s or 5.0)
    except (OSError, asyncio.TimeoutError):
        return "closed"
    try:
        writer.write(_H2_PREFACE)
        data = await asyncio.wait_for(reader.read(9), min(timeout_s or 5.0, 5.0))
    except asyncio.TimeoutError:
        return "silent"
    except OSError:
        return "closed"
    finally:
        writer.close()
    if not data:
        return "closed"
    return "ok" if len(data) >= 4 and data[3] == 4 else "garbage"


async def probe_tls(url: str, protocol: str, ctx: ssl.SSLContext, timeout_s: float) -> None:
    """A TLS handshake alone, so that its failure is named (gRPC hides it)."""
    host, port = host_port(url, protocol)
    try:
        _r, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port, ssl=ctx, server_hostname=host),
            timeout_s or None)
    except asyncio.TimeoutError as exc:
        raise NoAnswer(f"TLS handshake with {redact_url(url)}: no answer within {timeout_s:g} s "
                       f"(--connect-timeout)") from exc
    except (OSError, ssl.SSLError) as exc:
        raise explain(exc, url, protocol, True) from exc
    writer.close()


def _causes(exc: BaseException) -> list[BaseException]:
    out: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and len(out) < 10:
        out.append(cur)
        cur = cur.__cause__ or cur.__context__
    return out


#: Request headers (-H) above this many bytes are a likelier cause of a closed connection than
#: a TLS port: Triton's HTTP server, like many, closes on a header block above about 8 KB.
LARGE_HEADERS_BYTES = 8192


def headers_size(headers: Iterable[tuple[str, str]]) -> int:
    """Bytes the -H headers take on an HTTP/1.1 request (``Name: Value\\r\\n`` each)."""
    return sum(len(k) + len(v) + 4 for k, v in headers)


def _too_large(shown: str, header_bytes: int) -> PerfAnalyzerError | None:
    if header_bytes <= LARGE_HEADERS_BYTES:
        return None
    return ConnectError(f"the server at {shown} closed the connection without an answer: the -H "
                        f"headers take {header_bytes} bytes, more than servers commonly accept "
                        f"(Triton's HTTP server: about 8 KB); send smaller headers")


def explain(exc: BaseException, url: str, protocol: str, tls: bool,
            header_bytes: int = 0) -> PerfAnalyzerError:
    """One line saying what went wrong talking to the server at ``url`` (``header_bytes``: the
    size of the -H headers, a cause of their own when large)."""
    shown = redact_url(url)
    chain = _causes(exc)
    text = " ".join(str(c) for c in chain).lower()
    if any(isinstance(c, ssl.SSLCertVerificationError) for c in chain) \
            or "certificate verify failed" in text:
        return ConnectError(f"TLS: the certificate of {shown} was not accepted (certificate "
                            f"verify failed); give its CA with --ssl-https-ca-certificates-file "
                            f"/ --ssl-grpc-root-certifications-file")
    if any(isinstance(c, ssl.SSLError) for c in chain) or (tls and "ssl" in text):
        return ConnectError(f"TLS handshake with {shown} failed (is it a TLS port? "
                            f"{type(chain[-1]).__name__}: {str(chain[-1])[:100]})")
    if isinstance(exc, (asyncio.TimeoutError, RequestTimeout, NoAnswer)):
        return NoAnswer(f"the server at {shown} accepted the connection but did not answer")
    large = _too_large(shown, header_bytes)
    if large is not None and isinstance(exc, (ProtocolError, ConnectError)):
        return large
    if isinstance(exc, ProtocolError):
        return ProtocolError(f"the server at {shown} did not answer in {protocol.upper()} "
                             f"(not a KServe v2 server, or a TLS port?): {str(exc)[:100]}")
    if isinstance(exc, ConnectError) and " within " in str(exc):
        return NoAnswer(f"the server at {shown} accepted the connection but did not answer "
                        f"({str(exc)[:100]})")
    if isinstance(exc, ConnectError):
        tip = ("" if tls else " (a TLS port? use https:// or --ssl-grpc-use-ssl)")
        return ConnectError(f"the server at {shown} closed the connection without an "
                            f"answer{tip}: {str(exc)[:100]}")
    if isinstance(exc, PerfAnalyzerError):
        return exc
    return TransportError(f"{shown}: {type(exc).__name__}: {str(exc)[:100]}")


async def startup(call: Awaitable[T], *, url: str, protocol: str, tls: bool,
                  timeout_s: float, header_bytes: int = 0) -> T:
    """Await a start-up call under ``--startup-timeout``; transport failures become one line
    (``header_bytes``: see :func:`explain`)."""
    try:
        return await asyncio.wait_for(call, timeout_s or None)
    except asyncio.TimeoutError as exc:
        raise NoAnswer(f"the server at {redact_url(url)} accepted the connection but did not "
                       f"answer within {timeout_s:g} s (--startup-timeout)") from exc
    except (TransportError, OSError, ssl.SSLError) as exc:
        if isinstance(exc, (ServerUnavailable, NoAnswer)):
            raise
        if protocol == "grpc" and not tls and isinstance(exc, ConnectError) \
                and header_bytes <= LARGE_HEADERS_BYTES:
            kind = await h2_probe(url, timeout_s)  # grpc.aio does not say what it got
            if kind != "ok":
                raise _GRPC_KINDS[kind](url) from exc
        raise explain(exc, url, protocol, tls, header_bytes) from exc


_GRPC_KINDS = {
    "silent": lambda url: NoAnswer(f"the server at {redact_url(url)} accepted the connection but "
                                   f"did not answer the gRPC (HTTP/2) preface"),
    "closed": lambda url: ConnectError(f"the server at {redact_url(url)} closed the connection "
                                       f"without an answer (a TLS port? add --ssl-grpc-use-ssl)"),
    "garbage": lambda url: ProtocolError(f"the server at {redact_url(url)} answered something "
                                         f"that is not gRPC (HTTP/2)"),
}


__all__ = [
    "DEFAULT_CONNECT_TIMEOUT_S",
    "DEFAULT_REQUEST_TIMEOUT_S",
    "DEFAULT_STARTUP_TIMEOUT_S",
    "LARGE_HEADERS_BYTES",
    "NoAnswer",
    "ServerUnavailable",
    "explain",
    "h2_probe",
    "headers_size",
    "host_port",
    "probe_tcp",
    "probe_tls",
    "startup",
]
