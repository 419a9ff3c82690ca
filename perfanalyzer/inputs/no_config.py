"""Servers without a model configuration (third-party KServe v2 servers): the batch dimension.

Without Triton's model-configuration extension only the metadata shapes are known. When every input's
shape starts with -1, that leading dimension is taken as the batch dimension (KServe's convention):
it is filled from ``-b`` and said in one line. Any other -1 dimension still needs ``--shape``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: The batch limit of a model without a configuration is unknown: -b is not capped.
NO_CONFIG_MAX_BATCH = 2**31 - 1


def batch_dimension(metadata: Mapping[str, Any], config: Mapping[str, Any],
                    batch_size: int) -> tuple[dict[str, Any], str | None]:
    """(the config to use, the one-line note or None). A real config is returned unchanged."""
    if config:
        return dict(config), None
    inputs = metadata.get("inputs") or []
    shapes = [list(i.get("shape") or []) for i in inputs if isinstance(i, Mapping)]
    if not shapes or not all(s and int(s[0]) == -1 for s in shapes):
        return {}, None
    name = metadata.get("name", "")
    note = (f"Model '{name}' has no model configuration: the leading -1 dimension of its inputs "
            f"is taken as the batch dimension and filled from -b ({batch_size})")
    return {"max_batch_size": NO_CONFIG_MAX_BATCH}, note
