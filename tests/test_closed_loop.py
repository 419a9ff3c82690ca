"""The closed loop's workers as callback chains (a client that sends without awaiting): exactly N
in flight, every request recorded once, retiring workers, --request-count, errors, the drain's
cut; mixed with awaited sends when the client cannot start one at once."""

from __future__ import annotations

import asyncio

import pytest

from perfanalyzer.load.concurrency import ClosedLoopManager
from perfanalyzer.load.send import unary_sender
from perfanalyzer.records import RecordBuffer
from tests.support.scripted import ScriptedNowait, run_for


def _manager(client: ScriptedNowait, payloads: list[str], limit: int = 0) -> ClosedLoopManager:
    return ClosedLoopManager(unary_sender(client), RecordBuffer(), payloads=payloads,
                             send_limit=limit, nowait=client)


@pytest.mark.parametrize("refuse_every", [0, 3])
def test_n_in_flight_every_request_recorded_once(refuse_every: int) -> None:
    client = ScriptedNowait(0.005, refuse_every=refuse_every)
    m = _manager(client, ["a", "bad"])

    async def go() -> list[int]:
        await m.apply(3)
        seen = []
        for _ in range(30):
            await asyncio.sleep(0.01)
            seen.append(m.in_flight)
        await m.stop()
        return seen

    seen = asyncio.run(go())
    assert max(seen) <= 3
    n = m.buffer.count
    # 3 at a time for 0.3 s at 5 ms each: ~180 (one at a time could not pass 60)
    assert n == m.sent == len(client.payloads) > 100
    assert client.peak <= 3 and m.in_flight == 0 and not client.pending
    assert client.nowait > n // 2 and (client.nowait < n) == bool(refuse_every)
    v = m.buffer.view()
    bad = v.status != 0
    assert int(bad.sum()) == client.payloads.count("bad") > 0
    assert v.errors[int(v.status[bad][0])] == "[400] bad request"


def test_a_retired_worker_ends_its_chain_and_the_count_limit_holds() -> None:
    client = ScriptedNowait(0.005)
    m = _manager(client, ["a"])

    async def go() -> int:
        await m.apply(4)
        await asyncio.sleep(0.1)
        await m.apply(1)
        await asyncio.sleep(0.02)  # the three retiring chains end with their answers
        client.peak = 0
        await asyncio.sleep(0.1)
        peak = client.peak
        await m.stop()
        return peak

    assert asyncio.run(go()) == 1
    limited = ScriptedNowait(0.001)
    m = _manager(limited, ["a"], limit=25)

    asyncio.run(run_for(m, 4, 0.3))
    assert m.sent == m.buffer.count == len(limited.payloads) == 25


def test_the_drain_cuts_what_did_not_answer_without_a_record() -> None:
    client = ScriptedNowait(5.0)
    m = _manager(client, ["a"])

    asyncio.run(run_for(m, 3, 0.05, drain_timeout_s=0.05))
    assert m.sent == 3 and m.buffer.count == 0 and m.in_flight == 0
    assert not client.pending  # the client was told to abort them
