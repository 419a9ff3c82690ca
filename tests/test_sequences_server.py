"""Sequences against the real Triton: the sequence_acc model's own outputs prove that every
sequence's steps reached the server in order, with the right flags, under unique ids (concurrency
and rate modes, serial and not, tight id ranges, profiles, JSON streams).
"""
from __future__ import annotations

import asyncio
import json
import urllib.request
from collections import defaultdict
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from perfanalyzer.cli.main import cli
from perfanalyzer.client import ClientOptions, create_client
from perfanalyzer.client.base import InferRequest
from perfanalyzer.config.build import build as config_from_kwargs
from perfanalyzer.load.concurrency import ClosedLoopManager
from perfanalyzer.load.request_rate import RequestRateManager, unary_sender
from perfanalyzer.load.schedule import constant
from perfanalyzer.load.sequences import SequenceSlots
from perfanalyzer.records import RecordBuffer
from tests.support.cli_runs import profile_at as _profile
from tests.support.sequences import sequence_source as _source
from tests.support.triton_stats import settled_success_count

# -- against the real Triton: the server's outputs prove order, flags and unique ids -------------

class Recorder:
    """Wraps a real client: prepares as usual, but sends with ``infer`` and logs what the server
    answered for every request (sequence id, flags, INPUT, OUTPUT, COUNT)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.log: list[tuple[int, bool, bool, int, int, int]] = []
        self.sends: list[tuple[int, bool, bool, int]] = []  # (id, start, end, INPUT) in send order
        self.failed: list[tuple[int, bool, bool, int, str, tuple[int, int]]] = []
        self.starts: dict[int, int] = defaultdict(int)  # id -> sequences started on it
        self.runs: list[tuple[int, int]] = []  # per log entry: (id, which of its sequences)

    def prepare(self, request: InferRequest) -> tuple[InferRequest, Any]:
        return request, self.inner.prepare(request)

    async def send(self, prepared: tuple[InferRequest, Any]) -> None:
        request, payload = prepared
        step = (int(request.sequence_id), request.sequence_start, request.sequence_end,
                int(request.inputs[0].to_numpy()[0]))
        self.sends.append(step)
        self.starts[step[0]] += request.sequence_start
        run = (step[0], self.starts[step[0]])
        try:
            result = await self.inner.infer(payload)
        except Exception as exc:
            self.failed.append((*step, str(exc), run))
            raise
        self.log.append((int(request.sequence_id), request.sequence_start, request.sequence_end,
                         int(request.inputs[0].to_numpy()[0]), int(result.outputs["OUTPUT"][0]),
                         int(result.outputs["COUNT"][0])))
        self.runs.append(run)


def _success(url: str) -> int:
    with urllib.request.urlopen(f"http://{url}/v2/models/sequence_acc/stats", timeout=30) as r:
        stats = json.load(r)["model_stats"]
    return sum(int(s["inference_stats"]["success"]["count"]) for s in stats)


def _settled(url: str, expected: int) -> int:
    """sequence_acc's success count once it reached ``expected`` (Triton counts a request just
    after its answer left), or after a short wait: compared exactly, so a wrong count still fails."""
    return settled_success_count(url, "sequence_acc", expected)


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
    assert _settled(triton.http_url, before + buf.count) - before == buf.count == len(rec.log)
    assert _check_log(rec.log, (4, 12)) >= 6
    assert {e[0] for e in rec.log} == {1, 2, 3}  # one id per worker, reused after each end
    assert set(v.sequence.tolist()) == {1, 2, 3}


@pytest.mark.server
@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_rate_mode_serial_sequences_arrive_in_order(triton: Any, protocol: str) -> None:
    # --serial-sequences: a step leaves only after its predecessor returned, so the server sees
    # every sequence in order even over gRPC (whose server threads may reorder concurrent calls).
    url = triton.http_url if protocol == "http" else triton.grpc_url
    before = _success(triton.http_url)
    rec, buf = asyncio.run(_rate(url, protocol, serial=True))
    assert (buf.view().status == 0).all()
    assert _settled(triton.http_url, before + buf.count) - before == buf.count
    assert _check_log(rec.log, (4, 12)) >= 20
    _check_sends(rec.sends, (4, 12))


def _check_sends(sends: list[tuple[int, bool, bool, int]], lengths: tuple[int, int]) -> None:
    """The client handed every sequence's steps out in order 1, 2, ..., n, START on the first only,
    END on the last only, and ended every sequence it started (a fresh id each)."""
    sent: dict[int, int] = {}  # id -> steps sent of its live sequence
    for sid, start, end, value in sends:
        assert value == sent.get(sid, 0) + 1 and start == (value == 1), (sid, value)
        sent[sid] = value
        if end:  # the id may carry a new sequence now (after this one's requests completed)
            assert value <= lengths[1]
            del sent[sid]
    assert not sent, f"sequences never ended: {sent}"


#: A step the server got before its sequence's START or after its END: Triton's sequence batcher
#: refuses an id it does not know; sequence_acc refuses a step queued behind its sequence's END.
NO_START = ("must specify the START flag", "request without START for an unknown sequence")
#: Triton cancels a step that was still queued when its sequence's END had run.
AFTER_END = "gRPC call cancelled"


@pytest.mark.server
def test_rate_mode_non_serial_sequences_keep_each_sequence_state(triton: Any) -> None:
    # Without --serial-sequences a step leaves on schedule even while its predecessor is in
    # flight (perf_analyzer's RandCtxIdTracker is "always available"), so Triton may run a
    # sequence's steps out of order, and reject a step that overtook its START or came after its
    # END. What still holds: the client sent each sequence in order; every request the server
    # accepted was applied exactly once to its own sequence's state; only such steps were refused.
    before = _success(triton.http_url)
    rec, buf = asyncio.run(_rate(triton.grpc_url, "grpc", serial=False))
    v = buf.view()
    assert len(rec.sends) == buf.count == len(rec.log) + len(rec.failed)
    ended = {run for entry, run in zip(rec.log, rec.runs, strict=True) if entry[2]}
    model_refused = 0
    for sid, start, _end, value, error, run in rec.failed:
        assert not start, (sid, value, error)
        assert any(m in error for m in NO_START) or (AFTER_END in error and run in ended), (
            sid, value, error)
        model_refused += NO_START[1] in error
    # Triton counts a request the model answered with an error response as a success.
    assert int((v.status == 0).sum()) == len(rec.log)
    served = len(rec.log) + model_refused
    assert _settled(triton.http_url, before + served) - before == served
    _check_sends(rec.sends, (4, 12))
    assert _check_state(rec.log, rec.runs) >= 20


def _check_state(log: list[tuple[int, bool, bool, int, int, int]],
                 runs: list[tuple[int, int]]) -> int:
    """In whatever order the server ran a sequence's accepted steps, COUNT numbers them 1..k with
    START first, each OUTPUT is the previous one plus its INPUT, and an accepted END came last.
    Returns the number of sequences whose END was accepted."""
    per_id: dict[tuple[int, int], list[tuple[int, int, int, bool, bool]]] = defaultdict(list)
    for (_sid, start, end, value, total, count), run in zip(log, runs, strict=True):
        per_id[run].append((count, value, total, start, end))
    done = 0
    for sid, steps in per_id.items():
        steps.sort()
        assert [s[0] for s in steps] == list(range(1, len(steps) + 1)), (sid, steps)
        assert steps[0][3] and steps[0][1] == steps[0][2] == 1, (sid, steps)
        for (_c, _v, prev, _s, _e), (_c2, value, total, start, _e2) in pairwise(steps):
            assert total == prev + value and not start, (sid, steps)
        ends = [s for s in steps if s[4]]
        assert ends in ([], [steps[-1]]), (sid, steps)
        done += len(ends)
    return done


@pytest.mark.server
def test_tight_id_range_reuses_ids_only_after_the_end_returned(triton: Any) -> None:
    # 4 live sequences in 4 ids, 2-step sequences: every new sequence needs a just-freed id.
    rec, buf = asyncio.run(_rate(triton.grpc_url, "grpc", serial=True, id_end=4, length=2))
    assert (buf.view().status == 0).all()
    assert {e[0] for e in rec.log} == {1, 2, 3, 4}
    assert _check_log(rec.log, (1, 3)) >= 50


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
    assert (v.sequence > 0).all()
    refused = v.status[v.status != 0].tolist()
    if "--serial-sequences" in args or "--concurrency-range" in args:
        assert not refused, v.errors
    else:  # steps may overtake each other (see the non-serial test above): only such refusals
        assert all(any(m in v.errors[c] for m in (*NO_START, AFTER_END)) for c in refused), v.errors
    model_refused = sum(NO_START[1] in v.errors[c] for c in refused)
    served = buf.count - len(refused) + model_refused
    assert _settled(triton.http_url, before + served) - before == served
    per_id: dict[int, int] = defaultdict(int)
    for sid in v.sequence.tolist():
        per_id[sid] += 1
    live = 3 if "--num-of-sequences" in args else (2 if "--concurrency-range" in args else 4)
    assert len(per_id) >= live


async def _via_factory(url: str, data: Path, *args: str) -> tuple[Recorder, RecordBuffer]:
    from perfanalyzer.load.build import build_load
    from perfanalyzer.profile.settings import load_settings
    from perfanalyzer.profile.setup import connect, prepare_model

    ctx = cli.commands["profile"].make_context(
        "profile", ["-u", url, "-m", "sequence_acc", "--input-data", str(data), *args])
    cfg = config_from_kwargs(dict(ctx.params))
    client = await connect(cfg)
    rec = Recorder(client)
    try:
        setup = await prepare_model(client, cfg)
        load = build_load(load_settings(cfg), rec, setup, [], RecordBuffer())  # type: ignore[arg-type]
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
