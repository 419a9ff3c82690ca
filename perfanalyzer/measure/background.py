"""A coroutine that runs as a task between ``start()`` and ``stop()``: the metrics scraper, the
event-loop lag probe and the live status line.

``stop()`` has a deadline and does not trust one cancellation: on Python 3.11, a cancel that
lands while an ``asyncio.wait_for`` inside the task has just seen its inner future finish is
swallowed (``wait_for`` returns the result), and a loop that awaited such a task would run,
and the run would not end, forever. So ``stop()`` also raises :attr:`Background.stopping`
(loops check it), cancels again until the task has ended, and gives up at
:data:`STOP_DEADLINE_S` with one warning rather than wait without end."""

from __future__ import annotations

import asyncio
import sys

#: ``stop()`` waits at most this long for the task to end (it ends at its next await normally).
STOP_DEADLINE_S = 5.0
#: While it waits, ``stop()`` cancels the task again this often (a cancel can be swallowed).
RECANCEL_S = 0.05


class Background:
    """Subclasses implement :meth:`_run` (a loop until cancelled or :attr:`stopping`) and may
    name the task."""

    task_name = "pa-background"
    _task: asyncio.Task[None] | None = None
    _stopping = False

    @property
    def stopping(self) -> bool:
        """True once :meth:`stop` was called: a loop in :meth:`_run` ends at its next turn."""
        return self._stopping

    def start(self) -> None:
        if self._task is None:
            self._stopping = False
            self._task = asyncio.create_task(self._run(), name=self.task_name)

    async def stop(self) -> None:
        """Cancel the task and wait (at most :data:`STOP_DEADLINE_S`) until it has ended; an
        exception it raised is raised here. A cancellation of the caller is not swallowed."""
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping = True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + STOP_DEADLINE_S
        while not task.done():
            left = deadline - loop.time()
            if left <= 0:
                print(f"WARNING: {self.task_name} did not stop within {STOP_DEADLINE_S:g} s; "
                      "left behind", file=sys.stderr, flush=True)
                return
            task.cancel()
            await asyncio.wait({task}, timeout=min(left, RECANCEL_S))
        exc = None if task.cancelled() else task.exception()
        if exc is not None:
            raise exc

    async def _run(self) -> None:
        raise NotImplementedError


__all__ = ["RECANCEL_S", "STOP_DEADLINE_S", "Background"]
