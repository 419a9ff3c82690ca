"""The click type of every float option: a number that is finite, within optional bounds.

click's ``float`` and ``FloatRange`` accept ``nan`` and ``inf`` (a nan compares false with every
bound): a ``nan`` timeout waits forever, a ``nan`` threshold never triggers. No float option of
perfanalyzer means anything by them, so they are refused with the flag's name.
"""

from __future__ import annotations

import math
from typing import Any

import click


class FiniteFloat(click.FloatRange):
    """``click.FloatRange`` that also refuses ``nan``, ``inf`` and ``-inf``."""

    name = "float"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = click.FLOAT.convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return super().convert(number, param, ctx)

    def _describe_range(self) -> str:
        # click describes an unbounded range as "x<=None" in --help: say nothing instead
        if self.min is None and self.max is None:
            return ""
        return str(super()._describe_range())


#: Any finite number (no bounds of its own: the option's check says more).
FINITE_FLOAT = FiniteFloat()

__all__ = ["FINITE_FLOAT", "FiniteFloat"]
