"""Compressed responses: the lean gRPC channel advertises gzip and deflate as grpcio does, so a
Triton set to compress its gRPC responses compresses ours too, and decodes them; over HTTP,
--http-response-compression asks for compressed responses (Accept-Encoding)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from perfanalyzer._proto import grpc_service_pb2 as pb
from perfanalyzer.cli.main import cli, profile_config
from perfanalyzer.client.base import InferRequest, InputTensor
from perfanalyzer.client.h2 import LeanChannel
from perfanalyzer.profile.settings import client_options
from tests.support.grpc_calls import INFER, payload
from tests.support.paths import TEST_MODELS

DATA = Path(__file__).parent / "data" / "inputs"
ZEROS = np.zeros(16384, dtype=np.float32)  # 64 KiB of output that compresses to almost nothing


@pytest.fixture(scope="module")
def compressing() -> Iterator[Any]:
    """A private Triton that compresses its gRPC inference responses."""
    from perfanalyzer.server.launcher import TritonLauncher

    server = TritonLauncher(model_repository=TEST_MODELS, explicit_models=["identity_fp32"],
                            extra_args=["--grpc-infer-response-compression-level=high"],
                            die_with_parent=True).start(timeout_s=180)
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.server
def test_lean_grpc_gets_and_decodes_compressed_responses(compressing: Any) -> None:
    request = InferRequest(model="identity_fp32",
                           inputs=(InputTensor.from_numpy("INPUT0", ZEROS.reshape(1, -1)),))

    async def call() -> tuple[bytes, int]:
        channel = LeanChannel(compressing.grpc_url, INFER)
        try:
            body = await channel.unary(payload(request), want_body=True)
            conn = channel._conns[0]
            assert body is not None and conn is not None
            return body, conn._recv_unacked  # the DATA octets received on the connection
        finally:
            await channel.close()

    body, received = asyncio.run(call())
    response = pb.ModelInferResponse.FromString(body)
    assert np.frombuffer(response.raw_output_contents[0], np.float32).tolist() == ZEROS.tolist()
    assert received < ZEROS.nbytes // 10  # the server compressed it for us


def _cfg(*args: str) -> Any:
    return profile_config(cli.commands["profile"].make_context("profile", list(args)).params)


def test_http_response_compression_is_asked_for() -> None:
    assert client_options(_cfg("-m", "m", "--http-response-compression", "gzip")
                          ).response_compression == "gzip"
    assert client_options(_cfg("-m", "m")).response_compression == "none"


@pytest.mark.server
def test_http_profile_with_compressed_responses_validates_them(triton: Any) -> None:
    """The answers come back gzip-compressed and are decoded where read: validation_data holds."""
    res = subprocess.run([sys.executable, "-m", "perfanalyzer", "profile", "-m", "add_sub", "-u",
                          triton.http_url, "-b", "2", "--input-data",
                          str(DATA / "add_sub_steps.json"), "--request-count", "10",
                          "--http-response-compression", "gzip"],
                         capture_output=True, text=True, timeout=180, check=False)
    assert res.returncode == 0, res.stderr
