"""Choices and one-value checks shared by the option table's fields (config/table.py)."""

from __future__ import annotations

import enum
import math
from typing import Any


class StrChoice(str, enum.Enum):
    """An enum whose members are their text: equal to it, printed and formatted as it, and
    written as it to JSON and CSV (the value, never ``Class.MEMBER``), on every Python the
    package supports (``enum.StrEnum`` is 3.11+)."""

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)

COMPRESSION = ("none", "gzip", "deflate")
TRACE_LEVELS = ("OFF", "TIMESTAMPS", "TENSORS")
SERVICE_KINDS = ("triton", "triton_c_api", "tfserving", "torchserve", "openai", "dynamic_grpc")
KEY_TYPES = ("pem", "der")
TENSOR_FORMATS = ("binary", "json")
GRPC_TRANSPORTS = ("lean", "grpcio")
EVENT_LOOPS = ("auto", "uvloop", "asyncio")


def nonneg(v: Any) -> bool:
    return bool(v >= 0)


def finite_nonneg(v: Any) -> bool:
    return bool(math.isfinite(v) and v >= 0)


def pos(v: Any) -> bool:
    return bool(v > 0)
