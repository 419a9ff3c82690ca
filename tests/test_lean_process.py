"""The load-generating process loads numpy with one OpenBLAS thread, without passing the setting
on to the processes it starts, and leaves a value the user chose alone."""

from __future__ import annotations

import os
import subprocess
import sys

PROBE = """
import os, sys
from perfanalyzer.cli.lean_process import single_threaded_blas
single_threaded_blas()
import numpy
print(len(os.listdir("/proc/self/task")), os.environ.get("OPENBLAS_NUM_THREADS", "-"))
"""


def _probe(env: dict[str, str]) -> tuple[int, str]:
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                         timeout=60, check=True, env=env).stdout.split()
    return int(out[0]), out[1]


def test_numpy_loads_with_one_blas_thread_and_children_do_not_inherit_it() -> None:
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    assert _probe(env) == (1, "-")  # no BLAS thread beside the main one; not in the environment


def test_a_users_setting_is_kept() -> None:
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "2"}
    threads, value = _probe(env)
    assert value == "2"
    assert threads == min(2, os.cpu_count() or 1)
