"""The server-sent events reader (sans I/O) and the generate_stream answer sink: tables plus
Hypothesis (every split of the bytes gives the same events; comments, error events, line endings,
a stream cut short)."""

from __future__ import annotations

import itertools
import json
import time

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from perfanalyzer.client.base import InferRequest, InputTensor
from perfanalyzer.client.generate import StreamedAnswer, generate_body
from perfanalyzer.client.sse import Event, SseParser
from perfanalyzer.errors import ProtocolError, ServerError

STREAM = (b": keep-alive comment\r\n"
          b"data: {\"OUT\":1}\r\n\r\n"
          b"event: update\ndata: line one\ndata:line two\nid: 7\n\n"
          b"data\r\rretry: 10\nunknown: x\ndata: \xc3\xa9t\xc3\xa9\n\n"
          b"id: 8\n\n")  # an event with no data: nothing dispatched
EXPECTED = [Event('{"OUT":1}'), Event("line one\nline two", "update", "7"),
            Event("", "message", "7"), Event("été", "message", "7")]


def _all(chunks: list[bytes]) -> tuple[list[Event], bool]:
    parser = SseParser()
    events = [e for c in chunks for e in parser.feed(c)]
    return events, parser.close()


def test_events_comments_and_fields() -> None:
    assert _all([STREAM]) == (EXPECTED, False)


def test_split_at_every_byte() -> None:
    for cut in range(len(STREAM) + 1):
        assert _all([STREAM[:cut], STREAM[cut:]]) == (EXPECTED, False), cut
    assert _all([STREAM[i:i + 1] for i in range(len(STREAM))]) == (EXPECTED, False)


@given(st.lists(st.integers(0, len(STREAM)), max_size=12))
def test_any_chunking_gives_the_same_events(cuts: list[int]) -> None:
    bounds = sorted({0, len(STREAM), *cuts})
    assert _all([STREAM[a:b] for a, b in itertools.pairwise(bounds)]) == (EXPECTED, False)


_text = st.text(st.characters(blacklist_characters="\r\n", blacklist_categories=("Cs",)),
                max_size=20)


@given(st.lists(st.tuples(st.sampled_from(["", "error", "x"]), st.lists(_text, min_size=1,
                                                                         max_size=3)),
                max_size=6),
       st.sampled_from([b"\n", b"\r\n", b"\r"]), st.data())
def test_generated_streams_round_trip(events: list[tuple[str, list[str]]], eol: bytes,
                                      data: st.DataObject) -> None:
    wire = b""
    for kind, lines in events:
        wire += b": c" + eol
        if kind:
            wire += b"event: " + kind.encode() + eol
        wire += b"".join(b"data: " + line.encode() + eol for line in lines) + eol
    cuts = data.draw(st.lists(st.integers(0, len(wire)), max_size=8))
    bounds = sorted({0, len(wire), *cuts})
    got, cut = _all([wire[a:b] for a, b in itertools.pairwise(bounds)])
    assert not cut
    assert [(e.event, e.data) for e in got] == [(k or "message", "\n".join(v)) for k, v in events]


@pytest.mark.parametrize("tail", [b"data: half", b"data: whole line\n", b"event: x\n"])
def test_a_stream_cut_short_is_reported(tail: bytes) -> None:
    events, cut = _all([b"data: 1\n\n" + tail])
    assert [e.data for e in events] == ["1"] and cut


def _answer(chunks: list[bytes]) -> StreamedAnswer:
    answer = StreamedAnswer()
    for c in chunks:
        answer.append(c)
    return answer


def test_answer_stamps_each_data_event_when_the_bytes_completing_it_arrive() -> None:
    answer = StreamedAnswer()
    answer.append(b'data: {"OUT":1}\n\ndata: {"OUT":2}\n')
    time.sleep(0.001)
    answer.append(b'\ndata: {"OUT":3}\n\n')
    times = answer.finish("here")
    assert len(times) == 3 and times[0] < times[1] == times[2]
    assert not answer  # falsy: the HTTP parser keeps no body of its own


@pytest.mark.parametrize("chunks", [
    [b'data: {"OUT":1}\n\n', b'data: {"error":"model said no"}\n\n'],
    [b'data: {"OUT":1}\n\nevent: error\ndata: model said no\n\n'],
])
def test_an_error_event_is_the_servers_message(chunks: list[bytes]) -> None:
    with pytest.raises(ServerError, match="model said no"):
        _answer(chunks).finish("here")


def test_an_answer_cut_inside_an_event_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError, match="here: the event stream ended inside an event"):
        _answer([b'data: {"OUT":1}\n\ndata: {"OU']).finish("here")


def test_a_data_field_mentioning_error_is_still_a_response() -> None:
    assert len(_answer([b'data: {"text":"\\"error\\" is a word"}\n\n']).finish("x")) == 1


def test_generate_body_fields_named_after_inputs_and_parameters() -> None:
    req = InferRequest(model="m", parameters={"temperature": 1, "stream": True}, inputs=(
        InputTensor.from_numpy("IN", np.arange(6, dtype=np.int32).reshape(2, 3), "INT32"),
        InputTensor.from_numpy("TEXT", np.array([b"hi \xc3\xa9"], dtype=object), "BYTES")))
    assert json.loads(generate_body(req)) == {
        "IN": [0, 1, 2, 3, 4, 5], "TEXT": ["hi é"],
        "parameters": {"temperature": 1, "stream": True}}
