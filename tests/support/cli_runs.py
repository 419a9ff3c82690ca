"""Running the tool as its users do: a configuration built from command-line flags, a profile run
in-process, and the ``perfanalyzer`` command in a subprocess."""

from __future__ import annotations

import asyncio
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from perfanalyzer.cli.main import cli, main, profile_config
from perfanalyzer.config import RunConfig
from perfanalyzer.config.build import build as config_from_kwargs
from perfanalyzer.profile.run import profile
from perfanalyzer.results.run import RunResult
from tests.support.paths import ROOT


def cli_config(*args: str) -> RunConfig:
    """The profile command's RunConfig from these flags, through the CLI's own path
    (perf_client spellings rewritten, refusals, cross-flag checks)."""
    return profile_config(cli.commands["profile"].make_context("profile", list(args)).params)


def url_config(url: str, *args: str) -> RunConfig:
    """A RunConfig for the server at ``url`` from these flags, built as the CLI parses them
    (without the perf_client rewriting)."""
    ctx = cli.commands["profile"].make_context("profile", ["-u", url, *args])
    return config_from_kwargs(dict(ctx.params))


def run_profile(cfg: RunConfig) -> RunResult:
    """A profile run in-process, its console text discarded."""
    return asyncio.run(profile(cfg, out=io.StringIO()))


def run_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``perfanalyzer ARGS`` in a subprocess, its output captured (``timeout`` guards a hang)."""
    return subprocess.run([sys.executable, "-m", "perfanalyzer", *args], capture_output=True,
                          text=True, timeout=timeout, check=False)


def profile_at(url: str, *args: str) -> RunResult:
    """A profile run in-process against the server at ``url``, with these flags."""
    return run_profile(url_config(url, *args))


def profile_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``perfanalyzer ARGS`` in a subprocess (this checkout's code) run in ``cwd``."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "perfanalyzer", *args], capture_output=True,
                          text=True, timeout=300, check=False, cwd=cwd, env=env)


def compare_in_process(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    """``perfanalyzer compare ARGS`` in this process: its exit code, stdout and stderr."""
    with pytest.raises(SystemExit) as e:
        main(["compare", *map(str, args)])
    out, err = capsys.readouterr()
    return int(e.value.code or 0), out, err
