"""Memory for generated input data is checked before it is allocated: a huge
``--shape`` or ``--string-length`` is one error line, not a MemoryError.

The limit is ``DataOptions.memory_limit_bytes`` (``--input-memory-limit`` MB), or by default half
of the memory available when the run starts (``MemAvailable`` in /proc/meminfo; 4 GiB where that
cannot be read).
"""

from __future__ import annotations

from ..client import tensors
from ..errors import OptionError
from .model import ModelIO

FALLBACK_LIMIT_BYTES = 4 << 30
#: Bytes of a BYTES element besides its characters (the 4-byte length prefix).
BYTES_PREFIX = 4
#: Transient bytes per random character (numpy draws int64 indices into the alphabet).
RANDOM_INDEX_BYTES = 8


def available_bytes() -> int | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def default_limit() -> int:
    avail = available_bytes()
    return avail // 2 if avail else FALLBACK_LIMIT_BYTES


def needed_bytes(io: ModelIO, shapes: dict[str, tuple[int, ...]], *, batch_size: int,
                 string_length: int, string_data: str | None) -> int:
    """Bytes the generated (and then batched) data takes, without allocating it."""
    total = 0
    for spec in io.inputs:
        shape = shapes.get(spec.name, spec.shape)
        if any(d < 0 for d in shape):
            continue
        count = tensors.element_count(shape)
        size = tensors.ELEMENT_SIZE.get(spec.datatype)
        if size is None:  # BYTES
            if string_data is not None:
                size = BYTES_PREFIX + len(string_data.encode())
            else:  # random strings draw an int64 index per character while building
                size = BYTES_PREFIX + string_length * (1 + RANDOM_INDEX_BYTES)
        total += count * size
    return total * max(1, batch_size) * 2  # the batch-1 step and the batched copy


def check_budget(io: ModelIO, shapes: dict[str, tuple[int, ...]], *, batch_size: int,
                 string_length: int, string_data: str | None, limit_bytes: int = 0) -> None:
    """Raise OptionError when the generated data would take more than the limit."""
    need = needed_bytes(io, shapes, batch_size=batch_size, string_length=string_length,
                        string_data=string_data)
    limit = limit_bytes or default_limit()
    if need > limit:
        raise OptionError(f"--shape/--string-length/-b: the generated input data needs "
                          f"{need / 2**20:,.0f} MB, above the limit of {limit / 2**20:,.0f} MB "
                          f"(--input-memory-limit MB; default half of the available memory)")


__all__ = ["check_budget", "default_limit", "needed_bytes"]
