"""The documentation holds together: every relative link of README.md and docs/*.md reaches an
existing file (and heading), and the README's install and test commands are the ones CI runs."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def _prose(text: str) -> str:
    """The text without fenced code blocks and inline code, where `](` is not a link."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    return re.sub(r"`[^`\n]*`", "", text)


def _anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    text = re.sub(r"^```.*?^```", "", page.read_text(), flags=re.S | re.M)
    seen: dict[str, int] = {}
    out = set()
    for m in re.finditer(r"^#+ (.+)$", text, flags=re.M):
        base = _anchor(m.group(1))
        n = seen.get(base, 0)
        seen[base] = n + 1
        out.add(base if n == 0 else f"{base}-{n}")
    return out


def _relative_links(page: Path) -> list[str]:
    return [t for t in LINK.findall(_prose(page.read_text()))
            if not re.match(r"[a-z]+:", t)]


def test_the_docs_pages_exist_and_the_readme_links_each() -> None:
    linked = set(_relative_links(ROOT / "README.md"))
    assert len(PAGES) > 5
    for page in PAGES[1:]:
        assert f"docs/{page.name}" in linked, f"README does not link {page.name}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_relative_link_reaches_a_file_and_heading(page: Path) -> None:
    for target in _relative_links(page):
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        assert dest.is_file(), f"{page.name}: {target} is not a file"
        if anchor:
            assert anchor in _anchors(dest), f"{page.name}: {target} names no heading"


def _marked(ci: str, mark: str) -> list[str]:
    """The command on the line after `# README: MARK` in .ci/run."""
    lines = ci.splitlines()
    i = lines.index(f"# README: {mark}")
    return shlex.split(lines[i + 1])


def _essence(tokens: list[str]) -> list[str]:
    """A command without environment settings, `python -m`, options and their values."""
    while tokens and re.match(r"^[A-Z_]+=", tokens[0]):
        tokens = tokens[1:]
    if tokens[:2] == ["python", "-m"]:
        tokens = tokens[2:]
    out, skip = [], False
    for t in tokens:
        if skip:
            skip = False
        elif t == "-p":
            skip = True
        elif not t.startswith("-"):
            out.append(t)
    return out


def test_readme_commands_are_the_ones_ci_runs() -> None:
    readme = (ROOT / "README.md").read_text()
    quick = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"^```bash\n(.*?)^```", quick, flags=re.S | re.M)
    tests = [b.strip() for b in blocks if "pytest" in b]
    assert len(tests) == 1, "the Quick start has one test command"
    install, run = (shlex.split(part) for part in tests[0].split("&&"))
    ci = (ROOT / ".ci" / "run").read_text()
    assert _essence(_marked(ci, "install")) == _essence(install) == [
        "pip", "install", ".[server,dev,mpi,search]"]
    assert _essence(_marked(ci, "tests")) == _essence(run) == ["pytest"]
