#!/usr/bin/env python3
"""Micro-benchmark of the lean transports' hot path, before vs after a change, in the same run.

``--offline`` instead times the HTTP/1.1 connection's own Python work per request without a
socket (a fake transport: ``start`` writes nowhere, the answer is fed to ``data_received``), plus
the record write, which isolates the client-side cost from the kernel and a shared machine's noise.

The "before" transports are loaded from a git revision (``--before``, default the merge base with
main) next to the working tree's, and both drive the same trivial local server (a subprocess, so
its CPU is not counted): a load loop of ``--concurrency`` coroutines, each sending a prepared
add_sub-sized request, awaiting the answer and writing one record (as load/concurrency.py does,
with the transport's send/recv times where the variant returns them). Rounds alternate between
the variants; the client's CPU per request (process time) and requests/s are printed per round
and as medians.

    python scripts/bench_client_hot_path.py [--requests 20000] [--rounds 4] [--concurrency 4]
        [--protocol http|grpc|both] [--before REV]
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import perfanalyzer.client as client_pkg
from perfanalyzer.records import RecordBuffer

ROOT = Path(__file__).resolve().parents[1]
BODY = b'{"model_name":"add_sub","outputs":[]}' + bytes(128)
HTTP_ANSWER = (b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
               b"Inference-Header-Content-Length: 37\r\nContent-Length: %d\r\n\r\n" % len(BODY)
               + BODY)

SERVER = r'''
import asyncio, struct, sys
proto, answer = sys.argv[1], bytes.fromhex(sys.argv[2])

class Http(asyncio.Protocol):
    def connection_made(self, t): self.t, self.buf = t, b""
    def data_received(self, data):
        self.buf += data
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0: return
            i = self.buf.lower().find(b"content-length:", 0, end)
            n = int(self.buf[i + 15:self.buf.find(b"\r\n", i)]) if i >= 0 else 0
            if len(self.buf) < end + 4 + n: return
            self.buf = self.buf[end + 4 + n:]
            self.t.write(answer)

class Grpc(asyncio.Protocol):
    def connection_made(self, t):
        import h2.config, h2.connection
        self.t = t
        self.c = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
        self.c.initiate_connection(); t.write(self.c.data_to_send())
    def data_received(self, data):
        import h2.events
        for ev in self.c.receive_data(data):
            if isinstance(ev, h2.events.DataReceived):
                self.c.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
            elif isinstance(ev, h2.events.StreamEnded):
                sid = ev.stream_id
                self.c.send_headers(sid, [(":status", "200"), ("content-type", "application/grpc")])
                self.c.send_data(sid, b"\x00" + struct.pack(">L", len(answer)) + answer)
                self.c.send_headers(sid, [("grpc-status", "0")], end_stream=True)
        self.t.write(self.c.data_to_send())

async def main():
    loop = asyncio.get_running_loop()
    srv = await loop.create_server(Http if proto == "http" else Grpc, "127.0.0.1", 0)
    print(srv.sockets[0].getsockname()[1], flush=True)
    await asyncio.sleep(3600)

asyncio.run(main())
'''


def load_before(rev: str) -> Path:
    """The transports of ``rev`` as perfanalyzer.client.http1_before / .h2_before modules."""
    tmp = Path(tempfile.mkdtemp(prefix="pa-bench-"))
    show = ["git", "-C", str(ROOT), "show"]
    # (before the error tree moved to the package root, the client had its own errors module)
    old_errors = b"from .errors import", b"from ..errors import"
    (tmp / "http1_before.py").write_bytes(
        subprocess.check_output([*show, f"{rev}:perfanalyzer/client/http1.py"])
        .replace(*old_errors))
    files = subprocess.check_output(["git", "-C", str(ROOT), "ls-tree", "--name-only", rev,
                                     "perfanalyzer/client/h2/"], text=True).split()
    (tmp / "h2_before").mkdir()
    for f in files:
        (tmp / "h2_before" / Path(f).name).write_bytes(
            subprocess.check_output([*show, f"{rev}:{f}"])
            .replace(b"from ..errors import", b"from ...errors import"))
    client_pkg.__path__.append(str(tmp))
    return tmp


def start_server(protocol: str) -> tuple[subprocess.Popen[str], int]:
    answer = HTTP_ANSWER if protocol == "http" else BODY
    proc = subprocess.Popen([sys.executable, "-c", SERVER, protocol, answer.hex()],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    return proc, int(proc.stdout.readline())


Send = Callable[[], Awaitable[Any]]


async def load_loop(send: Send, requests: int, concurrency: int) -> tuple[float, float]:
    """(client CPU µs per request, requests/s) of ``requests`` sends by ``concurrency`` loops."""
    buf = RecordBuffer()
    add, clock = buf.add, time.perf_counter_ns
    left = [requests]

    async def worker() -> None:
        while left[0] > 0:
            left[0] -= 1
            t0 = clock()
            io = await send()
            if io is None:
                add(t0, t0, clock())
            else:
                add(t0, t0, clock(), 0, io[0], io[1])

    for _ in range(200):  # warm up: connections open, caches filled
        await send()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    return cpu / requests * 1e6, requests / wall


async def http_variants(port: int) -> dict[str, tuple[Send, Callable[[], Awaitable[None]]]]:
    from perfanalyzer.client import http1, http1_before  # type: ignore[attr-defined]

    wire = http1.wire_request("POST", "/v2/models/add_sub/infer", f"127.0.0.1:{port}",
                              {"Content-Type": "application/octet-stream"}, bytes(128))
    out: dict[str, tuple[Send, Callable[[], Awaitable[None]]]] = {}
    for name, mod in (("before", http1_before), ("after", http1)):
        pool = mod.Http1Pool("127.0.0.1", port)
        out[name] = (functools.partial(pool.send, wire), pool.close)
    return out


async def grpc_variants(port: int) -> dict[str, tuple[Send, Callable[[], Awaitable[None]]]]:
    from perfanalyzer.client import h2, h2_before  # type: ignore[attr-defined]

    path = "/inference.GRPCInferenceService/ModelInfer"
    before = h2_before.LeanChannel(f"127.0.0.1:{port}", path)
    after = h2.LeanChannel(f"127.0.0.1:{port}", path)

    async def send_after() -> tuple[int, int]:
        _body, s, r = await after.exchange(bytes(160))
        return s, r

    return {"before": (lambda: before.unary(bytes(160)), before.close),
            "after": (send_after, after.close)}


async def bench(protocol: str, port: int, args: argparse.Namespace) -> None:
    variants = await (http_variants(port) if protocol == "http" else grpc_variants(port))
    cpu: dict[str, list[float]] = {k: [] for k in variants}
    rate: dict[str, list[float]] = {k: [] for k in variants}
    for r in range(args.rounds):
        order = list(variants) if r % 2 == 0 else list(reversed(variants))
        for name in order:
            c, q = await load_loop(variants[name][0], args.requests, args.concurrency)
            cpu[name].append(c)
            rate[name].append(q)
            print(f"  {protocol} round {r + 1} {name:<6}: {c:7.2f} µs CPU/request, "
                  f"{q:8.0f} requests/s", flush=True)
    for _send, close in variants.values():
        await close()
    b, a = statistics.median(cpu["before"]), statistics.median(cpu["after"])
    print(f"{protocol}: median client CPU per request before {b:.2f} µs, after {a:.2f} µs "
          f"({(a / b - 1) * 100:+.1f} %); requests/s before "
          f"{statistics.median(rate['before']):.0f}, after {statistics.median(rate['after']):.0f}")


class _FakeTransport:
    def write(self, data: bytes) -> None:
        pass

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass

    def close(self) -> None:
        pass


def offline(mod: Any, n: int, with_io: bool) -> float:
    """CPU µs per request of ``mod``'s connection hot path (start + parse + record), no socket."""
    loop = asyncio.new_event_loop()
    pool = mod.Http1Pool("127.0.0.1", 1)
    pool._loop = loop
    conn = mod._Conn(pool)
    conn.connection_made(_FakeTransport())
    buf, clock = RecordBuffer(), time.perf_counter_ns
    add, start, received = buf.add, conn.start, conn.data_received
    wire, answer = b"POST / HTTP/1.1\r\n\r\n", HTTP_ANSWER
    t0 = time.process_time()
    for _ in range(n):
        t = clock()
        fut = start(wire, False)
        received(answer)
        fut.result()
        conn.fut = None
        if with_io:
            add(t, t, clock(), 0, conn.send_ns, conn.recv_ns)
        else:
            add(t, t, clock())
    spent = time.process_time() - t0
    loop.close()
    return spent / n * 1e6


