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
from ..profile.multi import is_multi, profile_combinations
from ..profile.repeat import profile_runs  # --repeat N
from ..profile.run import profile
from ..report import console
from ..report.composing_csv import composing_texts
from .outputs import Outputs, check_outputs


def run_profile(cfg: RunConfig) -> int:
    """Run, write outputs (also after Ctrl-C or a mid-run failure), return the exit code."""
    # secrets never printed or written; every output path and the open-file room
    # checked before any load
    redact.register_run(cfg.server.url, cfg.transport.headers, cfg.transport.secret_headers)
    check_outputs(cfg)
    check_fd_room(cfg)
    if cfg.output.baseline and is_multi(cfg):  # search/multi-dim
        raise OptionError("--baseline: compares one sweep; not with a -b list or --shape sets")
    if cfg.load.periodic_concurrency_range and is_multi(cfg):
        raise OptionError("--periodic-concurrency-range: one run; not with a -b list or --shape "
                          "sets")
    if cfg.measurement.repeat > 1 and is_multi(cfg):
        raise OptionError("--repeat: repeats one sweep; not with a -b list or --shape sets")
    if cfg.measurement.repeat > 1 and cfg.load.enable_mpi:
        raise OptionError("--repeat: not with --enable-mpi (run mpiexec again instead)")
    if cfg.load.enable_mpi:  # MPI: flags that cannot work across ranks
        if is_multi(cfg):
            raise OptionError("--enable-mpi: one sweep per rank; not with a -b list or --shape sets")
        from ..mpi.world import check_flags

        check_flags(cfg)
    if cfg.output.baseline and not os.path.isfile(cfg.output.baseline):
        raise OptionError(f"--baseline: {cfg.output.baseline} does not exist")
    from ..server.embedded import server_for_run  # only now: a plain run needs no launcher

    with redact.scrubbed_std(), server_for_run(cfg) as effective:
        return uvloop_policy.run(_main(effective), cfg.transport.event_loop)


#: After the first Ctrl-C the run ends within this many seconds: in-flight requests that have
#: not finished by then are cancelled.
STOP_DEADLINE_S = 5.0


async def _main(cfg: RunConfig) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    presses = [0]
    outputs = Outputs(cfg=cfg)
    task: asyncio.Future[RunResult] | None = None

    def cancel_run() -> None:
        if task is not None:
            task.cancel()

    def on_sigint() -> None:
        presses[0] += 1
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
            os._exit(EXIT_INTERRUPTED)

    def on_point(run: RunResult, _point: PointResult) -> None:
        outputs.after_point(run)  # after every point: nothing measured is lost

    mpi: Any = None  # --- MPI: perfanalyzer.mpi.session.MpiSession
    loop.add_signal_handler(signal.SIGINT, on_sigint)
    loop.add_signal_handler(signal.SIGTERM, on_sigint)
    try:
        if is_multi(cfg):  # -- search/multi-dim: -b list x --shape sets, one combined CSV --
            return await profile_combinations(cfg, stop)
        if cfg.load.enable_mpi:  # join the ranks; flags checked across them before any load
            from ..mpi.session import start

            mpi = await start(cfg, stop)
            cfg = outputs.cfg = mpi.cfg
            task = asyncio.ensure_future(profile(cfg, stop_event=stop, on_point=on_point,
                                                 sync=mpi.sync, out=mpi.out))
        else:  # --repeat N runs the whole sweep N times
            task = asyncio.ensure_future(profile_runs(cfg, stop_event=stop, on_point=on_point))
        try:
            run = await task
        except asyncio.CancelledError:
            if not task.cancelled():
                raise
            if outputs.run is None:  # stopped before any load point was finished
                print("Stopped before any load point was finished: nothing to write",
                      file=sys.stderr, flush=True)
                return EXIT_INTERRUPTED
            run = outputs.run
            run.interrupted = True
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
        if mpi is not None:
            from ..mpi.session import finish

            return int(finish(mpi, run, lambda: _finish(cfg, run, outputs)))
        return _finish(cfg, run, outputs)
    finally:
        loop.remove_signal_handler(signal.SIGINT)
        loop.remove_signal_handler(signal.SIGTERM)
        cleanup.run_all()


def _finish(cfg: RunConfig, run: RunResult, outputs: Outputs) -> int:
    if run.points and run.periodic is None:  # periodic: one point, printed (perf_analyzer: none)
        print(console.table_text(run))
    code = outputs.finish(run) or EXIT_OK
    code = code or _gate(cfg, run)
    if run.failure:
        code = EXIT_GENERIC
        print(f"error: {run.failure}", file=sys.stderr)
    elif run.interrupted:
        code = EXIT_INTERRUPTED
    elif any(not p.stable for p in run.points):
        code = code or EXIT_UNSTABLE
    # one verdict line per run (stderr: stdout stays what `report` re-prints)
    print(_verdict(cfg, run, code), file=sys.stderr, flush=True)
    return code


def _verdict(cfg: RunConfig, run: RunResult, code: int) -> str:
    from ..report.caveats import verdict_line

    out = cfg.output
    composing = list(composing_texts(run, out.filename)) if out.filename else []
    written = [str(p) for p in (out.filename if run.points else None, *composing,
                                out.profile_export_file) if p and os.path.exists(p)]
    line = verdict_line(run, written)
    if code == EXIT_UNSTABLE:
        line += " Exit 2: a load point did not stabilize."
    elif code not in (EXIT_OK,):
        line += f" Exit {code}."
    return line


def _gate(cfg: RunConfig, run: RunResult) -> int:
    """``--baseline``: the gate's exit code (1 regression, 2 cannot compare), else 0."""
    if not cfg.output.baseline:
        return EXIT_OK
    from ..gate.hook import baseline_hook

    return baseline_hook(cfg, run) or EXIT_OK


__all__ = ["run_profile"]
