"""Open-loop request-rate manager: scripted clients for the scheduler's contract, the real Triton for
the achieved rate, late sends and latency from the intended time."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pytest

from perfanalyzer.client import ClientOptions, create_client
from perfanalyzer.client.base import InferRequest, InputTensor, RequestedOutput
from perfanalyzer.errors import OptionError
from perfanalyzer.load.request_rate import RequestRateManager, RoundRobin, unary_sender
from perfanalyzer.load.schedule import constant, poisson
from perfanalyzer.records import LATE_SEND_NS, RecordBuffer
from tests.support.scripted import ScriptedClient, ScriptedNowait, run_for
from tests.support.triton_stats import settled_success_count
from tests.support.triton_stats import success_count as _success

MS = 1_000_000


#: Every scheduler test runs with a client that sends on lanes, one that sends without
#: awaiting, and one that mixes both (every third send cannot go without a lane).
KINDS = ["lanes", "nowait", "mixed"]


def _client(kind: str, service_s: float = 0.0) -> ScriptedClient:
    if kind == "lanes":
        return ScriptedClient(service_s)
    return ScriptedNowait(service_s, refuse_every=3 if kind == "mixed" else 0)


def _manager(client: Any, payloads: list[Any], schedule_for: Any = constant,
             cap: int = 0) -> RequestRateManager:
    return RequestRateManager(unary_sender(client), RecordBuffer(), schedule_for,
                              RoundRobin(payloads), max_in_flight=cap,
                              nowait=client if isinstance(client, ScriptedNowait) else None)


def _check_kind(client: ScriptedClient, kind: str) -> None:
    """The path the kind names was the one taken."""
    if isinstance(client, ScriptedNowait):
        assert client.nowait > 0
        assert (client.nowait < len(client.payloads)) == (kind == "mixed")


def _sorted_intended(m: RequestRateManager) -> np.ndarray:
    v = m.buffer.view()
    return np.sort(v.intended) - m.start_ns


@pytest.mark.parametrize("kind", KINDS)
def test_intended_times_are_exactly_the_schedule(kind: str) -> None:
    client = _client(kind, 0.002)
    m = _manager(client, ["a", "b"])
    asyncio.run(run_for(m, 400.0, 0.5))
    _check_kind(client, kind)
    n = m.buffer.count
    assert 150 <= n <= 210 and m.sent == n
    assert np.array_equal(_sorted_intended(m), constant(400.0).offsets(0, n))
    v = m.buffer.view()
    assert (v.sent >= v.intended - 20_000).all()  # never early (20 µs send-early grace)
    assert (v.status == 0).all() and (v.responses == 1).all() and (v.sequence == 0).all()
    assert m.late == int((v.sent - v.intended > LATE_SEND_NS).sum())
    # sent in schedule order, whichever way each one went
    assert (np.diff(v.sent[np.argsort(v.intended)]) >= 0).all()
    assert m.in_flight == 0 and m.cut == 0


@pytest.mark.parametrize("kind", KINDS)
def test_poisson_schedule_drives_the_sends(kind: str) -> None:
    m = _manager(_client(kind, 0.001), ["a"], lambda r: poisson(r, 7))
    asyncio.run(run_for(m, 300.0, 0.5))
    n = m.buffer.count
    assert n > 50
    assert np.array_equal(_sorted_intended(m), poisson(300.0, 7).offsets(0, n))


@pytest.mark.parametrize("kind", KINDS)
def test_full_cap_makes_sends_late_never_skipped(kind: str) -> None:
    # 20 ms per request, one in flight, 200/s asked: the client can send 50/s.
    client = _client(kind, 0.020)
    m = _manager(client, ["a"], cap=1)
    asyncio.run(run_for(m, 200.0, 0.5))
    n = m.buffer.count
    assert 15 <= n <= 30
    # No intended slot was skipped: the sends are exactly the first n slots, in order.
    assert np.array_equal(_sorted_intended(m), constant(200.0).offsets(0, n))
    v = m.buffer.view()
    behind = v.sent - v.intended
    assert m.late == int((behind > LATE_SEND_NS).sum()) >= n - 2
    # Latency from the intended time grows with the backlog; from the send it stays ~20 ms.
    order = np.argsort(v.intended)
    corrected = (v.last - v.intended)[order]
    assert corrected[-1] > corrected[0] + 200 * MS
    assert np.median(v.last - v.sent) < 40 * MS


@pytest.mark.parametrize("kind", KINDS)
def test_the_cap_bounds_the_requests_in_flight_and_the_drain_says_what_it_cut(kind: str) -> None:
    # A server 1 s behind: 500/s asked, each answer after 1 s, at most 20 in flight.
    client = _client(kind, 1.0)

    async def go() -> RequestRateManager:
        m = _manager(client, ["a"], cap=20)
        await m.apply(500.0)
        await asyncio.sleep(0.3)
        await m.stop(drain_timeout_s=0.05)
        return m

    m = asyncio.run(go())
    assert m.peak_in_flight == 20 == m.sent  # the cap was reached and never passed
    assert m.cut == 20 and m.buffer.count == 0  # every one cancelled by the drain, and said
    assert m.in_flight == 0
    if isinstance(client, ScriptedNowait):
        assert not client.pending  # the client was told to abort them


@pytest.mark.parametrize("kind", KINDS)
def test_a_new_rate_restarts_the_schedule_without_a_burst(kind: str) -> None:
    async def go() -> tuple[RequestRateManager, int]:
        m = _manager(_client(kind, 0.001), ["a"])
        await m.apply(50.0)
        await asyncio.sleep(0.25)
        await m.apply(500.0)
        second = m.start_ns
        await asyncio.sleep(0.2)
        await m.stop()
        return m, second

    m, second = asyncio.run(go())
    v = m.buffer.view()
    after = np.sort(v.intended[v.intended >= second]) - second
    assert np.array_equal(after, constant(500.0).offsets(0, len(after)))
    before = np.sort(v.intended[v.intended < second])
    assert len(before) <= 14  # 50/s for 0.25 s: nothing queued up to burst out later
    first_sends = np.sort(v.sent[v.intended >= second])[:5]
    # Scheduled 2 ms apart: a burst would send all five at once. One late wake-up can bring two
    # sends together (the late one is caught up, never skipped), so judge the span, not each gap.
    assert first_sends[-1] - first_sends[0] > 6 * MS


@pytest.mark.parametrize("kind", KINDS)
def test_errors_are_records_and_stop_drains_in_flight(kind: str) -> None:
    client = _client(kind, 0.050)
    m = _manager(client, ["ok", "bad"])

    async def go() -> int:
        await m.apply(100.0)
        await asyncio.sleep(0.3)
        in_flight = m.in_flight
        await m.stop()
        return in_flight

    in_flight = asyncio.run(go())
    assert in_flight >= 3  # open loop: sends do not wait for answers
    v = m.buffer.view()
    assert m.in_flight == 0 and m.buffer.count == m.sent == len(client.payloads)
    bad = v.status != 0
    assert int(bad.sum()) == client.payloads.count("bad")
    assert v.errors[int(v.status[bad][0])] == "[400] bad request"
    _check_kind(client, kind)


def test_a_bad_rate_fails_before_anything_is_sent() -> None:
    client = ScriptedClient()
    m = _manager(client, ["a"])
    with pytest.raises(OptionError, match="--request-rate-range"):
        asyncio.run(m.apply(0.0))
    assert client.payloads == [] and m.sent == 0


# -- against the real Triton ---------------------------------------------------------------------

def _add_sub_request() -> InferRequest:
    a = np.arange(16, dtype=np.int32)
    return InferRequest(model="add_sub", inputs=(InputTensor.from_numpy("INPUT0", a[None]),
                                                 InputTensor.from_numpy("INPUT1", a[None])),
                        outputs=(RequestedOutput("OUTPUT0"), RequestedOutput("OUTPUT1")))


def _delay_request() -> InferRequest:
    return InferRequest(model="delay", inputs=(InputTensor.from_numpy(
        "INPUT0", np.ones(4, dtype=np.float32)),), outputs=(RequestedOutput("OUTPUT0"),))


async def _run_rate(server: Any, protocol: str, level: float, seconds: float,
                    schedule_for: Any = constant) -> RequestRateManager:
    url = server.http_url if protocol == "http" else server.grpc_url
    client = create_client(protocol, ClientOptions(url=url))
    try:
        m = RequestRateManager(unary_sender(client), RecordBuffer(), schedule_for,
                               RoundRobin([client.prepare(_add_sub_request())]), nowait=client)
        await run_for(m, level, seconds)  # (as a run does: HTTP sends go without a lane)
        return m
    finally:
        await client.close()


def _sent_between(m: RequestRateManager, a: int, b: int) -> int:
    """Requests actually sent in (a, b], from the records (not from when the test woke up)."""
    sent = m.buffer.view().sent
    return int(((sent > a) & (sent <= b)).sum())


@pytest.mark.server
@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_constant_rate_is_kept_within_one_percent(triton: Any, protocol: str) -> None:
    before = _success(triton.http_url, "add_sub")
    m = asyncio.run(_run_rate(triton, protocol, 200.0, 4.0))
    # A 3.5 s window whose edges sit half a period after a slot: 700 slots inside.
    a = m.start_ns + 250 * MS + 2_500_000
    b = a + 3500 * MS
    achieved = _sent_between(m, a, b) / 3.5
    assert achieved == pytest.approx(200.0, rel=0.01)
    v = m.buffer.view()
    assert (v.status == 0).all()
    assert np.array_equal(_sorted_intended(m), constant(200.0).offsets(0, m.buffer.count))
    served = settled_success_count(triton.http_url, "add_sub", before + m.buffer.count)
    assert served - before == m.buffer.count


@pytest.mark.server
def test_poisson_rate_sends_what_its_schedule_asks(triton: Any) -> None:
    m = asyncio.run(_run_rate(triton, "grpc", 200.0, 3.5, lambda r: poisson(r, 11)))
    a, b = m.start_ns + 250 * MS, m.start_ns + 3250 * MS
    slots = poisson(200.0, 11).offsets(0, m.buffer.count + 1000) + m.start_ns
    asked = int(((slots > a) & (slots <= b)).sum())
    sent = _sent_between(m, a, b)
    assert sent == pytest.approx(asked, rel=0.01, abs=2)
    # A Poisson count over 3 s at 200/s has σ ≈ 4 %: the mean rate is near the asked one.
    assert sent / 3.0 == pytest.approx(200.0, rel=0.15)


@pytest.mark.server
@pytest.mark.slow
def test_late_sends_when_the_server_cannot_keep_up(triton: Any) -> None:
    # delay: 50 ms per request; one in flight (--max-threads 1) serves 20/s of the 100/s asked.
    async def go() -> RequestRateManager:
        client = create_client("http", ClientOptions(url=triton.http_url))
        try:
            m = RequestRateManager(unary_sender(client), RecordBuffer(), constant,
                                   RoundRobin([client.prepare(_delay_request())]),
                                   max_in_flight=1)
            await run_for(m, 100.0, 2.0)
            return m
        finally:
            await client.close()

    m = asyncio.run(go())
    v = m.buffer.view()
    n = m.buffer.count
    assert 15 <= n <= 42 and (v.status == 0).all()  # at most 2 s / 50 ms (+ the drained one)
    assert m.late >= n - 2
    service = v.last - v.sent
    assert 50 * MS <= np.median(service) <= 90 * MS  # the delay plus a busy 2-core box
    order = np.argsort(v.intended)
    corrected = (v.last - v.intended)[order]
    # The backlog grows by ~40 ms per request: the user-seen latency climbs past 1 s.
    assert corrected[-1] > 1000 * MS > corrected[0]
    assert np.all(np.diff(corrected[5:]) > 0)


# -- which sends go without a lane in a run ------------------------------------------------------

def _settings(*args: str) -> Any:
    from perfanalyzer.cli.main import cli
    from perfanalyzer.config.build import build as config_from_kwargs
    from perfanalyzer.profile.settings import load_settings

    ctx = cli.commands["profile"].make_context(
        "profile", ["-m", "add_sub", "--request-rate-range", "100", *args])
    return load_settings(config_from_kwargs(dict(ctx.params)))


@pytest.mark.parametrize(("args", "plain"), [
    ((), True), (("-i", "grpc"), True), (("-i", "grpc", "--streaming"), False),
    (("--endpoint", "generate_stream"), False)])
def test_a_run_sends_plain_requests_without_a_lane_and_the_rest_on_lanes(
        args: tuple[str, ...], plain: bool) -> None:
    from perfanalyzer.load.build import local_load

    class Client(ScriptedNowait):
        async def generate_stream(self, prepared: Any) -> Any:
            raise AssertionError("not sent")

    client = Client()
    m = local_load(_settings(*args), client, ["p"], RecordBuffer())  # type: ignore[arg-type]
    assert isinstance(m, RequestRateManager)
    assert (m._nowait is not None) == plain
    # a sender that checks every answer (--validation-data, --export-tensors) is never bypassed
    checked = local_load(_settings(*args), client, ["p"], RecordBuffer(),  # type: ignore[arg-type]
                         sender=unary_sender(client))
    assert isinstance(checked, RequestRateManager) and checked._nowait is None
