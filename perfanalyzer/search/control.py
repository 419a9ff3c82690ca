"""The model's configuration on the server, through Triton's model repository API: read it, load
a candidate's configuration (a load call with a ``config`` override), and put the original back.

Loading needs explicit model control (``tritonserver --model-control-mode=explicit``); a server in
another mode refuses the first load, before anything was changed or measured, and the search stops
with one line saying how to enable it.
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from ..client import InferenceClient
from ..errors import PerfAnalyzerError, ServerError
from .modelconfig import override_json
from .space import Candidate

RESTORE_TIMEOUT_S = 60.0


class ModelControlError(PerfAnalyzerError):
    """The server does not let this tool load model configurations."""


def explicit_mode_hint(url: str) -> str:
    return (f"the server at {url} refuses model loads: perfanalyzer search needs explicit model "
            f"control (start tritonserver with --model-control-mode=explicit, or use "
            f"--launch-server)")


class ModelControl:
    """Loads candidate configurations of one model and restores the original one."""

    def __init__(self, client: InferenceClient, model: str, url: str, protocol: str) -> None:
        self.client, self.model, self.url, self.protocol = client, model, url, protocol
        self.original: dict[str, Any] = {}
        self.changed = False

    async def fetch(self) -> dict[str, Any]:
        """The configuration the server runs now (what :meth:`restore` puts back)."""
        self.original = await self.client.model_config(self.model)
        return self.original

    async def apply(self, candidate: Candidate) -> None:
        """Load the model with the candidate's configuration (returns once it is loaded)."""
        try:
            self.changed = True
            await self.client.load_model(self.model, override_json(self.original, candidate))
        except ServerError as exc:
            if "not allowed" in exc.message.lower() or "explicit" in exc.message.lower():
                self.changed = False
                raise ModelControlError(explicit_mode_hint(self.url)) from exc
            raise

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
