"""The lean HTTP/1.1 pool (perfanalyzer.client.http1) and HttpClient's hot path over it.

Against the real Triton: status errors with the server's message, keep-alive reuse, concurrent sends
with exact statistics deltas, the connection limit, timeouts, cancellation, a 1 MiB tensor.
Against small local servers (behaviour Triton cannot be made to show): ``Connection: close``,
a server closing idle connections, a server closing before answering (ConnectError, no retry),
chunked and read-until-close bodies, malformed answers, TLS.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import ssl
import subprocess
import time
from contextlib import suppress
from typing import Any

import numpy as np
import pytest

from perfanalyzer.client.base import ClientOptions, InferRequest, InputTensor, ModelStatistics
from perfanalyzer.client.http import HttpClient, PreparedHttp1Request
from perfanalyzer.client.http1 import Http1Pool, header_value, wire_request
from perfanalyzer.errors import ConnectError, ProtocolError, RequestTimeout, ServerError
from tests.support.aio import aio
from tests.support.http1_servers import OK, REQUEST, answering, local_server, read_request
from tests.support.http_calls import DELAY, client
from tests.support.infer_requests import ADD_SUB, A, B
from tests.support.triton_stats import stats

server = pytest.mark.server


async def served(c: HttpClient, model: str, before: ModelStatistics, expected: int) -> int:
    """Requests the server counted since ``before``. Triton updates its statistics just after it
    sends the answer, so a count read right after the last answer can lag by the requests still
    finishing: wait (up to 2 s) for ``expected``, then return the real count (which can be more)."""
    deadline = time.monotonic() + 2.0
    while True:
        count = (await stats(c, model) - before).get("success").count
        if count >= expected or time.monotonic() > deadline:
            return count
        await asyncio.sleep(0.01)


def pool_of(c: HttpClient) -> Http1Pool:
    assert c._pool is not None
    return c._pool


# -- against Triton ---------------------------------------------------------------------------
@server
@aio
async def test_send_and_keep_alive_reuse(triton: Any) -> None:
    async with client(triton) as c:
        prepared = c.prepare(ADD_SUB)
        assert isinstance(prepared, PreparedHttp1Request)
        assert prepared.wire.startswith(b"POST /v2/models/add_sub/infer HTTP/1.1\r\nHost: ")
        assert prepared.wire.endswith(b"\r\n\r\n" + prepared.body)
        before = await stats(c, "add_sub")
        for _ in range(25):
            await c.send(prepared)
        assert pool_of(c).connections == 1  # one connection, reused 25 times
        (conn,) = pool_of(c)._idle
        port = conn.transport.get_extra_info("sockname")[1]  # type: ignore[union-attr]
        result = await c.infer(prepared)
        assert pool_of(c)._idle[0].transport.get_extra_info("sockname")[1] == port  # type: ignore[union-attr]
        assert result.outputs["OUTPUT0"].tolist() == (A + B).tolist()
        assert result.outputs["OUTPUT1"].tolist() == (A - B).tolist()
        assert await served(c, "add_sub", before, 26) == 26
        assert (await stats(c, "add_sub") - before).get("fail").count == 0


@server
@aio
async def test_status_errors_carry_the_servers_message(triton: Any) -> None:
    async with client(triton) as c:
        with pytest.raises(ServerError) as err:
            await c.send(c.prepare(InferRequest(model="no_such_model", inputs=ADD_SUB.inputs)))
        assert err.value.status == 404
        assert err.value.message == "Request for unknown model: 'no_such_model' is not found"
        half = (InputTensor.from_numpy("INPUT0", A[:, :8]), ADD_SUB.inputs[1])
        with pytest.raises(ServerError) as err:
            await c.send(c.prepare(InferRequest(model="add_sub", inputs=half)))
        assert err.value.status == 400 and "unexpected shape for input 'INPUT0'" in err.value.message
        await c.send(c.prepare(ADD_SUB))  # an error answer leaves the connection usable
        assert pool_of(c).connections == 1


@server
@aio
async def test_concurrent_sends_exact_statistics(triton: Any) -> None:
    n, conc = 240, 12
    async with client(triton) as c:
        prepared = c.prepare(ADD_SUB)
        before = await stats(c, "add_sub")

        async def worker() -> None:
            for _ in range(n // conc):
                await c.send(prepared)

        await asyncio.gather(*(worker() for _ in range(conc)))
        assert await served(c, "add_sub", before, n) == n
        assert (await stats(c, "add_sub") - before).inference_count == n
        assert 1 <= pool_of(c).connections <= conc  # one per request in flight, at most


@server
@aio
async def test_connection_limit(triton: Any) -> None:
    async with client(triton, connections=2) as c:
        prepared = c.prepare(DELAY)
        before = await stats(c, "delay")
        t0 = time.perf_counter()
        await asyncio.gather(*(c.send(prepared) for _ in range(6)))
        elapsed = time.perf_counter() - t0
        assert pool_of(c).connections == 2
        assert elapsed >= 3 * 0.050 * 0.95  # 6 requests of 50 ms, 2 at a time
        assert await served(c, "delay", before, 6) == 6


@server
@aio
async def test_request_timeout_drops_the_connection(triton: Any) -> None:
    async with client(triton, request_timeout_s=0.01) as c:
        t0 = time.perf_counter()
        with pytest.raises(RequestTimeout) as err:
            await c.send(c.prepare(DELAY))
        assert time.perf_counter() - t0 < 0.045
        assert isinstance(err.value.__cause__, TimeoutError)
        assert pool_of(c).connections == 0  # a late answer must never be read as the next one
        await c.send(c.prepare(ADD_SUB))  # a fast model answers within the timeout


@server
@aio
async def test_cancellation_drops_the_connection(triton: Any) -> None:
    async with client(triton) as c:
        task = asyncio.create_task(c.send(c.prepare(DELAY)))
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert pool_of(c).connections == 0
        await c.send(c.prepare(DELAY))
        assert pool_of(c).connections == 1


@server
@aio
async def test_large_tensor_send_and_infer(triton: Any) -> None:
    data = np.arange(262_144, dtype=np.float32).reshape(1, -1)  # 1 MiB each way
    request = InferRequest(model="identity_fp32", inputs=(InputTensor.from_numpy("INPUT0", data),))
    async with client(triton) as c:
        prepared = c.prepare(request)
        before = await stats(c, "identity_fp32")
        for _ in range(3):
            await c.send(prepared)
        result = await c.infer(prepared)
        assert np.array_equal(result.outputs["OUTPUT0"], data)
        assert await served(c, "identity_fp32", before, 4) == 4
        assert pool_of(c).connections == 1


# -- local servers ----------------------------------------------------------------------------


@aio
async def test_connection_close_answer_is_not_reused() -> None:
    seen: list[bytes] = []
    closing = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"
    async with local_server(answering(closing, seen=seen)) as (host, port):
        pool = Http1Pool(host, port)
        for _ in range(3):
            await pool.send(REQUEST)
        assert len(seen) == 3 and pool.connections == 0
        await pool.close()


@aio
async def test_a_caller_waiting_for_a_connection_is_served_before_the_next_send() -> None:
    """Two senders, one connection (``limit=1``): the connection freed by one sender's answer goes
    to the sender already waiting for it, not back to the first sender's next request, so
    both keep sending in turn (the closed loop's concurrency stays what was asked)."""
    async with local_server(answering(OK)) as (host, port):
        pool = Http1Pool(host, port, limit=1)
        await pool.send(REQUEST)  # the connection is open and idle: "a" takes it at once
        order: list[str] = []

        async def sender(name: str) -> None:
            for _ in range(5):
                await pool.send(REQUEST)
                order.append(name)

        await asyncio.wait_for(asyncio.gather(sender("a"), sender("b")), 10)
        assert pool.connections == 1
        assert order == ["a", "b"] * 5, order
        await pool.close()


@aio
async def test_idle_connection_closed_by_the_server_is_replaced() -> None:
    """The server closes after each answer (no Connection header): the pool notices while the
    connection is idle and sends the next request on a new one, without an error."""
    seen: list[bytes] = []
    async with local_server(answering(OK, close_after=True, seen=seen)) as (host, port):
        pool = Http1Pool(host, port)
        for _ in range(4):
            await pool.send(REQUEST)
            await asyncio.sleep(0.02)  # the FIN arrives while the connection is idle
        assert len(seen) == 4
        await pool.close()


@aio
async def test_close_before_answer_is_a_connect_error_and_not_retried() -> None:
    seen: list[bytes] = []

    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await read_request(reader))
        writer.close()

    async with local_server(swallow) as (host, port):
        pool = Http1Pool(host, port, name="srv")
        with pytest.raises(ConnectError, match="srv: connection closed by the server before"):
            await pool.send(REQUEST)
        await asyncio.sleep(0.05)
        assert len(seen) == 1  # the request went out once: no silent retry
        assert pool.connections == 0
        await pool.close()


