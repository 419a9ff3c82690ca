"""The model's configuration on the server, through Triton's model repository API: read it, load
a candidate's configuration (a load call with a ``config`` override), check that what is loaded is
what this search loaded, and put the original back.

Every candidate carries this search's marker (a model parameter, :func:`.modelconfig.marked`):
another search, from this machine or another, sees that the model is being changed, and a rerun
after a crash recognises its own candidate instead of taking it for the model's configuration.

Loading needs explicit model control (``tritonserver --model-control-mode=explicit``); a server in
another mode refuses the first load, before anything was changed or measured, and the search stops
with one line saying how to enable it.
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any, Protocol, TextIO

from ..client import InferenceClient
from ..errors import PerfAnalyzerError, ServerError
from .guard import SearchBusyError
from .modelconfig import marked, marker_of, merged_config, plain
from .space import Candidate
from .store import CandidateResult

RESTORE_TIMEOUT_S = 60.0


class ModelControlError(PerfAnalyzerError):
    """The server does not let this tool load model configurations."""


def explicit_mode_hint(url: str) -> str:
    return (f"the server at {url} refuses model loads: perfanalyzer search needs explicit model "
            f"control (start tritonserver with --model-control-mode=explicit, or use "
            f"--launch-server)")


def busy(model: str, mark: dict[str, str]) -> SearchBusyError:
    return SearchBusyError(f"-m {model}: the loaded configuration is a candidate of another "
                           f"search (output folder {mark['dir']}): wait for it to end, or rerun "
                           f"that search to finish it and restore the model")


class Loader(Protocol):
    """What the search loop needs of the server's configurations: one model's
    (:class:`ModelControl`) or several models' changed together (:class:`.group.GroupControl`)."""

    @property
    def changed(self) -> bool: ...

    async def apply(self, candidate: Candidate) -> None: ...
    async def verify(self) -> None: ...
    async def restore(self) -> None: ...
    def restore_now(self) -> None: ...


async def apply_candidate(control: Loader, c: Candidate, out: TextIO) -> CandidateResult | None:
    """Load the candidate's configuration(s): None once loaded; a configuration the server
    refuses is a result (data, not a crash). Losing control of the model still raises."""
    try:
        await control.apply(c)
    except ModelControlError:
        raise
    except PerfAnalyzerError as exc:
        out.write(f"   not loaded: {exc}\n")
        return CandidateResult(candidate=c, error=f"load failed: {exc}")
    return None


class ModelControl:
    """Loads candidate configurations of one model and restores the original one."""

    def __init__(self, client: InferenceClient, model: str, url: str, protocol: str) -> None:
        self.client, self.model, self.url, self.protocol = client, model, url, protocol
        self.original: dict[str, Any] = {}  # what restore() puts back
        self.search_id = ""
        self.folder = ""
        self.changed = False
        self.expected: dict[str, Any] | None = None  # what this search loaded last

    async def fetch(self) -> dict[str, Any]:
        """The configuration the server runs now."""
        return await self.client.model_config(self.model)

    def adopt(self, original: dict[str, Any], search_id: str, folder: str) -> None:
        """Restore to ``original``; mark candidates with ``search_id`` (output ``folder``)."""
        self.original, self.search_id, self.folder = plain(original), search_id, folder

    async def apply(self, candidate: Candidate) -> None:
        """Load the model with the candidate's configuration (returns once it is loaded)."""
        config = marked(merged_config(self.original, candidate), self.search_id, self.folder)
        try:
            self.changed = True
            self.expected = None
            await self.client.load_model(self.model, json.dumps(config, sort_keys=True))
        except ServerError as exc:
            if "not allowed" in exc.message.lower() or "explicit" in exc.message.lower():
                self.changed = False
                raise ModelControlError(explicit_mode_hint(self.url)) from exc
            raise
        # The server completes what it was sent (defaults of the batcher, ...): what it reports
        # now is what a later check compares with.
        self.expected = await self.fetch()

    async def verify(self) -> None:
        """Raise SearchBusyError when the loaded configuration is not the one this search loaded
        (someone else loaded the model meanwhile: what was measured is not this candidate)."""
        if self.expected is None:
            return
        now = await self.fetch()
        mark = marker_of(now)
        if mark is not None and mark["id"] != self.search_id:
            raise busy(self.model, mark)
        if mark is None or now != self.expected:
            raise SearchBusyError(f"-m {self.model}: the model was loaded again by someone else "
                                  f"during this search; its last figures are not kept")

    async def restore(self) -> None:
        """Load the original configuration again (when anything was loaded)."""
        if self.changed:
            await self.client.load_model(self.model, json.dumps(self.original))
            self.changed = False

    def restore_now(self) -> None:
        """Synchronous best effort for a second Ctrl-C (the event loop is gone): HTTP only."""
        if not self.changed or self.protocol != "http":
            return
        url = self.url if "://" in self.url else f"http://{self.url}"
        body = json.dumps({"parameters": {"config": json.dumps(self.original)}}).encode()
        req = urllib.request.Request(f"{url}/v2/repository/models/{self.model}/load", data=body,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=RESTORE_TIMEOUT_S):
            self.changed = False
