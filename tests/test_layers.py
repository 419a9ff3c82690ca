"""Folders depend one way: every import (lazy and TYPE_CHECKING ones included) goes to the same
layer or a lower one, and no two folders, nor two modules, import each other, directly or through
others.

Layers, bottom to top (DESIGN.md): the foundations (errors, cleanup stack, record type, config
types, generated protobuf code), then client (and the local server launcher) → inputs / shm → load →
measure → results (the typed run model) → report → gate, with the profile conductor and cli on top.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "perfanalyzer"

#: unit (a folder, or a module at the package root) → its layer.
LAYERS: dict[str, int] = {
    "version": 0, "errors": 0, "cleanup": 0, "records": 0, "config": 0, "_proto": 0, "columns": 0,
    "redact": 0,
    "client": 1, "server": 1,
    "inputs": 2, "shm": 2,
    "load": 3,
    "measure": 4,
    # the typed run model every reader below the conductor reads
    "results": 5,
    "report": 6,
    "gate": 7,
    "profile": 8, "mpi": 8, "search": 8,
    "cli": 9, "__main__": 9,
    # the package's face: ``perfanalyzer.read_run`` etc. (PEP 562, loaded on first use)
    "__init__": 10,
}


def _unit(parts: tuple[str, ...]) -> str:
    """The folder (or root module) a dotted module path inside the package belongs to."""
    return parts[0] if parts else "__init__"


def _module(path: Path) -> tuple[str, ...]:
    """The dotted module path of a file inside the package (a package is its folder)."""
    rel = path.relative_to(PACKAGE).with_suffix("").parts
    return rel[:-1] if rel[-1] == "__init__" else rel


def _module_imports(path: Path) -> set[tuple[str, ...]]:
    """Modules of the package that ``path`` names in an import, anywhere in the file (lazy and
    TYPE_CHECKING imports included). ``from a.b import c`` names a.b.c when c is a module, else
    a.b; the parent packages Python runs on the way are not counted."""
    me = _module(path)
    package = me if path.name == "__init__.py" else me[:-1]
    found: set[tuple[str, ...]] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        targets: list[tuple[str, ...]] = []
        if isinstance(node, ast.Import):
            targets = [tuple(a.name.split(".")) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1]
                mod = (*base, *(node.module.split(".") if node.module else ()))
            elif node.module and node.module.split(".")[0] == "perfanalyzer":
                mod = tuple(node.module.split(".")[1:])
            else:
                continue
            # from . import x / from perfanalyzer import x: x is a module when its file exists
            subs = [(*mod, a.name) for a in node.names
                    if PACKAGE.joinpath(*mod, a.name).is_dir()
                    or PACKAGE.joinpath(*mod, a.name + ".py").is_file()]
            targets = [("perfanalyzer", *t) for t in (subs or [mod])]
        found.update(t[1:] for t in targets if t and t[0] == "perfanalyzer")
    return found - {me}


def _imports(path: Path) -> set[str]:
    """Units of the package that ``path`` imports, anywhere in the file."""
    return {_unit(m) for m in _module_imports(path)}


def _sources() -> list[Path]:
    """The package's hand-written modules (not the generated protobuf code nor the models)."""
    return [p for p in PACKAGE.rglob("*.py")
            if p.relative_to(PACKAGE).parts[0] != "_proto" and "models" not in p.parts]


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in _sources():
        rel = path.relative_to(PACKAGE).with_suffix("").parts
        unit = _unit(rel if len(rel) > 1 else (rel[0],))
        graph.setdefault(unit, set()).update(_imports(path) - {unit})
    return graph


def test_every_unit_has_a_layer() -> None:
    assert set(_graph()) <= set(LAYERS)


def test_no_upward_import() -> None:
    upward = sorted(f"{a} -> {b}" for a, deps in _graph().items() for b in deps
                    if LAYERS.get(b, 99) > LAYERS[a])
    assert not upward, "upward imports:\n" + "\n".join(upward)


