"""Runs a profile from a config: signals, optional local server, outputs, exit code."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Callable, Iterator
from typing import Any

from ..client.errors import (
    EXIT_GENERIC,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_UNSTABLE,
    OptionError,
    PerfAnalyzerError,
)
from ..config import RunConfig
from ..load import uvloop_policy
from ..measure.result import RunResult
from ..measure.window import PointResult
from ..profile import cleanup
from ..profile.repeat import profile_runs  # gate (issue 15): --repeat N
from ..report import console
from ..report.csv import write_csv
from ..report.export import check_export_path, write_export

#: Extra writers run after the CSV (profile export, baseline gate...): (cfg, run) -> exit code or None.
OUTPUT_HOOKS: list[Callable[[RunConfig, RunResult], int | None]] = []


@contextlib.contextmanager
def _maybe_server(cfg: RunConfig) -> Iterator[RunConfig]:
    if not cfg.launch_server:
        yield cfg
        return
    from pathlib import Path

    from ..server.embedded import launch_for_run

    repo = Path(cfg.model_repository) if cfg.model_repository else None
    with launch_for_run(cfg.url or None, cfg.protocol, cfg.model, model_repository=repo) as srv:
        # A second Ctrl-C exits at once (os._exit): the server must go down with us then too.
        stop = cleanup.register(lambda: srv.stop(timeout_s=2))
        try:
            yield cfg.replace(url=srv.url(cfg.protocol))
        finally:
            cleanup.unregister(stop)


def run_profile(cfg: RunConfig) -> int:
    """Run, write outputs (also after Ctrl-C or a mid-run failure), return the exit code."""
    check_export_path(cfg.profile_export_file)  # refused before any load, as perf_analyzer does
    if cfg.baseline and not os.path.isfile(cfg.baseline):
        raise OptionError(f"--baseline: {cfg.baseline} does not exist")
    with _maybe_server(cfg) as effective:
        return uvloop_policy.run(_main(effective))  # uvloop when installed


def _write(cfg: RunConfig, run: RunResult) -> None:
    if cfg.filename and run.points:
        write_csv(run, cfg.filename, verbose=cfg.verbose_csv)


async def _main(cfg: RunConfig) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    presses = [0]

    def on_sigint() -> None:
        presses[0] += 1
        if presses[0] == 1:
            stop.set()
            print("\nStopping: draining in-flight requests and writing what was measured "
                  "(Ctrl-C again to exit now)", file=sys.stderr, flush=True)
        else:
            cleanup.run_all()
            os._exit(EXIT_INTERRUPTED)

    loop.add_signal_handler(signal.SIGINT, on_sigint)
    loop.add_signal_handler(signal.SIGTERM, on_sigint)
    try:
        def on_point(run: RunResult, _point: PointResult) -> None:
            _write(cfg, run)  # after every point: nothing measured is lost

        run = await profile_runs(cfg, stop_event=stop, on_point=on_point)  # gate: --repeat
    finally:
        loop.remove_signal_handler(signal.SIGINT)
        loop.remove_signal_handler(signal.SIGTERM)
        cleanup.run_all()
    return _finish(cfg, run)


def _finish(cfg: RunConfig, run: RunResult) -> int:
    if run.points:
        print(console.table_text(run))
    _write(cfg, run)
    code = EXIT_OK
    if cfg.profile_export_file:
        try:
            write_export(run, cfg.profile_export_file)
        except PerfAnalyzerError as exc:
            print(f"error: {exc}", file=sys.stderr)
            code = EXIT_GENERIC
    for hook in OUTPUT_HOOKS:
        result = hook(cfg, run)
        if result:
            code = code or result
    if run.failure:
        print(f"error: {run.failure}", file=sys.stderr)
        return EXIT_GENERIC
    if run.interrupted:
        return EXIT_INTERRUPTED
    if any(not p.stable for p in run.points):
        return code or EXIT_UNSTABLE
    return code


__all__: list[Any] = ["OUTPUT_HOOKS", "run_profile"]
