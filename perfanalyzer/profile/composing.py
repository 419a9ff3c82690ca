"""Composing models of the model under test: an ensemble's steps (recursively) and the models a BLS
model calls (``--bls-composing-models``); their statistics are read at every window edge."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from ..client import InferenceClient
from ..config import RunConfig
from ..errors import ClientError, OptionError
from ..inputs.setup import ModelSetup
from ..measure.server_stats import ServerStatsReader, composing_models, nested_ensembles


async def with_composing(client: InferenceClient, cfg: RunConfig,
                         setup: ModelSetup) -> tuple[ModelSetup, ServerStatsReader]:
    """``setup`` with its composing models (and which are ensembles), and a statistics reader for
    the model and all of them."""
    traits = setup.traits
    composing: tuple[str, ...] = ()
    if traits.ensemble:  # nested ensembles: every composing model, depth first
        composing = tuple(await composing_models(client, setup.config))
    given = cfg.server.bls_composing_models
    versions = {name: version for name, version in given if version}
    bls = tuple(name for name, _ in given)
    if bls and cfg.server.model in bls:
        raise OptionError(f"--bls-composing-models: {cfg.server.model} is the model under test")
    kind = _kind(setup.config)
    if bls and kind not in ("", "python"):  # BLS calls are made from Python-backend models
        raise OptionError(f"--bls-composing-models: {cfg.server.model} is not a BLS model (a "
                          f"Python-backend model that calls others): its backend is {kind!r}")
    for name in bls:  # the model must exist before any load is sent
        try:
            await client.model_config(name)
        except ClientError as exc:  # the server's own message names the problem
            raise OptionError(f"--bls-composing-models: model {name!r}: {exc}") from None
    composing = tuple(dict.fromkeys((*composing, *bls)))
    nested = await nested_ensembles(client, composing) if composing else ()
    steps = ((setup.config or {}).get("ensemble_scheduling") or {}).get("step") or []
    direct = {str(s.get("model_name", "")) for s in steps} | set(bls)
    traits = dataclasses.replace(traits, composing=composing, nested_ensembles=nested,
                                 indirect=tuple(n for n in composing if n not in direct),
                                 bls=bool(bls))
    setup = dataclasses.replace(setup, traits=traits)
    stats = ServerStatsReader(client, cfg.server.model, cfg.server.model_version,
                              composing=composing,
                              versions=versions)
    return setup, stats


def _kind(config: Mapping[str, Any] | None) -> str:
    """The model's backend (or platform, e.g. "ensemble"); "" when the server gave no config."""
    if not config:
        return ""
    return str(config.get("backend") or config.get("platform") or "")


__all__ = ["with_composing"]
