"""The grouped configuration as the checks without a server read it (:mod:`..validate`,
:mod:`..safety`): :class:`~perfanalyzer.config.table.RunConfig` satisfies this Protocol.

The checks name this, not ``RunConfig``, because ``RunConfig.validate`` calls them: importing
``RunConfig`` there would close an import circle.
"""

from __future__ import annotations

from typing import Protocol

from .inputs import InputsConfig
from .load import LoadConfig
from .measurement import MeasurementConfig
from .output import OutputConfig
from .server import ServerConfig
from .transport import TransportConfig


class GroupedConfig(Protocol):
    """Every group of the option table, read-only."""

    @property
    def server(self) -> ServerConfig: ...

    @property
    def load(self) -> LoadConfig: ...

    @property
    def measurement(self) -> MeasurementConfig: ...

    @property
    def inputs(self) -> InputsConfig: ...

    @property
    def transport(self) -> TransportConfig: ...

    @property
    def output(self) -> OutputConfig: ...


__all__ = ["GroupedConfig"]
