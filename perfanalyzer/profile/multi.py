"""Multi-dimensional sweeps in one profile command: every client batch size (``-b 1,2,4``) crossed
with every shape set (``--shape NAME:A|B``), each swept over the concurrency or rate range by the
ordinary profile code; one combined CSV (``-f``), one export, exit code as a single run's.

Every combination is checked against the model (shapes, batch size) before any load is sent.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TextIO

from ..config import RunConfig
from ..report import console
from ..report.combined import Part
from ..results import RunResult
from .flow import Files, Outputs
from .run import profile
from .setup import connect, prepare_model

ShapeSet = tuple[tuple[str, tuple[int, ...]], ...]


@dataclass(frozen=True, kw_only=True)
class Combination:
    batch_size: int
    shapes: ShapeSet

    @property
    def shape_label(self) -> str:
        return ";".join(f"{n}:{','.join(map(str, d))}" for n, d in self.shapes)

    @property
    def keys(self) -> tuple[str, str]:
        return (str(self.batch_size), self.shape_label)

    def config(self, cfg: RunConfig) -> RunConfig:
        return cfg.replace(batch_size=self.batch_size, shapes=self.shapes, batch_sizes=(),
                           shape_sets=(), filename=None, profile_export_file=None)


def is_multi(cfg: RunConfig) -> bool:
    return cfg.inputs.combined


def combinations(cfg: RunConfig) -> list[Combination]:
    """Batch sizes outer, shape sets inner, in the order given."""
    batches = cfg.inputs.batch_sizes or (cfg.inputs.batch_size,)
    sets = cfg.inputs.shape_sets or (cfg.inputs.shapes,)
    return [Combination(batch_size=b, shapes=s) for b in batches for s in sets]


async def check_all(cfg: RunConfig, combos: Sequence[Combination]) -> None:
    """Every combination against the model, before any load (raises OptionError)."""
    client = await connect(cfg)
    try:
        for combo in combos:
            await prepare_model(client, combo.config(cfg))
    finally:
        await client.close()


async def profile_combinations(cfg: RunConfig, stop: asyncio.Event,
                               out: TextIO | None = None, outputs: Outputs | None = None
                               ) -> list[Part]:
    """Measure every combination; write the combined CSV after every point (through
    ``outputs``, which a second Ctrl-C writes from); return each combination's run
    (:func:`perfanalyzer.profile.flow.finish_combined` writes them and says the exit code)."""
    out = out or sys.stdout
    outputs = outputs or Outputs(files=Files.of(cfg))
    combos = combinations(cfg)
    await check_all(cfg, combos)
    done: list[Part] = []
    for combo in combos:
        if stop.is_set():
            break
        out.write(f"\n*** Batch size {combo.batch_size}"
                  + (f", shapes {combo.shape_label}" if combo.shapes else "") + "\n")

        def on_point(run: RunResult, _p: object, keys: tuple[str, str] = combo.keys) -> None:
            outputs.after_point([*done, (keys, run)])  # after every point: nothing is lost

        run = await profile(combo.config(cfg), out=out, stop_event=stop, on_point=on_point)
        done.append((combo.keys, run))
        if run.points:
            out.write(console.table_text(run) + "\n")
        if run.failure or run.interrupted:
            break
    return done
