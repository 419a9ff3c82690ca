"""The user's data flags (``-b``, ``--input-data``, ``--shape``, ``--string-*``) and their checks
against the model, all of which happen before any request is built."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ..config.defaults import DEFAULT_BATCH_SIZE, DEFAULT_SEED, DEFAULT_STRING_LENGTH
from ..errors import OptionError
from .model import ModelIO, TensorSpec, format_shape

#: ``--input-data`` words that pick generated data rather than a file or directory.
RANDOM = "random"
ZERO = "zero"


@dataclass(frozen=True, kw_only=True)
class DataOptions:
    """Input-data flags.

    ``input_data`` entries are ``"random"``, ``"zero"``, a directory or a JSON file; files and
    directories are read in order and their streams appended. When any file or directory is given,
    the data comes from them only; otherwise ``"zero"`` anywhere picks zeros over random data (as
    perf_analyzer's ``zero_input`` flag does). ``shapes`` maps input name to dims without the
    batch dimension (``--shape name:d1,d2``).
    """

    batch_size: int = DEFAULT_BATCH_SIZE
    input_data: tuple[str, ...] = (RANDOM,)
    shapes: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    string_length: int = DEFAULT_STRING_LENGTH
    string_data: str | None = None
    seed: int = DEFAULT_SEED
    #: Bytes generated data may take (0: half of the available memory; see inputs/budget.py).
    memory_limit_bytes: int = 0

    @property
    def paths(self) -> tuple[str, ...]:
        """The files and directories among ``input_data``, in order."""
        return tuple(p for p in self.input_data if p not in (RANDOM, ZERO))

    @property
    def zero(self) -> bool:
        return ZERO in self.input_data


def check_options(io: ModelIO, options: DataOptions) -> dict[str, tuple[int, ...]]:
    """Check the flags against the model; return every input's shape after ``--shape``.

    The returned shapes exclude the batch dimension and still contain -1 where neither the model nor
    ``--shape`` fixes a dim (JSON data may give those per step).
    """
    _check_batch(io, options.batch_size)
    if options.string_length < 0:
        raise OptionError(f"--string-length must be >= 0, got {options.string_length}")
    shapes = {t.name: t.shape for t in io.inputs}
    for name, dims in options.shapes.items():
        spec = io.input(name)
        if spec is None:
            raise OptionError(f"--shape {name}:{_dims(dims)}: {not_an_input(io, name)}")
        shapes[name] = fit_shape(spec, tuple(dims), f"--shape {name}:{_dims(dims)}", min_dim=1,
                                 model=io.name)
    return shapes


def fit_shape(spec: TensorSpec, shape: tuple[int, ...], where: str, *,
              min_dim: int, model: str = "") -> tuple[int, ...]:
    """Check a user shape against the model's: same rank, same fixed dims, every dim >= ``min_dim``.

    ``where`` starts the OptionError message (the flag or the file position). With ``model``
    (a --shape), the message carries the sentence Triton answers such a request with (which
    perf_analyzer, sending it, prints), else perf_analyzer's own for data of the wrong shape.
    """
    if any(d < min_dim for d in shape):
        raise OptionError(f"{where}: every dim of {spec.name!r} must be >= {min_dim}, "
                          f"got {format_shape(shape)}")
    if not _fits(shape, spec.shape):
        why = (f"unexpected shape for input '{spec.name}' for model '{model}'. Expected "
               f"{format_shape(spec.shape)}, got {format_shape(shape)}" if model
               else incompatible(spec.name, shape, spec.shape))
        raise OptionError(f"{where}: shape {format_shape(shape)} of {spec.name!r} does not match "
                          f"the model shape {format_shape(spec.shape)} ({why})")
    return shape


def fit_given_shape(spec: TensorSpec, shape: tuple[int, ...], given: tuple[int, ...],
                    where: str) -> tuple[int, ...]:
    """A data entry's own shape against the input's shape after ``--shape`` (``given``, -1 where
    still free): perf_analyzer refuses an entry that does not fit ``--shape``."""
    if not _fits(shape, given):
        raise OptionError(f"{where}: shape {format_shape(shape)} of {spec.name!r} does not match "
                          f"--shape {spec.name}:{_dims(given)} "
                          f"({incompatible(spec.name, shape, given)})")
    return shape


def incompatible(name: str, supplied: tuple[int, ...], model: tuple[int, ...]) -> str:
    """perf_analyzer's sentence for a shape that does not fit (scripts grep for it)."""
    return (f"The supplied shape of {format_shape(supplied)} for input \"{name}\" is "
            f"incompatible with the model's input shape of {format_shape(model)}")


def _fits(shape: tuple[int, ...], model: tuple[int, ...]) -> bool:
    return len(shape) == len(model) and all(
        m < 0 or m == d for m, d in zip(model, shape, strict=True))


def dynamic_shape_error(spec: TensorSpec, where: str = "", also: str = "") -> OptionError:
    """``input 'X' has dynamic shape [-1,16]; give it with --shape X:dims`` (+ ``also``)."""
    prefix = f"{where}: " if where else ""
    return OptionError(f"{prefix}input {spec.name!r} has dynamic shape {format_shape(spec.shape)}; "
                       f"give it with --shape {spec.name}:dims{also}")


def not_an_input(io: ModelIO, name: str) -> str:
    """``'X' is not an input of model 'm' (inputs: A, B)``."""
    return f"{name[:100]!r} is not an input of model {io.name!r} (inputs: {', '.join(io.input_names)})"


def _dims(dims: tuple[int, ...]) -> str:
    return ",".join(str(d) for d in dims)


def _check_batch(io: ModelIO, batch: int) -> None:
    if batch < 1:
        raise OptionError(f"-b must be >= 1, got {batch}")
    if batch == 1:
        return
    if io.max_batch_size <= 0:
        raise OptionError(f"-b {batch}: model {io.name!r} does not support batching "
                          "(max_batch_size 0)")
    if batch > io.max_batch_size:
        raise OptionError(f"-b {batch} exceeds max_batch_size {io.max_batch_size} "
                          f"of model {io.name!r}")
    if io.is_sequence:
        raise OptionError(f"-b {batch}: sequence model {io.name!r} takes -b 1 only")
