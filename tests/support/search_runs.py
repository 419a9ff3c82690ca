"""Helpers for the search tests against the real Triton: read and load a model's configuration,
run a search in-process with the command's own option parsing, and the report it writes."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path
from typing import Any

from perfanalyzer.cli.search_cmd import configs_from_kwargs
from perfanalyzer.cli.search_cmd import search as search_command
from perfanalyzer.client import ClientOptions, create_client
from perfanalyzer.config import RunConfig
from perfanalyzer.search.modelconfig import MARKER
from perfanalyzer.search.report import write_report
from perfanalyzer.search.runner import Measure, SearchConfig, SearchOutcome, run_search


async def model_config(url: str, model: str) -> dict[str, Any]:
    c = create_client("http", ClientOptions(url=url))
    try:
        return await c.model_config(model)
    finally:
        await c.close()


async def load_model(url: str, model: str, config: str | None = None) -> None:
    c = create_client("http", ClientOptions(url=url))
    try:
        await c.load_model(model, config)
    finally:
        await c.close()


def instance_count(url: str, model: str) -> int:
    return int(asyncio.run(model_config(url, model))["instance_group"][0]["count"])


def is_marked(url: str, model: str) -> bool:
    """Whether the loaded configuration is a search's candidate (carries the search's marker)."""
    return MARKER in (asyncio.run(model_config(url, model)).get("parameters") or {})


def search_configs(url: str, model: str, out: Path, *args: str) -> tuple[SearchConfig, RunConfig]:
    ctx = search_command.make_context(
        "search", ["-u", url, "-m", model, "--output-dir", str(out), *args])
    return configs_from_kwargs(dict(ctx.params))  # type: ignore[no-any-return]


def search(url: str, model: str, out: Path, *args: str,
           measure: Measure | None = None) -> tuple[SearchConfig, SearchOutcome]:
    """Run a search in-process and write its report."""
    sc, cfg = search_configs(url, model, out, *args)
    kw = {"measure": measure} if measure is not None else {}
    outcome = asyncio.run(run_search(sc, cfg, stop=asyncio.Event(), out=io.StringIO(), **kw))
    write_report(sc, outcome, "Concurrency", model)
    return sc, outcome
