#!/usr/bin/env python3
"""Micro-benchmark: the lean client's HTTP/1.1 response parser (perfanalyzer/client/http1_parse.py)
against ``httptools`` (llhttp), parsing representative Triton answers on one keep-alive
connection, in the same run. Prints µs of CPU per response for each.

Answers: a binary-tensor inference response (JSON header + raw output bytes, with
``Inference-Header-Content-Length`` and ``Content-Length``), small (add_sub: two 16 x INT32
outputs) and 1 MiB, fed as the socket would deliver them (one read for the small one, 64 KiB reads
for the large one). Both parsers do what the hot path needs: status, framing, Connection, and the
body counted, not kept (a 200 whose body the caller does not want).

    python scripts/bench_http1_parser.py [--seconds 1.0] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable

import httptools

from perfanalyzer.client.http1_parse import ResponseParser

READ = 64 * 1024


def triton_answer(output_bytes: int) -> bytes:
    """An inference answer with two binary outputs of ``output_bytes`` bytes each."""
    n = output_bytes // 4
    header = json.dumps({
        "model_name": "add_sub", "model_version": "1",
        "outputs": [{"name": name, "datatype": "INT32", "shape": [1, n],
                     "parameters": {"binary_data_size": output_bytes}}
                    for name in ("OUTPUT0", "OUTPUT1")]}, separators=(",", ":")).encode()
    body = header + bytes(2 * output_bytes)
    head = (f"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
            f"Inference-Header-Content-Length: {len(header)}\r\nContent-Length: {len(body)}\r\n\r\n")
    return head.encode() + body


class _Ours(ResponseParser):
    where = "bench"

    def __init__(self) -> None:
        super().__init__()
        self.completed = 0

    def complete(self) -> None:
        self.completed += 1


class _LlhttpProtocol:
    """The fewest callbacks the hot path needs from httptools."""

    __slots__ = ("completed", "received")

    def __init__(self) -> None:
        self.completed = 0
        self.received = 0

    def on_body(self, body: bytes) -> None:
        self.received += len(body)

    def on_message_complete(self) -> None:
        self.completed += 1


def run_ours(reads: list[bytes], count: int) -> int:
    p = _Ours()
    feed = p.feed
    for _ in range(count):
        for chunk in reads:
            feed(chunk)
        _ = p.status, p.reusable
    return p.completed


def run_llhttp(reads: list[bytes], count: int) -> int:
    proto = _LlhttpProtocol()
    parser = httptools.HttpResponseParser(proto)
    feed = parser.feed_data
    for _ in range(count):
        for chunk in reads:
            feed(chunk)
        _ = parser.get_status_code(), parser.should_keep_alive()
    return proto.completed


def per_response_us(fn: Callable[[list[bytes], int], int], reads: list[bytes],
                    seconds: float) -> float:
    count = 16
    while True:  # grow the batch until it takes ~1/10 of the time asked for
        t0 = time.process_time()
        assert fn(reads, count) == count
        spent = time.process_time() - t0
        if spent >= seconds / 10:
            break
        count *= 4
    total = max(1, int(count * seconds / max(spent, 1e-9)))
    t0 = time.process_time()
    assert fn(reads, total) == total
    return (time.process_time() - t0) / total * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=1.0, help="CPU seconds per measurement")
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds (best is shown)")
    args = ap.parse_args()
    cases = {"small (add_sub)": triton_answer(64), "1 MiB": triton_answer(512 * 1024)}
    print(f"{'answer':<16} {'bytes':>9} {'ours µs':>9} {'httptools µs':>13} {'ratio':>6}")
    for name, answer in cases.items():
        reads = [answer[i:i + READ] for i in range(0, len(answer), READ)]
        best = {"ours": float("inf"), "llhttp": float("inf")}
        for _ in range(args.rounds):
            best["ours"] = min(best["ours"], per_response_us(run_ours, reads, args.seconds))
            best["llhttp"] = min(best["llhttp"], per_response_us(run_llhttp, reads, args.seconds))
        print(f"{name:<16} {len(answer):>9} {best['ours']:>9.2f} {best['llhttp']:>13.2f} "
              f"{best['llhttp'] / best['ours']:>6.2f}")


if __name__ == "__main__":
    main()
