"""Settings of a process that generates load, made before numpy loads."""

from __future__ import annotations

import os
import sys

#: OpenBLAS reads this when numpy loads it.
BLAS_THREADS = "OPENBLAS_NUM_THREADS"


def single_threaded_blas() -> None:
    """Load numpy with one OpenBLAS thread. By default OpenBLAS starts a thread per core that
    spins (``sched_yield``) after a BLAS call; the client makes no large matrix products, and on
    a host it shares with the server that spinning is CPU taken from the server. Only this
    process: the variable is removed again once numpy has loaded, so a server or worker the run
    starts does not inherit it. A value the user set (or numpy already loaded) is left alone."""
    if "numpy" in sys.modules or BLAS_THREADS in os.environ:
        return
    os.environ[BLAS_THREADS] = "1"
    try:
        import numpy  # noqa: F401
    finally:
        os.environ.pop(BLAS_THREADS, None)


__all__ = ["single_threaded_blas"]
