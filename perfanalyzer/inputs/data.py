"""The tensors every request carries, built once before any load is sent.

:func:`load_input_data` checks the data flags against the model, reads or generates batch-1 steps
and batches them into :class:`Step` values whose :class:`InputTensor` objects hold raw wire bytes.

Streams: one stream is the data of one sequence. For a sequence model every JSON stream stays a
stream (a flat ``data`` list is one stream; each file's streams are appended). For any other model
all steps of all files are concatenated into one stream, in order (perf_analyzer reads stream 0
only).

Batching (``max_batch_size > 0``): a request's tensors have shape ``[batch, *dims]``. As in
perf_analyzer (``infer_context.cc``), request ``i`` of a stream of ``n`` batch-1 steps starts at
step ``(i * batch) mod n`` and concatenates ``batch`` consecutive steps (wrapping). Only
``n / gcd(n, batch)`` distinct requests exist; they are built once, and ``InputData.step(s, i)``
returns request ``i mod that count``. A single batch-1 step is not copied when ``batch`` is 1.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..client.base import InputTensor
from ..errors import OptionError
from .directory import read_directory
from .generate import generate_step
from .json_file import read_json_file
from .model import ModelIO, format_shape
from .options import DataOptions, check_options
from .samples import RawStep, RawStream


@dataclass(frozen=True)
class Step:
    """One request's inputs (batched) and, from validation data, its expected outputs."""

    inputs: tuple[InputTensor, ...]
    expected_outputs: Mapping[str, np.ndarray] | None = None
    #: Where the step came from (e.g. ``data.json: data[3]``), for validation messages.
    origin: str = ""


@dataclass(frozen=True)
class InputData:
    """Every stream's prebuilt requests. ``user_data``: they came from files or directories
    (then a sequence's default length is its stream's length, as in perf_analyzer)."""

    streams: tuple[tuple[Step, ...], ...]
    batch_size: int = 1
    user_data: bool = False

    def step(self, stream: int, index: int) -> Step:
        """Request ``index`` of ``stream``, both taken modulo their counts (round robin)."""
        steps = self.streams[stream % len(self.streams)]
        return steps[index % len(steps)]

    @property
    def has_validation(self) -> bool:
        return any(s.expected_outputs is not None for steps in self.streams for s in steps)


#: perf_analyzer's sentence for optional inputs that differ within a batch (scripts grep it).
SAME_OPTIONAL = ("For batch sizes larger than 1, the same set of inputs must be specified for "
                 "each batch. You cannot use different set of optional inputs for each "
                 "individual batch.")


def load_input_data(io: ModelIO, options: DataOptions) -> InputData:
    """Check ``options`` against the model and build every request's input tensors once.

    Raises OptionError (one line naming the flag, tensor or file position) on any problem.
    """
    shapes = check_options(io, options)
    raw_streams: list[RawStream] = []
    for path in options.paths:
        raw_streams.extend(_read_source(path, io, shapes))
    if not raw_streams:
        raw_streams = [[generate_step(io, shapes, options)]]
    elif not io.is_sequence and len(raw_streams) > 1:
        raw_streams = [[step for stream in raw_streams for step in stream]]
    streams = tuple(_batch_stream(s, io, options.batch_size) for s in raw_streams)
    return InputData(streams=streams, batch_size=options.batch_size,
                     user_data=bool(options.paths))


def _read_source(path: str, io: ModelIO, shapes: dict[str, tuple[int, ...]]) -> list[RawStream]:
    p = Path(path)
    if p.is_dir():
        return read_directory(path, io, shapes)
    if p.is_file():
        return read_json_file(path, io, shapes)
    raise OptionError(f"--input-data {path}: no such file or directory "
                      "(expected 'random', 'zero', a directory or a JSON file)")


def _batch_stream(stream: RawStream, io: ModelIO, batch: int) -> tuple[Step, ...]:
    n = len(stream)
    if io.max_batch_size <= 0:
        return tuple(_build_step(io, [raw], batched=False) for raw in stream)
    count = n // math.gcd(n, batch)
    return tuple(
        _build_step(io, [stream[(k * batch + i) % n] for i in range(batch)], batched=True)
        for k in range(count)
    )


def _build_step(io: ModelIO, raws: Sequence[RawStep], *, batched: bool) -> Step:
    """One request from ``raws`` (one batch-1 step per batch element)."""
    inputs: list[InputTensor] = []
    for spec in io.inputs:
        present = [spec.name in r.inputs for r in raws]
        if not any(present):
            continue
        if not all(present):
            missing, there = raws[present.index(False)], raws[present.index(True)]
            raise OptionError(f"{missing.origin}: optional input {spec.name!r} is missing, but "
                              f"{there.origin} has it and -b {len(raws)} batches them into one "
                              f"request; give it in all or none of them ({SAME_OPTIONAL})")
        samples = [r.inputs[spec.name] for r in raws]
        shape = samples[0].shape
        for raw, sample in zip(raws, samples, strict=True):
            if sample.shape != shape:
                raise OptionError(
                    f"{raw.origin}: input {spec.name!r} has shape {format_shape(sample.shape)} "
                    f"but {raws[0].origin} has {format_shape(shape)}; -b {len(raws)} batches "
                    "them into one request, so their shapes must match")
        data = samples[0].raw if len(samples) == 1 else b"".join(s.raw for s in samples)
        full_shape = (len(raws), *shape) if batched else shape
        inputs.append(InputTensor(name=spec.name, datatype=spec.datatype, shape=full_shape,
                                  data=data))
    origin = raws[0].origin if len(raws) == 1 else f"{raws[0].origin} (+{len(raws) - 1} batched)"
    return Step(inputs=tuple(inputs), expected_outputs=_expected(raws, batched=batched),
                origin=origin)


def _expected(raws: Sequence[RawStep], *, batched: bool) -> dict[str, np.ndarray] | None:
    """Expected outputs given for every step of the batch, stacked along a batch dimension."""
    if all(r.outputs is None for r in raws):
        return None
    per_step = [r.outputs or {} for r in raws]
    names = [name for name in per_step[0] if all(name in o for o in per_step)]
    expected: dict[str, np.ndarray] = {}
    for name in names:
        arrays = [o[name] for o in per_step]
        if not batched:
            expected[name] = arrays[0]
            continue
        shapes = {a.shape for a in arrays}
        if len(shapes) > 1:
            raise OptionError(f"{raws[0].origin}: expected output {name!r} has different shapes "
                              f"across the {len(raws)} steps that -b {len(raws)} batches together")
        expected[name] = np.stack(arrays)
    return expected or None
