"""Sequences: ids, lengths and flags (pure), and proof from the sequence_acc model's own outputs
that every sequence's steps reached the server in order, with the right flags, under unique ids."""

from __future__ import annotations

import asyncio
import io
import json
import urllib.request
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from perfanalyzer.cli.main import cli
from perfanalyzer.client import ClientOptions, create_client
from perfanalyzer.client.base import InferRequest, InputTensor, RequestedOutput
from perfanalyzer.config.build import build as config_from_kwargs
from perfanalyzer.errors import OptionError
from perfanalyzer.load.concurrency import ClosedLoopManager
from perfanalyzer.load.request_rate import RequestRateManager, unary_sender
from perfanalyzer.load.schedule import constant
from perfanalyzer.load.sequences import (
    SequenceIds,
    SequenceOptions,
    SequenceSlots,
    SequenceSource,
)
from perfanalyzer.profile.run import profile
from perfanalyzer.records import RecordBuffer

STEPS = 40  # data steps; step k sends INPUT = k + 1


def _steps(n: int = STEPS) -> list[InferRequest]:
    return [InferRequest(model="sequence_acc",
                         inputs=(InputTensor.from_numpy("INPUT", np.array([k + 1], np.int32)),),
                         outputs=(RequestedOutput("OUTPUT"), RequestedOutput("COUNT")))
            for k in range(n)]


def _source(prepare: Any = lambda r: r, **kw: Any) -> SequenceSource:
    user_data = kw.pop("user_data", False)
    streams = kw.pop("streams", [_steps()])
    return SequenceSource(prepare, streams, SequenceOptions(**kw), user_data=user_data)


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
    for j in jobs[3:]:
        assert j is not None
        slots.done(j)
    assert [slots.next_nowait().sequence for _ in range(2)] == [1, 2]  # type: ignore[union-attr]


def test_id_range_smaller_than_the_live_sequences_is_an_option_error() -> None:
    with pytest.raises(OptionError, match=r"--sequence-id-range 1:3 holds 3 ids, fewer than the 4"):
        SequenceOptions(id_start=1, id_end=3).check(4)
    with pytest.raises(OptionError, match="--sequence-id-range"):
        SequenceOptions(id_start=0).check(1)
    with pytest.raises(OptionError, match="--sequence-length"):
        SequenceOptions(length=0).check(1)
    SequenceOptions(id_start=1, id_end=4).check(4)


# -- against the real Triton: the server's outputs prove order, flags and unique ids -------------