def _cycles(graph: dict[str, set[str]]) -> list[str]:
    """The ways back to itself found from each node, by a depth-first walk (none: no cycle)."""
    cycles = []
    for start in graph:
        stack, seen = [(start, (start,))], set()
        while stack:
            node, path = stack.pop()
            for nxt in graph.get(node, ()):
                if nxt == start:
                    cycles.append(" -> ".join((*path, start)))
                elif nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, (*path, nxt)))
    return sorted(cycles)


def test_no_folder_cycle() -> None:
    cycles = _cycles(_graph())
    assert not cycles, "folder cycles:\n" + "\n".join(cycles)


def test_no_module_cycle() -> None:
    """No two modules import each other, directly or through others, in any folder."""
    graph = {".".join(_module(p)): {".".join(m) for m in _module_imports(p)} for p in _sources()}
    assert len(graph) > len(_graph())  # modules, not folders
    cycles = _cycles(graph)
    assert not cycles, "module cycles:\n" + "\n".join(cycles)



#: The conductors' layer: only they (and cli) see the whole RunConfig; every layer below gets the
#: narrow settings built for it (perfanalyzer/profile/settings.py).
CONDUCTOR_LAYER = LAYERS["profile"]
#: Modules below the conductors still reading the whole RunConfig, each with why (none today; a
#: module added here must say why it cannot take narrow settings).
RUN_CONFIG_READERS_LEFT: dict[str, str] = {}


def _names_run_config(path: Path) -> bool:
    """Whether ``path`` imports ``RunConfig`` from anywhere or reads it as an attribute
    (``config.RunConfig``), lazy and TYPE_CHECKING imports included."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and any(a.name == "RunConfig" for a in node.names):
            return True
        if isinstance(node, ast.Attribute) and node.attr == "RunConfig":
            return True
    return False


def test_no_layer_below_the_conductors_reads_run_config() -> None:
    below = [p for p in _sources() if _unit(_module(p) or ("__init__",)) != "config"
             and LAYERS.get(_unit(_module(p) or ("__init__",)), 99) < CONDUCTOR_LAYER]
    assert len(below) > 50  # the package's lower layers were found
    readers = {p.relative_to(PACKAGE).as_posix() for p in below if _names_run_config(p)}
    new = sorted(readers - set(RUN_CONFIG_READERS_LEFT))
    assert not new, "modules below profile/ that import RunConfig (give them narrow settings, " \
        "perfanalyzer/profile/settings.py):\n" + "\n".join(new)
    gone = sorted(set(RUN_CONFIG_READERS_LEFT) - readers)
    assert not gone, "no longer read RunConfig, drop from RUN_CONFIG_READERS_LEFT: " + ", ".join(gone)

#: The hard limit on a hand-written module's length (perfanalyzer/_proto is generated), for the
#: package, the tests (tests/support included) and scripts/*.py alike.
MAX_MODULE_LINES = 450


def test_no_hand_written_module_over_the_limit() -> None:
    root = PACKAGE.parent
    files = [*PACKAGE.rglob("*.py"), *(root / "tests").rglob("*.py"), *(root / "scripts").glob("*.py")]
    assert len(files) > len(list(PACKAGE.rglob("*.py")))  # the tests and scripts were found
    long = sorted(f"{p.relative_to(root)}: {n} lines" for p in files
                  if "_proto" not in p.parts
                  and (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES)
    assert not long, "modules over the limit:\n" + "\n".join(long)


def test_no_test_module_imports_another() -> None:
    """Shared helpers live in tests/support; a test module importing another drags its tests'
    module-level set-up along and hides which helpers are shared."""
    tests = PACKAGE.parent / "tests"
    found = []
    for path in sorted(tests.glob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [("." * node.level) + (node.module or "")]
                     if isinstance(node, ast.ImportFrom) else [])
            if isinstance(node, ast.ImportFrom) and (node.module == "tests" or (
                    node.level and not node.module)):  # from tests import test_x (as h)
                names += [f"tests.{a.name}" for a in node.names]
            for name in names:
                last = name.lstrip(".").split(".")
                if (name.startswith(("tests.", ".")) and last[-1:] != [""]
                        and (last[-1].startswith("test_") or last[-1] == "conftest")):
                    found.append(f"{path.name}: imports {name}")
    assert not found, "\n".join(found)
