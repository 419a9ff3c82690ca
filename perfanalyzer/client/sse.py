"""A sans-I/O reader of server-sent events (the WHATWG ``text/event-stream`` format), as Triton's
``generate_stream`` answers: bytes in, complete events out.

* Lines end with CRLF, LF or CR (a CR at the end of a feed may be the first half of a CRLF: it is
  held until the next byte says).
* ``field: value`` (one space after the colon dropped), ``field`` alone (empty value); a line that
  starts with ``:`` is a comment; unknown fields are ignored. ``data`` lines are joined with LF.
* A blank line dispatches the event: none when it had no ``data`` line (the standard's rule).
* :meth:`SseParser.close` says whether the stream stopped inside an event (data received but no
  blank line after it): the caller treats that as a stream cut short.

Decoding is UTF-8 with replacement, line by line (a line is only decoded once complete, so a
multi-byte character split across feeds is intact).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Event", "SseParser"]

_LF, _CR = 0x0A, 0x0D


@dataclass(frozen=True, slots=True)
class Event:
    """One dispatched event: its type (``message`` unless an ``event`` field said otherwise),
    its data, and the last event id seen."""

    data: str
    event: str = "message"
    id: str = ""


class SseParser:
    """Feed bytes as they arrive; each call returns the events completed by them."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._held_cr = False  # the last byte fed was a CR: an LF right after it is the same EOL
        self._data: list[str] = []
        self._event = ""
        self._id = ""
        self._pending = False  # a field line was read since the last dispatch

    def feed(self, chunk: bytes) -> list[Event]:
        out: list[Event] = []
        if not chunk:
            return out
        if self._held_cr:
            self._held_cr = False
            if chunk[0] == _LF:
                chunk = chunk[1:]
        buf = self._buf
        buf += chunk
        start = 0
        n = len(buf)
        while start < n:
            lf, cr = buf.find(b"\n", start), buf.find(b"\r", start)
            ends = [i for i in (lf, cr) if i >= 0]
            if not ends:
                break
            end = min(ends)
            line = bytes(buf[start:end])
            if buf[end] == _CR:
                if end + 1 < n:
                    start = end + 2 if buf[end + 1] == _LF else end + 1
                else:
                    self._held_cr = True
                    start = end + 1
            else:
                start = end + 1
            event = self._line(line)
            if event is not None:
                out.append(event)
        del buf[:start]
        return out

    def close(self) -> bool:
        """The stream ended: True if it ended inside an event (fields read, no blank line after
        them, or a partial line)."""
        cut = self._pending or bool(self._buf)
        self._buf.clear()
        self._data, self._event, self._pending = [], "", False
        return cut

    def _line(self, raw: bytes) -> Event | None:
        if not raw:
            return self._dispatch()
        if raw[:1] == b":":
            return None  # a comment (keep-alive)
        self._pending = True
        name, colon, value = raw.partition(b":")
        if colon and value[:1] == b" ":
            value = value[1:]
        text = value.decode("utf-8", "replace")
        if name == b"data":
            self._data.append(text)
        elif name == b"event":
            self._event = text
        elif name == b"id" and "\0" not in text:
            self._id = text
        return None

    def _dispatch(self) -> Event | None:
        data, event = self._data, self._event
        self._data, self._event, self._pending = [], "", False
        if not data:
            return None
        return Event(data="\n".join(data), event=event or "message", id=self._id)
