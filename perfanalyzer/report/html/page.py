"""Renders a page from the report templates: Jinja2 with autoescaping (every value from a run is
text, never markup, except the SVG figures built here), one shared style sheet, no script."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup
from matplotlib.figure import Figure

from .svg import SvgNames, svg_markup

_ENV = Environment(loader=FileSystemLoader(Path(__file__).with_name("templates")),
                   autoescape=select_autoescape(default=True, default_for_string=True),
                   undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                   keep_trailing_newline=True)


_NUMBER = re.compile(r"^[-+]?[\d.,]+(?: ?(?:%|[a-zA-Zµ/]{1,8}))?(?: ± [\d.,]+)?$")
_ENV.tests["numeric"] = lambda text: bool(_NUMBER.match(str(text)))


class Figures:
    """The figures of one page, as inline SVG (ids unique within the page)."""

    def __init__(self) -> None:
        self.names = SvgNames()

    def svg(self, fig: Figure | None, title: str) -> Markup | None:
        """``fig`` as SVG, or None when there is nothing to draw (the page says so)."""
        return None if fig is None else svg_markup(fig, title, self.names)


def render(template: str, **context: Any) -> str:
    return _ENV.get_template(template).render(**context)


__all__ = ["Figures", "render"]