def run_offline(rounds: int, n: int) -> None:
    from perfanalyzer.client import http1, http1_before  # type: ignore[attr-defined]

    res: dict[str, list[float]] = {"before": [], "after": []}
    for r in range(rounds):
        for name in ("before", "after") if r % 2 == 0 else ("after", "before"):
            mod = http1_before if name == "before" else http1
            res[name].append(offline(mod, n, name == "after"))
    b, a = statistics.median(res["before"]), statistics.median(res["after"])
    print(f"http offline (connection + record, no socket): median CPU per request before "
          f"{b:.3f} µs, after {a:.3f} µs ({a - b:+.3f} µs)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=20000)
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--protocol", choices=("http", "grpc", "both"), default="both")
    ap.add_argument("--before", default="", help="git revision (default: merge-base HEAD main)")
    ap.add_argument("--offline", action="store_true", help="no socket: the connection's Python "
                    "work per request only (see the module doc)")
    args = ap.parse_args()
    rev = args.before or subprocess.check_output(
        ["git", "-C", str(ROOT), "merge-base", "HEAD", "main"], text=True).strip()
    print(f"before = {rev[:12]}, after = the working tree; pid {os.getpid()}")
    load_before(rev)
    if args.offline:
        run_offline(args.rounds, args.requests)
        return
    try:
        import uvloop
        uvloop.install()
    except ImportError:
        pass
    for protocol in ("http", "grpc") if args.protocol == "both" else (args.protocol,):
        proc, port = start_server(protocol)
        try:
            asyncio.run(bench(protocol, port, args))
        finally:
            proc.kill()
            proc.wait()


if __name__ == "__main__":
    main()
