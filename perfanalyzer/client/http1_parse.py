"""The HTTP/1.1 response parser of :mod:`.http1` (sans I/O; a mixin of its connection protocol).

Fed with :meth:`ResponseParser.feed` (bytes as they arrive) and :meth:`ResponseParser.feed_eof`,
it parses one answer per request, as far as the hot path needs: the status line, the framing
headers, ``Connection``, and the body bytes (counted only, for a 200 the caller does not keep).
Message framing follows RFC 9112 §6.3:

* 1xx interim responses (100 Continue, 103 Early Hints...) are skipped; the final response is
  read after them. 101 Switching Protocols is an error (the client never asks to upgrade).
* 204, 304 (and 1xx) have no body whatever the headers say.
* ``Transfer-Encoding`` takes precedence over ``Content-Length``: chunked when chunked is the final
  coding, else the body runs until the server closes. A response carrying both is read as
  Transfer-Encoding says, and its connection is not reused afterwards (§6.3 item 3: such a message
  may be request smuggling or response splitting; closing keeps it from poisoning the next answer).
* ``Content-Length``: digits only; repeated (as ``5, 5`` or several lines) only with one value.
* Neither: the body runs until the server closes the connection.

A server answers the same request with the same head again and again (same status, same lengths):
a head equal to the connection's last final head is not parsed again; what parsing it gave (status,
framing, reuse) is applied as it was.

Errors raise :class:`ProtocolError` naming the problem. Header lines other than the framing ones
are not validated (the hot path does not read them); see tests/test_http1_fuzz.py for how this
parser and ``h11`` agree and where they deliberately differ.
"""

from __future__ import annotations

from ..errors import ProtocolError
from .http1_wire import field

#: Longest response head (status line + headers) accepted.
MAX_HEAD = 64 * 1024
HEAD = -1  # reading a response head
UNTIL_CLOSE = -2  # body length unknown: read until the server closes the connection
CHUNKED = -3
_INTERIM = -4  # a 1xx head was parsed: the final head follows
_CL = b"\r\ncontent-length:"
_MAX_DIGITS = 20


