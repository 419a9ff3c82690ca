"""Secrets never leave the process: header values and URL user-info are redacted everywhere a run
writes text (export, CSV, console, error messages, provenance).

Secret header names: :data:`SECRET_HEADERS` (Authorization, Proxy-Authorization, Cookie,
Set-Cookie) plus any the user names with ``--secret-header NAME``. Two layers:

* structured: :func:`redact_url` and :func:`redact_headers` replace values where the config is
  turned into data (the export's ``config``);
* a last gate: the values themselves are registered (:func:`register`) and :func:`scrub` replaces
  them in any text on its way out (files through :mod:`perfanalyzer.report.outfile`, stdout and
  stderr during a run through :func:`scrubbed_std`, the CLI's error line).
"""

from __future__ import annotations

import contextlib
import re
import sys
from collections.abc import Iterable, Iterator
from typing import Any, TextIO

MASK = "<redacted>"
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie"})
#: Values shorter than this are not scrubbed from free text (they would mask ordinary words);
#: the structured layer still redacts them.
MIN_SCRUB_LEN = 4

#: The config keys holding a URL whose user-info is a secret (-u, --metrics-url).
URL_KEYS = ("url", "metrics_url")

_SECRETS: set[str] = set()
_USERINFO = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)?(?P<info>[^/@?#]*)@")


def is_secret(name: str, extra: Iterable[str] = ()) -> bool:
    low = name.strip().lower()
    return low in SECRET_HEADERS or low in {e.strip().lower() for e in extra}


def redact_url(url: str) -> str:
    """``scheme://user:password@host`` → ``scheme://<redacted>@host`` (other URLs unchanged)."""
    return _USERINFO.sub(lambda m: f"{m.group('scheme') or ''}{MASK}@", url, count=1)


def redact_headers(headers: Iterable[tuple[str, str]],
                   extra: Iterable[str] = ()) -> tuple[tuple[str, str], ...]:
    names = tuple(extra)
    return tuple((k, MASK if is_secret(k, names) else v) for k, v in headers)


def redact_config(d: dict[str, Any]) -> dict[str, Any]:
    """A run's config as data (``dataclasses.asdict``) with secret header values and the URL's
    user-info replaced."""
    out = dict(d)
    extra = tuple(out.get("secret_headers") or ())
    out["headers"] = [list(h) for h in redact_headers(out.get("headers") or (), extra)]
    for key in URL_KEYS:
        if isinstance(out.get(key), str):
            out[key] = redact_url(out[key])
    return out


def register(value: str) -> None:
    """Remember a secret value, and its parts (``Bearer TOKEN``: TOKEN too), for :func:`scrub`."""
    value = value.strip()
    for part in (value, *value.split()):
        if len(part) >= MIN_SCRUB_LEN:
            _SECRETS.add(part)


def register_run(url: str, headers: Iterable[tuple[str, str]], extra: Iterable[str] = (),
                 urls: Iterable[str | None] = ()) -> None:
    """Register the secrets of a run: secret header values and the user-info of its URLs
    (``url``, and ``urls``: e.g. --metrics-url)."""
    names = tuple(extra)
    for k, v in headers:
        if is_secret(k, names):
            register(v)
    for one in (url, *urls):
        m = _USERINFO.match((one or "").strip())
        if m and m.group("info"):
            info = m.group("info")
            register(info)
            _user, _, password = info.partition(":")
            register(password)


def scrub(text: str) -> str:
    """``text`` with every registered secret (longest first) replaced by :data:`MASK`."""
    if not _SECRETS:
        return text
    for secret in sorted(_SECRETS, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def clear() -> None:
    """Forget every registered secret (tests)."""
    _SECRETS.clear()


class _Scrubbed:
    """A text stream that scrubs what is written, delegating everything else."""

    def __init__(self, inner: TextIO) -> None:
        self._inner = inner

    def write(self, text: str) -> int:
        self._inner.write(scrub(text))
        return len(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


@contextlib.contextmanager
def scrubbed_std() -> Iterator[None]:
    """While active, sys.stdout and sys.stderr scrub registered secrets."""
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _Scrubbed(saved[0]), _Scrubbed(saved[1])
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved


__all__ = [
    "MASK",
    "SECRET_HEADERS",
    "URL_KEYS",
    "clear",
    "is_secret",
    "redact_config",
    "redact_headers",
    "redact_url",
    "register",
    "register_run",
    "scrub",
    "scrubbed_std",
]
