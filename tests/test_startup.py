"""Start-up imports only what the run needs: an HTTP profile run loads no pandas, matplotlib,
gRPC, protobuf or gate code; ``--help`` loads not even the client."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from tests.support.paths import ROOT

#: Top-level packages (or perfanalyzer modules) an HTTP profile run must not import.
HEAVY = ("pandas", "matplotlib", "grpc", "google", "scipy", "aiohttp", "perfanalyzer.gate",
         "perfanalyzer._proto", "perfanalyzer.report.frame", "perfanalyzer.report.plots",
         "perfanalyzer.cli.compare_cmd", "perfanalyzer.cli.serve", "jinja2", "markupsafe",
         "perfanalyzer.report.html.page", "perfanalyzer.report.html.run_report")

PROBE = """
import atexit, json, sys
atexit.register(lambda: print("MODULES=" + json.dumps(sorted(sys.modules)), file=sys.stderr))
from perfanalyzer.cli.main import main
main(sys.argv[1:])
"""


def _modules(*args: str) -> set[str]:
    proc = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True,
                          timeout=300, check=False, cwd=ROOT)
    line = next(x for x in proc.stderr.splitlines() if x.startswith("MODULES="))
    assert proc.returncode == 0, proc.stderr[-2000:]
    return set(json.loads(line[len("MODULES="):]))


def _heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))


@pytest.mark.server
def test_http_profile_run_imports_no_heavy_module(triton: Any) -> None:
    modules = _modules("-m", "add_sub", "-u", triton.http_url, "--request-count", "20")
    assert "perfanalyzer.client.http" in modules  # the probe did see the run
    assert _heavy(modules) == []


def test_help_imports_no_client() -> None:
    modules = _modules("--help")
    assert "perfanalyzer.config.table" in modules  # the probe did see the command
    assert _heavy(modules) == []
    assert not any(m.startswith("perfanalyzer.client") or m == "numpy" for m in modules)
