"""Small local HTTP/1.1 servers for the lean pool's tests (behaviour Triton cannot be made to
show): a handler per connection, one that answers from a script, the request reader they share,
and ``serving``, which also waits for its handlers to see the client's close."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from perfanalyzer.client.http1 import header_value, wire_request

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


async def read_request(reader: asyncio.StreamReader) -> bytes:
    """One request (head + Content-Length body), or b"" at EOF."""
    head = await reader.readuntil(b"\r\n\r\n") if not reader.at_eof() else b""
    length = header_value(head.split(b"\r\n", 1)[1] if b"\r\n" in head else b"", "Content-Length")
    return head + (await reader.readexactly(int(length)) if length else b"")


@asynccontextmanager
async def local_server(handler: Handler, ssl_context: ssl.SSLContext | None = None,
                       ) -> AsyncIterator[tuple[str, int]]:
    srv = await asyncio.start_server(handler, "127.0.0.1", 0, ssl=ssl_context)
    try:
        yield "127.0.0.1", srv.sockets[0].getsockname()[1]
    finally:
        srv.close()


def answering(*answers: bytes, close_after: bool = False,
              seen: list[bytes] | None = None) -> Handler:
    """Answer each request on a connection with the next of ``answers`` (then the last again);
    ``close_after``: close the connection after each answer."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        i = 0
        try:
            while True:
                try:
                    request = await read_request(reader)
                except asyncio.IncompleteReadError:
                    break
                if not request:
                    break
                if seen is not None:
                    seen.append(request)
                writer.write(answers[min(i, len(answers) - 1)])
                await writer.drain()
                i += 1
                if close_after:
                    break
        finally:
            writer.close()

    return handle


REQUEST = wire_request("POST", "/x", "h", {"Content-Type": "application/json"}, b"{}")


@asynccontextmanager
async def serving(handler: Handler) -> AsyncIterator[tuple[str, int]]:
    """:func:`local_server` that, at the end, waits (up to 2 s) for its handlers to see the
    client's close, so none is left to be cancelled with the loop."""
    handlers: set[asyncio.Task[Any]] = set()

    async def tracked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        handlers.add(task)
        await handler(reader, writer)

    async with local_server(tracked) as address:
        yield address
    if handlers:
        await asyncio.wait(handlers, timeout=2.0)
