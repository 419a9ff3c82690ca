"""The configurations of several models on the server, changed together: one
:class:`~.control.ModelControl` per searched model (each candidate it loads carries this search's
marker), a composite candidate applied by loading only the models whose settings change, and every
model's original configuration put back however the search ends (the first failure is raised
after every model was tried)."""

from __future__ import annotations

from typing import Any

from ..client import InferenceClient
from .composite import CompositeCandidate
from .control import ModelControl
from .space import Candidate


class GroupControl:
    """Loads composite candidates (one configuration per model) and restores every original."""

    def __init__(self, client: InferenceClient, models: tuple[str, ...], url: str,
                 protocol: str) -> None:
        self.models = models
        self.controls = {m: ModelControl(client, m, url, protocol) for m in models}
        self.loaded: dict[str, str] = {}  # model -> key of the settings loaded now

    @property
    def changed(self) -> bool:
        return any(c.changed for c in self.controls.values())

    @property
    def originals(self) -> dict[str, dict[str, Any]]:
        return {m: c.original for m, c in self.controls.items()}

    async def fetch_all(self) -> dict[str, dict[str, Any]]:
        return {m: await c.fetch() for m, c in self.controls.items()}

    def adopt(self, originals: dict[str, dict[str, Any]], search_id: str, folder: str,
              defaults: dict[str, Candidate]) -> None:
        for m, c in self.controls.items():
            c.adopt(originals[m], search_id, folder)
        self.loaded = {m: d.key for m, d in defaults.items()}

    async def apply(self, candidate: Candidate) -> None:
        """Load every model whose settings differ from what is loaded (returns once loaded)."""
        assert isinstance(candidate, CompositeCandidate)
        for model, part in candidate.parts:
            if self.loaded.get(model) == part.key:
                continue
            self.loaded.pop(model, None)  # unknown until the load succeeds
            await self.controls[model].apply(part)
            self.loaded[model] = part.key

    async def verify(self) -> None:
        for c in self.controls.values():
            await c.verify()

    async def restore(self) -> None:
        """Every changed model back to its original; raises the first failure after trying all."""
        first: BaseException | None = None
        for c in self.controls.values():
            try:
                await c.restore()
            except Exception as exc:
                first = first or exc
        self.loaded = {}
        if first is not None:
            raise first

    def restore_now(self) -> None:
        """Synchronous best effort for a second Ctrl-C, model by model."""
        for c in self.controls.values():
            try:
                c.restore_now()
            except Exception:
                continue
