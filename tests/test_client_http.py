"""HttpClient against the real Triton (``triton`` fixture): every call, checked against the
server's own counters. Wire-format details Triton cannot show (which headers arrived, TLS
handshakes, malformed answers) are in ``test_client_http_wire.py``.

Server behaviour pinned here (Triton 2.51):

* ``/v2/models/<unknown>/ready`` answers 400 "Model version not ready" → ``is_model_ready`` False;
* inference on an unknown model answers 404 → ServerError(404) naming the model;
* JSON tensors: Triton refuses FP16 and BF16 (400 "... via JSON is not supported");
* CUDA shared memory on this CPU-only server: status is ``[]``, registering fails with 400;
* unloading is asynchronous (index state UNLOADING, then UNAVAILABLE), and a plain load after a
  load with an overriding config keeps the override.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import time
import zlib
from typing import Any

import aiohttp
import numpy as np
import pytest

from perfanalyzer.client.base import (
    ClientOptions,
    InferRequest,
    InputTensor,
    TlsOptions,
    basic_auth,
)
from perfanalyzer.client.http import HttpClient
from perfanalyzer.client.http_codec import HEADER_LENGTH, decode_infer, encode_infer
from perfanalyzer.errors import (
    ConnectError,
    RequestTimeout,
    ServerError,
    TransportError,
)
from tests.support import kserve_server
from tests.support.aio import aio
from tests.support.http_calls import (
    DELAY,
    check_add_sub,
    client,
)
from tests.support.infer_requests import ADD_SUB, A, B
from tests.support.triton_stats import settled_delta, stats

server = pytest.mark.server

# -- health, metadata, repository -------------------------------------------------------------
@server
@aio
async def test_health(triton: Any) -> None:
    async with client(triton) as c:
        assert await c.is_server_live() is True
        assert await c.is_server_ready() is True
        assert await c.is_model_ready("add_sub") is True
        assert await c.is_model_ready("add_sub", "1") is True
        assert await c.is_model_ready("add_sub", "7") is False
        assert await c.is_model_ready("no_such_model") is False  # Triton: 400, not ready
        await c.wait_until_ready(5.0, model="add_sub")
        with pytest.raises(RequestTimeout, match="no_such_model"):
            await c.wait_until_ready(0.2, model="no_such_model", poll_s=0.05)


@server
@aio
async def test_metadata_and_config(triton: Any) -> None:
    async with client(triton) as c:
        meta = await c.server_metadata()
        assert meta["name"] == "triton"
        assert meta["version"] == "2.51.0"
        for ext in ("binary_tensor_data", "system_shared_memory", "statistics", "model_repository"):
            assert ext in meta["extensions"]
        model = await c.model_metadata("add_sub", "1")
        assert model["name"] == "add_sub" and model["versions"] == ["1"]
        assert model["inputs"] == [{"name": "INPUT0", "datatype": "INT32", "shape": [-1, 16]},
                                   {"name": "INPUT1", "datatype": "INT32", "shape": [-1, 16]}]
        config = await c.model_config("add_sub")
        assert config["max_batch_size"] == 8
        assert [(i["name"], i["data_type"], i["dims"]) for i in config["input"]] == [
            ("INPUT0", "TYPE_INT32", [16]), ("INPUT1", "TYPE_INT32", [16])]
        assert "dynamic_batching" in config
        with pytest.raises(ServerError) as err:
            await c.model_metadata("no_such_model")
        assert err.value.status == 404 and "no_such_model" in err.value.message


@server
@aio
async def test_repository_index(triton: Any) -> None:
    async with client(triton) as c:
        index = await c.repository_index()
        by_name = {e["name"]: e for e in index}
        assert set(by_name) >= {"add_sub", "delay", "identity_types", "sequence_acc"}
        assert by_name["add_sub"] == {"name": "add_sub", "version": "1", "state": "READY"}
        ready = await c.repository_index(ready_only=True)
        assert all(e["state"] == "READY" for e in ready)
        assert "add_sub" in {e["name"] for e in ready}


async def _wait_ready(c: HttpClient, model: str, want: bool) -> None:
    deadline = time.monotonic() + 30
    while await c.is_model_ready(model) is not want:
        assert time.monotonic() < deadline, f"{model} ready != {want}"
        await asyncio.sleep(0.05)


async def _wait_unavailable(c: HttpClient, model: str) -> None:
    """Triton unloads asynchronously: the index says UNLOADING, then UNAVAILABLE."""
    deadline = time.monotonic() + 30
    while True:
        states = {e["name"]: e.get("state") for e in await c.repository_index()}
        if states[model] == "UNAVAILABLE":
            return
        assert states[model] == "UNLOADING" and time.monotonic() < deadline, states[model]
        await asyncio.sleep(0.05)


@server
@aio
async def test_unload_and_load(triton: Any) -> None:
    model = "identity_fp32"
    async with client(triton) as c:
        try:
            await c.unload_model(model)
            await _wait_ready(c, model, False)
            assert model not in {e["name"] for e in await c.repository_index(ready_only=True)}
            await _wait_unavailable(c, model)
            await c.load_model(model)
            await _wait_ready(c, model, True)
        finally:
            await c.load_model(model)
        x = np.array([[0.5, -1.0]], np.float32)
        result = await c.infer(InferRequest(model=model, inputs=(
            InputTensor.from_numpy("INPUT0", x),)))
        np.testing.assert_array_equal(result.outputs["OUTPUT0"], x)
        with pytest.raises(ServerError) as err:
            await c.load_model("no_such_model")
        assert "no_such_model" in err.value.message


@server
@aio
async def test_load_with_config_override(triton: Any) -> None:
    model = "identity_fp32"
    async with client(triton) as c:
        config = await c.model_config(model)
        assert config["max_batch_size"] == 8
        override = {k: config[k] for k in ("backend", "input", "output")}
        override["max_batch_size"] = 4
        try:
            await c.load_model(model, config=json.dumps(override))
            assert (await c.model_config(model))["max_batch_size"] == 4
        finally:  # a plain load keeps the override: unload first to get the repository's config
            await c.unload_model(model)
            await _wait_unavailable(c, model)
            await c.load_model(model)
        assert (await c.model_config(model))["max_batch_size"] == 8


# -- statistics --------------------------------------------------------------------------------
@server
@aio
async def test_statistics_exact_counts(triton: Any) -> None:
    k = 7
    async with client(triton) as c:
        before = await stats(c, "add_sub")
        for _ in range(k):
            check_add_sub((await c.infer(ADD_SUB)).outputs)
        delta = await settled_delta(c, "add_sub", before, k)
        assert (delta.inference_count, delta.execution_count) == (k, k)
        assert delta.get("success").count == k
        assert delta.get("fail").count == 0
        assert delta.get("compute_infer").count == k and delta.get("compute_infer").ns > 0
        everything = {(s.name, s.version) for s in await c.model_statistics()}
        assert {("add_sub", "1"), ("delay", "1")} <= everything
        with pytest.raises(ServerError) as err:
            await c.model_statistics("no_such_model")
        assert "no_such_model" in err.value.message


@server
@aio
async def test_prepared_request_sent_concurrently(triton: Any) -> None:
    async with client(triton) as c:
        prepared = c.prepare(ADD_SUB)
        before = await stats(c, "add_sub")
        times = await asyncio.gather(*(c.send(prepared) for _ in range(200)))
        assert all(send_ns > 0 and recv_ns > 0 for send_ns, recv_ns in times)  # measured
        delta = await settled_delta(c, "add_sub", before, 200)
        assert delta.inference_count == 200 and delta.get("success").count == 200
        assert 1 <= delta.execution_count <= 200
        check_add_sub((await c.infer(prepared)).outputs)


@server
@aio
async def test_connection_limit(triton: Any) -> None:
    async with client(triton, connections=2) as c:
        prepared = c.prepare(ADD_SUB)
        before = await stats(c, "add_sub")
        await asyncio.gather(*(c.send(prepared) for _ in range(20)))
        assert (await settled_delta(c, "add_sub", before, 20)).get("success").count == 20


# -- options: headers, auth, compression, timeouts, cancellation -------------------------------
@server
@aio
async def test_headers_and_auth_hook(triton: Any) -> None:
    seen: list[dict[str, str]] = []

    def hook(headers: dict[str, str]) -> None:
        seen.append(dict(headers))
        headers["Authorization"] = "Bearer t0k3n"

    headers = {"X-Perf-Test": "1"}
    async with client(triton, headers=headers, auth=hook) as c:
        prepared = c.prepare(ADD_SUB)
        assert seen == []  # the hook runs per request, not at prepare time
        for _ in range(3):
            await c.send(prepared)
        check_add_sub((await c.infer(ADD_SUB)).outputs)
        assert await c.is_server_live()
    assert len(seen) == 5
    assert all(h["X-Perf-Test"] == "1" and "Authorization" not in h for h in seen)
    assert HEADER_LENGTH in seen[0] and HEADER_LENGTH not in seen[-1]
    assert headers == {"X-Perf-Test": "1"} and "Authorization" not in prepared.headers
    async with client(triton, auth=basic_auth("user", "pw")) as c:
        check_add_sub((await c.infer(ADD_SUB)).outputs)


@server
@pytest.mark.parametrize("algorithm", ["gzip", "deflate"])
@aio
async def test_request_and_response_compression(triton: Any, algorithm: str) -> None:
    plain = encode_infer(ADD_SUB, binary=True)
    async with client(triton, compression=algorithm, response_compression=algorithm) as c:
        prepared = c.prepare(ADD_SUB)
        assert prepared.headers["Content-Encoding"] == algorithm
        assert prepared.headers["Accept-Encoding"] == algorithm
        unpack = gzip.decompress if algorithm == "gzip" else zlib.decompress
        assert unpack(prepared.body) == plain.body
        before = await stats(c, "add_sub")
        check_add_sub((await c.infer(prepared)).outputs)
        check_add_sub((await c.infer(ADD_SUB)).outputs)
        await c.send(prepared)
        assert (await settled_delta(c, "add_sub", before, 3)).get("success").count == 3
        # the server really compressed its answer: read it raw with the same request
        async with aiohttp.ClientSession(auto_decompress=False) as raw, raw.post(
                prepared.url, data=prepared.body, headers=prepared.headers) as resp:
            body = await resp.read()
            assert resp.headers["Content-Encoding"] == algorithm
            check_add_sub(decode_infer(unpack(body), resp.headers[HEADER_LENGTH]).outputs)


@server
@aio
async def test_request_timeout(triton: Any) -> None:
    async with client(triton, request_timeout_s=0.01) as c:
        t0 = time.perf_counter()
        with pytest.raises(RequestTimeout) as err:
            await c.infer(DELAY)
        assert time.perf_counter() - t0 < 0.045  # the server takes 50 ms
        assert isinstance(err.value.__cause__, TimeoutError)
        with pytest.raises(RequestTimeout):
            await c.send(c.prepare(DELAY))
    async with client(triton, request_timeout_s=5.0) as c:
        result = await c.infer(DELAY)
        assert result.outputs["OUTPUT0"].tolist() == [1.5, 2.5, 3.5, 4.5]


@server
@aio
async def test_cancellation(triton: Any) -> None:
    async with client(triton) as c:
        prepared = c.prepare(DELAY)
        for call in (c.infer, c.send):
            task = asyncio.create_task(call(prepared))
            await asyncio.sleep(0.01)
            t0 = time.perf_counter()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task  # CancelledError propagates unchanged
            assert time.perf_counter() - t0 < 0.03
        # the client is still usable after a cancelled request
        result = await c.infer(prepared)
        assert result.outputs["OUTPUT0"].tolist() == [1.5, 2.5, 3.5, 4.5]


# -- error paths -------------------------------------------------------------------------------
@server
@aio
async def test_server_errors(triton: Any) -> None:
    async with client(triton) as c:
        with pytest.raises(ServerError) as err:
            await c.infer(InferRequest(model="no_such_model", inputs=ADD_SUB.inputs))
        assert err.value.status == 404 and "no_such_model" in err.value.message
        half = (InputTensor.from_numpy("INPUT0", A[:, :8]), InputTensor.from_numpy("INPUT1", B))
        with pytest.raises(ServerError) as err:
            await c.send(c.prepare(InferRequest(model="add_sub", inputs=half)))
        assert err.value.status == 400
        assert "unexpected shape for input 'INPUT0'" in err.value.message
        assert "[-1,16], got [1,8]" in err.value.message
        wrong = (InputTensor.from_numpy("INPUT0", A.astype(np.float32)), ADD_SUB.inputs[1])
        with pytest.raises(ServerError) as err:
            await c.infer(InferRequest(model="add_sub", inputs=wrong))
        assert err.value.status == 400
        assert "'INPUT0' data-type is 'FP32', but model 'add_sub' expects 'INT32'" in str(err.value)
        check_add_sub((await c.infer(ADD_SUB)).outputs)  # keep-alive connection still fine


@server
@aio
async def test_stopped_server_gives_connect_error() -> None:
    # A server of its own to stop: the KServe v2 stand-in starts in a second where a private
    # Triton takes ten; what is checked is the client's side of a server that went away.
    from perfanalyzer.server.launcher import free_port

    with contextlib.ExitStack() as running:
        url = running.enter_context(kserve_server.serving(free_port()))
        async with HttpClient(ClientOptions(url=url)) as c:
            assert await c.is_server_live()
            prepared = c.prepare(ADD_SUB)
            running.close()  # the server stops
            with pytest.raises(ConnectError) as err:
                await c.send(prepared)
            assert url in str(err.value)
            with pytest.raises(ConnectError):
                await c.is_server_live()
            with pytest.raises(RequestTimeout, match="not ready"):
                await c.wait_until_ready(0.2, poll_s=0.05)


@server
@aio
async def test_tls_against_plain_server_is_a_transport_error(triton: Any) -> None:
    async with client(triton, tls=TlsOptions(enabled=True, verify_peer=False)) as c:
        assert c.url.scheme == "https"
        with pytest.raises(TransportError):
            await c.infer(ADD_SUB)
