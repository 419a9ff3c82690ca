"""What every HTML report must be, checked on its text: one page with no script and no reference
to anything outside it (so it reads the same from a file, offline, forever)."""

from __future__ import annotations

import re
from html.parser import HTMLParser

#: Elements that load or run something; none may appear.
FORBIDDEN_TAGS = {"script", "link", "iframe", "object", "embed", "img", "video", "audio",
                  "source", "base", "frame", "frameset", "meta-refresh", "form"}
REFERENCE_ATTRS = {"href", "src", "xlink:href", "action", "srcset", "poster", "data"}
_OUTSIDE = re.compile(r"https?:|//|ftp:|file:", re.I)
#: A header value the HTML report and the events of the ``html_run`` fixture must never show.
HTML_RUN_SECRET = "s3cr3t-token-value"


class _Walk(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self.svgs: list[dict[str, int]] = []
        self.titles: list[str] = []
        self._in_style = False
        self._style: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in FORBIDDEN_TAGS:
            self.problems.append(f"<{tag}>")
        for name, value in attrs:
            value = value or ""
            if name.startswith("on"):
                self.problems.append(f"event handler {name}")
            if name in REFERENCE_ATTRS and not (value.startswith("#")
                                                or value.startswith("data:image/")):
                self.problems.append(f"{tag} {name}={value[:80]}")
            if name == "style":
                self._check_css(value)
            elif _OUTSIDE.search(value) and name not in ("content",):
                self.problems.append(f"{tag} {name}={value[:80]}")
        if tag == "meta" and dict(attrs).get("http-equiv"):
            self.problems.append("meta http-equiv")
        if tag == "svg":
            self.svgs.append({"elements": 0})
            self.titles.append(dict(attrs).get("aria-label") or "")
        elif self.svgs and tag in ("path", "use", "text", "rect", "line", "polyline", "g"):
            self.svgs[-1]["elements"] += 1
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        if tag == "style":
            self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self._style.append(data)

    def _check_css(self, css: str) -> None:
        if "@import" in css:
            self.problems.append("@import")
        for url in re.findall(r"url\(\s*['\"]?([^'\")]*)", css):
            if not url.startswith("#"):
                self.problems.append(f"url({url[:80]})")

    def close(self) -> None:
        super().close()
        self._check_css("".join(self._style))


def walk(text: str) -> _Walk:
    w = _Walk()
    w.feed(text)
    w.close()
    return w


def self_contained_problems(text: str) -> list[str]:
    """Everything in ``text`` that would run a script or fetch something (empty when none)."""
    problems = walk(text).problems
    if re.search(r"<\s*script", text, re.I):
        problems.append("script")
    if re.search(r"javascript:", text, re.I):
        problems.append("javascript:")
    return problems


def figures(text: str) -> list[tuple[str, int]]:
    """(accessible name, number of drawn elements) of every inline figure."""
    w = walk(text)
    return [(t, s["elements"]) for t, s in zip(w.titles, w.svgs, strict=True)]
