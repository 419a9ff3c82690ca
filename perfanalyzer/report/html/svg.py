"""A matplotlib figure as SVG markup to inline in an HTML page.

Text stays text (``svg.fonttype: none``: smaller, selectable, crisp in print); the XML prologue,
DOCTYPE and RDF metadata are dropped (their namespace URLs would read as external references);
every id is prefixed so several figures can share one page without their clip paths or markers
colliding; the root element scales to its container.
"""

from __future__ import annotations

import io
import re
from itertools import count

import matplotlib
from markupsafe import Markup, escape
from matplotlib.figure import Figure

_IDS = re.compile(r'(\bid="|url\(#|href="#)([^")]+)')
_ROOT_SIZE = re.compile(r'\s(?:width|height)="[^"]*"')
_WIDTH = re.compile(r'\swidth="([0-9.]+pt)"')
_XMLNS = re.compile(r'\sxmlns(?::\w+)?="[^"]*"')
_METADATA = re.compile(r"<metadata>.*?</metadata>\s*", re.S)


class SvgNames:
    """Unique id prefixes for the figures of one page (deterministic: same page, same ids)."""

    def __init__(self) -> None:
        self._n = count(1)

    def next(self) -> str:
        return f"f{next(self._n)}-"


def svg_markup(fig: Figure, title: str, names: SvgNames) -> Markup:
    """``fig`` as one inline ``<svg>`` element titled ``title`` (its accessible name)."""
    data = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "perfanalyzer"}):
        fig.savefig(data, format="svg", metadata={"Date": None})
    text = data.getvalue()
    text = _METADATA.sub("", text[text.index("<svg"):])
    prefix = names.next()
    text = _IDS.sub(lambda m: m.group(1) + prefix + m.group(2), text)
    head_end = text.index(">")
    width = _WIDTH.search(text[:head_end])
    head = _XMLNS.sub("", _ROOT_SIZE.sub("", text[:head_end]))
    # never wider than drawn (text keeps its size), narrower when the page is
    style = f' style="max-width: {width.group(1)}"' if width else ""
    head += f' class="fig"{style} role="img" aria-label="{escape(title)}"'
    return Markup(f"{head}>\n<title>{escape(title)}</title>{text[head_end + 1:]}")


__all__ = ["SvgNames", "svg_markup"]
