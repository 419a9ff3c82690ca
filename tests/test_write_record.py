"""write_record: every kind of sender answer becomes the record it stands for, field by field."""

from __future__ import annotations

import time

import numpy as np

from perfanalyzer.errors import ClientError, ServerError
from perfanalyzer.load.send import SendResult, write_record
from perfanalyzer.records import RecordBuffer


class _Fatal(ClientError):
    ends_run = True


def _row(buf: RecordBuffer, i: int) -> dict[str, int]:
    v = buf.view()
    return {name: int(getattr(v, name)[i]) for name in
            ("intended", "sent", "first", "last", "status", "responses", "sequence", "send_ns",
             "recv_ns")}


def test_unary_answer_completes_now_with_the_transport_times() -> None:
    buf = RecordBuffer()
    before = time.perf_counter_ns()
    write_record(buf, 10, 20, (7, 9))
    write_record(buf, 11, 21, (3, 4), sequence=5)
    write_record(buf, 12, 22, None)
    after = time.perf_counter_ns()
    rows = [_row(buf, i) for i in range(3)]
    for r in rows:
        assert before <= r["first"] == r["last"] <= after
        assert (r["status"], r["responses"]) == (0, 1)
    assert [(r["intended"], r["sent"], r["sequence"], r["send_ns"], r["recv_ns"]) for r in rows] \
        == [(10, 20, 0, 7, 9), (11, 21, 5, 3, 4), (12, 22, 0, 0, 0)]
    assert not buf.response_times and not buf.tensors and not buf.failure


def test_a_send_result_keeps_its_times_tensors_and_error() -> None:
    buf = RecordBuffer()
    outputs = {"OUT": np.arange(3)}
    write_record(buf, 1, 2, SendResult(30, 90, 4, 5, 6, times=(30, 40, 50, 90),
                                       tensors=(2, outputs)), sequence=8)
    write_record(buf, 3, 4, SendResult(35, 60, 1, times=(35,), error="cut short"))
    assert _row(buf, 0) == {"intended": 1, "sent": 2, "first": 30, "last": 90, "status": 0,
                            "responses": 4, "sequence": 8, "send_ns": 5, "recv_ns": 6}
    assert buf.response_times[0] == (30, 40, 50, 90) and buf.tensors[0] == (2, outputs)
    r = _row(buf, 1)
    assert (r["first"], r["last"], r["responses"]) == (35, 60, 1)
    assert buf.errors[r["status"]] == "cut short"
    assert not buf.failure  # a failed request is data; only an error that ends the run fails it


def test_an_error_is_a_record_without_response_and_may_end_the_run() -> None:
    buf = RecordBuffer()
    write_record(buf, 1, 2, ServerError(400, "bad"), sequence=3)
    assert not buf.failure
    write_record(buf, 4, 5, _Fatal("mismatch"))
    write_record(buf, 6, 7, _Fatal("later"))
    rows = [_row(buf, i) for i in range(3)]
    assert [buf.errors[r["status"]] for r in rows] == ["[400] bad", "mismatch", "later"]
    assert [(r["responses"], r["sequence"], r["first"] == r["last"]) for r in rows] == [
        (0, 3, True), (0, 0, True), (0, 0, True)]
    assert buf.failure == "mismatch"  # the first one that ends the run
