"""A Ctrl-C that lands while the event loop shuts down (after the run's own work ended) must not
end in a traceback: the second press still exits at once with 130, and what the run printed is
not lost. The run is replaced by one that presses Ctrl-C itself, once during the run and once
from an async generator that only the loop's shutdown closes, so the press lands at the same
place every time."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent("""
    import asyncio, os, signal, sys
    import perfanalyzer.cli.profile_main as pm
    from perfanalyzer.cli.main import main
    from perfanalyzer.errors import PerfAnalyzerError

    async def run(cfg, *, stop_event, **_kw):
        async def closed_at_shutdown():
            try:
                yield 1
            finally:  # runs in the loop's shutdown_asyncgens, after _main returned
                os.kill(os.getpid(), signal.SIGINT)
                await asyncio.sleep(0.05)
                print("not exited", file=sys.stderr, flush=True)

        gen = closed_at_shutdown()
        await gen.__anext__()  # left suspended, referenced until the loop shuts down
        run.gen = gen
        os.kill(os.getpid(), signal.SIGINT)  # the first press: stop and finish
        await asyncio.wait_for(stop_event.wait(), 5)
        print("printed by the run")  # stdout is a pipe: still in the buffer at the second press
        if sys.argv[1] == "error":
            raise PerfAnalyzerError("the run failed after the first press")
        return None

    pm.profile_runs = run
    main(["-m", "m", "-u", "127.0.0.1:9", "--event-loop", sys.argv[2]])
""")


@pytest.mark.parametrize("loop", ["uvloop", "asyncio"])
@pytest.mark.parametrize("end", ["error", "nothing measured"])
def test_a_press_during_the_loops_shutdown_exits_130_without_a_traceback(loop: str,
                                                                         end: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # stdout buffered
    proc = subprocess.run([sys.executable, "-c", SCRIPT, end, loop], capture_output=True,
                          text=True, timeout=60, env=env)
    assert "Traceback" not in proc.stderr, proc.stderr
    assert "not exited" not in proc.stderr, proc.stderr
    assert proc.returncode == 130, proc.stderr
    assert "printed by the run" in proc.stdout  # flushed before the immediate exit
