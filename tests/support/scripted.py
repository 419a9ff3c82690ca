"""Scripted clients for the load managers' contracts (no server): one that awaits its sends, one
that also starts them without awaiting (as the lean clients do), and a collector of the answers
such a client hands to its callbacks."""

from __future__ import annotations

import asyncio
from typing import Any

from perfanalyzer.errors import ServerError


class ScriptedClient:
    """Answers every send after ``service_s``; fails the ones whose payload is 'bad'."""

    def __init__(self, service_s: float = 0.0) -> None:
        self.service_s = service_s
        self.payloads: list[Any] = []

    async def send(self, prepared: Any) -> None:
        self.payloads.append(prepared)
        await asyncio.sleep(self.service_s)
        if prepared == "bad":
            raise ServerError(400, "bad request")


class ScriptedNowait(ScriptedClient):
    """:class:`ScriptedClient` that also starts sends without awaiting (as the lean HTTP and gRPC
    clients do): answers ``service_s`` later through the callback. ``refuse_every``: every n-th
    ``send_nowait`` says it cannot (the manager then awaits ``send``)."""

    def __init__(self, service_s: float = 0.0, refuse_every: int = 0) -> None:
        super().__init__(service_s)
        self.refuse_every = refuse_every
        self.asked = 0
        self.nowait = 0
        self.pending: set[asyncio.TimerHandle] = set()
        self.peak = self.done = 0  # most requests pending at once; answers given

    def send_nowait(self, prepared: Any, on_done: Any, a: int, b: int) -> bool:
        self.asked += 1
        if self.refuse_every and self.asked % self.refuse_every == 0:
            return False
        self.payloads.append(prepared)
        self.nowait += 1

        def answer() -> None:
            self.pending.discard(handle)
            self.done += 1
            on_done(a, b, ServerError(400, "bad request") if prepared == "bad" else None)

        handle = asyncio.get_running_loop().call_later(self.service_s, answer)
        self.pending.add(handle)
        self.peak = max(self.peak, len(self.pending))
        return True

    def cancel_nowait(self) -> int:
        cut = len(self.pending)
        for handle in self.pending:
            handle.cancel()
        self.pending.clear()
        return cut


async def run_for(manager: Any, level: float, seconds: float, **stop: float) -> None:
    """Apply ``level`` to a load manager, let it run ``seconds``, stop it (``stop``: the keyword
    arguments of its stop, e.g. ``drain_timeout_s``)."""
    await manager.apply(level)
    await asyncio.sleep(seconds)
    await manager.stop(**stop)


class Answers:
    """What a client's ``send_nowait`` callbacks were given, by their first value (a second call
    for one value fails the test): ``got[a] = (b, answer)``."""

    def __init__(self) -> None:
        self.got: dict[int, tuple[int, Any]] = {}
        self.arrived = asyncio.Event()

    def __call__(self, a: int, b: int, answer: Any) -> None:
        assert a not in self.got, "a callback came twice"
        self.got[a] = (b, answer)
        self.arrived.set()

    def answer(self, a: int) -> Any:
        return self.got[a][1]

    async def wait(self, n: int, timeout_s: float = 5.0) -> None:
        async with asyncio.timeout(timeout_s):
            while len(self.got) < n:
                self.arrived.clear()
                await self.arrived.wait()
