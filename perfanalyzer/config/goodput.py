"""``--goodput "KEY:MS ..."``: the limits a request must meet to count as good.

Keys: ``latency`` (send to last response), ``ttfr`` (send to first response) and ``itl`` (the
request's own average gap between responses). A request counts when it meets every limit given.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from ..errors import OptionError

KEYS = ("latency", "ttfr", "itl")


@dataclass(frozen=True, slots=True, kw_only=True)
class GoodputLimits:
    """Upper limits in ns; None: that figure is not limited."""

    latency_ns: int | None = None
    ttfr_ns: int | None = None
    itl_ns: int | None = None

    def text(self) -> str:
        """The limits as the flag writes them (``latency:100 ttfr:30``)."""
        return " ".join(f"{k}:{v / 1e6:g}" for k, v in
                        (("latency", self.latency_ns), ("ttfr", self.ttfr_ns),
                         ("itl", self.itl_ns)) if v is not None)


def parse_goodput(raw: str | None, flag: str = "--goodput") -> GoodputLimits | None:
    """``"latency:100 ttfr:30"`` (spaces or commas between pairs) → limits; None for none."""
    if raw is None:
        return None
    pairs = [p for p in re.split(r"[\s,]+", str(raw).strip()) if p]
    if not pairs:
        raise OptionError(f"{flag}: expected KEY:MS pairs (keys {', '.join(KEYS)}), got {raw!r}")
    limits: dict[str, int] = {}
    for pair in pairs:
        key, sep, ms = pair.partition(":")
        key = key.strip().lower()
        if not sep or key not in KEYS:
            raise OptionError(f"{flag}: {pair!r} is not KEY:MS with KEY one of {', '.join(KEYS)}")
        if key in limits:
            raise OptionError(f"{flag}: {key} is given twice")
        try:
            value = float(ms)
        except ValueError:
            raise OptionError(f"{flag}: {pair!r}: {ms!r} is not a number of ms") from None
        if not math.isfinite(value) or value <= 0:
            raise OptionError(f"{flag}: {pair!r}: the limit must be a positive number of ms")
        limits[key] = round(value * 1_000_000)
    return GoodputLimits(latency_ns=limits.get("latency"), ttfr_ns=limits.get("ttfr"),
                         itl_ns=limits.get("itl"))


__all__ = ["KEYS", "GoodputLimits", "parse_goodput"]
