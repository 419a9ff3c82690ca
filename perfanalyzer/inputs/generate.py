"""Generated input data (``--input-data random`` / ``zero``): one batch-1 step, built once.

Random data is seeded (``DataOptions.seed``), so two runs send the same bytes, and drawn per input
in model order:

* integer types: uniform in ``[0, RANDOM_INT_HIGH)`` (small, non-negative: safe as indices);
* BOOL: uniform true/false; FP16 / BF16 / FP32 / FP64: uniform in ``[0, 1)``;
* BYTES: ``--string-data`` for every element when given, else a random string of
  ``--string-length`` characters from :data:`STRING_ALPHABET` per element.

``zero`` fills numeric inputs with zeros. BYTES inputs are *not* zeroed: as in perf_analyzer
(``DataLoader::GenerateData``), they still get ``--string-data`` or random strings.

Inputs with a dynamic dim need ``--shape``; an optional input without a known shape is left out of
the requests instead. Shape tensors need user data (as in perf_analyzer).
"""

from __future__ import annotations

import numpy as np

from ..client import tensors
from ..errors import OptionError
from .model import ModelIO, TensorSpec
from .options import DataOptions, dynamic_shape_error
from .samples import RawStep, Sample

RANDOM_INT_HIGH = 100
STRING_ALPHABET = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def generate_step(io: ModelIO, shapes: dict[str, tuple[int, ...]], options: DataOptions) -> RawStep:
    """The single generated step (``shapes``: every input's shape after ``--shape``)."""
    rng = np.random.default_rng(options.seed)
    samples: dict[str, Sample] = {}
    for spec in io.inputs:
        shape = shapes[spec.name]
        if any(d < 0 for d in shape):
            if spec.optional:
                continue
            raise dynamic_shape_error(spec)
        if spec.is_shape_tensor:
            if spec.optional:
                continue
            raise OptionError(f"input {spec.name!r} is a shape tensor; random or zero data cannot "
                              "be generated for it, give it with --input-data FILE.json")
        samples[spec.name] = Sample(shape, _generate(spec, tensors.element_count(shape), rng,
                                                     options))
    if io.inputs and not samples:
        raise OptionError(f"model {io.name!r}: no input has a known shape; give at least one "
                          "with --shape name:dims")
    return RawStep(origin=f"--input-data {'zero' if options.zero else 'random'}", inputs=samples)


def _generate(spec: TensorSpec, count: int, rng: np.random.Generator,
              options: DataOptions) -> bytes:
    dt = spec.datatype
    if dt == "BYTES":
        if options.string_data is not None:
            return tensors.serialize_bytes([options.string_data] * count)
        return random_strings(rng, count, options.string_length)
    size = tensors.ELEMENT_SIZE[dt] or 0
    if options.zero:
        return bytes(count * size)
    dtype = tensors.NUMPY_DTYPES[dt]
    array: np.ndarray
    if dt == "BOOL":
        array = rng.integers(0, 2, count, dtype=np.uint8).astype(np.bool_)
    elif dtype.kind in "iu":
        array = rng.integers(0, RANDOM_INT_HIGH, count, dtype=dtype)
    elif dt == "FP64":
        array = rng.random(count, dtype=np.float64)
    else:  # FP16, BF16 (converted from FP32 by to_raw), FP32
        array = rng.random(count, dtype=np.float32)
    return tensors.to_raw(array, dt)


def random_strings(rng: np.random.Generator, count: int, length: int) -> bytes:
    """``count`` random strings of ``length`` characters, serialized as a BYTES tensor.

    Built as one ``(count, 4 + length)`` byte matrix: each row a length prefix, then characters.
    """
    alphabet = np.frombuffer(STRING_ALPHABET, dtype=np.uint8)
    rows = np.empty((count, 4 + length), dtype=np.uint8)
    rows[:, :4] = np.frombuffer(np.uint32(length).astype("<u4").tobytes(), dtype=np.uint8)
    rows[:, 4:] = alphabet[rng.integers(0, len(alphabet), (count, length))]
    return rows.tobytes()