@aio
async def test_refused_and_connect_timeout() -> None:
    from perfanalyzer.server.launcher import free_port

    pool = Http1Pool("127.0.0.1", free_port())
    with pytest.raises(ConnectError) as err:
        await pool.send(REQUEST)
    assert isinstance(err.value.__cause__, OSError)
    with socket.socket() as listener:  # full backlog: SYNs are dropped, connect() hangs
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        fillers = [socket.socket() for _ in range(3)]
        try:
            for f in fillers:
                f.setblocking(False)
                with suppress(BlockingIOError):
                    f.connect(listener.getsockname())
            await asyncio.sleep(0.05)
            pool = Http1Pool(*listener.getsockname(), connect_timeout_s=0.2)
            with pytest.raises(RequestTimeout, match="connection timed out"):
                await pool.send(REQUEST)
        finally:
            for f in fillers:
                f.close()


@aio
async def test_chunked_until_close_and_split_answers() -> None:
    chunked = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\n\r\n"
               b"5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nTrailer: x\r\n\r\n")
    until_close = b"HTTP/1.1 200 OK\r\n\r\nuntil close"
    error = b'HTTP/1.1 503 Busy\r\nContent-Length: 16\r\n\r\n{"error":"busy"}'

    async def trickle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for answer in (chunked, error):
            await read_request(reader)
            for i in range(len(answer)):  # one byte at a time: every parser state is split
                writer.write(answer[i:i + 1])
                await writer.drain()
        await read_request(reader)
        writer.write(until_close)
        writer.close()

    async with local_server(trickle) as (host, port):
        pool = Http1Pool(host, port)
        resp = await pool.request(REQUEST)
        assert (resp.status, resp.body, resp.header("x-a")) == (200, b"hello, world", "1")
        with pytest.raises(ServerError) as err:
            await pool.send(REQUEST)
        assert (err.value.status, err.value.message) == (503, "busy")
        resp = await pool.request(REQUEST)
        assert (resp.status, resp.body) == (200, b"until close")
        assert pool.connections == 0
        await pool.close()


