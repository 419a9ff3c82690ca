"""Runs a search from the command line: signals, optional local server, report, exit code.

Exit codes: 0 done, 3 option error, 99 other error (the original configuration is restored
first), 130 after Ctrl-C, SIGTERM or SIGHUP (finished candidates are kept, reported, and skipped
by a rerun). SIGHUP is a dropped ssh session: the terminal may be gone, so what is printed after
it is best effort, while the restore and the files are not.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import signal
import sys
from typing import TextIO, cast

from .. import cleanup
from .. import columns as C
from ..config import LoadMode, RunConfig
from ..errors import EXIT_INTERRUPTED, EXIT_OK
from ..load import uvloop_policy
from ..profile.settings import served
from .report import write_report
from .runner import SearchConfig, SearchOutcome, run_search


def run(sc: SearchConfig, cfg: RunConfig) -> int:
    with served(cfg) as effective:
        outcome = uvloop_policy.run(_main(sc, effective))
    level = C.CONCURRENCY if cfg.load.mode is LoadMode.CONCURRENCY else C.REQUEST_RATE
    for path in write_report(sc, outcome, level, cfg.server.model):
        _say(f"wrote {path}", sys.stdout)
    return EXIT_INTERRUPTED if outcome.interrupted else EXIT_OK


async def _main(sc: SearchConfig, cfg: RunConfig) -> SearchOutcome:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    presses = [0]

    def on_sigint() -> None:
        presses[0] += 1
        if presses[0] == 1:
            stop.set()
            _say("\nStopping: finishing this point, restoring the model's configuration and "
                 "writing the report (Ctrl-C again to exit now)", sys.stderr)
        else:
            cleanup.run_all()
            cleanup.exit_now(EXIT_INTERRUPTED)

    for sig in _STOP_SIGNALS:
        loop.add_signal_handler(sig, on_sigint)
    # The handlers stay until the loop closes (closing removes them): without one, a press while
    # the loop shuts down raises KeyboardInterrupt inside uvloop, which then cannot close.
    return await run_search(sc, cfg, stop=stop, out=cast(TextIO, _Console(sys.stdout)))


#: Each stops the search the same way: finish the point, restore, write the report.
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _say(text: str, stream: TextIO) -> None:
    with contextlib.suppress(OSError, ValueError):  # a hung-up terminal: EIO, EPIPE
        print(text, file=stream, flush=True)


class _Console(io.TextIOBase):
    """The console the search writes its progress to; a hung-up terminal does not stop it."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__()
        self.stream = stream

    def write(self, text: str) -> int:
        with contextlib.suppress(OSError, ValueError):
            self.stream.write(text)
        return len(text)

    def flush(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.stream.flush()
