"""Runs a profile from a config: signals, optional local server, outputs, exit code."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Iterator

from .. import cleanup
from ..config import RunConfig
from ..errors import (
    EXIT_GENERIC,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_UNSTABLE,
    OptionError,
    PerfAnalyzerError,
)
from ..load import uvloop_policy
from ..measure.result import RunResult
from ..measure.window import PointResult
from ..profile.repeat import profile_runs  # gate (issue 15): --repeat N
from ..report import console
from ..report.csv import write_csv
from ..report.export import check_export_path, write_export


@contextlib.contextmanager
def _maybe_server(cfg: RunConfig) -> Iterator[RunConfig]:
    if not cfg.server.launch_server:
        yield cfg
        return
    from pathlib import Path

    from ..server.embedded import launch_for_run

    repo = Path(cfg.server.model_repository) if cfg.server.model_repository else None
    srv_cfg = cfg.server
    with launch_for_run(srv_cfg.url or None, srv_cfg.protocol, srv_cfg.model,
                        model_repository=repo) as srv:
        # A second Ctrl-C exits at once (os._exit): the server must go down with us then too.
        stop = cleanup.register(lambda: srv.stop(timeout_s=2))
        try:
            yield cfg.replace(url=srv.url(cfg.server.protocol))
        finally:
            cleanup.unregister(stop)


def run_profile(cfg: RunConfig) -> int:
    """Run, write outputs (also after Ctrl-C or a mid-run failure), return the exit code."""
    check_export_path(cfg.output.profile_export_file)  # refused before any load, as perf_analyzer does
    if cfg.output.baseline and not os.path.isfile(cfg.output.baseline):
        raise OptionError(f"--baseline: {cfg.output.baseline} does not exist")
    with _maybe_server(cfg) as effective:
        return uvloop_policy.run(_main(effective), cfg.transport.event_loop)


def _write(cfg: RunConfig, run: RunResult) -> None:
    if cfg.output.filename and run.points:
        write_csv(run, cfg.output.filename, verbose=cfg.output.verbose_csv)


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
    if cfg.output.profile_export_file:
        try:
            write_export(run, cfg.output.profile_export_file)
        except PerfAnalyzerError as exc:
            print(f"error: {exc}", file=sys.stderr)
            code = EXIT_GENERIC
    code = code or _gate(cfg, run)
    if run.failure:
        print(f"error: {run.failure}", file=sys.stderr)
        return EXIT_GENERIC
    if run.interrupted:
        return EXIT_INTERRUPTED
    if any(not p.stable for p in run.points):
        return code or EXIT_UNSTABLE
    return code


def _gate(cfg: RunConfig, run: RunResult) -> int:
    """``--baseline``: the gate's exit code (1 regression, 2 cannot compare), else 0."""
    if not cfg.output.baseline:
        return EXIT_OK
    from ..gate.hook import baseline_hook

    return baseline_hook(cfg, run) or EXIT_OK


__all__ = ["run_profile"]
