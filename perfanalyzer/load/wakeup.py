"""Waking the event loop at an exact ``perf_counter_ns`` time, for the open-loop scheduler.

The event loops' own timers are too coarse for a send schedule: uvloop (libuv) rounds a delay to
whole milliseconds and measures it from a cached millisecond clock, asyncio's selector waits whole
milliseconds too, so a sleep wakes anywhere from about 1 ms early to 1-2 ms late, and a send more
than 1 ms behind its schedule counts as late. Spinning the last part of every wait on the loop
keeps sends on time but costs CPU equal to the wait (a whole core from ~2000 requests/s).

On Linux a ``timerfd`` armed with an absolute CLOCK_MONOTONIC deadline (the clock behind
``time.perf_counter_ns`` there) becomes readable at that time with the kernel's hrtimer precision;
the loop watches it like a socket, so a wait costs one ``timerfd_settime`` whatever its length
(:class:`FdAlarm`). A schedule with a fixed period (a constant rate) keeps the timer ticking at
that period: each later wake-up costs a ``read`` of the tick instead of a ``timerfd_settime``
(re-arming the nearest timer reprograms the CPU's timer, which a virtual machine pays dearly for).
Elsewhere (no timerfd, or perf_counter not on CLOCK_MONOTONIC) :class:`LoopAlarm` sleeps to about
a millisecond before the deadline and spins the rest.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import os
import sys
import time
from collections.abc import Callable

#: The loop's selector waits in whole milliseconds: sleep until about this long before a deadline.
SLEEP_GRAIN_NS = 1_000_000
#: :class:`LoopAlarm` spends a wait shorter than this on loop turns (CPU equal to the wait).
SPIN_NS = 500_000
#: A wait shorter than this is not worth a wake-up: the send goes at once (never more than this
#: early, so the "sent" time stays at or after the intended one within this grace).
SEND_EARLY_NS = 20_000

_CLOCK_MONOTONIC = 1
_TFD_TIMER_ABSTIME = 1
_TFD_NONBLOCK = os.O_NONBLOCK
_TFD_CLOEXEC = os.O_CLOEXEC

class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


class _Itimerspec(ctypes.Structure):
    _fields_ = [("it_interval", _Timespec), ("it_value", _Timespec)]


def _libc() -> ctypes.CDLL | None:
    """libc with timerfd, when perf_counter_ns reads CLOCK_MONOTONIC (else None)."""
    if not sys.platform.startswith("linux"):
        return None
    if "CLOCK_MONOTONIC" not in time.get_clock_info("perf_counter").implementation:
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        libc.timerfd_create.argtypes = [ctypes.c_int, ctypes.c_int]
        libc.timerfd_settime.argtypes = [ctypes.c_int, ctypes.c_int,
                                         ctypes.POINTER(_Itimerspec), ctypes.c_void_p]
    except (OSError, AttributeError):
        return None
    return libc


_LIBC = _libc()


class FdAlarm:
    """Calls ``callback`` from the running loop at the time given to :meth:`at` (a timerfd: never
    before it), without a task: the open-loop scheduler sends from there. Each firing expects
    the callback to arm the next time; when it does not, the alarm is disarmed, which also clears
    the expiry (re-arming a timerfd resets it), so a one-shot alarm needs no read.

    ``at(deadline, period)`` with a period also keeps the timer ticking every ``period`` ns after
    ``deadline``; a later ``at`` for the very next tick of that grid (with the same period) then
    needs no system call, and each firing reads the tick count instead."""

    def __init__(self, libc: ctypes.CDLL, loop: asyncio.AbstractEventLoop,
                 callback: Callable[[], None]) -> None:
        fd = libc.timerfd_create(_CLOCK_MONOTONIC, _TFD_NONBLOCK | _TFD_CLOEXEC)
        if fd < 0:
            raise OSError(ctypes.get_errno(), "timerfd_create failed")
        self._fd, self._loop, self._callback = fd, loop, callback
        self._spec = _Itimerspec()
        self._ref = ctypes.byref(self._spec)
        self._settime = libc.timerfd_settime
        self._armed = False
        #: The ticking timer's period (0: one-shot) and one tick of its grid.
        self._period = self._anchor = 0
        loop.add_reader(fd, self._fired)

    def _fired(self) -> None:
        self._armed = False
        if self._period:
            try:  # (not contextlib.suppress: an object per wake-up)  # noqa: SIM105
                os.read(self._fd, 8)  # the tick count: a ticking timerfd stays readable until read
            except BlockingIOError:
                pass
        try:
            self._callback()
        finally:
            if not self._armed and self._fd >= 0:
                self.cancel()

    def at(self, deadline_ns: int, period_ns: int = 0) -> None:
        """Fire at ``deadline_ns`` (never before); with ``period_ns``, keep ticking at that
        period afterwards (for later calls of ``at`` on that grid)."""
        period = self._period
        if period and period == period_ns and (deadline_ns - self._anchor) % period == 0 and \
                0 < deadline_ns - time.perf_counter_ns() <= period:
            self._armed = True  # the ticking timer's next tick is this deadline
            return
        spec = self._spec
        spec.it_value.tv_sec, spec.it_value.tv_nsec = divmod(
            deadline_ns if deadline_ns > 0 else 1, 1_000_000_000)
        if period != period_ns:
            spec.it_interval.tv_sec, spec.it_interval.tv_nsec = divmod(period_ns, 1_000_000_000)
        if self._settime(self._fd, _TFD_TIMER_ABSTIME, self._ref, None) != 0:
            raise OSError(ctypes.get_errno(), "timerfd_settime failed")
        self._period, self._anchor = period_ns, deadline_ns
        self._armed = True

    def cancel(self) -> None:
        spec = self._spec
        spec.it_value.tv_sec = spec.it_value.tv_nsec = 0  # a zero time disarms
        spec.it_interval.tv_sec = spec.it_interval.tv_nsec = 0
        self._settime(self._fd, _TFD_TIMER_ABSTIME, self._ref, None)
        self._period = 0
        self._armed = False

    def close(self) -> None:
        if self._fd >= 0:
            self._loop.remove_reader(self._fd)
            os.close(self._fd)
            self._fd = -1


class LoopAlarm:
    """:class:`FdAlarm` on the loop's own timers (no timerfd): a timer to about 1 ms before the
    time, then a call on every loop turn until it is at most :data:`SEND_EARLY_NS` away (CPU
    equal to that last part of the wait). The callback is called at most
    that early; it re-checks the time and arms again."""

    def __init__(self, loop: asyncio.AbstractEventLoop, callback: Callable[[], None]) -> None:
        self._loop, self._callback = loop, callback
        self._handle: asyncio.Handle | None = None

    def _fired(self) -> None:
        self._handle = None
        self._callback()

    def at(self, deadline_ns: int, period_ns: int = 0) -> None:
        self.cancel()
        wait = deadline_ns - time.perf_counter_ns()
        if wait > SPIN_NS:
            delay = wait - SLEEP_GRAIN_NS if wait > SLEEP_GRAIN_NS else wait
            self._handle = self._loop.call_later(delay / 1e9, self._fired)
        else:
            self._handle = self._loop.call_soon(self._fired)

    def cancel(self) -> None:
        handle, self._handle = self._handle, None
        if handle is not None:
            handle.cancel()

    def close(self) -> None:
        self.cancel()


Alarm = FdAlarm | LoopAlarm


def alarm(callback: Callable[[], None], precise: bool = True) -> Alarm:
    """An alarm on the running loop calling ``callback``: a timerfd where there is one (and
    ``precise``), else the loop's timers. Close it when done."""
    loop = asyncio.get_running_loop()
    if precise and _LIBC is not None:
        try:
            return FdAlarm(_LIBC, loop, callback)
        except (OSError, NotImplementedError):  # no fd watching (e.g. a Windows proactor)
            pass
    return LoopAlarm(loop, callback)


__all__ = ["SEND_EARLY_NS", "Alarm", "FdAlarm", "LoopAlarm", "alarm"]
