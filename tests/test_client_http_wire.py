"""HttpClient without Triton: wire format against a local aiohttp echo server (headers, compression,
URL prefix, response decoding), TLS with a self-signed certificate (mutual TLS), transport failures
(refused, connect timeout, non-HTTP answers, error statuses) and the pure request encoding."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import numpy as np
import pytest
from aiohttp import web

from perfanalyzer.client import tensors
from perfanalyzer.client.base import (
    ClientOptions,
    InferRequest,
    InputTensor,
    RequestedOutput,
    ShmRef,
    TlsOptions,
    basic_auth,
)
from perfanalyzer.client.http import HttpClient, base_url
from perfanalyzer.client.http_codec import HEADER_LENGTH, encode_infer
from perfanalyzer.errors import (
    ConnectError,
    OptionError,
    ProtocolError,
    RequestTimeout,
    ServerError,
    TransportError,
)
from tests.support.aio import aio
from tests.support.infer_requests import ADD_SUB, A, B


@aio
async def test_refused_connection_gives_connect_error() -> None:
    from perfanalyzer.server.launcher import free_port

    async with HttpClient(ClientOptions(url=f"127.0.0.1:{free_port()}")) as c:
        with pytest.raises(ConnectError) as err:
            await c.infer(ADD_SUB)
        assert isinstance(err.value.__cause__, OSError)


@aio
async def test_connect_timeout() -> None:
    # A listening socket whose accept backlog is full drops further SYNs: connect() hangs.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        fillers = [socket.socket() for _ in range(3)]
        try:
            for f in fillers:
                f.setblocking(False)
                with contextlib.suppress(BlockingIOError):
                    f.connect(("127.0.0.1", port))
            await asyncio.sleep(0.05)
            options = ClientOptions(url=f"127.0.0.1:{port}", connect_timeout_s=0.2)
            async with HttpClient(options) as c:
                t0 = time.perf_counter()
                with pytest.raises(RequestTimeout, match="connection timed out"):
                    await c.is_server_live()
                assert 0.15 < time.perf_counter() - t0 < 1.0
        finally:
            for f in fillers:
                f.close()


@aio
async def test_non_http_answer_is_a_protocol_error() -> None:
    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(10)
        writer.write(b"garbage\r\n\r\n")
        await writer.drain()
        writer.close()

    srv = await asyncio.start_server(garbage, "127.0.0.1", 0)
    try:
        port = srv.sockets[0].getsockname()[1]
        async with HttpClient(ClientOptions(url=f"127.0.0.1:{port}")) as c:
            with pytest.raises(ProtocolError, match="Bad status line"):
                await c.infer(ADD_SUB)
    finally:
        srv.close()
        await srv.wait_closed()


# -- TLS ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1 (also used as CA and as client certificate)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    d = tmp_path_factory.mktemp("tls")
    crt, key = d / "cert.pem", d / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj",
                    "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                    "-keyout", str(key), "-out", str(crt)], check=True, capture_output=True)
    return str(crt), str(key)


def test_tls_options_build_https_url_and_context(cert: tuple[str, str]) -> None:
    crt, key = cert
    plain = HttpClient(ClientOptions(url="127.0.0.1:8000"))
    assert str(plain.url) == "http://127.0.0.1:8000" and plain.ssl_context is None
    strict = HttpClient(ClientOptions(url="127.0.0.1:8443", tls=TlsOptions(
        enabled=True, ca_file=crt, cert_file=crt, key_file=key)))
    assert str(strict.url) == "https://127.0.0.1:8443"
    assert strict.ssl_context is not None
    assert strict.ssl_context.verify_mode == ssl.CERT_REQUIRED
    assert strict.ssl_context.check_hostname is True
    no_host = HttpClient(ClientOptions(url="https://h:1", tls=TlsOptions(verify_host=False)))
    assert str(no_host.url) == "https://h:1" and no_host.ssl_context is not None
    assert no_host.ssl_context.check_hostname is False
    assert no_host.ssl_context.verify_mode == ssl.CERT_REQUIRED
    no_peer = HttpClient(ClientOptions(url="h:1", tls=TlsOptions(enabled=True, verify_peer=False)))
    assert no_peer.ssl_context is not None and no_peer.ssl_context.verify_mode == ssl.CERT_NONE
    with pytest.raises(OptionError, match="TLS"):
        HttpClient(ClientOptions(url="h:1", tls=TlsOptions(enabled=True, ca_file="/nonexistent")))
    with pytest.raises(OptionError, match="TLS"):
        HttpClient(ClientOptions(url="h:1", tls=TlsOptions(enabled=True, cert_file=key)))


def _server_tls(crt: str, key: str) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(crt, key)
    ctx.load_verify_locations(crt)
    ctx.verify_mode = ssl.CERT_REQUIRED  # mutual TLS: the client must present our certificate
    return ctx


@aio
async def test_tls_round_trip_with_client_certificate(cert: tuple[str, str]) -> None:
    crt, key = cert
    async with echo_server(ssl_context=_server_tls(crt, key)) as (url, seen):
        for tls in (TlsOptions(enabled=True, ca_file=crt, cert_file=crt, key_file=key),
                    TlsOptions(enabled=True, verify_peer=False, cert_file=crt, key_file=key)):
            async with HttpClient(ClientOptions(url=url, tls=tls)) as c:
                assert await c.is_server_live()
        assert len(seen) == 2
        failing = (TlsOptions(enabled=True, cert_file=crt, key_file=key),  # unknown CA
                   TlsOptions(enabled=True, ca_file=crt))  # no client certificate
        for tls in failing:
            async with HttpClient(ClientOptions(url=url, tls=tls)) as c:
                with pytest.raises(TransportError):
                    await c.is_server_live()
        assert len(seen) == 2
        async with HttpClient(ClientOptions(url=url)) as c:  # plain HTTP to a TLS port
            with pytest.raises(TransportError):
                await c.is_server_live()


# -- wire format against a local echo server ---------------------------------------------------
ECHO_HEADER = json.dumps({
    "model_name": "echo", "model_version": "3", "id": "e1", "parameters": {"sequence_id": 5},
    "outputs": [
        {"name": "BF", "datatype": "BF16", "shape": [2], "parameters": {"binary_data_size": 4}},
        {"name": "J", "datatype": "INT64", "shape": [1, 2], "data": [1, -2]},
        {"name": "S", "datatype": "BYTES", "shape": [2], "parameters": {"binary_data_size": 11}},
        {"name": "M", "datatype": "FP32", "shape": [4]},
    ]}).encode()
ECHO_BODY = (ECHO_HEADER + tensors.to_raw(np.array([1.5, -3.0], np.float32), "BF16")
             + tensors.serialize_bytes([b"abc", b""]))


@asynccontextmanager
async def echo_server(ssl_context: ssl.SSLContext | None = None, status: int = 200,
                      body: bytes = ECHO_BODY, headers: dict[str, str] | None = None,
                      ) -> AsyncIterator[tuple[str, list[tuple[str, Any, bytes]]]]:
    """A local aiohttp server recording (path, headers, decompressed body) of every request and
    answering ``status`` / ``body`` (by default a binary inference response)."""
    seen: list[tuple[str, Any, bytes]] = []
    answer_headers = {HEADER_LENGTH: str(len(ECHO_HEADER))} if headers is None else headers

    async def handler(request: web.Request) -> web.Response:
        seen.append((request.raw_path, request.headers.copy(), await request.read()))
        return web.Response(status=status, body=body, headers=answer_headers)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
    await site.start()
    try:
        yield f"127.0.0.1:{runner.addresses[0][1]}", seen
    finally:
        await runner.cleanup()


@aio
async def test_wire_headers_and_body() -> None:
    request = InferRequest(model="m/x", version="2", inputs=ADD_SUB.inputs, request_id="r9")
    plain = encode_infer(request, binary=True)
    async with echo_server() as (url, seen):
        async with HttpClient(ClientOptions(url=url, compression="gzip", headers={"X-Perf": "1"},
                                            auth=basic_auth("u", "p"))) as c:
            result = await c.infer(request)
        async with HttpClient(ClientOptions(url="http://" + url + "/pfx/", binary_tensors=False,
                                            response_compression="deflate")) as c:
            await c.send(c.prepare(request))
    (path, headers, body), (path2, headers2, body2) = seen
    assert path == "/v2/models/m%2Fx/versions/2/infer"
    assert headers["X-Perf"] == "1" and headers["Authorization"] == "Basic dTpw"
    assert headers["Content-Encoding"] == "gzip" and body == plain.body  # server decompressed
    assert headers[HEADER_LENGTH] == str(plain.header_length)
    assert "Accept-Encoding" not in headers and "User-Agent" not in headers
    assert path2 == "/pfx/v2/models/m%2Fx/versions/2/infer"
    assert headers2["Accept-Encoding"] == "deflate" and HEADER_LENGTH not in headers2
    assert headers2["Content-Type"] == "application/json"
    assert json.loads(body2)["inputs"][0]["data"] == A.reshape(-1).tolist()
    assert (result.model_name, result.model_version, result.id) == ("echo", "3", "e1")
    assert result.parameters == {"sequence_id": 5}
    assert result.outputs["BF"].dtype == np.float32 and result.outputs["BF"].tolist() == [1.5, -3]
    assert result.outputs["J"].tolist() == [[1, -2]] and result.outputs["J"].dtype == np.int64
    assert result.outputs["S"].tolist() == [b"abc", b""]
    assert result.shm_outputs == {"M": ("FP32", (4,))}


@pytest.mark.parametrize(("status", "body", "message"), [
    (500, b"boom", "boom"),
    (503, b'{"error": "busy"}', "busy"),
    (400, b"", "HTTP 400"),
])
@aio
async def test_error_status_maps_to_server_error(status: int, body: bytes, message: str) -> None:
    async with echo_server(status=status, body=body, headers={}) as (url, _), \
            HttpClient(ClientOptions(url=url)) as c:
        calls = (lambda: c.infer(ADD_SUB), c.server_metadata, lambda: c.unload_model("x"))
        for call in calls:
            with pytest.raises(ServerError) as err:
                await call()
            assert (err.value.status, err.value.message) == (status, message)
        assert await c.is_server_live() is False


@aio
async def test_undecodable_answers_are_protocol_errors() -> None:
    async with echo_server(body=b"<html>not json</html>", headers={}) as (url, _), \
            HttpClient(ClientOptions(url=url)) as c:
        await c.send(c.prepare(ADD_SUB))  # send does not decode
        with pytest.raises(ProtocolError):
            await c.infer(ADD_SUB)
        with pytest.raises(ProtocolError):
            await c.server_metadata()
    truncated = ECHO_BODY[:-3]
    async with echo_server(body=truncated) as (url, _), HttpClient(ClientOptions(url=url)) as c:
        with pytest.raises(ProtocolError, match="cut off"):
            await c.infer(ADD_SUB)


# -- pure parts: URL, options, request encoding ------------------------------------------------
@pytest.mark.parametrize(("url", "expected"), [
    ("localhost:8000", ("http", "localhost", 8000, "/")),
    ("http://10.0.0.1:80", ("http", "10.0.0.1", 80, "/")),
    ("HTTPS://h:443/", ("https", "h", 443, "/")),
    ("h:1/prefix/", ("http", "h", 1, "/prefix")),
    ("[::1]:8000", ("http", "::1", 8000, "/")),
])
def test_base_url(url: str, expected: tuple[str, str, int, str]) -> None:
    parsed = base_url(ClientOptions(url=url))
    assert (parsed.scheme, parsed.host, parsed.port, parsed.path) == expected
    tls = base_url(ClientOptions(url=url, tls=TlsOptions(enabled=True)))
    assert (tls.scheme, tls.host, tls.port, tls.path) == ("https", *expected[1:])


@pytest.mark.parametrize("url", ["", "http://", "h:notaport", "h:99999", "grpc://h:1", "h:1?x=1"])
def test_bad_url_is_an_option_error(url: str) -> None:
    with pytest.raises(OptionError, match="url"):
        HttpClient(ClientOptions(url=url))


def test_bad_compression_is_an_option_error() -> None:
    with pytest.raises(OptionError, match="compression"):
        HttpClient(ClientOptions(url="h:1", compression="brotli"))
    with pytest.raises(OptionError, match="response_compression"):
        HttpClient(ClientOptions(url="h:1", response_compression="zstd"))


def test_encode_binary_layout() -> None:
    request = InferRequest(
        model="add_sub", inputs=ADD_SUB.inputs, request_id="r1", sequence_id=7,
        sequence_start=True, priority=2, timeout_us=500, parameters={"custom": "v"},
        outputs=(RequestedOutput("OUTPUT0", class_count=2), RequestedOutput("OUTPUT1", binary=False),
                 RequestedOutput("X", shm=ShmRef("out", 64, 128)),
                 RequestedOutput("Y", shm=ShmRef("out", 8))))
    prepared = encode_infer(request, binary=True)
    n = prepared.header_length
    assert prepared.headers == {HEADER_LENGTH: str(n), "Content-Type": "application/octet-stream"}
    assert prepared.body[n:] == A.tobytes() + B.tobytes()
    assert prepared.path == "/v2/models/add_sub/infer" and prepared.url is None
    assert json.loads(prepared.body[:n]) == {
        "id": "r1",
        "parameters": {"custom": "v", "sequence_id": 7, "sequence_start": True,
                       "sequence_end": False, "priority": 2, "timeout": 500},
        "inputs": [{"name": "INPUT0", "shape": [1, 16], "datatype": "INT32",
                    "parameters": {"binary_data_size": 64}},
                   {"name": "INPUT1", "shape": [1, 16], "datatype": "INT32",
                    "parameters": {"binary_data_size": 64}}],
        "outputs": [
            {"name": "OUTPUT0", "parameters": {"binary_data": True, "classification": 2}},
            {"name": "OUTPUT1", "parameters": {"binary_data": False}},
            {"name": "X", "parameters": {"shared_memory_region": "out",
                                         "shared_memory_byte_size": 64,
                                         "shared_memory_offset": 128}},
            {"name": "Y", "parameters": {"shared_memory_region": "out",
                                         "shared_memory_byte_size": 8}}],
    }


def test_encode_json_and_shm_inputs() -> None:
    request = InferRequest(model="m", inputs=(
        InputTensor.from_numpy("S", np.array([b"x", "\u00e9".encode()], dtype=object)),
        InputTensor("Z", "FP32", (2,), shm=ShmRef("in", 8, 16))))
    prepared = encode_infer(request, binary=False, url=lambda p: "http://h:1" + p)
    assert prepared.headers == {"Content-Type": "application/json"}
    assert prepared.header_length == 0 and prepared.url == "http://h:1/v2/models/m/infer"
    assert json.loads(prepared.body) == {"inputs": [
        {"name": "S", "shape": [2], "datatype": "BYTES", "data": ["x", "\u00e9"]},
        {"name": "Z", "shape": [2], "datatype": "FP32",
         "parameters": {"shared_memory_region": "in", "shared_memory_byte_size": 8,
                        "shared_memory_offset": 16}}]}
    binary = encode_infer(request, binary=True)  # no outputs named: ask for all, binary
    header = json.loads(binary.body[:binary.header_length])
    assert header["parameters"] == {"binary_data_output": True}
    with pytest.raises(OptionError, match="'E'"):
        encode_infer(InferRequest(model="m", inputs=(InputTensor("E", "FP32", (1,)),)),
                     binary=True)


def test_streaming_needs_grpc() -> None:
    with pytest.raises(OptionError, match="gRPC"):
        HttpClient(ClientOptions(url="h:1")).stream()
