"""-H and auth-hook headers on the wire: a CR/LF (header injection), another control character,
non-ASCII text or a bad name is refused with one line (exit 3) before anything is sent, on HTTP,
lean gRPC and grpc.aio; a valid header does reach the wire (so the capture can see one)."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest

from perfanalyzer.client import create_client
from perfanalyzer.client.base import ClientOptions
from perfanalyzer.config import parse
from perfanalyzer.errors import OptionError
from tests.support.fault_servers import CAPTURED, CONNECTIONS, fault_server, h2_headers

TRANSPORTS = {"http": ("-i", "http"), "grpc-lean": ("-i", "grpc"),
              "grpcio": ("-i", "grpc", "--grpc-transport", "grpcio")}
#: (the -H text, words the one-line refusal must contain)
BAD = [("X: a\r\nEvil: 1", ("CR", "X")), ("X: a\nEvil: 1", ("LF", "X")),
       ("X: a\rEvil: 1", ("CR",)), ("X: a\x00b", ("NUL",)), ("X: a\tb", ("tab",)), ("X: a\x1bb", ("U+001B",)),
       ("X: caf\u00e9", ("non-ASCII", "U+00E9")), (":v", ("name", "empty")),
       ("Bad Name: v", ("name",)), ("X\r\nEvil: 1", ("name", "CR"))]


#: The ones also run through the command line, on every transport.
ON_THE_WIRE = [BAD[0], BAD[1], BAD[6], BAD[7]]


def _cli(port: int, transport: str, header: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "perfanalyzer", "-m", "simple", "-u", f"127.0.0.1:{port}",
         *TRANSPORTS[transport], "-H", header, "--connect-timeout", "2",
         "--startup-timeout", "2", "-p", "200"],
        capture_output=True, text=True, timeout=120)


@pytest.mark.server  # starts a server and runs the tool against it
@pytest.mark.parametrize("transport", sorted(TRANSPORTS))
def test_bad_headers_are_refused_before_any_byte_is_sent(transport: str) -> None:
    with fault_server("capture") as port:
        for header, words in ON_THE_WIRE:
            r = _cli(port, transport, header)
            lines = r.stderr.strip().splitlines()
            assert r.returncode == 3, (header, r.stderr[-2000:])
            assert len(lines) == 1 and lines[0].startswith("error: -H: "), (header, lines)
            assert all(w in lines[0] for w in words), (header, lines[0])
            assert "Evil" not in lines[0] and "Traceback" not in r.stderr
        assert CONNECTIONS.get(port, 0) == 0 and not CAPTURED.get(port)


@pytest.mark.server  # starts a server and runs the tool against it
@pytest.mark.parametrize("transport", sorted(TRANSPORTS))
def test_a_valid_header_reaches_the_wire(transport: str) -> None:
    http = transport == "http"
    with fault_server("capture" if http else "capture_h2") as port:
        r = _cli(port, transport, "X-Probe: fine value")
        assert r.returncode == 99, r.stderr[-2000:]
        data = bytes(CAPTURED.get(port, b""))
    if http:
        assert b"\r\nX-Probe: fine value\r\n" in data
    else:
        assert ("x-probe", "fine value") in h2_headers(data)


@pytest.mark.parametrize(("header", "words"), BAD)
def test_every_bad_header_gets_its_cause(header: str, words: tuple[str, ...]) -> None:
    with pytest.raises(OptionError) as err:
        parse.header(header)
    assert all(w in str(err.value) for w in words) and "Evil" not in str(err.value)
    assert "\n" not in str(err.value) and "\r" not in str(err.value)


def test_spaces_around_name_and_value_are_trimmed() -> None:
    assert parse.header(" X-A :\t v 1 ") == ("X-A", "v 1")


def test_client_options_refuse_an_injected_header() -> None:
    with pytest.raises(OptionError, match="CR"):
        ClientOptions(url="127.0.0.1:1", headers={"X": "a\r\nEvil: 1"})


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_an_auth_hook_cannot_inject_a_header(protocol: str) -> None:
    def hook(headers: dict[str, str]) -> None:
        headers["X-Hook"] = "a\r\nEvil: 1"

    async def call(port: int) -> None:
        client = create_client(protocol, ClientOptions(url=f"127.0.0.1:{port}", auth=hook,
                                                       connect_timeout_s=2))
        try:
            await asyncio.wait_for(client.is_server_live(), 10)
        finally:
            await client.close()

    with fault_server("capture" if protocol == "http" else "capture_h2") as port:
        with pytest.raises(OptionError, match="auth hook: the value of header 'X-Hook' has a CR"):
            asyncio.run(call(port))
        assert b"Evil" not in bytes(CAPTURED.get(port, b""))
