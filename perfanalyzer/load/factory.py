"""The load flags as the load managers need them (schedules, sequence options), and their checks
against the model before any load. :mod:`.build` picks the manager."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ..config import LoadMode
from ..config.defaults import DEFAULT_NUM_OF_SEQUENCES, DEFAULT_SEQUENCE_LENGTH_VARIATION
from ..errors import OptionError
from .fixed_schedule import fixed_schedule_of
from .schedule import Schedule, constant, gamma, intervals, poisson, read_intervals_file
from .sequences import SequenceOptions
from .settings import LoadSettings

if TYPE_CHECKING:
    from ..inputs import ModelIO


def sequence_options(load: LoadSettings) -> SequenceOptions:
    start, end = load.sequence_id_range
    return SequenceOptions(length=load.sequence_length, variation_pct=load.sequence_length_variation,
                           length_given=load.sequence_length_given, id_start=start, id_end=end,
                           serial=load.serial_sequences, seed=load.seed)


def schedule_for(load: LoadSettings) -> Callable[[float], Schedule]:
    """level → the schedule of that load point (custom intervals ignore the level)."""
    if load.fixed_schedule:  # --fixed-schedule
        timed: Schedule = fixed_schedule_of(load.input_data)
        return lambda _level: timed
    if load.mode is LoadMode.CUSTOM_INTERVALS:
        fixed = intervals(read_intervals_file(str(load.request_intervals)))
        return lambda _level: fixed
    if load.request_distribution == "poisson":
        return lambda level: poisson(level, load.seed)
    if load.request_distribution == "gamma":
        shape = load.request_burstiness or 1.0
        return lambda level: gamma(level, load.seed, shape)
    return constant


def custom_rate(load: LoadSettings) -> float:
    """The level reported for ``--request-intervals``: N·1e9/Σintervals (perf_analyzer's)."""
    return intervals(read_intervals_file(str(load.request_intervals))).rate


def live_sequences(load: LoadSettings) -> int:
    """How many sequences are live at once: the top concurrency, or --num-of-sequences."""
    if load.mode is LoadMode.CONCURRENCY:
        start, end, _ = load.concurrency_range
        return int(max(start, end))
    return load.num_of_sequences


def check_files(load: LoadSettings) -> None:
    """The load's own files read and checked before any connection (--request-intervals)."""
    if load.mode is LoadMode.CUSTOM_INTERVALS:
        read_intervals_file(str(load.request_intervals))


def check_load_options(load: LoadSettings, io: ModelIO) -> None:
    """One-line OptionErrors for load flags that cannot work with this model (before any load).
    The flags' own checks (--max-threads, --num-of-sequences) are the option table's, made when
    the configuration is built."""
    if load.mode is LoadMode.CUSTOM_INTERVALS:
        read_intervals_file(str(load.request_intervals))
    elif load.mode is LoadMode.REQUEST_RATE:
        constant(load.request_rate_range[0])  # OptionError for a rate <= 0
    if not io.is_sequence:
        given = [flag for flag, on in (
            ("--sequence-length", load.sequence_length_given),
            ("--sequence-length-variation",
             load.sequence_length_variation != DEFAULT_SEQUENCE_LENGTH_VARIATION),
            ("--sequence-id-range", tuple(load.sequence_id_range) != (1, 0)),
            ("--num-of-sequences", load.num_of_sequences != DEFAULT_NUM_OF_SEQUENCES),
            ("--serial-sequences", load.serial_sequences)) if on]
        if given:
            raise OptionError(f"{given[0]}: model '{load.model}' has no sequence batching; "
                              "sequence flags need a stateful model")
        return
    if load.batch_size > 1:
        raise OptionError(f"-b: model '{load.model}' is a sequence model; its requests cannot be "
                          f"batched (got -b {load.batch_size})")
    if load.mode is LoadMode.CONCURRENCY and load.concurrency_range[1] == 0:
        raise OptionError("--concurrency-range: end 0 (no limit) does not work with a sequence "
                          "model: every concurrent sequence needs its own id")
    sequence_options(load).check(live_sequences(load))


__all__ = ["check_files", "check_load_options", "custom_rate", "live_sequences", "schedule_for",
           "sequence_options"]
