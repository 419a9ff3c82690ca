"""Sequences: ids, lengths and flags (pure). The proof from the sequence_acc model's own outputs
that every sequence's steps reached the server in order, with the right flags, under unique ids,
is in test_sequences_server.py."""

from __future__ import annotations

import asyncio
from collections import defaultdict

import numpy as np
import pytest

from perfanalyzer.client.base import InferRequest
from perfanalyzer.errors import OptionError
from perfanalyzer.load.concurrency import ClosedLoopManager
from perfanalyzer.load.request_rate import RequestRateManager, unary_sender
from perfanalyzer.load.schedule import constant
from perfanalyzer.load.sequences import SequenceIds, SequenceOptions, SequenceSlots
from perfanalyzer.records import RecordBuffer
from tests.support.sequences import sequence_source as _source
from tests.support.sequences import steps as _steps

# -- pure parts ----------------------------------------------------------------------------------

def test_ids_fresh_then_reused_after_release_and_waiting_when_exhausted() -> None:
    async def go() -> None:
        ids = SequenceIds(5, 7)
        assert [ids.try_acquire() for _ in range(3)] == [5, 6, 7]
        assert ids.try_acquire() is None and ids.live == {5, 6, 7}
        waiter = asyncio.create_task(ids.acquire())
        await asyncio.sleep(0)
        assert not waiter.done()
        ids.release(6)
        assert await waiter == 6 and ids.live == {5, 6, 7}
        ids.release(7)
        ids.release(5)
        assert ids.live == {6}
        assert [ids.try_acquire(), ids.try_acquire(), ids.try_acquire()] == [7, 5, None]

    asyncio.run(go())


def test_unbounded_ids_count_up_from_start() -> None:
    ids = SequenceIds(1, 0)
    assert [ids.try_acquire() for _ in range(4)] == [1, 2, 3, 4]


def test_lengths_are_seeded_and_within_the_variation() -> None:
    a = [_source(length=20, variation_pct=20, seed=3).draw_length() for _ in range(1)]
    src, again = _source(length=20, variation_pct=20, seed=3), _source(length=20,
                                                                        variation_pct=20, seed=3)
    lengths = [src.draw_length() for _ in range(2000)]
    assert lengths == [again.draw_length() for _ in range(2000)]
    assert lengths[0] == a[0]
    assert min(lengths) == 16 and max(lengths) == 24  # uniform over 16..24, every value drawn
    assert len(set(lengths)) == 9
    assert np.mean(lengths) == pytest.approx(20, abs=0.3)
    fixed = _source(length=7, variation_pct=0)
    assert {fixed.draw_length() for _ in range(50)} == {7}
    short = _source(length=1, variation_pct=90)
    assert {short.draw_length() for _ in range(50)} == {1, 2}  # never below 1


def test_flags_ids_and_steps_of_a_sequence() -> None:
    src = _source(length=3, variation_pct=0)
    seq = src.new(9)
    jobs = [src.next_step(seq) for _ in range(3)]
    assert seq.ended
    reqs = [j.prepared for j in jobs]
    assert [(r.sequence_id, r.sequence_start, r.sequence_end) for r in reqs] == [
        (9, True, False), (9, False, False), (9, False, True)]
    assert [int(r.inputs[0].to_numpy()[0]) for r in reqs] == [1, 2, 3]
    assert [j.end for j in jobs] == [False, False, True] and jobs[2].seq is seq
    one = _source(length=1, variation_pct=0)
    job = one.next_step(one.new(4))
    assert (job.prepared.sequence_start, job.prepared.sequence_end) == (True, True)
    cut = src.new(5)
    src.next_step(cut)
    assert src.next_step(cut, force_end=True).prepared.sequence_end and cut.ended


def test_user_data_streams_give_the_length_unless_one_is_given() -> None:
    streams = [_steps(3), _steps(5)]
    src = _source(streams=streams, user_data=True, length=20)
    assert [src.new(i).length for i in range(1, 5)] == [3, 5, 3, 5]  # streams round-robin
    given = _source(streams=streams, user_data=True, length=4, variation_pct=0, length_given=True)
    seq = given.new(1)
    assert seq.length == 4
    values = [int(given.next_step(seq).prepared.inputs[0].to_numpy()[0]) for _ in range(4)]
    assert values == [1, 2, 3, 1]  # steps wrap around the stream


