"""Small misbehaving servers on loopback for the fault tests: each runs an asyncio
server in a thread and stops when the ``with`` block ends.

* ``silent``: accepts and never answers (reads and drops what it gets);
* ``garbage``: answers every connection with bytes that are no protocol;
* ``closing``: closes every connection as soon as it has read something;
* ``capture``: like ``silent``, keeping every byte received in :data:`CAPTURED` (by port);
* ``capture_h2``: ``capture`` after sending HTTP/2 SETTINGS (a gRPC client then sends its calls);
* ``tls``: a TLS server with a self-signed certificate (made with the ``openssl`` CLI) that
  answers nothing after the handshake.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.server
import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

GARBAGE = b"\x00\xffNOT-A-PROTOCOL\r\n\x13\x37" * 8


async def _silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        with contextlib.suppress(Exception):
            while await reader.read(65536):
                pass
    finally:
        writer.close()


async def _garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        with contextlib.suppress(Exception):
            await reader.read(65536)
            writer.write(GARBAGE)
            await writer.drain()
            while await reader.read(65536):
                pass
    finally:
        writer.close()


async def _closing(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        with contextlib.suppress(Exception):
            await reader.read(1)
    finally:
        writer.close()


#: Bytes received so far by ``capture`` servers, per port.
CAPTURED: dict[int, bytearray] = {}


async def _capture(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    port = writer.get_extra_info("sockname")[1]
    try:
        with contextlib.suppress(Exception):
            while data := await reader.read(65536):
                CAPTURED.setdefault(port, bytearray()).extend(data)
    finally:
        writer.close()


#: An empty HTTP/2 SETTINGS frame and a SETTINGS ACK: enough for a gRPC client to send its calls.
H2_SETTINGS = b"\x00\x00\x00\x04\x00\x00\x00\x00\x00" + b"\x00\x00\x00\x04\x01\x00\x00\x00\x00"


async def _capture_h2(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(H2_SETTINGS)
    await _capture(reader, writer)


def h2_headers(data: bytes) -> list[tuple[str, str]]:
    """Every header field of the HEADERS frames in captured client bytes (after the preface)."""
    import hpack

    decoder, out, pos = hpack.Decoder(), [], data.find(b"SM\r\n\r\n") + 6
    while pos >= 6 and pos + 9 <= len(data):
        length, kind, flags = int.from_bytes(data[pos:pos + 3], "big"), data[pos + 3], data[pos + 4]
        payload = data[pos + 9:pos + 9 + length]
        if kind == 1:
            start = 1 + payload[0] if flags & 0x8 else 0  # PADDED
            start += 5 if flags & 0x20 else 0  # PRIORITY
            end = len(payload) - (payload[0] if flags & 0x8 else 0)
            out += [(str(k), str(v)) for k, v in decoder.decode(payload[start:end], raw=False)]
        pos += 9 + length
    return out


#: Connections accepted so far, per fault server port.
CONNECTIONS: dict[int, int] = {}
HANDLERS = {"silent": _silent, "garbage": _garbage, "closing": _closing, "tls": _silent,
            "capture": _capture, "capture_h2": _capture_h2}


def self_signed(folder: Path) -> tuple[Path, Path]:
    """(certificate, key) for CN=localhost, made with the openssl CLI."""
    if shutil.which("openssl") is None:
        import pytest

        pytest.skip("the openssl CLI is needed to make a self-signed certificate")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,"
                    "IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    return cert, key


@contextlib.contextmanager
def fault_server(kind: str, tmp: Path | None = None) -> Iterator[int]:
    """Serve ``kind`` on 127.0.0.1; yields the port."""
    ctx = None
    if kind == "tls":
        assert tmp is not None
        cert, key = self_signed(tmp)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
    loop = asyncio.new_event_loop()
    started = threading.Event()
    box: dict[str, object] = {}

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        port = writer.get_extra_info("sockname")[1]
        CONNECTIONS[port] = CONNECTIONS.get(port, 0) + 1
        await HANDLERS[kind](reader, writer)

    async def start() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=ctx)
        box["server"] = server
        box["port"] = server.sockets[0].getsockname()[1]
        started.set()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(start())
        loop.run_forever()
        tasks = asyncio.all_tasks(loop)
        for t in tasks:
            t.cancel()
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
        loop.run_until_complete(asyncio.sleep(0.05))  # let the transports close
        loop.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert started.wait(10), "fault server did not start"
    try:
        yield int(box["port"])  # type: ignore[call-overload]
    finally:
        server = box["server"]
        loop.call_soon_threadsafe(server.close)  # type: ignore[attr-defined]
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)


@contextlib.contextmanager
def handler_server(handler: type[http.server.BaseHTTPRequestHandler]) -> Iterator[int]:
    """``handler`` served on a free loopback port from a thread (a scripted metrics endpoint,
    say); yields the port and stops the server on exit."""
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(srv.server_address[1])
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(5)


def error_line(stderr: str) -> str:
    """A run's error line (the verdict line follows it)."""
    return next(line for line in reversed(stderr.splitlines()) if line.startswith("error:"))
