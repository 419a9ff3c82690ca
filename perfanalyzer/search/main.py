"""Runs a search from the command line: signals, optional local server, report, exit code.

Exit codes: 0 done, 3 option error, 99 other error (the original configuration is restored
first), 130 after Ctrl-C (finished candidates are kept, reported, and skipped by a rerun).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys

from .. import cleanup
from ..config import RunConfig
from ..errors import EXIT_INTERRUPTED, EXIT_OK
from ..load import uvloop_policy
from ..server.embedded import server_for_run
from .report import write_report
from .runner import SearchConfig, SearchOutcome, run_search


def run(sc: SearchConfig, cfg: RunConfig) -> int:
    with server_for_run(cfg) as effective:
        outcome = uvloop_policy.run(_main(sc, effective))
    level = "Concurrency" if cfg.load.mode.value == "concurrency" else "Request Rate"
    for path in write_report(sc, outcome, level, cfg.server.model):
        print(f"wrote {path}")
    return EXIT_INTERRUPTED if outcome.interrupted else EXIT_OK


async def _main(sc: SearchConfig, cfg: RunConfig) -> SearchOutcome:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    presses = [0]

    def on_sigint() -> None:
        presses[0] += 1
        if presses[0] == 1:
            stop.set()
            print("\nStopping: finishing this point, restoring the model's configuration and "
                  "writing the report (Ctrl-C again to exit now)", file=sys.stderr, flush=True)
        else:
            cleanup.run_all()
            os._exit(EXIT_INTERRUPTED)

    loop.add_signal_handler(signal.SIGINT, on_sigint)
    loop.add_signal_handler(signal.SIGTERM, on_sigint)
    try:
        return await run_search(sc, cfg, stop=stop)
    finally:
        loop.remove_signal_handler(signal.SIGINT)
        loop.remove_signal_handler(signal.SIGTERM)
