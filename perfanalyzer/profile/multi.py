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
from ..errors import (
    EXIT_GENERIC,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_UNSTABLE,
    PerfAnalyzerError,
)
from ..measure.status import did_not_stabilize
from ..report import console
from ..report.combined import Part, combined_csv_text, write_combined_csv, write_combined_export
from ..report.outfile import OutputError, save_fallback
from ..results import RunResult
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


def _write(cfg: RunConfig, parts: Sequence[Part], *, final: bool = False) -> bool:
    """The combined CSV; when it cannot be written, a warning (after a point) or, at the end,
    the data in a fallback file named in the error (never lost). False when it failed."""
    out = cfg.output
    if not (out.filename and any(run.points for _, run in parts)):
        return True
    try:
        write_combined_csv(parts, out.filename, verbose=out.verbose_csv,
                           all_points=out.csv_all_points, streaming=out.csv_streaming)
        return True
    except OutputError as exc:
        if not final:
            print(f"warning: {exc} (retried at the end of the run)", file=sys.stderr)
            return False
        kept = save_fallback(
            lambda: combined_csv_text(parts, out.verbose_csv, out.csv_all_points,
                                      out.csv_streaming), out.filename)
        where = f"the measured data is kept in {kept}" if kept else "it could not be kept"
        print(f"error: {exc}; {where}", file=sys.stderr)
        return False


async def profile_combinations(cfg: RunConfig, stop: asyncio.Event,
                               out: TextIO | None = None) -> int:
    """Measure every combination; write the combined CSV after every point; return the exit
    code (as a single run's: 130 interrupted, 99 a failure, 2 an unstable point)."""
    out = out or sys.stdout
    combos = combinations(cfg)
    await check_all(cfg, combos)
    done: list[Part] = []
    for combo in combos:
        if stop.is_set():
            break
        out.write(f"\n*** Batch size {combo.batch_size}"
                  + (f", shapes {combo.shape_label}" if combo.shapes else "") + "\n")

        def on_point(run: RunResult, _p: object, keys: tuple[str, str] = combo.keys) -> None:
            _write(cfg, [*done, (keys, run)])  # after every point: nothing measured is lost

        run = await profile(combo.config(cfg), out=out, stop_event=stop, on_point=on_point)
        done.append((combo.keys, run))
        if run.points:
            out.write(console.table_text(run) + "\n")
        if run.failure or run.interrupted:
            break
    return _finish(cfg, done)


def _finish(cfg: RunConfig, parts: list[Part]) -> int:
    parts = [p for p in parts if p[1].points or p[1].failure or p[1].interrupted]
    code = EXIT_OK if _write(cfg, parts, final=True) else EXIT_GENERIC
    if cfg.output.profile_export_file:
        try:
            write_combined_export(parts, cfg.output.profile_export_file)
        except PerfAnalyzerError as exc:
            print(f"error: {exc}", file=sys.stderr)
            code = EXIT_GENERIC
    runs = [run for _, run in parts]
    for run in runs:
        if run.failure:
            print(f"error: {run.failure}", file=sys.stderr)
            return EXIT_GENERIC
    if any(run.interrupted for run in runs):
        return EXIT_INTERRUPTED
    if any(did_not_stabilize(run.points, run.settings.judging)
           for run in runs):
        return code or EXIT_UNSTABLE
    return code
