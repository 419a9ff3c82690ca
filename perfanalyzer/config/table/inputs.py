"""The option table's inputs group: what each request carries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from .. import defaults as d
from .. import parse as p
from ..choices import (
    TENSOR_FORMATS,
)
from ..choices import finite_nonneg as _finite_nonneg
from ..choices import nonneg as _nonneg
from ..choices import pos as _pos
from ..dims import INT_LIST, first_batch_size, first_shape_set  # search/multi-dim
from ..option import opt


@dataclass(frozen=True, kw_only=True)
class InputsConfig:
    """What each request carries."""

    # -- search/multi-dim: -b 1,2,4 and --shape NAME:A|B give lists; the field holds the first,
    # batch_sizes / shape_sets the lists (config/dims.py; build() fills them) --
    batch_size: int = opt(d.DEFAULT_BATCH_SIZE, "-b", "--batch-size", kind=cast(type, INT_LIST),
                          cli_default=str(d.DEFAULT_BATCH_SIZE), show_default=True,
                          parse=first_batch_size, check=_pos, metavar="B[,B...]",
                          message="-b: batch size must be >= 1, got {value}",
                          help="Batch size; a list (1,2,4) sweeps each, into one CSV.",
                          mpi_agree=True)
    batch_sizes: tuple[int, ...] = ()
    input_data: tuple[str, ...] = opt(("random",), "--input-data", multiple=True, cli_default=(),
                                      metavar="zero|random|DIR|FILE.json",
                                      help="Input data (repeatable; default random).")
    shapes: tuple[tuple[str, tuple[int, ...]], ...] = opt(
        (), "--shape", param="shapes", multiple=True, metavar="NAME:D1,D2[|D1,D2...]",
        parse=first_shape_set,
        help="Shape of a dynamic input, without the batch dimension (repeatable). Alternatives "
        "separated by | form shape sets, each swept (k-th set: k-th alternative of every such "
        "input).")
    shape_sets: tuple[tuple[tuple[str, tuple[int, ...]], ...], ...] = ()
    string_length: int = opt(d.DEFAULT_STRING_LENGTH, "--string-length", kind=int,
                             show_default=True, check=_nonneg,
                             message="--string-length must be >= 0",
                             help="Length of generated strings for BYTES inputs.")
    string_data: str | None = opt(None, "--string-data",
                                  help="Use this string for every BYTES element.")
    input_tensor_format: str = opt("binary", "--input-tensor-format", choices=TENSOR_FORMATS,
                                   help="How HTTP sends input tensors: binary or json.")
    output_tensor_format: str = opt("binary", "--output-tensor-format", choices=TENSOR_FORMATS,
                                    help="How HTTP asks for output tensors: binary or json.")
    shared_memory: str = opt("none", "--shared-memory", choices=("none", "system", "cuda"),
                             show_default=True,
                             help="Pass tensors through system or CUDA shared memory instead of the request.")
    output_shared_memory_size: int = opt(
        d.DEFAULT_OUTPUT_SHM_SIZE, "--output-shared-memory-size", kind=int, cli_default=None,
        given="output_shared_memory_size_given", check=_pos,
        message="--output-shared-memory-size must be > 0",
        help=f"Bytes per output (per batch item) when its size is unknown "
        f"[default: {d.DEFAULT_OUTPUT_SHM_SIZE}].")
    output_shared_memory_size_given: bool = False
    seed: int = opt(d.DEFAULT_SEED, "--seed", kind=int, help="Seed for random data and schedules.")
    request_parameters: tuple[tuple[str, str, str], ...] = opt(
        (), "--request-parameter", param="request_parameter", multiple=True,
        metavar="NAME:VALUE:TYPE", parse=p.request_parameters,
        help="Request parameter sent with every request; TYPE bool, int or string (repeatable; "
        "HTTP and gRPC).")
    on_mismatch: str = opt(
        "stop", "--on-mismatch", choices=("stop", "count"), show_default=True,
        help="validation_data: an answer that differs from its expected output ends the run "
        "(stop: exit 99 once its window is measured, data written, as perf_analyzer stops) or "
        "is counted as a failed request and the run goes on (count).")
    # memory for generated input data, checked before allocating (inputs/budget.py)
    input_memory_limit_mb: float = opt(
        0.0, "--input-memory-limit", kind=float, check=_finite_nonneg,
        message="--input-memory-limit: expected MB >= 0, got {value}",
        help="MB the generated input data may take (0 = half of the memory available at start).")

    @property
    def combined(self) -> bool:
        """A -b list or --shape sets: one sweep per batch size × shape set."""
        return len(self.batch_sizes) > 1 or len(self.shape_sets) > 1