class Recorder:
    """Wraps a real client: prepares as usual, but sends with ``infer`` and logs what the server
    answered for every request (sequence id, flags, INPUT, OUTPUT, COUNT)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.log: list[tuple[int, bool, bool, int, int, int]] = []

    def prepare(self, request: InferRequest) -> tuple[InferRequest, Any]:
        return request, self.inner.prepare(request)

    async def send(self, prepared: tuple[InferRequest, Any]) -> None:
        request, payload = prepared
        result = await self.inner.infer(payload)
        self.log.append((int(request.sequence_id), request.sequence_start, request.sequence_end,
                         int(request.inputs[0].to_numpy()[0]), int(result.outputs["OUTPUT"][0]),
                         int(result.outputs["COUNT"][0])))


def _success(url: str) -> int:
    with urllib.request.urlopen(f"http://{url}/v2/models/sequence_acc/stats") as r:
        stats = json.load(r)["model_stats"]
    return sum(int(s["inference_stats"]["success"]["count"]) for s in stats)


def _check_log(log: list[tuple[int, bool, bool, int, int, int]], lengths: tuple[int, int]) -> int:
    """Every answer proves its request was step v of a fresh sequence seen in order; returns the
    number of completed sequences."""
    assert log
    open_steps: dict[int, int] = {}
    done = 0
    for sid, start, end, value, total, count in log:
        assert count == value, (sid, value, count)  # the server saw exactly v steps so far
        assert total == value * (value + 1) // 2  # and they were 1, 2, ..., v
        assert start == (value == 1)
        assert open_steps.get(sid, 0) == value - 1  # (completion order = send order per id)
        open_steps[sid] = value
        if end:
            assert lengths[0] <= value <= lengths[1] or value < lengths[0]  # cut short at stop
            del open_steps[sid]
            done += 1
    assert not open_steps, f"sequences left open on the server: {open_steps}"
    return done


async def _closed_loop(url: str, protocol: str, workers: int) -> tuple[Recorder, RecordBuffer]:
    client = create_client(protocol, ClientOptions(url=url))
    rec = Recorder(client)
    try:
        src = _source(rec.prepare, length=8, variation_pct=50, length_given=True, seed=5)
        m = ClosedLoopManager(unary_sender(rec), RecordBuffer(), sequences=src)
        await m.apply(workers)
        await asyncio.sleep(1.0)
        await m.stop()
        assert m.sent == m.buffer.count
        return rec, m.buffer
    finally:
        await client.close()


async def _rate(url: str, protocol: str, *, serial: bool, id_end: int = 0,
                length: int = 8) -> tuple[Recorder, RecordBuffer]:
    client = create_client(protocol, ClientOptions(url=url))
    rec = Recorder(client)
    try:
        src = _source(rec.prepare, length=length, variation_pct=50, length_given=True, seed=6,
                      serial=serial, id_start=1, id_end=id_end)
        slots = SequenceSlots(src, 4)
        m = RequestRateManager(unary_sender(rec), RecordBuffer(), constant, slots,
                               finish=slots.finish)
        await m.apply(300.0)
        await asyncio.sleep(1.0)
        await m.stop()
        return rec, m.buffer
    finally:
        await client.close()


@pytest.mark.server
@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_concurrency_mode_sequences_arrive_in_order(triton: Any, protocol: str) -> None:
    url = triton.http_url if protocol == "http" else triton.grpc_url
    before = _success(triton.http_url)
    rec, buf = asyncio.run(_closed_loop(url, protocol, 3))
    v = buf.view()
    assert (v.status == 0).all()  # a START for a live id, or a step of an unknown one, fails
    assert _success(triton.http_url) - before == buf.count == len(rec.log)
    assert _check_log(rec.log, (4, 12)) >= 6
    assert {e[0] for e in rec.log} == {1, 2, 3}  # one id per worker, reused after each end
    assert set(v.sequence.tolist()) == {1, 2, 3}


@pytest.mark.server
@pytest.mark.parametrize(("protocol", "serial"), [("http", True), ("grpc", False)])
def test_rate_mode_sequences_arrive_in_order(triton: Any, protocol: str, serial: bool) -> None:
    url = triton.http_url if protocol == "http" else triton.grpc_url
    before = _success(triton.http_url)
    rec, buf = asyncio.run(_rate(url, protocol, serial=serial))
    assert (buf.view().status == 0).all()
    assert _success(triton.http_url) - before == buf.count
    assert _check_log(rec.log, (4, 12)) >= 20


@pytest.mark.server
def test_tight_id_range_reuses_ids_only_after_the_end_returned(triton: Any) -> None:
    # 4 live sequences in 4 ids, 2-step sequences: every new sequence needs a just-freed id.
    rec, buf = asyncio.run(_rate(triton.grpc_url, "grpc", serial=True, id_end=4, length=2))
    assert (buf.view().status == 0).all()
    assert {e[0] for e in rec.log} == {1, 2, 3, 4}
    assert _check_log(rec.log, (1, 3)) >= 50


def _profile(url: str, *args: str) -> Any:
    ctx = cli.commands["profile"].make_context("profile", ["-u", url, *args])
    return asyncio.run(profile(config_from_kwargs(dict(ctx.params)), out=io.StringIO()))


@pytest.mark.server
@pytest.mark.parametrize("args", [
    ("-i", "grpc", "--request-rate-range", "200", "--num-of-sequences", "3"),
    ("--concurrency-range", "2", "--sequence-length", "5"),
    ("-i", "grpc", "--streaming", "--request-rate-range", "150", "--serial-sequences"),
])
def test_profiles_of_a_sequence_model_have_no_errors(triton: Any, args: tuple[str, ...]) -> None:
    url = triton.grpc_url if "grpc" in args else triton.http_url
    before = _success(triton.http_url)
    run = _profile(url, "-m", "sequence_acc", "-p", "500", "-r", "3", "-s", "90", *args)
    assert not run.failure and run.points
    buf = run.buffer
    v = buf.view()
    assert (v.status == 0).all() and (v.sequence > 0).all(), v.errors
    assert _success(triton.http_url) - before == buf.count
    per_id: dict[int, int] = defaultdict(int)
    for sid in v.sequence.tolist():
        per_id[sid] += 1
    live = 3 if "--num-of-sequences" in args else (2 if "--concurrency-range" in args else 4)
    assert len(per_id) >= live


async def _via_factory(url: str, data: Path, *args: str) -> tuple[Recorder, RecordBuffer]:
    from perfanalyzer.load.build import build_load
    from perfanalyzer.profile.setup import connect, prepare_model

    ctx = cli.commands["profile"].make_context(
        "profile", ["-u", url, "-m", "sequence_acc", "--input-data", str(data), *args])
    cfg = config_from_kwargs(dict(ctx.params))
    client = await connect(cfg)
    rec = Recorder(client)
    try:
        setup = await prepare_model(client, cfg)
        load = build_load(cfg, rec, setup, [], RecordBuffer())  # type: ignore[arg-type]
        await load.apply(cfg.load.concurrency_range[0] if "--concurrency-range" in args
                         else cfg.load.request_rate_range[0])
        await asyncio.sleep(1.0)
        await load.stop()
        return rec, load.buffer
    finally:
        await client.close()


@pytest.mark.server
@pytest.mark.parametrize("args", [("--concurrency-range", "2"),
                                  ("-i", "grpc", "--request-rate-range", "200")])
def test_json_streams_are_the_sequences(triton: Any, tmp_path: Path,
                                        args: tuple[str, ...]) -> None:
    data = tmp_path / "streams.json"
    data.write_text(json.dumps({"data": [[{"INPUT": [k]} for k in range(1, 4)],
                                         [{"INPUT": [k]} for k in range(1, 6)]]}))
    url = triton.grpc_url if "grpc" in args else triton.http_url
    rec, buf = asyncio.run(_via_factory(url, data, *args))
    assert (buf.view().status == 0).all()
    assert _check_log(rec.log, (3, 5)) >= 10
    ends = [value for _sid, _s, end, value, _t, _c in rec.log if end]
    # Sequence n runs stream n mod 2: the stream's length is the sequence's (no --sequence-length).
    assert set(ends[:-4]) == {3, 5} and ends.count(3) >= ends.count(5) - 4


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
