"""What a sender returns and the one function that turns it into a record.

A *sender* sends one prepared request and returns when its answer is complete. Every load manager
(closed loop, open loop, sequences, streams, checked answers, periodic concurrency) records what it
returned, or the :class:`~perfanalyzer.errors.ClientError` it raised, with :func:`write_record`, so
a request becomes the same record whichever manager sent it.

A sender returns one of:

* the client's unary answer, ``(send_ns, recv_ns)`` (:meth:`InferenceClient.send`, the hot path:
  the pair the transport already made, nothing wrapped): one response, complete now;
* a :class:`SendResult` (streams, checked answers, generate streams): the response times and
  counts it measured, and what the export may keep;
* None (a sender that measures nothing, e.g. a scripted test client): one response, complete now.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeAlias

from ..client.base import InferenceClient
from ..errors import ClientError
from ..records import RecordBuffer


class SendResult:
    """A request's answer as a sender measured it: first and last response time (ns,
    ``perf_counter_ns``), the number of responses, the transport's send/recv times (0: not
    measured), every response time when it kept them (streams with more than two responses),
    the decoded outputs with their data entry (--export-tensors), and ``error``: why the
    request failed after some responses arrived ("" when it succeeded)."""

    __slots__ = ("error", "first", "last", "recv_ns", "responses", "send_ns", "tensors", "times")

    def __init__(self, first: int, last: int, responses: int, send_ns: int = 0,
                 recv_ns: int = 0, times: tuple[int, ...] = (),
                 tensors: tuple[int, dict[str, Any]] | None = None, error: str = "") -> None:
        self.first = first
        self.last = last
        self.responses = responses
        self.send_ns = send_ns
        self.recv_ns = recv_ns
        self.times = times
        self.tensors = tensors
        self.error = error

    def __repr__(self) -> str:
        return (f"SendResult(first={self.first}, last={self.last}, responses={self.responses}, "
                f"send_ns={self.send_ns}, recv_ns={self.recv_ns}, error={self.error!r})")


#: What a sender's await gives: the client's (send_ns, recv_ns), a SendResult, or None.
Outcome: TypeAlias = "tuple[int, int] | SendResult | None"
#: Sends a prepared request; returns its :data:`Outcome` (raises ClientError when it failed).
Sender = Callable[[Any], Awaitable[Outcome]]
#: Makes a sender and its close function (a streaming sender owns a stream).
SenderFactory = Callable[[], Awaitable["tuple[Sender, Callable[[], Awaitable[None]]]"]]


def write_record(buf: RecordBuffer, intended: int, sent: int,
                 result: Outcome | ClientError,
                 sequence: int = 0) -> None:
    """Record one request: ``result`` is what its sender returned, or the ClientError it raised
    (an error record without a response; an error that ends the run becomes the buffer's
    ``failure``). A unary answer or None completes now (this call reads the clock)."""
    cls = result.__class__
    if cls is tuple:  # the client's unary (send_ns, recv_ns): the hot path
        if sequence:
            done = time.perf_counter_ns()
            buf.add_full(intended, sent, done, done, 0, 1, sequence,
                         result[0], result[1])  # type: ignore[index]
        else:
            buf.add(intended, sent, time.perf_counter_ns(), 0,
                    result[0], result[1])  # type: ignore[index]
    elif result is None:
        done = time.perf_counter_ns()
        buf.add_full(intended, sent, done, done, 0, 1, sequence)
    elif cls is SendResult:
        r: SendResult = result  # type: ignore[assignment]
        buf.add_full(intended, sent, r.first, r.last, buf.error_code(r.error) if r.error else 0,
                     r.responses, sequence, r.send_ns, r.recv_ns)
        if r.times:
            buf.response_times[buf.count - 1] = r.times
        if r.tensors is not None:
            buf.tensors[buf.count - 1] = r.tensors
    else:
        exc: ClientError = result  # type: ignore[assignment]
        done = time.perf_counter_ns()
        buf.add_full(intended, sent, done, done, buf.error_code(str(exc)), 0, sequence)
        if exc.ends_run and not buf.failure:
            buf.failure = str(exc)


class SupportsSend(Protocol):
    """What a unary sender needs of a client (an :class:`InferenceClient` has it)."""

    async def send(self, prepared: Any) -> tuple[int, int] | None: ...


def unary_sender(client: InferenceClient | SupportsSend) -> SenderFactory:
    """Every caller shares ``client.send`` (one response per request)."""

    async def make() -> tuple[Sender, Callable[[], Awaitable[None]]]:
        async def close() -> None:
            return None

        return client.send, close

    return make


__all__ = ["Outcome", "SendResult", "Sender", "SenderFactory", "SupportsSend", "unary_sender",
           "write_record"]
