"""Which models a search of an ensemble or a BLS model changes, and what their configurations were
before the search (recorded in ``original.json`` before the first change, with the same checks as
for one model: another search's candidate is refused, a model changed outside the search since
the record is refused, this search's own candidate left by a killed run is replaced by the
recorded original)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TextIO

from ..client import InferenceClient
from ..config import RunConfig
from ..errors import ClientError, OptionError
from ..measure.server_stats import composing_models, nested_ensembles
from .composite import CompositeCandidate, composite_default
from .control import busy
from .group import GroupControl
from .modelconfig import default_candidate, marker_of, plain, same
from .store import ORIGINAL_FILE, Store


def is_ensemble(config: dict[str, Any]) -> bool:
    return config.get("platform") == "ensemble" or config.get("backend") == "ensemble" \
        or bool(config.get("ensemble_scheduling"))


async def searched_models(client: InferenceClient, cfg: RunConfig,
                          loaded: dict[str, Any]) -> tuple[tuple[str, ...], bool]:
    """The models whose settings a search of ``-m`` varies, and whether ``-m`` is one of them:
    ``()`` for a plain model; an ensemble's composing models (nested ensembles expanded, not
    searched themselves); a BLS model and its ``--bls-composing-models``."""
    model = cfg.server.model
    bls = tuple(dict.fromkeys(name for name, _ in cfg.server.bls_composing_models))
    if model in bls:
        raise OptionError(f"--bls-composing-models: {model} is the model under test")
    for name in bls:
        try:
            await client.model_config(name)
        except ClientError as exc:
            raise OptionError(f"--bls-composing-models: model {name!r}: {exc}") from None
    if is_ensemble(loaded):
        names = tuple(await composing_models(client, loaded))
        nested = set(await nested_ensembles(client, names))
        leaves = tuple(dict.fromkeys((*(n for n in names if n not in nested), *bls)))
        if not leaves:
            raise OptionError(f"-m {model}: an ensemble without composing models to search")
        return leaves, False
    if bls:
        kind = str(loaded.get("backend") or loaded.get("platform") or "")
        if kind not in ("", "python"):
            raise OptionError(f"--bls-composing-models: {model} is not a BLS model (a "
                              f"Python-backend model that calls others): its backend is {kind!r}")
        return (model, *bls), True
    return (), False


def check_marks(loaded: dict[str, dict[str, Any]], store: Store) -> None:
    """Refuse (before anything is written) when another search's candidate is loaded."""
    rec = store.recorded()
    for model, config in loaded.items():
        mark = marker_of(config)
        if mark is not None and (rec is None or mark["id"] != rec.search_id):
            raise busy(model, mark)


async def settle_group(store: Store, group: GroupControl, top: dict[str, Any],
                       loaded: dict[str, dict[str, Any]], out: TextIO) -> dict[str, Any]:
    """Record (or read back) every model's configuration before the search, adopt it as what is
    restored, and put back the recorded one where this search's unfinished candidate is loaded.
    Returns the recorded configurations by model."""
    check_marks(loaded, store)
    rec = store.recorded()
    if rec is None:
        rec = store.record(plain(top), {m: plain(c) for m, c in loaded.items()})
    if set(rec.models) != set(loaded):
        raise OptionError(f"--output-dir: {store.root / ORIGINAL_FILE} records the models "
                          f"{', '.join(sorted(rec.models)) or 'of a one-model search'}, not "
                          f"{', '.join(sorted(loaded))}: use a new --output-dir")
    group.adopt(rec.models, rec.search_id, str(Path(store.root).resolve()),
                {m: default_candidate(c, 1) for m, c in rec.models.items()})
    for model, config in loaded.items():
        if same(config, rec.models[model]):
            continue
        if marker_of(config) is None:
            raise OptionError(f"-m {model}: the loaded configuration is not the one this search "
                              f"recorded before its first change (in {store.root / ORIGINAL_FILE})"
                              f": it was changed since; use a new --output-dir")
        control = group.controls[model]
        control.changed = True
        await control.restore()
        out.write(f"Resuming: found a candidate of this search loaded for {model} (its run did "
                  f"not finish); restored the configuration recorded before the search\n")
    return rec.models


def default_of(models: tuple[str, ...], originals: dict[str, dict[str, Any]],
               top: dict[str, Any], top_searched: bool, batch: int,
               together: bool = False) -> CompositeCandidate:
    """The recorded configurations as one composite candidate."""
    top_mbs = int(top.get("max_batch_size") or 0)
    return composite_default(top_mbs, {m: default_candidate(originals[m], 1) for m in models},
                             batch, top_searched, together)


def fixed_dimensions(originals: dict[str, dict[str, Any]]) -> dict[str, frozenset[str]]:
    """Dimensions a model keeps: a sequence model's batcher is the sequence batcher."""
    return {m: frozenset({"dynamic_batching"}) for m, c in originals.items()
            if "sequence_batching" in c}
