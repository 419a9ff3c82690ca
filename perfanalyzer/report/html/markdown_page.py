"""A markdown summary (as the search and the gate write them) as a self-contained HTML page, with
figures inline: the subset those summaries use (headings, bullet lists, pipe tables, paragraphs,
``code`` and **bold** spans), everything else escaped as text."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from markupsafe import Markup, escape
from matplotlib.figure import Figure

from ...version import __version__
from ..outfile import write_output
from .page import Figures, render

_INLINE = re.compile(r"`([^`]+)`|\*\*([^*]+)\*\*")


def _inline(text: str) -> Markup:
    out, pos = [], 0
    for m in _INLINE.finditer(text):
        out.append(escape(text[pos:m.start()]))
        out.append(Markup("<code>{}</code>").format(m.group(1)) if m.group(1) is not None
                   else Markup("<strong>{}</strong>").format(m.group(2)))
        pos = m.end()
    out.append(escape(text[pos:]))
    return Markup("").join(out)


def _cells(line: str) -> list[str]:
    return [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]


def markdown_html(text: str) -> Markup:
    """The markdown subset above as HTML (every character of the input escaped)."""
    html: list[Markup] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("#"):
            level = min(len(line) - len(line.lstrip("#")), 4)
            html.append(Markup(f"<h{level}>{_inline(line.lstrip('#').strip())}</h{level}>"))
        elif line.startswith("|"):
            rows = []
            while i < len(lines) and lines[i].startswith("|"):
                rows.append(_cells(lines[i]))
                i += 1
            body = [r for r in rows[1:] if not all(set(c) <= set("-: ") for c in r)]
            head = Markup("").join(Markup("<th>{}</th>").format(_inline(c)) for c in rows[0])
            trs = Markup("").join(
                Markup("<tr>{}</tr>").format(Markup("").join(
                    Markup("<td>{}</td>").format(_inline(c)) for c in r)) for r in body)
            html.append(Markup('<div class="scroll"><table><thead><tr>{}</tr></thead>'
                               "<tbody>{}</tbody></table></div>").format(head, trs))
            continue
        elif line.startswith("- "):
            items = []
            while i < len(lines) and lines[i].startswith("- "):
                items.append(Markup("<li>{}</li>").format(_inline(lines[i][2:])))
                i += 1
            html.append(Markup("<ul>{}</ul>").format(Markup("").join(items)))
            continue
        elif line.strip():
            html.append(Markup("<p>{}</p>").format(_inline(line)))
        i += 1
    return Markup("\n").join(html)


def markdown_page(title: str, text: str, figures: Sequence[tuple[Figure, str]] = ()) -> str:
    """One self-contained page: ``text`` (markdown) then each (figure, caption) inline."""
    figs = Figures()
    drawn = [(figs.svg(fig, caption), caption) for fig, caption in figures]
    return render("markdown.html.j2", version=__version__, title=title,
                  body=markdown_html(text), figures=drawn)


def write_markdown_page(path: Path, title: str, text: str,
                        figures: Sequence[tuple[Figure, str]] = ()) -> Path:
    """:func:`markdown_page` written to ``path`` through the safe writer (raises OutputError)."""
    write_output(path, markdown_page(title, text, figures), path.name)
    return path


__all__ = ["markdown_html", "markdown_page", "write_markdown_page"]
