"""Tensor values as perf_analyzer's profile export writes them (``request_inputs`` /
``response_outputs``): BYTES elements become strings, a one-element numeric tensor a scalar, any
other numeric tensor a flat list (N-dimensional tensors are flattened, as perf_analyzer does)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np


def tensor_json(value: Any) -> Any:
    arr = np.asarray(value)
    if arr.dtype.kind in "OSU":
        items = [x.decode("utf-8", "replace") if isinstance(x, (bytes, bytearray)) else str(x)
                 for x in arr.reshape(-1).tolist()]
        return items[0] if len(items) == 1 else items
    flat = arr.reshape(-1).tolist()
    return flat[0] if len(flat) == 1 else flat


def tensors_json(tensors: Mapping[str, Any]) -> dict[str, Any]:
    return {name: tensor_json(v) for name, v in tensors.items()}


__all__ = ["tensor_json", "tensors_json"]
