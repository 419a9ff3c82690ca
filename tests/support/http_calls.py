"""Helpers for the HTTP client tests: a client for the test server, one value per KServe datatype
and the checks of add_sub's answer."""

from __future__ import annotations

from typing import Any

import numpy as np

from perfanalyzer.client import tensors
from perfanalyzer.client.base import ClientOptions, InferRequest, InputTensor
from perfanalyzer.client.http import HttpClient
from tests.support.infer_requests import A, B

#: The ``delay`` model's request of the HTTP tests: distinct values, so a JSON round trip shows.
DELAY = InferRequest(model="delay", inputs=(
    InputTensor.from_numpy("INPUT0", np.array([1.5, 2.5, 3.5, 4.5], np.float32)),))

#: One example per KServe datatype (BF16 as float32 values exactly representable in BF16).
VALUES: dict[str, np.ndarray] = {
    "BOOL": np.array([True, False, True]),
    "UINT8": np.array([0, 255, 7], np.uint8),
    "UINT16": np.array([0, 65535, 9], np.uint16),
    "UINT32": np.array([0, 2**32 - 1, 5], np.uint32),
    "UINT64": np.array([0, 2**64 - 1, 5], np.uint64),
    "INT8": np.array([-128, 127, 0], np.int8),
    "INT16": np.array([-32768, 32767, 1], np.int16),
    "INT32": np.array([-(2**31), 2**31 - 1, 2], np.int32),
    "INT64": np.array([-(2**63), 2**63 - 1, 3], np.int64),
    "FP16": np.array([1.5, -2.25, 65504], np.float16),
    "FP32": np.array([1.5, -2.25, 3e38], np.float32),
    "FP64": np.array([1.5, -2.25, 1e300]),
    "BF16": np.array([1.5, -2.25, 256.0], np.float32),
    "BYTES": np.array([b"a", b"", "h\u00e9llo".encode()], dtype=object),
}
EXPECTED_DTYPE = {**{dt: tensors.NUMPY_DTYPES[dt] for dt in VALUES}, "BF16": np.dtype("<f4")}


def client(srv: Any, **options: Any) -> HttpClient:
    """An HttpClient for a server fixture's HTTP endpoint."""
    return HttpClient(ClientOptions(url=srv.http_url, **options))


def types_request(dts: list[str]) -> InferRequest:
    """A request to identity_types with the VALUES of the datatypes ``dts``."""
    return InferRequest(model="identity_types", inputs=tuple(
        InputTensor.from_numpy(f"INPUT_{dt}", VALUES[dt], dt) for dt in dts))


def check_add_sub(outputs: dict[str, np.ndarray]) -> None:
    """add_sub's answer to ADD_SUB is A + B and A - B, as INT32."""
    np.testing.assert_array_equal(outputs["OUTPUT0"], A + B)
    np.testing.assert_array_equal(outputs["OUTPUT1"], A - B)
    assert outputs["OUTPUT0"].dtype == np.int32