@aio
async def test_malformed_answers_are_protocol_errors() -> None:
    for answer in (b"garbage\r\n\r\n", b"HTTP/1.1 abc\r\n\r\n",
                   b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
                   b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nok"):
        async with local_server(answering(answer)) as (host, port):
            pool = Http1Pool(host, port)
            with pytest.raises(ProtocolError):
                await pool.send(REQUEST)
            assert pool.connections == 0
            await pool.close()


@aio
async def test_compressed_answer_is_decompressed_for_infer_only() -> None:
    import gzip

    body = gzip.compress(b'{"model_name":"m","outputs":[]}')
    answer = (b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: "
              + str(len(body)).encode() + b"\r\n\r\n" + body)
    async with local_server(answering(answer)) as (host, port), HttpClient(
            ClientOptions(url=f"{host}:{port}", response_compression="gzip")) as c:
        await c.send(c.prepare(ADD_SUB))
        result = await c.infer(ADD_SUB)
        assert result.model_name == "m" and result.outputs == {}


def test_wire_request_and_header_value() -> None:
    wire = wire_request("POST", "/p", "h:1", {"A": "1", "Content-Type": "t"}, b"xyz")
    assert wire == (b"POST /p HTTP/1.1\r\nHost: h:1\r\nA: 1\r\nContent-Type: t\r\n"
                    b"Content-Length: 3\r\n\r\nxyz")
    assert wire_request("GET", "/", "h", {}) == b"GET / HTTP/1.1\r\nHost: h\r\n\r\n"
    head = b"Content-Type: a\r\nInference-Header-Content-Length:  12 \r\nX: y"
    assert header_value(head, "inference-header-content-length") == "12"
    assert header_value(head, "x") == "y" and header_value(head, "missing") is None


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    d = tmp_path_factory.mktemp("tls")
    crt, key = d / "cert.pem", d / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj",
                    "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(crt)], check=True, capture_output=True)
    return str(crt), str(key)


@aio
async def test_tls(cert: tuple[str, str]) -> None:
    crt, key = cert
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(crt, key)
    seen: list[bytes] = []
    async with local_server(answering(OK, seen=seen), ssl_context=server_ctx) as (host, port):
        trusting = ssl.create_default_context(cafile=crt)
        pool = Http1Pool(host, port, ssl=trusting, server_hostname=host)
        for _ in range(3):
            await pool.send(REQUEST)
        assert pool.connections == 1 and len(seen) == 3
        await pool.close()
        strict = Http1Pool(host, port, ssl=ssl.create_default_context(), server_hostname=host)
        with pytest.raises(ConnectError):  # unknown CA
            await strict.send(REQUEST)
        await strict.close()
