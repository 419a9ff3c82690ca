"""Port code written on the old shape to the architecture step (issue 12): the mechanical part.

    python scripts/port_to_arch.py FILE.py ...          # rewrite in place, print what changed
    python scripts/port_to_arch.py --check FILE.py ...  # only print; exit 1 if anything would change

It rewrites moved import paths (absolute and relative), ``EXIT_PASS`` -> ``EXIT_OK``, flat config reads
``cfg.batch_size`` -> ``cfg.inputs.batch_size`` (receivers named ``cfg``, ``self.cfg`` or
``spec.cfg``, for every field of :mod:`perfanalyzer.config.table`) and, in tests,
``RunConfig(...)`` -> ``RunConfig.of(...)``. What it cannot know (a moved name imported together
with names that stayed, a config read through another variable name) is left for the reader:
run ruff, mypy and tests/test_layers.py afterwards.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from perfanalyzer.config.table import GROUP_OF

#: (old module, new module), as dotted paths below ``perfanalyzer``.
MOVED = [
    ("client.errors", "errors"), ("gate.errors", "errors"), ("measure.records", "records"),
    ("profile.cleanup", "cleanup"), ("config.options", "config.defaults"),
    ("cli.build", "config.build"),
]
#: (old module, name, new module) for names that moved out of a module that still exists.
MOVED_NAMES = [
    ("profile.setup", "ModelSetup", "inputs.setup"), ("profile.setup", "requests_for", "inputs.setup"),
    ("profile.setup", "client_options", "client.options"),
    ("profile.setup", "CONNECT_TIMEOUT_S", "client.options"),
    ("profile.run", "window_plan", "measure.window"), ("measure.metrics", "LATE_SEND_NS", "records"),
    ("load.worker_proc", "Strided", "load.share"), ("load.worker_proc", "split", "load.share"),
    ("load.worker_proc", "WorkerSpec", "load.share"), ("load.worker_proc", "FOREVER", "load.share"),
    ("load.sequences", "ClosedLoopManager", "load.concurrency"),
]
PROPERTIES = {"server_url": "server", "latency_threshold_ns": "measurement"}


def _relative(path: Path, target: str) -> str:
    """``target`` (dotted, below perfanalyzer) as seen from the module at ``path``."""
    parts = path.resolve().parts
    depth = len(parts) - parts.index("perfanalyzer") - 2  # folders below perfanalyzer/
    return "." * (depth + 1) + target


def _imports(text: str, path: Path) -> str:
    in_package = "perfanalyzer" in path.resolve().parts[:-1]
    for old, new in MOVED:
        text = text.replace(f"perfanalyzer.{old} import", f"perfanalyzer.{new} import")
        if in_package:
            text = re.sub(rf"from \.+{re.escape(old)} import", f"from {_relative(path, new)} import",
                          text)
    for old, name, new in MOVED_NAMES:
        text = _move_name(text, f"perfanalyzer.{old}", name, f"perfanalyzer.{new}")
        if in_package:
            dots = _relative(path, "")
            text = _move_name(text, f"{dots}{old}", name, f"{dots}{new}")
    for folder, module in (("profile", "cleanup"), ("measure", "records")):  # now at the root
        text = text.replace(f"from perfanalyzer.{folder} import {module}\n",
                            f"from perfanalyzer import {module}\n")
        if in_package:
            text = re.sub(rf"from (\.+){folder} import {module}\n", rf"from \1 import {module}\n",
                          text)
    text = text.replace("import config_from_kwargs", "import build as config_from_kwargs")
    text = re.sub(r"from (\.+) import __version__", r"from \1version import __version__", text)
    return text.replace("EXIT_PASS", "EXIT_OK")


def _move_name(text: str, old: str, name: str, new: str) -> str:
    """Move ``name`` out of ``from old import ...`` (one line or parenthesized) into its own
    ``from new import name`` line under it."""
    pattern = re.compile(rf"^(\s*)from {re.escape(old)} import (\(([^)]*)\)|[^\n(]+)$", re.M)

    def fix(m: re.Match[str]) -> str:
        indent, body = m.group(1), m.group(3) if m.group(3) is not None else m.group(2)
        names = [n.strip() for n in body.replace("\n", " ").split(",") if n.strip()]
        if name not in names:
            return m.group(0)
        rest = [n for n in names if n != name]
        moved = f"{indent}from {new} import {name}"
        return moved if not rest else f"{indent}from {old} import {', '.join(rest)}\n{moved}"

    return pattern.sub(fix, text)


def _config_reads(text: str) -> str:
    fields = {**GROUP_OF, **PROPERTIES}
    names = "|".join(sorted(fields, key=len, reverse=True))
    pattern = re.compile(rf"\b((?:self\.|spec\.)?cfg)\.({names})\b")
    return pattern.sub(lambda m: f"{m.group(1)}.{fields[m.group(2)]}.{m.group(2)}", text)


def port(path: Path) -> str:
    text = _config_reads(_imports(path.read_text(encoding="utf-8"), path))
    if "tests" in path.resolve().parts:
        text = re.sub(r"\bRunConfig\(", "RunConfig.of(", text)
    return text


def main(argv: list[str]) -> int:
    check = "--check" in argv
    changed = 0
    for name in (a for a in argv if a != "--check"):
        path = Path(name)
        old, new = path.read_text(encoding="utf-8"), port(path)
        if old != new:
            changed += 1
            print(f"{'would change' if check else 'changed'}: {path}")
            if not check:
                path.write_text(new, encoding="utf-8")
    return 1 if check and changed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
