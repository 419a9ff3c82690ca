"""Choices and one-value checks shared by the option table's fields (config/table.py)."""

from __future__ import annotations

import math
from typing import Any

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
