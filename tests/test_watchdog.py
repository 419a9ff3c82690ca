"""The request-timeout watchdog: its period, and that it stops ticking once its owner says so."""

from __future__ import annotations

import asyncio

from perfanalyzer.client.watchdog import MAX_PERIOD_S, MIN_PERIOD_S, Watchdog


def test_period_is_a_quarter_of_the_timeout_within_bounds() -> None:
    assert Watchdog(60.0, lambda _now: False).period_s == MAX_PERIOD_S
    assert Watchdog(2.0, lambda _now: False).period_s == 0.5
    assert Watchdog(0.001, lambda _now: False).period_s == MIN_PERIOD_S
    assert Watchdog(60.0, lambda _now: False).timeout_ns == 60_000_000_000


def test_ticks_until_the_check_says_stop_then_can_be_armed_again() -> None:
    async def main() -> list[int]:
        ticks: list[int] = []
        done = asyncio.Event()

        def check(now_ns: int) -> bool:
            ticks.append(now_ns)
            if len(ticks) == 3:
                done.set()
                return False
            return True

        watch = Watchdog(0.001, check)
        watch.arm()
        watch.arm()  # no second timer while armed
        await asyncio.wait_for(done.wait(), 5.0)
        assert not watch.armed
        watch.arm()
        assert watch.armed
        watch.stop()
        assert not watch.armed
        return ticks

    ticks = asyncio.run(main())
    assert len(ticks) == 3 and ticks == sorted(ticks)