class ResponseParser:
    """Parser state and logic. The host class provides ``where`` (error message prefix),
    ``expecting`` (is an answer expected now? an attribute: the hot path reads it per answer) and
    ``complete()`` (called once per final answer, with :attr:`status`, :attr:`head` and
    :attr:`body` set)."""

    where = ""
    status = 0
    head = b""  # the raw header fields, CRLF first ("\r\nName: value..."), status line excluded
    body = b""
    keep = False  # keep the body even for status 200
    reusable = True
    expecting = True

    def __init__(self) -> None:
        self._pending = b""  # partial head (or chunked raw bytes)
        self._need = HEAD  # remaining body bytes (>= 0), or HEAD / UNTIL_CLOSE / CHUNKED
        self._parts: list[bytes] = []
        # the last final head parsed, and what parsing it set: (status, fields, need, reusable)
        self._last_head = b""
        self._last_parsed: tuple[int, bytes, int, bool] = (0, b"", HEAD, True)

    def complete(self) -> None:
        raise NotImplementedError

    # -- input --------------------------------------------------------------------------------
    def feed(self, data: bytes) -> None:
        need = self._need
        if need >= 0:  # body with a known length
            n = len(data)
            if n < need:
                self._need = need - n
                if self.keep or self.status != 200:
                    self._parts.append(data)
                return
            if n > need:
                raise ProtocolError(f"{self.where}: {n - need} bytes after the answer")
            if self.keep or self.status != 200:
                self._parts.append(data)
            self._finish()
            return
        if need == HEAD:
            self._feed_head(data)
        elif need == CHUNKED:
            self._pending += data
            self._dechunk()
        else:  # until close
            self._parts.append(data)

    def feed_eof(self) -> bool:
        """The server closed the connection: True if that completed an answer (one read until
        close), False if an answer was cut short or none was expected."""
        if self._need == UNTIL_CLOSE:
            self._finish()
            return True
        return False

    def _feed_head(self, data: bytes) -> None:
        if not self.expecting:
            raise ProtocolError(f"{self.where}: data from the server with no request")
        if self._pending:
            data, self._pending = self._pending + data, b""
        while True:
            end = data.find(b"\r\n\r\n")
            if end < 0:
                if len(data) > MAX_HEAD:
                    raise ProtocolError(f"{self.where}: response head over {MAX_HEAD} bytes")
                self._pending = data
                if len(data) >= 12 and not data.startswith(b"HTTP/1."):
                    raise ProtocolError(f"{self.where}: Bad status line {data[:40]!r}")
                return
            head = data[:end]
            if head == self._last_head:  # the same answer head as last time: as it parsed then
                self.status, self.head, self._need, reusable = self._last_parsed
                if not reusable:
                    self.reusable = False
            else:
                self._parse_head(head)
                if self._need != _INTERIM:
                    self._last_head = head
                    self._last_parsed = (self.status, self.head, self._need, self.reusable)
            start = end + 4
            if self._need != _INTERIM:
                break
            self._need = HEAD  # 1xx: skipped, the final answer follows
            data = data[start:]
            if not data:
                return
        n = len(data) - start
        need = self._need
        if need >= 0:  # known length: on the hot path (200, body not kept) only count
            if n > need:
                raise ProtocolError(f"{self.where}: {n - need} bytes after the answer")
            if n and (self.keep or self.status != 200):
                self._parts.append(data[start:])
            if n == need:
                self._finish()
            else:
                self._need = need - n
        elif n:
            self.feed(data[start:])

    # -- head ---------------------------------------------------------------------------------
    def _parse_head(self, head: bytes) -> None:
        line_end = head.find(b"\r\n")
        status_line = head if line_end < 0 else head[:line_end]
        code = status_line[9:12]  # "HTTP/1.x NNN[ reason]"
        if (not status_line.startswith(b"HTTP/1.") or status_line[8:9] != b" "
                or not code.isdigit() or status_line[12:13] not in (b" ", b"")
                or not status_line[7:8].isdigit()):
            raise ProtocolError(f"{self.where}: Bad status line {status_line[:80]!r}")
        status = int(code)
        if status < 200:
            if status == 101 or status < 100:
                raise ProtocolError(f"{self.where}: unexpected status {status} (no upgrade "
                                    "was asked for)" if status == 101 else
                                    f"{self.where}: Bad status line {status_line[:80]!r}")
            self._need = _INTERIM
            return
        self.status = status
        fields = b"" if line_end < 0 else head[line_end:]  # starts with CRLF
        self.head = fields
        lower = fields.lower()
        i = lower.find(_CL)  # (checked whenever present, as h11 does)
        if i < 0:
            length = UNTIL_CLOSE
        else:  # the common case inline: one field, plain digits
            j = lower.find(b"\r\n", i + 17)
            value = lower[i + 17: j if j >= 0 else None].strip()
            if value.isdigit() and len(value) <= _MAX_DIGITS and (j < 0 or lower.find(_CL, j) < 0):
                length = int(value)
            else:
                length = self._content_length(lower)
        if status in (204, 304):
            self._need = 0
        elif b"\r\ntransfer-encoding:" in lower:
            te = field(lower, b"transfer-encoding") or b""
            self._need = CHUNKED if te.rsplit(b",", 1)[-1].strip() == b"chunked" else UNTIL_CLOSE
            if i >= 0:
                self.reusable = False  # TE with CL: read as TE says, then close (see module doc)
        else:
            self._need = length
        conn = field(lower, b"connection")
        if (conn is not None and b"close" in conn) or status_line.startswith(b"HTTP/1.0"):
            self.reusable = False  # (HTTP/1.0 connections are not reused, as h11 does)

    def _content_length(self, lower: bytes) -> int:
        """The length every ``Content-Length`` field of ``lower`` gives (they must agree)."""
        values = {v.strip() for line in lower.split(_CL)[1:]
                  for v in line.split(b"\r\n", 1)[0].split(b",")}
        value = values.pop() if len(values) == 1 else b""
        if not value.isdigit() or len(value) > _MAX_DIGITS:
            raise ProtocolError(f"{self.where}: bad or conflicting Content-Length")
        return int(value)

    # -- body ---------------------------------------------------------------------------------
    def _dechunk(self) -> None:
        raw, pos = self._pending, 0
        while True:
            eol = raw.find(b"\r\n", pos)
            if eol < 0:
                if len(raw) - pos > MAX_HEAD:
                    raise ProtocolError(f"{self.where}: chunk header over {MAX_HEAD} bytes")
                break
            size_text = raw[pos:eol].split(b";", 1)[0].strip()
            if not size_text or size_text.strip(b"0123456789abcdefABCDEF"):
                raise ProtocolError(f"{self.where}: bad chunk size {raw[pos:eol][:40]!r}")
            size = int(size_text, 16)
            if size == 0:
                if raw.startswith(b"\r\n", eol + 2):
                    pos = eol + 4
                else:
                    end = raw.find(b"\r\n\r\n", eol)
                    if end < 0:
                        break
                    pos = end + 4
                if pos < len(raw):
                    raise ProtocolError(f"{self.where}: {len(raw) - pos} bytes after the answer")
                self._pending = b""
                self._finish()
                return
            if len(raw) < eol + 2 + size + 2:
                break
            if raw[eol + 2 + size: eol + 4 + size] != b"\r\n":
                raise ProtocolError(f"{self.where}: chunk data not followed by CRLF")
            self._parts.append(raw[eol + 2: eol + 2 + size])
            pos = eol + 2 + size + 2
        self._pending = raw[pos:]

    def _finish(self) -> None:
        parts = self._parts
        if parts:
            self._parts = []
            self.body = parts[0] if len(parts) == 1 else b"".join(parts)
        else:
            self.body = b""
        self._need = HEAD
        self.complete()


__all__ = ["CHUNKED", "HEAD", "MAX_HEAD", "UNTIL_CLOSE", "ResponseParser"]
