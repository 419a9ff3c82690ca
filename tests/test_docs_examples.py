"""The documentation's examples work: every ``perfanalyzer`` command shown in README.md and docs/
parses through the CLI's own path (a renamed or removed flag fails here), and the reports page's
walk-through runs for real against the test Triton, the Python snippets included."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import click
import pytest

from perfanalyzer.cli.main import cli, profile_config
from perfanalyzer.cli.search_cmd import configs_from_kwargs
from tests.support.cli_runs import profile_cli
from tests.support.paths import ROOT

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SUBCOMMANDS = {"report", "plot", "compare", "serve", "search", "profile"}


def _blocks(text: str, languages: tuple[str, ...]) -> list[str]:
    """The fenced code blocks of ``text`` in these languages."""
    return [m.group(2) for m in re.finditer(r"^```(\w*)\n(.*?)^```", text, flags=re.S | re.M)
            if m.group(1) in languages]


def _commands(block: str) -> list[list[str]]:
    """``perfanalyzer ...`` command lines of a shell (or CI yaml) block: continuations joined,
    comments dropped, the ``- run:`` of a workflow step removed."""
    joined = re.sub(r"\\\n\s*", " ", block)
    out = []
    for line in joined.splitlines():
        line = re.sub(r"^\s*-?\s*run:\s*", "", line).strip()
        if not line.startswith("perfanalyzer"):
            continue
        out.append(shlex.split(line, comments=True)[1:])
    return out


def _page_commands(page: Path) -> list[list[str]]:
    text = page.read_text()
    return [c for b in _blocks(text, ("bash", "sh", "yaml", "")) for c in _commands(b)]


EXAMPLES = [(page.name, argv) for page in PAGES for argv in _page_commands(page)]


def test_the_pages_show_commands() -> None:
    """The extraction found the examples (it would otherwise pass on nothing)."""
    pages = {name for name, _ in EXAMPLES}
    assert {"README.md", "reports.md", "search.md", "sweeps.md", "streaming.md", "gate.md"} <= pages
    assert len(EXAMPLES) >= 15


@pytest.mark.parametrize("page, argv", EXAMPLES,
                         ids=[f"{n}:{' '.join(a)[:40]}" for n, a in EXAMPLES])
def test_every_shown_command_parses(page: str, argv: list[str], monkeypatch: Any) -> None:
    """Each shown command is accepted by its command's parser; a profile or search command also
    passes the configuration's refusals and cross-flag rules (no server is contacted)."""
    monkeypatch.chdir(ROOT)  # --config configs/... is relative to the checkout, as shown
    name = argv[0] if argv and argv[0] in SUBCOMMANDS else "profile"
    args = argv[1:] if name != "profile" or argv[:1] == ["profile"] else argv
    if args in (['--help'], ['-h']):
        return  # help is not a configuration
    command = cli.get_command(click.Context(cli), name)
    assert command is not None, f"{page}: no command {name}"
    # files the example reads are the user's (run.json, perf.csv): parse options, not paths
    try:
        ctx = command.make_context(name, list(args), resilient_parsing=name in
                                   {"report", "plot", "compare"})
    except click.UsageError as exc:  # pragma: no cover - the failure message is the point
        pytest.fail(f"{page}: perfanalyzer {' '.join(argv)}: {exc.format_message()}")
    if name in {"report", "plot", "compare"}:
        known = {o for p in command.params for o in (*p.opts, *p.secondary_opts)}
        used = {a.split("=")[0] for a in args if a.startswith("-")}
        assert used <= known, f"{page}: unknown options {sorted(used - known)}"
    elif name == "profile":
        profile_config(ctx.params)
    elif name == "search":
        configs_from_kwargs(dict(ctx.params))


def _snippet(page: str, contains: str) -> str:
    for block in _blocks((ROOT / "docs" / page).read_text(), ("python",)):
        if contains in block:
            return block
    raise AssertionError(f"docs/{page} has no python block with {contains!r}")


@pytest.mark.slow
def test_the_reports_walk_through_runs(triton: Any, tmp_path: Path) -> None:
    """docs/reports.md as a user types it, with the test Triton in place of --launch-server:
    its address, its add_sub (the bundled simple's tensors) for simple, and short windows."""
    here = ["-u", triton.http_url, "-p", "300", "-s", "100", "--concurrency-range", "1:2"]

    def run(argv: list[str], cwd: Path) -> None:
        argv = [{"simple": "add_sub"}.get(a, a) for a in argv if a != "--launch-server"]
        if argv[0] not in SUBCOMMANDS:
            argv = [*argv, *here]
        proc = profile_cli(*argv, cwd=cwd)
        # a profile whose short windows did not settle still writes what it measured (exit 2)
        ok = (0, 2) if argv[0] not in SUBCOMMANDS else (0,)
        assert proc.returncode in ok, (argv, proc.stdout[-2000:], proc.stderr[-2000:])

    # each block of the page is its own walk-through (an export is never overwritten, so the
    # second block's run.json would be refused where the first one's lies): one folder each
    first, second = (tmp_path / "a", tmp_path / "b")
    first.mkdir()
    second.mkdir()
    commands = _page_commands(ROOT / "docs" / "reports.md")
    run(next(c for c in commands if "perf.csv" in c and c[0] == "-m"), first)
    run(next(c for c in commands if c[:2] == ["report", "run.json"] and "-f" in c), first)
    assert (first / "again.csv").read_text().splitlines()[0] == \
        (first / "perf.csv").read_text().splitlines()[0]
    run(["plot", "perf.csv", "run.json", "-o", "figures/"], first)  # other.csv: the reader's own
    assert list((first / "figures").glob("*.png"))

    run(next(c for c in commands if "--html" in c and c[0] == "-m"), second)
    assert (second / "run.html").stat().st_size > 0 and (second / "run.jsonl").exists()
    run(next(c for c in commands if c[:2] == ["report", "run.json"] and "--html" in c), second)
    (second / "base.json").write_bytes((second / "run.json").read_bytes())
    (second / "new.json").write_bytes((second / "run.json").read_bytes())
    run(next(c for c in commands if c[:1] == ["compare"]), second)
    assert "<html" in (second / "gate.html").read_text().lower()

    code = _snippet("reports.md", "read_csv")
    scope: dict[str, Any] = {}
    import matplotlib

    matplotlib.use("Agg")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(first)
        exec(compile(code, "docs/reports.md", "exec"), scope)
    assert len(scope["df"]) >= 1 and len(scope["run"].requests) > 0


def test_the_python_client_snippet_runs(triton: Any, capsys: pytest.CaptureFixture[str]) -> None:
    """docs/python-client.md's example against the test Triton's gRPC port (its add_sub has the
    bundled simple's tensors)."""
    code = _snippet("python-client.md", "create_client").replace(
        "localhost:8001", triton.grpc_url).replace('model="simple"', 'model="add_sub"')
    exec(compile(code, "docs/python-client.md", "exec"), {"__name__": "__docs__"})
    out = capsys.readouterr().out
    assert "[[ 0  2  4" in out  # OUTPUT0 of simple is INPUT0 + INPUT1
