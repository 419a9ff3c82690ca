"""The lean HTTP/1.1 pool's send without a coroutine (``Http1Pool.send_nowait``, the open loop's
hot path): the same answers and errors as ``send``, through a callback, against small local
servers (an error status, a server closing before its answer, garbage, a silent server, one byte
at a time, ``Connection: close``), and the cancel the drain uses."""

from __future__ import annotations

import asyncio

from perfanalyzer.client.base import ClientOptions
from perfanalyzer.client.http import HttpClient
from perfanalyzer.client.http1 import Http1Pool
from perfanalyzer.errors import ConnectError, ProtocolError, RequestTimeout, ServerError
from tests.support import http1_servers as h
from tests.support.aio import aio
from tests.support.http1_servers import serving
from tests.support.infer_requests import ADD_SUB
from tests.support.scripted import Answers


async def _answers_once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Answers the first request (the pool's warm-up) and never the next."""
    await h.read_request(reader)
    writer.write(h.OK)
    await reader.read()
    writer.close()


async def _warm(pool: Http1Pool) -> None:
    """One awaited send, so the pool has an idle connection (send_nowait never opens one)."""
    await pool.send(h.REQUEST)


@aio
async def test_answers_come_through_the_callback_on_the_same_connection() -> None:
    seen: list[bytes] = []
    async with serving(h.answering(h.OK, seen=seen)) as (host, port):
        pool = Http1Pool(host, port)
        answers = Answers()
        assert not pool.send_nowait(h.REQUEST, answers, 0, 0)  # no idle connection yet
        assert seen == [] and answers.got == {}
        await _warm(pool)
        for i in range(1, 6):
            assert pool.send_nowait(h.REQUEST, answers, i, 100 + i)
            await answers.wait(i)
        assert len(seen) == 6 and pool.connections == 1
        for i in range(1, 6):
            b, answer = answers.got[i]
            assert b == 100 + i
            assert answer.__class__ is tuple and len(answer) == 2  # (send_ns, recv_ns), as send
            assert answer[0] >= 0 and answer[1] >= 0
        await pool.close()


@aio
async def test_an_error_status_is_the_servers_error_and_the_connection_stays() -> None:
    busy = b'HTTP/1.1 503 Busy\r\nContent-Length: 16\r\n\r\n{"error":"busy"}'
    async with serving(h.answering(h.OK, busy, h.OK)) as (host, port):
        pool = Http1Pool(host, port)
        await _warm(pool)
        answers = Answers()
        assert pool.send_nowait(h.REQUEST, answers, 1, 0)
        await answers.wait(1)
        err = answers.got[1][1]
        assert isinstance(err, ServerError) and (err.status, err.message) == (503, "busy")
        assert pool.connections == 1
        await pool.send(h.REQUEST)  # the same connection serves on
        assert pool.connections == 1
        await pool.close()


@aio
async def test_a_close_before_the_answer_is_a_connect_error_and_not_retried() -> None:
    seen: list[bytes] = []

    async def one_then_swallow(reader: asyncio.StreamReader,
                               writer: asyncio.StreamWriter) -> None:
        seen.append(await h.read_request(reader))
        writer.write(h.OK)
        seen.append(await h.read_request(reader))
        writer.close()

    async with serving(one_then_swallow) as (host, port):
        pool = Http1Pool(host, port, name="srv")
        await _warm(pool)
        answers = Answers()
        assert pool.send_nowait(h.REQUEST, answers, 1, 0)
        await answers.wait(1)
        err = answers.got[1][1]
        assert isinstance(err, ConnectError)
        assert "srv: connection closed by the server before" in str(err)
        await asyncio.sleep(0.05)
        assert len(seen) == 2 and pool.connections == 0  # once: no silent retry
        await pool.close()


@aio
async def test_garbage_and_a_split_answer() -> None:
    async def garbage_after_one(reader: asyncio.StreamReader,
                                writer: asyncio.StreamWriter) -> None:
        await h.read_request(reader)
        writer.write(h.OK)
        await h.read_request(reader)
        for i in range(len(h.OK)):  # one byte at a time: every parser state is split
            writer.write(h.OK[i:i + 1])
            await writer.drain()
        await h.read_request(reader)
        writer.write(b"garbage\r\n\r\n")
        await writer.drain()
        await reader.read()
        writer.close()

    async with serving(garbage_after_one) as (host, port):
        pool = Http1Pool(host, port)
        await _warm(pool)
        answers = Answers()
        assert pool.send_nowait(h.REQUEST, answers, 1, 0)
        await answers.wait(1)
        assert answers.got[1][1].__class__ is tuple
        assert pool.send_nowait(h.REQUEST, answers, 2, 0)
        await answers.wait(2)
        assert isinstance(answers.got[2][1], ProtocolError)
        assert pool.connections == 0  # a broken connection is never reused
        await pool.close()


@aio
async def test_a_silent_server_times_out_and_a_close_answer_is_not_reused() -> None:
    closing = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"

    async def ok_close_then_silent(reader: asyncio.StreamReader,
                                   writer: asyncio.StreamWriter) -> None:
        await h.read_request(reader)
        writer.write(h.OK)
        await h.read_request(reader)
        writer.write(closing)
        await writer.drain()
        writer.close()

    async with serving(ok_close_then_silent) as (host, port):
        pool = Http1Pool(host, port)
        await _warm(pool)
        answers = Answers()
        assert pool.send_nowait(h.REQUEST, answers, 1, 0)
        await answers.wait(1)
        assert answers.got[1][1].__class__ is tuple
        await asyncio.sleep(0.02)
        assert pool.connections == 0 and not pool.send_nowait(h.REQUEST, answers, 2, 0)
        await pool.close()
    async with serving(_answers_once) as (host, port):
        pool = Http1Pool(host, port, request_timeout_s=0.05)
        await _warm(pool)
        answers = Answers()
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        assert pool.send_nowait(h.REQUEST, answers, 1, 0)
        await answers.wait(1)
        err = answers.got[1][1]
        assert isinstance(err, RequestTimeout) and isinstance(err.__cause__, TimeoutError)
        assert 0.05 <= loop.time() - t0 < 1.0
        assert pool.connections == 0  # a late answer must never be read as the next one
        await pool.close()


@aio
async def test_cancel_aborts_what_is_in_flight_without_a_callback() -> None:
    async with serving(_answers_once) as (host, port):
        pool = Http1Pool(host, port)
        await _warm(pool)
        answers = Answers()
        assert pool.send_nowait(h.REQUEST, answers, 1, 0)
        assert pool.cancel_nowait() == 1
        assert pool.connections == 0 and pool.cancel_nowait() == 0
        await asyncio.sleep(0.05)  # connection_lost has run: still no callback
        assert answers.got == {}
        await pool.close()


@aio
async def test_the_client_says_when_it_cannot() -> None:
    async with serving(h.answering(h.OK)) as (host, port):
        c = HttpClient(ClientOptions(url=f"{host}:{port}"))
        try:
            prepared = c.prepare(ADD_SUB)
            answers = Answers()
            assert not c.send_nowait(prepared, answers, 1, 0)  # no pool yet
            await c.send(prepared)
            assert c.send_nowait(prepared, answers, 1, 0)
            await answers.wait(1)
            assert answers.got[1][1].__class__ is tuple
            assert c.cancel_nowait() == 0
        finally:
            await c.close()
        hooked = HttpClient(ClientOptions(url=f"{host}:{port}",
                                          auth=lambda headers: None))
        try:
            prepared = hooked.prepare(ADD_SUB)
            await hooked.send(prepared)
            assert not hooked.send_nowait(prepared, answers, 2, 0)  # headers made per request
        finally:
            await hooked.close()
