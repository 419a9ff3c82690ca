"""Parsers of flag values that click's types do not cover: ranges, headers, shapes.

Every ``START[:END[:STEP]]`` flag goes through :func:`split_numbers`; the range flags then apply
their own defaults (perf_analyzer's). Errors are one-line :class:`OptionError`\\ s naming the flag.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, TypeVar

from ..errors import OptionError
from .headers import check_header

N = TypeVar("N", int, float)
#: --request-parameter types (perf_analyzer's).
PARAM_TYPES = ("bool", "int", "string")


def split_numbers(text: str, flag: str, kind: type[N], *, parts: int = 3,
                  form: str = "start[:end[:step]]") -> list[N]:
    """``"a:b:c"`` → numbers of ``kind`` (1 to ``parts`` of them, finite)."""
    pieces = str(text).split(":")
    if not 1 <= len(pieces) <= parts or any(p.strip() == "" for p in pieces):
        raise OptionError(f"{flag}: expected {form}, got {text!r}")
    try:
        nums = [kind(p) for p in pieces]
    except ValueError:
        what = "integers" if kind is int else "numbers"
        raise OptionError(f"{flag}: {text!r} must be {what} {form}") from None
    if any(not math.isfinite(n) for n in nums):
        raise OptionError(f"{flag}: {text!r} must be finite")
    return nums


def parse_range(text: str, flag: str, *, integer: bool) -> tuple[Any, Any, Any]:
    """``start[:end[:step]]`` as perf_analyzer reads it: end defaults to start, step to 1; end 0
    means "no limit" (with -l). Integers with ``integer``, else floats."""
    kind: type[Any] = int if integer else float
    nums = split_numbers(text, flag, kind)
    pieces = str(text).split(":")
    start = nums[0]
    end = nums[1] if len(nums) > 1 else start
    step = nums[2] if len(nums) > 2 else kind(1)
    if (start < 1) if kind is int else (start <= 0):
        raise OptionError(f"{flag}: start must be > 0, got {pieces[0]}")
    if step <= 0:
        raise OptionError(f"{flag}: step must be > 0, got {pieces[2]}")
    if end != 0 and end < start:
        raise OptionError(f"{flag}: end {pieces[1]} is below start {pieces[0]}")
    return start, end, step


def int_range(text: str | None, flag: str) -> tuple[int, int, int] | None:
    return None if not text else parse_range(text, flag, integer=True)


def float_range(text: str | None, flag: str) -> tuple[float, float, float] | None:
    if not text:
        return None
    start, end, step = parse_range(text, flag, integer=False)
    return float(start), float(end), float(step)


def periodic_range(text: str | None, flag: str) -> tuple[int, int, int] | None:
    """``START:END[:STEP]`` for --periodic-concurrency-range, with perf_analyzer's rules: both START
    and END given, STEP > 0 (default 1) dividing END - START; START >= 1 here (perf_analyzer
    accepts 0 and then never starts)."""
    if not text:
        return None
    nums = split_numbers(text, flag, int, form="START:END[:STEP]")
    if len(nums) < 2:
        raise OptionError(f"{flag}: both START and END must be given (START:END[:STEP]), "
                          f"got {text!r}")
    start, end, step = nums[0], nums[1], nums[2] if len(nums) > 2 else 1
    if step <= 0:
        raise OptionError(f"{flag}: STEP must be > 0, got {step}")
    if start < 1:
        raise OptionError(f"{flag}: START must be >= 1, got {start}")
    if start > end:
        raise OptionError(f"{flag}: START {start} must be <= END {end}")
    if (end - start) % step:
        raise OptionError(f"{flag}: STEP {step} must divide END - START ({end - start})")
    return start, end, step


def id_range(text: str | None, flag: str) -> tuple[int, int] | None:
    """``START[:END]`` (END 0 or absent: no upper bound)."""
    if not text:
        return None
    nums = split_numbers(text, flag, int, parts=2, form="START[:END]")
    return nums[0], nums[1] if len(nums) > 1 else 0


def header(text: str, flag: str = "-H") -> tuple[str, str]:
    """``Name:Value`` → (name, value), both stripped of spaces and checked (config/headers.py).
    Messages never echo the text: it may be a secret."""
    name, sep, value = text.partition(":")
    if not sep:
        raise OptionError(f"{flag}: expected 'Name:Value', got {len(text)} characters without ':'")
    if not name.strip(" \t"):
        raise OptionError(f"{flag}: the header name before ':' is empty (expected 'Name:Value')")
    name, value = name.strip(" \t"), value.strip(" \t")
    check_header(name, value, flag)
    return name, value


#: The schemes --metrics-url may name (a scrape is an HTTP GET; file:// or ftp:// would read
#: whatever the URL names).
METRICS_SCHEMES = ("http", "https")


def metrics_url(text: str | None, flag: str = "--metrics-url") -> str | None:
    """``[http[s]://][user@]host[:port][/path]``: only HTTP(S), with a host. The message shows
    the URL without its user-info (it may hold a password)."""
    if text is None:
        return None
    from urllib.parse import urlsplit

    from ..redact import redact_url

    shown = redact_url(str(text))[:100]
    scheme = text.split("://", 1)[0].lower() if "://" in text else "http"
    if scheme not in METRICS_SCHEMES:
        raise OptionError(f"{flag}: only http:// and https:// endpoints are scraped, got "
                          f"{scheme}:// ({shown!r})")
    try:
        host = urlsplit(text if "://" in text else f"http://{text}").hostname
    except ValueError:
        host = None
    if not host or any(c.isspace() or not c.isprintable() for c in text):
        raise OptionError(f"{flag}: expected [http[s]://]HOST[:PORT][/PATH], got {shown!r}")
    return text


def headers(values: Sequence[str], flag: str) -> tuple[tuple[str, str], ...]:
    return tuple(header(v) for v in values)


def parse_shape(text: str) -> tuple[str, tuple[int, ...]]:
    """Parse one ``--shape`` value, ``name:d1,d2,...`` (the name may itself contain ``:``).

    Raises OptionError naming the flag for a missing name, a non-integer or a dim <= 0.
    """
    name, sep, dims_text = text.rpartition(":")
    if not sep or not name or not dims_text.strip():
        raise OptionError(f"--shape {text[:100]}: expected name:d1,d2,...")
    try:
        dims = tuple(int(d) for d in dims_text.split(","))
    except ValueError:
        raise OptionError(f"--shape {text[:100]}: dims must be integers") from None
    if any(d <= 0 for d in dims):
        raise OptionError(f"--shape {text[:100]}: every dim must be > 0")
    return name, dims


def shapes(values: Sequence[str], flag: str) -> tuple[tuple[str, tuple[int, ...]], ...]:
    return tuple(parse_shape(v) for v in values)


__all__ = [
    "float_range",
    "header",
    "headers",
    "id_range",
    "int_range",
    "metrics_url",
    "parse_range",
    "parse_shape",
    "periodic_range",
    "shapes",
    "split_numbers",
]


def request_parameter(text: str, flag: str = "--request-parameter") -> tuple[str, str, str]:
    """``NAME:VALUE:TYPE`` (TYPE bool, int or string; VALUE may contain ':') → the checked triple."""
    name, sep1, rest = str(text).partition(":")
    value, sep2, kind = rest.rpartition(":")
    if not (sep1 and sep2 and name) or kind not in PARAM_TYPES:
        raise OptionError(f"{flag}: expected NAME:VALUE:TYPE with TYPE bool, int or string, "
                          f"got {text!r}")
    if kind == "bool" and value.lower() not in ("true", "false"):
        raise OptionError(f"{flag} {name}: a bool is true or false, got {value!r}")
    if kind == "int":
        try:
            int(value)
        except ValueError:
            raise OptionError(f"{flag} {name}: not an int: {value!r}") from None
    return name, value, kind


def request_parameters(values: Sequence[str], flag: str) -> tuple[tuple[str, str, str], ...]:
    return tuple(request_parameter(v, flag) for v in values)
def channel_args(values: Sequence[str], flag: str) -> tuple[tuple[str, int | str], ...]:
    """``NAME=VALUE`` gRPC channel arguments; a value that is an integer is passed as one."""
    out: list[tuple[str, int | str]] = []
    for text in values:
        name, sep, value = str(text).partition("=")
        if not sep or not name.strip():
            raise OptionError(f"{flag}: expected NAME=VALUE (e.g. grpc.max_send_message_length="
                              f"-1), got {text!r}")
        try:
            out.append((name.strip(), int(value)))
        except ValueError:
            out.append((name.strip(), value))
    return tuple(out)


def bls_models(text: str | None, flag: str) -> tuple[tuple[str, str], ...]:
    """``a:3,b`` → (("a", "3"), ("b", "")); spaces stripped, as perf_analyzer does."""
    out: list[tuple[str, str]] = []
    for item in (text or "").replace(" ", "").split(","):
        if not item:
            continue
        name, _, version = item.partition(":")
        if not name or (version and not version.isdigit()):
            raise OptionError(f"{flag}: expected NAME[:VERSION],..., got {item!r}")
        out.append((name, version))
    return tuple(out)
