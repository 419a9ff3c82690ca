"""HTTP/1.1 message pieces for :mod:`.http1`: request bytes, header lookup, error bodies,
content decoding. Pure functions, no I/O."""

from __future__ import annotations

import json
import zlib
from collections.abc import Mapping
from typing import NamedTuple

from ..errors import ProtocolError, ServerError


class Response(NamedTuple):
    """A complete answer: status, the raw header block (status line excluded, CRLF-separated,
    names as sent) and the body (decompressed when ``decompress`` was asked)."""

    status: int
    head: bytes
    body: bytes
    #: The connection's (send_ns, recv_ns) for this exchange (see ``_Conn``).
    send_ns: int = 0
    recv_ns: int = 0

    def header(self, name: str) -> str | None:
        """The value of header ``name`` (case-insensitive; the first one), or None."""
        return header_value(self.head, name)


def header_value(head: bytes, name: str) -> str | None:
    key = b"\r\n" + name.lower().encode("latin-1") + b":"
    lower = b"\r\n" + head.lower()
    i = lower.find(key)
    if i < 0:
        return None
    j = lower.find(b"\r\n", i + len(key))
    raw = (b"\r\n" + head)[i + len(key): j if j >= 0 else None]
    return raw.strip().decode("latin-1")


def wire_request(method: str, target: str, host: str, headers: Mapping[str, str],
                 body: bytes = b"") -> bytes:
    """The complete HTTP/1.1 request: request line, ``Host``, ``headers``, ``Content-Length``
    (when there is a body or the method is POST) and the body."""
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}"]
    lines.extend(f"{k}: {v}" for k, v in headers.items())
    if body or method == "POST":
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def server_error(status: int, body: bytes) -> ServerError:
    """``ServerError(status, message)``: the JSON body's ``"error"``, else the body text."""
    text = body.decode("utf-8", "replace").strip()
    try:
        decoded = json.loads(text)
    except ValueError:
        decoded = None
    if isinstance(decoded, dict) and "error" in decoded:
        text = str(decoded["error"])
    return ServerError(status, text or f"HTTP {status}")


def decompress(body: bytes, encoding: str | None) -> bytes:
    if not encoding or encoding == "identity" or not body:
        return body
    try:
        if encoding == "gzip":
            return zlib.decompress(body, 16 + zlib.MAX_WBITS)
        if encoding == "deflate":
            try:
                return zlib.decompress(body)
            except zlib.error:  # raw deflate, as some servers send it
                return zlib.decompress(body, -zlib.MAX_WBITS)
    except zlib.error as exc:
        raise ProtocolError(f"undecodable {encoding} body: {exc}") from exc
    raise ProtocolError(f"unsupported Content-Encoding {encoding!r}")


def field(lower_fields: bytes, name: bytes) -> bytes | None:
    i = lower_fields.find(b"\r\n" + name + b":")
    if i < 0:
        return None
    j = lower_fields.find(b"\r\n", i + 2)
    return lower_fields[i + len(name) + 3: j if j >= 0 else None]


__all__ = ["Response", "decompress", "field", "header_value", "server_error", "wire_request"]
