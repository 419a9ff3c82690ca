"""Background.stop(): the task ends although one cancel was swallowed, within a deadline, and its
failure is not lost."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from perfanalyzer.measure.background import Background


class _SwallowsCancels(Background):
    """A loop that swallows every cancel (as Python 3.11's wait_for may), until told to stop."""

    def __init__(self) -> None:
        self.turns = 0

    async def _run(self) -> None:
        while not self.stopping:
            self.turns += 1
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.sleep(10)


class _Fails(Background):
    async def _run(self) -> None:
        raise RuntimeError("broken")


def test_stop_ends_a_task_that_swallowed_the_cancel() -> None:
    async def go() -> tuple[_SwallowsCancels, bool]:
        bg = _SwallowsCancels()
        bg.start()
        await asyncio.sleep(0)
        stopping = asyncio.ensure_future(bg.stop())
        done, _ = await asyncio.wait({stopping}, timeout=20)  # a bound: this test cannot hang
        return bg, bool(done)

    bg, stopped = asyncio.run(go())
    assert stopped and bg.turns == 1


def test_stop_raises_what_the_task_raised() -> None:
    async def go() -> None:
        bg = _Fails()
        bg.start()
        await asyncio.sleep(0)
        await bg.stop()

    with pytest.raises(RuntimeError, match="broken"):
        asyncio.run(go())


def test_stop_does_not_swallow_the_callers_cancel() -> None:
    async def go() -> bool:
        bg = _SwallowsCancels()
        bg.start()
        await asyncio.sleep(0)
        stopping = asyncio.ensure_future(bg.stop())
        await asyncio.sleep(0)
        stopping.cancel()
        try:
            await stopping
        except asyncio.CancelledError:
            return True
        return False

    assert asyncio.run(go())
