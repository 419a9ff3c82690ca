"""A lean gRPC-over-HTTP/2 (cleartext) client for the unary hot path.

``grpc.aio`` spends a few hundred microseconds of CPU per call in Python; this package writes
the HTTP/2 frames itself on an ``asyncio.Protocol``: the request headers are HPACK-encoded once,
each call is one socket write, and a response costs a handful of frame parses. Only what a
unary call needs is implemented (no TLS, no request compression, no server push; compressed
responses are decoded); the rest of the client
keeps using ``grpc.aio``.

Modules: :mod:`.headers` (RFC 7541 HPACK through the ``hpack`` library), :mod:`.frames` (RFC 9113
framing),
:mod:`.connection` (one connection), :mod:`.channel` (:class:`LeanChannel`: connections, retries,
timeouts, error mapping).
"""

from __future__ import annotations

from .channel import LeanChannel, status_error

__all__ = ["LeanChannel", "status_error"]
