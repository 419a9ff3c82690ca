"""A coroutine that runs as a task between ``start()`` and ``stop()``: the metrics scraper and the
event-loop lag probe."""

from __future__ import annotations

import asyncio
import contextlib


class Background:
    """Subclasses implement :meth:`_run` (a loop until cancelled) and may name the task."""

    task_name = "pa-background"
    _task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=self.task_name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        raise NotImplementedError


__all__ = ["Background"]
