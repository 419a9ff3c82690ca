"""Reading the figures back from the console text of a run."""

from __future__ import annotations

import re

#: The server-side line of a point: average queue and compute times, in µs.
SERVER_LINE = re.compile(r"queue (\d+) usec \+ compute input (\d+) usec \+ compute infer (\d+) "
                         r"usec \+ compute output (\d+) usec")


def figure(out: str, name: str) -> int:
    """The µs figure of the console line ``    NAME: N usec`` (the test fails without one)."""
    match = re.search(rf"^    {re.escape(name)}: (\d+) usec$", out, re.M)
    assert match, f"no '{name}' line in:\n{out}"
    return int(match.group(1))
