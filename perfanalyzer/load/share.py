"""A worker process's share of a run's load (``--workers N``, see :mod:`.workers`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .schedule import Schedule
from .settings import LoadSettings

#: Watermark of a worker's last shipment: nothing more will come.
FOREVER = 1 << 62


def split(total: int, parts: int) -> list[int]:
    """``total`` spread over ``parts`` as evenly as possible, larger shares first."""
    base, extra = divmod(max(0, int(total)), parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


@dataclass(frozen=True)
class WorkerSpec:
    """What every worker gets once, at start."""

    load: LoadSettings
    payloads: list[Any]
    workers: int


@dataclass(frozen=True)
class Share:
    """Worker ``index`` of ``workers``; ``t0`` holds the shared schedule's start (set at apply)."""

    index: int
    workers: int
    t0: list[int]


class Strided:
    """Worker ``index`` of ``step``: requests index, index+step, ... of ``base``, with offsets
    moved so that offset 0 of ``base`` falls on ``t0_ns`` (the manager's own start is read from
    ``manager.start_ns`` when the first offsets are asked, right after it is set)."""

    def __init__(self, base: Schedule, index: int, step: int, t0_ns: int, manager: Any) -> None:
        self.base, self.index, self.step, self.t0_ns, self.manager = base, index, step, t0_ns, manager
        self._shift: int | None = None

    @property
    def rate(self) -> float:
        return self.base.rate / self.step

    def offsets(self, start: int, count: int) -> np.ndarray:
        if self._shift is None:
            self._shift = self.t0_ns - int(self.manager.start_ns)
        if count <= 0:
            return np.zeros(0, dtype=np.int64)
        first = self.index + start * self.step
        full = self.base.offsets(first, (count - 1) * self.step + 1)
        return full[:: self.step] + np.int64(self._shift)


__all__ = ["FOREVER", "Share", "Strided", "WorkerSpec", "split"]
