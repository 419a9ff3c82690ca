"""The load flags as the load managers need them (schedules, sequence options), and their checks
against the model before any load. :mod:`.build` picks the manager."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ..config import LoadMode, RunConfig
from ..config.defaults import DEFAULT_NUM_OF_SEQUENCES, DEFAULT_SEQUENCE_LENGTH_VARIATION
from ..errors import OptionError
from .fixed_schedule import fixed_schedule_of
from .schedule import Schedule, constant, gamma, intervals, poisson, read_intervals_file
from .sequences import SequenceOptions

if TYPE_CHECKING:
    from ..inputs import ModelIO


def sequence_options(cfg: RunConfig) -> SequenceOptions:
    start, end = cfg.load.sequence_id_range
    return SequenceOptions(length=cfg.load.sequence_length, variation_pct=cfg.load.sequence_length_variation,
                           length_given=cfg.load.sequence_length_given, id_start=start, id_end=end,
                           serial=cfg.load.serial_sequences, seed=cfg.inputs.seed)


def schedule_for(cfg: RunConfig) -> Callable[[float], Schedule]:
    """level → the schedule of that load point (custom intervals ignore the level)."""
    if cfg.load.fixed_schedule:  # --fixed-schedule
        timed: Schedule = fixed_schedule_of(cfg)
        return lambda _level: timed
    if cfg.load.mode is LoadMode.CUSTOM_INTERVALS:
        fixed = intervals(read_intervals_file(str(cfg.load.request_intervals)))
        return lambda _level: fixed
    if cfg.load.request_distribution == "poisson":
        return lambda level: poisson(level, cfg.inputs.seed)
    if cfg.load.request_distribution == "gamma":
        shape = cfg.load.request_burstiness or 1.0
        return lambda level: gamma(level, cfg.inputs.seed, shape)
    return constant


def custom_rate(cfg: RunConfig) -> float:
    """The level reported for ``--request-intervals``: N·1e9/Σintervals (perf_analyzer's)."""
    return intervals(read_intervals_file(str(cfg.load.request_intervals))).rate


def live_sequences(cfg: RunConfig) -> int:
    """How many sequences are live at once: the top concurrency, or --num-of-sequences."""
    if cfg.load.mode is LoadMode.CONCURRENCY:
        start, end, _ = cfg.load.concurrency_range
        return int(max(start, end))
    return cfg.load.num_of_sequences


def check_files(cfg: RunConfig) -> None:
    """The load's own files read and checked before any connection (--request-intervals)."""
    if cfg.load.mode is LoadMode.CUSTOM_INTERVALS:
        read_intervals_file(str(cfg.load.request_intervals))


def check_load_options(cfg: RunConfig, io: ModelIO) -> None:
    """One-line OptionErrors for load flags that cannot work with this model (before any load).
    The flags' own checks (--max-threads, --num-of-sequences) are the option table's, made when
    the configuration is built."""
    if cfg.load.mode is LoadMode.CUSTOM_INTERVALS:
        read_intervals_file(str(cfg.load.request_intervals))
    elif cfg.load.mode is LoadMode.REQUEST_RATE:
        constant(cfg.load.request_rate_range[0])  # OptionError for a rate <= 0
    if not io.is_sequence:
        given = [flag for flag, on in (
            ("--sequence-length", cfg.load.sequence_length_given),
            ("--sequence-length-variation",
             cfg.load.sequence_length_variation != DEFAULT_SEQUENCE_LENGTH_VARIATION),
            ("--sequence-id-range", tuple(cfg.load.sequence_id_range) != (1, 0)),
            ("--num-of-sequences", cfg.load.num_of_sequences != DEFAULT_NUM_OF_SEQUENCES),
            ("--serial-sequences", cfg.load.serial_sequences)) if on]
        if given:
            raise OptionError(f"{given[0]}: model '{cfg.server.model}' has no sequence batching; "
                              "sequence flags need a stateful model")
        return
    if cfg.inputs.batch_size > 1:
        raise OptionError(f"-b: model '{cfg.server.model}' is a sequence model; its requests cannot be "
                          f"batched (got -b {cfg.inputs.batch_size})")
    if cfg.load.mode is LoadMode.CONCURRENCY and cfg.load.concurrency_range[1] == 0:
        raise OptionError("--concurrency-range: end 0 (no limit) does not work with a sequence "
                          "model: every concurrent sequence needs its own id")
    sequence_options(cfg).check(live_sequences(cfg))


__all__ = ["check_files", "check_load_options", "custom_rate", "live_sequences", "schedule_for",
           "sequence_options"]
