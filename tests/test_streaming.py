"""Streaming over gRPC bidirectional streams against the real Triton: the decoupled ``repeat`` model
answers one response per element of IN, then an empty final response."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pytest

from perfanalyzer.client import ClientOptions, create_client
from perfanalyzer.client.base import InferRequest, InputTensor, RequestedOutput
from perfanalyzer.errors import ServerError
from perfanalyzer.load.concurrency import ClosedLoopManager
from perfanalyzer.load.request_rate import RequestRateManager, RoundRobin
from perfanalyzer.load.schedule import constant
from perfanalyzer.load.streaming import EMPTY_FINAL, StreamChannel, stream_sender, streaming_requests
from perfanalyzer.records import RecordBuffer
from perfanalyzer.report import console
from tests.support.cli_runs import profile_at as _profile
from tests.support.triton_stats import settled_success_count
from tests.support.triton_stats import success_count as _success

pytestmark = pytest.mark.server


def _repeat(values: list[int], datatype: str = "INT32") -> InferRequest:
    arr = np.array(values, dtype=np.int32 if datatype == "INT32" else np.float32)
    return InferRequest(model="repeat", inputs=(InputTensor.from_numpy("IN", arr, datatype),),
                        outputs=(RequestedOutput("OUT"), RequestedOutput("IDX")))


def test_streaming_requests_ask_for_the_empty_final_response() -> None:
    (req,), = streaming_requests([[_repeat([1])]])
    assert req.parameters[EMPTY_FINAL] is True and req.protocol_parameters()[EMPTY_FINAL] is True


def test_channel_times_every_response_and_survives_an_error_response(triton: Any) -> None:
    async def go() -> list[Any]:
        client = create_client("grpc", ClientOptions(url=triton.grpc_url))
        channel = StreamChannel(client)
        try:
            (good, empty, bad), = streaming_requests(
                [[_repeat([5, 6, 7]), _repeat([]), _repeat([1, 2], "FP32")]])
            out: list[Any] = [await channel.send(client.prepare(good))]
            out.append(await channel.send(client.prepare(empty)))
            with pytest.raises(ServerError) as err:
                await channel.send(client.prepare(bad))
            out.append(err.value)
            out.append(await channel.send(client.prepare(good)))  # the stream still works
            return out
        finally:
            await channel.close()
            await client.close()

    three, empty, error, again = asyncio.run(go())
    first, last, n = three.first, three.last, three.responses
    assert n == 3 and 0 < first < last
    assert three.send_ns > 0 and three.recv_ns > 0  # the write, and decoding the four responses
    assert again.responses == 3
    assert empty.responses == 0 and empty.first == empty.last > 0  # only the empty final response
    assert "data-type is 'FP32', but model 'repeat' expects 'INT32'" in str(error)


def test_concurrency_mode_one_stream_per_worker(triton: Any) -> None:
    async def go() -> ClosedLoopManager:
        client = create_client("grpc", ClientOptions(url=triton.grpc_url))
        try:
            payloads = [client.prepare(r) for r in streaming_requests([[_repeat([1, 2, 3, 4])]])[0]]
            m = ClosedLoopManager(stream_sender(client), RecordBuffer(), payloads=payloads)
            await m.apply(2)
            await asyncio.sleep(1.0)
            await m.stop()
            return m
        finally:
            await client.close()

    before = _success(triton.http_url, "repeat")
    m = asyncio.run(go())
    v = m.buffer.view()
    assert m.buffer.count == m.sent > 20
    assert (v.status == 0).all() and (v.responses == 4).all()
    assert (v.sent < v.first).all() and (v.first < v.last).all()
    served = settled_success_count(triton.http_url, "repeat", before + m.buffer.count)
    assert served - before == m.buffer.count


def test_rate_mode_shares_one_stream_with_many_requests_in_flight(triton: Any) -> None:
    # A fresh stream and a burst of concurrent writes: grpc.aio allows one write at a time.
    async def go() -> RequestRateManager:
        client = create_client("grpc", ClientOptions(url=triton.grpc_url))
        try:
            payloads = [client.prepare(r) for r in streaming_requests([[_repeat([1, 2, 3, 4])]])[0]]
            m = RequestRateManager(stream_sender(client), RecordBuffer(), constant,
                                   RoundRobin(payloads))
            await m.apply(400.0)
            await asyncio.sleep(1.0)
            await m.stop()
            return m
        finally:
            await client.close()

    m = asyncio.run(go())
    v = m.buffer.view()
    assert m.buffer.count == m.sent > 300
    assert (v.status == 0).all(), v.errors
    assert (v.responses == 4).all()


@pytest.mark.parametrize("load", [("--concurrency-range", "2"), ("--request-rate-range", "150")])
def test_profile_reports_responses_per_request_and_response_throughput(
        triton: Any, load: tuple[str, ...]) -> None:
    run = _profile(triton.grpc_url, "-m", "repeat", "-i", "grpc", "--streaming",
                   "--shape", "IN:4", "-p", "700", "-r", "3", "-s", "90", *load)
    assert not run.failure and run.points
    s = run.points[-1].merged
    assert s.errors == 0 and s.completed > 0
    assert s.responses == 4 * s.completed
    assert s.response_throughput == pytest.approx(4 * s.throughput, rel=0.01)
    assert 0 < s.first_response.avg_ns < s.latency.avg_ns  # first response before the last
    text = console.point_text(run, run.points[-1], "grpc")
    assert "Responses per request: 4.00" in text
    assert "Avg time to first response" in text and "Avg time to last response" in text


def test_a_model_that_is_not_decoupled_streams_one_response(triton: Any) -> None:
    run = _profile(triton.grpc_url, "-m", "add_sub", "-i", "grpc", "--streaming",
                   "--concurrency-range", "1", "-p", "500", "-r", "3", "-s", "90")
    assert not run.failure
    v = run.buffer.view()
    assert (v.status == 0).all() and (v.responses == 1).all()
