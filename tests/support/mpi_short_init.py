"""``perfanalyzer ARGS`` with a shorter MPI_Init deadline: ``python tests/support/mpi_short_init.py
ARGS``. For the test of that deadline, which checks what happens when it passes, not its length
(the product's 60 s would make the test wait a minute)."""

from __future__ import annotations

import sys
from pathlib import Path

from perfanalyzer.mpi import world

SCRIPT = Path(__file__)
SHORT_INIT_TIMEOUT_S = 8.0

if __name__ == "__main__":
    world.RankGuard.__init__.__defaults__ = (SHORT_INIT_TIMEOUT_S,)
    from perfanalyzer.cli.main import main

    main(sys.argv[1:])
