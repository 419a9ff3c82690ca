"""perfanalyzer: a load generator and benchmarking harness for KServe v2 / Triton servers."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .version import __version__ as __version__

if TYPE_CHECKING:  # for type checkers only: at run time these are loaded on first use
    from .report.frame import read_csv as read_csv
    from .report.frame import read_run as read_run

_LAZY = {"read_csv": "perfanalyzer.report.frame", "read_run": "perfanalyzer.report.frame"}


def __getattr__(name: str) -> object:
    """``perfanalyzer.read_csv`` / ``read_run`` without importing pandas on ``import perfanalyzer``
    (PEP 562)."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'perfanalyzer' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
