#!/usr/bin/env python3
"""Generate the Python protobuf / gRPC code in ``perfanalyzer/_proto/`` from ``protos/*.proto``.

Usage::

    python scripts/gen_protos.py           # (re)generate perfanalyzer/_proto/
    python scripts/gen_protos.py --check   # exit 1 if the committed code differs from a fresh run

Runs ``python -m grpc_tools.protoc`` (the ``grpcio-tools`` package) and post-processes its output:

* imports between generated modules become package-relative (``from . import model_config_pb2``);
* descriptors go into a private descriptor pool (``perfanalyzer/_proto/_pool.py``) instead of
  protobuf's default one, so this package can live in one process with ``tritonclient``, whose
  generated code registers the same ``inference.*`` names in the default pool.

The output depends on the grpcio-tools version; ``--check`` is only meaningful with the version that
generated the committed files (named in their headers).
"""

from __future__ import annotations

import argparse
import filecmp
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTO_DIR = ROOT / "protos"
OUT_DIR = ROOT / "perfanalyzer" / "_proto"
#: Hand-written files in OUT_DIR that a regeneration keeps as they are.
KEEP = ("__init__.py", "_pool.py")
GENERATED_SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py")

_IMPORT_RE = re.compile(r"^import (\w+_pb2(?:_grpc)?) as (\w+)$", re.MULTILINE)
_FROM_RE = re.compile(r"^from (\w+_pb2(?:_grpc)?) import ", re.MULTILINE)
_POOL_IMPORT = "from google.protobuf import descriptor_pool as _descriptor_pool\n"
_POOL_USE = "_descriptor_pool.Default()"


def proto_files() -> list[Path]:
    return sorted(PROTO_DIR.glob("*.proto"))


def rewrite(text: str) -> str:
    """Make imports package-relative and use the package's private descriptor pool."""
    text = _IMPORT_RE.sub(r"from . import \1 as \2", text)
    text = _FROM_RE.sub(r"from .\1 import ", text)
    if _POOL_USE in text:
        text = text.replace(_POOL_IMPORT, "from . import _pool\n")
        text = text.replace(_POOL_USE, "_pool.POOL")
    return text


def generate(out_dir: Path) -> list[Path]:
    """Run protoc into ``out_dir`` and post-process; returns the generated files."""
    try:
        import grpc_tools  # noqa: F401
    except ImportError:
        sys.exit("grpcio-tools is not installed: pip install grpcio-tools")
    cmd = [
        sys.executable, "-m", "grpc_tools.protoc",
        f"-I{PROTO_DIR}",
        f"--python_out={out_dir}",
        f"--pyi_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        *(p.name for p in proto_files()),
    ]
    subprocess.run(cmd, check=True, cwd=PROTO_DIR)
    produced = sorted(p for p in out_dir.iterdir() if p.name.endswith(GENERATED_SUFFIXES))
    for path in produced:
        path.write_text(rewrite(path.read_text()))
    return produced


def check() -> int:
    """Regenerate into a temp dir and compare with OUT_DIR; 0 if identical, 1 otherwise."""
    with tempfile.TemporaryDirectory() as tmp:
        fresh = {p.name for p in generate(Path(tmp))}
        committed = {p.name for p in OUT_DIR.iterdir() if p.name.endswith(GENERATED_SUFFIXES)}
        stale = sorted(committed ^ fresh)
        stale += sorted(n for n in fresh & committed
                        if not filecmp.cmp(Path(tmp) / n, OUT_DIR / n, shallow=False))
    if stale:
        print("stale generated code in perfanalyzer/_proto: " + ", ".join(stale), file=sys.stderr)
        print("run: python scripts/gen_protos.py", file=sys.stderr)
        return 1
    print("perfanalyzer/_proto is up to date")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="exit 1 if the committed generated code is stale")
    args = parser.parse_args(argv)
    if args.check:
        return check()
    for old in OUT_DIR.iterdir():
        if old.name.endswith(GENERATED_SUFFIXES) and old.name not in KEEP:
            old.unlink()
    for path in generate(OUT_DIR):
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
