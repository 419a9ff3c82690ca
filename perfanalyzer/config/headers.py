"""What a request header may hold, on every transport (HTTP/1.1, the lean HTTP/2 gRPC channel and
grpc.aio's metadata).

A name is an RFC 9110 token; a value is printable ASCII (space included). A CR or LF would end
the header line on HTTP/1.1 and let a value add headers of its own (injection); other control
characters and non-ASCII text are refused too, since gRPC metadata and many HTTP servers reject
them, so one rule holds for both protocols. Messages never repeat the value (it may be a secret).
"""

from __future__ import annotations

import string
from collections.abc import Iterable

from ..errors import OptionError

#: RFC 9110 5.6.2 ``tchar``.
TOKEN_CHARS = frozenset(string.ascii_letters + string.digits + "!#$%&'*+-.^_`|~")
_CONTROL_NAMES = {"\r": "a CR", "\n": "an LF", "\t": "a tab", "\x00": "a NUL"}


def _describe(ch: str) -> str:
    if ch in _CONTROL_NAMES:
        return _CONTROL_NAMES[ch]
    if ord(ch) < 0x20 or ord(ch) == 0x7F:
        return f"the control character U+{ord(ch):04X}"
    return f"the non-ASCII character U+{ord(ch):04X}"


def header_problem(name: str, value: str) -> str | None:
    """Why ``name: value`` cannot be sent as a header, or None when it can."""
    if not name:
        return "the header name is empty"
    bad_name = next((c for c in name if c not in TOKEN_CHARS), None)
    if bad_name is not None:
        what = _describe(bad_name) if not " " <= bad_name < "\x7f" else repr(bad_name)
        at = name.index(bad_name)
        start = f" {name[:min(at, 60)]!r}..." if at else ""
        return (f"the header name{start} has {what} at position {at} "
                f"(a name is letters, digits and !#$%&'*+-.^_`|~)")
    for i, ch in enumerate(value):
        if not " " <= ch <= "~":
            return (f"the value of header {name!r} has {_describe(ch)} at position {i} "
                    f"(values are printable ASCII: no line breaks or control characters)")
    return None


def check_header(name: str, value: str, flag: str = "-H") -> None:
    """Raise OptionError naming ``flag`` when ``name: value`` cannot be sent."""
    problem = header_problem(name, value)
    if problem is not None:
        raise OptionError(f"{flag}: {problem}")


def check_headers(headers: Iterable[tuple[str, str]], flag: str = "-H") -> None:
    for name, value in headers:
        check_header(str(name), str(value), flag)


__all__ = ["TOKEN_CHARS", "check_header", "check_headers", "header_problem"]
