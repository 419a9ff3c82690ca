"""The run configuration (a foundation: every layer may import it).

* :mod:`.table`: the option table, every flag as a field of a grouped, frozen :class:`RunConfig`;
* :mod:`.option`: the table's machinery; :mod:`.parse`: range/header/shape parsers;
* :mod:`.build`: raw flag values → validated config; :mod:`.validate`: the checks;
* :mod:`.defaults`: named defaults; :mod:`.file`: ``--config FILE.toml``.
"""

from .defaults import (
    DEFAULT_MAX_TRIALS,
    DEFAULT_MEASUREMENT_INTERVAL_MS,
    DEFAULT_MEASUREMENT_REQUEST_COUNT,
    DEFAULT_STABILITY_PCT,
    DEFAULT_STABILITY_WINDOWS,
)
from .parse import parse_range
from .table import (
    InputsConfig,
    LatencySource,
    LoadConfig,
    LoadMode,
    MeasurementConfig,
    OutputConfig,
    RunConfig,
    ServerConfig,
    TransportConfig,
)

__all__ = [
    "DEFAULT_MAX_TRIALS",
    "DEFAULT_MEASUREMENT_INTERVAL_MS",
    "DEFAULT_MEASUREMENT_REQUEST_COUNT",
    "DEFAULT_STABILITY_PCT",
    "DEFAULT_STABILITY_WINDOWS",
    "InputsConfig",
    "LatencySource",
    "LoadConfig",
    "LoadMode",
    "MeasurementConfig",
    "OutputConfig",
    "RunConfig",
    "ServerConfig",
    "TransportConfig",
    "parse_range",
]
