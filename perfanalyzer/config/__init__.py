"""Frozen run configuration shared by every stage of the pipeline."""

from .options import (
    DEFAULT_MAX_TRIALS,
    DEFAULT_MEASUREMENT_INTERVAL_MS,
    DEFAULT_MEASUREMENT_REQUEST_COUNT,
    DEFAULT_STABILITY_PCT,
    LoadMode,
    RunConfig,
    parse_range,
)

__all__ = [
    "DEFAULT_MAX_TRIALS",
    "DEFAULT_MEASUREMENT_INTERVAL_MS",
    "DEFAULT_MEASUREMENT_REQUEST_COUNT",
    "DEFAULT_STABILITY_PCT",
    "LoadMode",
    "RunConfig",
    "parse_range",
]
