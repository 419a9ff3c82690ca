"""What the load layer reads of a run's configuration: one frozen object, built by the conductor
(:func:`perfanalyzer.profile.settings.load_settings`) and handed down, also to worker processes."""

from __future__ import annotations

from dataclasses import dataclass

from ..client.base import ClientOptions
from ..config import LoadMode
from ..inputs.setup import RequestSettings


@dataclass(frozen=True, slots=True, kw_only=True)
class LoadSettings:
    """The load flags a load manager, its schedules, sequences and senders are built from."""

    mode: LoadMode
    #: the model's name, for the one-line errors of the load's checks
    model: str
    # -- levels and schedules
    concurrency_range: tuple[int, int, int]
    request_rate_range: tuple[float, float, float]
    request_distribution: str
    request_burstiness: float | None
    request_intervals: str | None
    fixed_schedule: bool
    #: --input-data: the timestamps a --fixed-schedule walks
    input_data: tuple[str, ...]
    seed: int
    max_threads: int
    request_count: int
    warmup_request_count: int
    batch_size: int
    # -- sequences
    sequence_length: int
    sequence_length_given: bool
    sequence_length_variation: float
    sequence_id_range: tuple[int, int]
    num_of_sequences: int
    serial_sequences: bool
    # -- senders
    streaming: bool
    endpoint: str
    orca_format: str | None
    export_tensors: bool
    on_mismatch: str
    shared_memory: str
    #: how the unary requests are built when the load builds them (sequences, streams)
    requests: RequestSettings
    # -- worker processes (each opens its own client and event loop)
    workers: int
    protocol: str
    client: ClientOptions
    event_loop: str


__all__ = ["LoadSettings"]
