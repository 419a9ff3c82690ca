"""Runs a profile from a config: signals, optional local server, outputs, exit code."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from typing import Any

from .. import cleanup, redact
from ..config import RunConfig
from ..config.safety import check_fd_room
from ..config.validate import RUN_RULES
from ..errors import EXIT_INTERRUPTED, OptionError, PerfAnalyzerError
from ..load import uvloop_policy
from ..load.factory import check_files
from ..measure.window import PointResult
from ..profile.flow import (
    Files,
    Measured,
    Outputs,
    check_outputs,
    finish_combined,
    finish_run,
    interrupted,
)
from ..profile.multi import is_multi, profile_combinations
from ..profile.repeat import profile_runs  # --repeat N
from ..profile.run import profile
from ..profile.settings import load_settings, served
from ..report.events import EventLog
from ..results import RunResult


def run_profile(cfg: RunConfig) -> int:
    """Run, write outputs (also after Ctrl-C or a mid-run failure), return the exit code."""
    # secrets never printed or written; every output path and the open-file room
    # checked before any load
    redact.register_run(cfg.server.url, cfg.transport.headers, cfg.transport.secret_headers,
                        urls=(cfg.output.metrics_url,))
    check_outputs(cfg)
    check_fd_room(cfg)
    check_files(load_settings(cfg))  # what the load reads, before any connection
    for rule in RUN_RULES:
        rule(cfg)
    if cfg.load.enable_mpi:  # flags that cannot work across ranks
        from ..mpi.world import check_flags

        check_flags(cfg)
    if cfg.output.baseline and not os.path.isfile(cfg.output.baseline):
        what = ("is a folder, not a CSV or JSON run" if os.path.isdir(cfg.output.baseline)
                else "is not a regular file" if os.path.exists(cfg.output.baseline)
                else "does not exist")
        raise OptionError(f"--baseline: {cfg.output.baseline} {what}")

    events = EventLog.open(cfg.output.events) if cfg.output.events else None
    try:
        with redact.scrubbed_std(), served(cfg) as effective:
            code = uvloop_policy.run(_main(effective, events), cfg.transport.event_loop)
        if events is not None:  # a run stopped before its first point ends here
            events.end(code, [])
        return code
    except PerfAnalyzerError as exc:
        if events is not None:  # the end is always said, also when the run could not start
            events.end(exc.exit_code, [], str(exc))
        raise
    except KeyboardInterrupt:
        if events is not None:
            events.end(EXIT_INTERRUPTED, [])
        raise
    finally:
        if events is not None:
            events.close()


#: After the first Ctrl-C the run ends within this many seconds: in-flight requests that have
#: not finished by then are cancelled.
STOP_DEADLINE_S = 5.0
#: After that deadline the run is cancelled again at this period until it has ended.
CANCEL_REPEAT_S = 0.2


async def _main(cfg: RunConfig, events: EventLog | None = None) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    presses = [0]
    ended = [False]  # the run is over, its files written (or it failed)
    outputs = Outputs(files=Files.of(cfg))
    task: asyncio.Future[Any] | None = None  # one run, or a batch x shape sweep's parts

    def cancel_run() -> None:
        if task is not None and not task.done():
            task.cancel()
            # a cancel can be swallowed (Python 3.11's wait_for returns its result when the
            # awaited call completes as the cancel lands): repeat it until the run has ended
            loop.call_later(CANCEL_REPEAT_S, cancel_run)

    def exit_now() -> None:
        if events is not None:
            events.end(EXIT_INTERRUPTED, [])
        cleanup.exit_now(EXIT_INTERRUPTED)

    def on_sigint() -> None:
        presses[0] += 1
        if ended[0]:  # the files are written: a second press only ends the loop's shutdown now
            if presses[0] >= 2:
                cleanup.run_all()
                exit_now()
            return
        if presses[0] == 1:
            stop.set()
            # the run ends within STOP_DEADLINE_S whatever the server does
            loop.call_later(STOP_DEADLINE_S, cancel_run)
            print(f"\nStopping: draining in-flight requests (at most {STOP_DEADLINE_S:g} s) and "
                  "writing what was measured (Ctrl-C again to exit now)", file=sys.stderr,
                  flush=True)
        else:
            cleanup.run_all()
            outputs.emergency()  # what was measured is written, or said not written
            exit_now()

    def on_point(run: RunResult, point: PointResult) -> None:
        outputs.after_point(run)  # after every point: nothing measured is lost
        if events is not None:
            events.point(run, point)

    on_window = events.window if events is not None else None

    mpi: Any = None  # --- MPI: perfanalyzer.mpi.session.MpiSession
    loop.add_signal_handler(signal.SIGINT, on_sigint)
    loop.add_signal_handler(signal.SIGTERM, on_sigint)
    try:
        if is_multi(cfg):  # -b list x --shape sets: one combined CSV, every combination checked
            task = asyncio.ensure_future(profile_combinations(cfg, stop, outputs=outputs))
        elif cfg.load.enable_mpi:  # join the ranks; flags checked across them before any load
            from ..mpi.session import start

            mpi = await start(cfg, stop)
            cfg = mpi.cfg
            outputs.files = Files.of(cfg)
            task = asyncio.ensure_future(profile(cfg, stop_event=stop, on_point=on_point,
                                                 sync=mpi.sync, out=mpi.out,
                                                 on_window=on_window))
        else:  # --repeat N runs the whole sweep N times
            task = asyncio.ensure_future(profile_runs(cfg, stop_event=stop, on_point=on_point,
                                                      on_window=on_window))
        try:
            measured: Measured = await task
        except asyncio.CancelledError:
            if not task.cancelled():
                raise
            if outputs.measured is None:  # stopped before any load point was finished
                print("Stopped before any load point was finished: nothing to write",
                      file=sys.stderr, flush=True)
                return EXIT_INTERRUPTED
            measured = interrupted(outputs.measured)
            print(f"Stopped: in-flight requests cancelled after {STOP_DEADLINE_S:g} s",
                  file=sys.stderr, flush=True)
        except PerfAnalyzerError as exc:
            if mpi is None:
                raise
            mpi.fail(str(exc))
            print(f"error: {exc}", file=sys.stderr, flush=True)
            return int(mpi.leave(exc.exit_code))
        cleanup.run_all()
        # still under our Ctrl-C handler: a press while writing cannot cut the files short
        if not isinstance(measured, RunResult):
            return finish_combined(outputs, measured)
        run = measured
        if mpi is not None:
            from ..mpi.session import finish

            return int(finish(mpi, run, lambda: finish_run(cfg, run, outputs, events)))
        return finish_run(cfg, run, outputs, events)
    finally:
        # The handlers stay until the loop closes (closing removes them): without one, a press
        # while the loop shuts down raises KeyboardInterrupt inside uvloop, which then cannot
        # close ("Cannot close a running event loop", exit 1 and a traceback).
        ended[0] = True
        cleanup.run_all()


__all__ = ["run_profile"]