def test_prepared_payloads_are_cached_per_step_id_and_flags() -> None:
    calls: list[InferRequest] = []

    def prepare(r: InferRequest) -> InferRequest:
        calls.append(r)
        return r

    src = _source(prepare, streams=[_steps(1)], length=4, variation_pct=0)
    for sid in (1, 2, 1, 2, 1):
        seq = src.new(sid)
        while not seq.ended:
            src.next_step(seq)
    # 2 ids × (start, middle, end) combinations, each serialized once.
    assert len(calls) == 6


def test_rate_slots_round_robin_and_replace_ended_sequences() -> None:
    src = _source(length=2, variation_pct=0)
    slots = SequenceSlots(src, 3)
    jobs = [slots.next_nowait() for _ in range(6)]
    assert [j.sequence for j in jobs if j] == [1, 2, 3, 1, 2, 3]
    assert [j.prepared.sequence_start for j in jobs if j] == [True] * 3 + [False] * 3
    new = slots.next_nowait()
    assert new is not None and new.sequence == 4  # 1..3 still live until their end completes
    for j in jobs[3:]:  # the ends completed, but (unserial) the starts are still in flight
        assert j is not None
        slots.done(j)
    assert slots.next_nowait().sequence == 5  # type: ignore[union-attr]
    for j in jobs[:2]:
        assert j is not None
        slots.done(j)  # now nothing of sequences 1 and 2 is in flight: their ids are free
    # slot 3 starts a sequence on the freed id 1 (3 itself is still live); slot 1 sends 4's end
    assert [slots.next_nowait().sequence for _ in range(2)] == [1, 4]  # type: ignore[union-attr]


def test_serial_steps_wait_for_their_predecessor_and_count_as_late() -> None:
    # The server holds every request until `gate` opens (>= 20 ms after t0); a serial sequence's
    # step 2 (intended at t0 + 1 ms) must not leave before step 1 returned, and the wait shows.
    async def go() -> RequestRateManager:
        gate = asyncio.Event()
        live: dict[int, int] = defaultdict(int)

        class Held:
            async def send(self, prepared: InferRequest) -> None:
                sid = int(prepared.sequence_id)
                live[sid] += 1
                assert live[sid] == 1, f"two steps of sequence {sid} in flight"
                await gate.wait()
                live[sid] -= 1

        src = _source(length=3, variation_pct=0, serial=True)
        slots = SequenceSlots(src, 1)
        m = RequestRateManager(unary_sender(Held()), RecordBuffer(), constant, slots,
                               finish=slots.finish)
        await m.apply(1000.0)
        await asyncio.sleep(0.02)
        gate.set()
        await m.stop()
        return m

    m = asyncio.run(go())
    v = m.buffer.view()
    assert (v.status == 0).all() and m.sent == m.buffer.count
    first = np.flatnonzero(v.sequence == 1)[:3]  # sequence 1's steps complete in order
    late = v.sent[first] - v.intended[first]
    assert late[1] >= 19_000_000 and late[2] >= 18_000_000  # intended t0 + 1, 2 ms; sent >= 20
    assert m.late >= 2


def test_id_range_smaller_than_the_live_sequences_is_an_option_error() -> None:
    with pytest.raises(OptionError, match=r"--sequence-id-range 1:3 holds 3 ids, fewer than the 4"):
        SequenceOptions(id_start=1, id_end=3).check(4)
    with pytest.raises(OptionError, match="--sequence-id-range"):
        SequenceOptions(id_start=0).check(1)
    with pytest.raises(OptionError, match="--sequence-length"):
        SequenceOptions(length=0).check(1)
    SequenceOptions(id_start=1, id_end=4).check(4)


def test_retiring_workers_end_their_sequences() -> None:
    sent: list[InferRequest] = []

    class Scripted:
        async def send(self, request: InferRequest) -> None:
            sent.append(request)
            await asyncio.sleep(0.002)

    async def go() -> ClosedLoopManager:
        src = _source(length=1000, variation_pct=0)  # nobody finishes a sequence by itself
        m = ClosedLoopManager(unary_sender(Scripted()), RecordBuffer(), sequences=src)
        await m.apply(3)
        await asyncio.sleep(0.1)
        await m.apply(1)
        await asyncio.sleep(0.1)
        await m.stop()
        return m

    m = asyncio.run(go())
    by_id: dict[int, list[InferRequest]] = defaultdict(list)
    for r in sent:
        by_id[int(r.sequence_id)].append(r)
    assert sorted(by_id) == [1, 2, 3]
    for requests in by_id.values():
        assert requests[0].sequence_start and not any(r.sequence_start for r in requests[1:])
        assert requests[-1].sequence_end and not any(r.sequence_end for r in requests[:-1])
    assert len(by_id[1]) > len(by_id[2]) and m.buffer.count == m.sent == len(sent)
