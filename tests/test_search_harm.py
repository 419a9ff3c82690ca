"""perfanalyzer search does no harm: it never writes through a link planted in its output folder,
restores the model's own configuration after a SIGKILL and rerun and on SIGHUP, refuses a second
search on the same model or folder, and resumes from a folder with damaged state.

The server tests use a Triton of their own (explicit model control, a copy of the delay model),
so a search cut short here cannot leave a changed model to the other tests.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from perfanalyzer.cli.main import main
from perfanalyzer.client import ClientOptions, create_client
from perfanalyzer.search.store import Store
from tests.support.shared_triton import start_or_skip

MODEL = "delay"  # 4 instances, 50 ms per request, no batching
DEFAULT_KEY = "ic4-mbs0-db-off-b1"  # the model's own configuration
OTHER_KEY = "ic1-mbs0-db-off-b1"
VICTIM_TEXT = "the user's notes\n"
WAIT_S = 120.0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from perfanalyzer.server.launcher import TritonLauncher

    repo = tmp_path_factory.mktemp("search-repo")
    shutil.copytree(Path(__file__).with_name("models") / MODEL, repo / MODEL)
    srv = start_or_skip(TritonLauncher(model_repository=repo, explicit_models=[MODEL],
                                       die_with_parent=True), timeout_s=180)
    try:
        yield srv
    finally:
        srv.stop()


async def _fetch(url: str) -> dict[str, Any]:
    c = create_client("http", ClientOptions(url=url))
    try:
        return await c.model_config(MODEL)
    finally:
        await c.close()


def _loaded(url: str) -> dict[str, Any]:
    return asyncio.run(_fetch(url))


def _count(url: str) -> int:
    return int(_loaded(url)["instance_group"][0]["count"])


def _argv(url: str, out: Path, counts: str = "1,4", replicates: int = 0) -> list[str]:
    """A short search: what these tests check (files, the configuration restored) is the same
    with or without replicate runs, which would reload and re-measure every finalist three times
    (tests/test_search_rank.py covers them, stopped and resumed too)."""
    return [sys.executable, "-m", "perfanalyzer", "search", "-u", url, "-m", MODEL,
            "--output-dir", str(out), "--instance-counts", counts, "--concurrency-range", "2",
            "-p", "300", "-s", "50", "-r", "4", "--replicates", str(replicates)]


def _start(url: str, out: Path, counts: str = "1,4", replicates: int = 0) -> subprocess.Popen[str]:
    return subprocess.Popen(_argv(url, out, counts, replicates), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def _run(url: str, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(_argv(url, out), capture_output=True, text=True, timeout=300,
                          check=False)


def _wait_for(proc: subprocess.Popen[str], what: str, ok: Any) -> None:
    deadline = time.monotonic() + WAIT_S
    while not ok():
        if proc.poll() is not None:
            pytest.fail(f"the search ended before {what}: {proc.communicate()[0]}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"no {what} within {WAIT_S:g} s: {proc.communicate()[0]}")
        time.sleep(0.1)


def _other_candidate_loaded(url: str, out: Path) -> bool:
    """The search finished its first candidate (the default) and loaded the second."""
    return (out / "candidates" / DEFAULT_KEY / "state.json").exists() and _count(url) == 1


# -- files -----------------------------------------------------------------------------------

@pytest.mark.server
@pytest.mark.parametrize("planted", ["summary.md", "search.json", "config.pbtxt",
                                     f"candidates/{DEFAULT_KEY}/state.json",
                                     f"candidates/{DEFAULT_KEY}/export.json",
                                     f"candidates/{DEFAULT_KEY}/final.json",
                                     f"candidates/{DEFAULT_KEY}/final-export.json", "candidates",
                                     f"candidates/{DEFAULT_KEY}"])
def test_a_link_planted_in_the_output_folder_is_refused_before_any_change(
        server: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], planted: str) -> None:
    folder = not planted.endswith((".md", ".json", ".pbtxt"))
    victim = tmp_path / ("victim" if folder else "notes.txt")
    if folder:
        victim.mkdir()
    else:
        victim.write_text(VICTIM_TEXT)
    out = tmp_path / "out"
    (out / planted).parent.mkdir(parents=True)
    (out / planted).symlink_to(victim)
    # In this process (the refusal comes before any load, so no process of its own is needed)
    with pytest.raises(SystemExit) as exited:
        main(_argv(server.http_url, out)[3:])
    code, stderr = exited.value.code, capsys.readouterr().err
    if folder:
        assert not list(victim.iterdir())
    else:
        assert victim.read_text() == VICTIM_TEXT
    assert (out / planted).is_symlink()  # not replaced either
    assert code == 3, stderr
    assert stderr.count("\n") == 1 and planted in stderr and "symbolic link" in stderr, stderr
    assert not (out / "original.json").exists()  # refused before the server was asked
    assert _count(server.http_url) == 4


@pytest.mark.server
@pytest.mark.slow
def test_links_at_temp_names_are_never_written_through(server: Any, tmp_path: Path) -> None:
    """The temp files have unique names, created exclusively: a link waiting at the name an
    earlier version used (``.NAME.tmp``) is left alone."""
    victim = tmp_path / "notes.txt"
    victim.write_text(VICTIM_TEXT)
    out = tmp_path / "out"
    cand = out / "candidates" / DEFAULT_KEY
    cand.mkdir(parents=True)
    links = [out / ".search.json.tmp", out / ".summary.md.tmp", out / ".original.json.tmp",
             cand / ".state.json.tmp"]
    for link in links:
        link.symlink_to(victim)
    res = _run(server.http_url, out)
    assert victim.read_text() == VICTIM_TEXT
    assert res.returncode == 0, res.stdout + res.stderr
    assert all(link.is_symlink() for link in links)
    assert not (out / "search.json").is_symlink() and (out / "summary.md").stat().st_size > 0


# -- the server's configuration --------------------------------------------------------------

@pytest.mark.server
@pytest.mark.slow
def test_sigkill_then_rerun_restores_the_configuration_before_the_search(
        server: Any, tmp_path: Path) -> None:
    url = server.http_url
    before = _loaded(url)
    proc = _start(url, tmp_path)
    _wait_for(proc, "second candidate loaded", lambda: _other_candidate_loaded(url, tmp_path))
    proc.kill()
    proc.communicate(timeout=60)
    assert _count(url) == 1  # the killed search left its candidate loaded
    recorded = json.loads((tmp_path / "original.json").read_text())["config"]
    assert recorded["instance_group"][0]["count"] == 4
    res = _run(url, tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"found {OTHER_KEY} loaded" in res.stdout, res.stdout
    assert f"restored the configuration recorded before the search ({DEFAULT_KEY})" \
        in res.stdout
    assert _loaded(url) == before
    assert f"before the search) is `{DEFAULT_KEY}`" in (tmp_path / "summary.md").read_text()


@pytest.mark.server
@pytest.mark.slow
def test_sighup_restores_like_ctrl_c(server: Any, tmp_path: Path) -> None:
    url = server.http_url
    before = _loaded(url)
    proc = _start(url, tmp_path, replicates=3)  # the replicate runs: a signal lands mid-search
    _wait_for(proc, "second candidate loaded", lambda: _other_candidate_loaded(url, tmp_path))
    proc.send_signal(signal.SIGHUP)
    output, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130, output
    assert _loaded(url) == before
    assert "INTERRUPTED" in (tmp_path / "summary.md").read_text()


@pytest.mark.server
@pytest.mark.slow
def test_a_second_search_on_the_same_model_or_folder_is_refused(server: Any,
                                                                tmp_path: Path) -> None:
    url = server.http_url
    before = _loaded(url)
    # long enough to outlast the others (with its replicate runs)
    first = _start(url, tmp_path / "a", "1,2,3,4,5,6", replicates=3)
    try:
        _wait_for(first, "a candidate loaded", lambda: "perfanalyzer_search" in json.dumps(
            _loaded(url)))
        port = url.rsplit(":", 1)[1]
        seconds = {"folder": _run(url, tmp_path / "a"),  # the same folder
                   "lock": _run(url, tmp_path / "b"),  # the same server and model
                   # another spelling of the server: only the marker in the loaded config shows
                   # it, as it would to a search on another machine
                   "marker": _run(f"localhost:{port}", tmp_path / "c")}
        assert first.poll() is None  # the first search was not disturbed
    finally:
        first.send_signal(signal.SIGINT)
        first.communicate(timeout=120)
    for why, res in seconds.items():
        assert res.returncode == 99, (why, res.stdout, res.stderr)
        assert res.stderr.count("\n") == 1, (why, res.stderr)
        assert "another search" in res.stderr, (why, res.stderr)
    assert "--output-dir" in seconds["folder"].stderr
    assert f"output folder {(tmp_path / 'a').resolve()}" in seconds["marker"].stderr
    for refused in ("b", "c"):  # nothing written but the lock file
        assert {p.name for p in (tmp_path / refused).iterdir()} == {".search.lock"}
    assert _loaded(url) == before


# -- damaged state ---------------------------------------------------------------------------

DAMAGED = {"truncated": b'{"candidate": {"instance_count": 4, "max_b',
           "list": b"[1, 2, 3]\n",
           "not utf-8": b'{"candidate": "\xff\xfe"}',
           "nested": b"[" * 200_000,
           "wrong types": json.dumps({
               "candidate": {"instance_count": "4", "max_batch_size": 0,
                             "dynamic_batching": False, "max_queue_delay_us": 0,
                             "preferred_batch_sizes": [], "client_batch": 1},
               "points": [], "score": "high", "best": None, "error": ""}).encode(),
           "score text": json.dumps({
               "candidate": {"instance_count": 4, "max_batch_size": 0,
                             "dynamic_batching": False, "max_queue_delay_us": 0,
                             "preferred_batch_sizes": [], "client_batch": 1},
               "points": [{"level": 2, "throughput": "many", "latency_ms": 1.0,
                           "stable": True}], "score": 1.0, "best": None,
               "error": ""}).encode()}


def test_a_damaged_state_is_reported_in_one_line_and_not_used(tmp_path: Path) -> None:
    for i, data in enumerate(DAMAGED.values()):
        folder = tmp_path / "candidates" / f"ic{i + 1}-mbs0-db-off-b1"
        folder.mkdir(parents=True)
        (folder / "state.json").write_bytes(data)
    lines: list[str] = []
    assert Store(tmp_path).finished(warn=lines.append) == []
    assert len(lines) == len(DAMAGED)
    assert all("\n" not in line and "measured again" in line and len(line) < 700
               for line in lines), lines


@pytest.mark.server
@pytest.mark.slow
def test_a_candidate_with_an_export_but_no_valid_state_is_measured_again(
        server: Any, tmp_path: Path) -> None:
    url = server.http_url
    before = _loaded(url)
    for key, state in ((DEFAULT_KEY, DAMAGED["truncated"]), (OTHER_KEY, DAMAGED["list"])):
        folder = tmp_path / "candidates" / key
        folder.mkdir(parents=True)
        (folder / "export.json").write_text("{}")  # an earlier run stopped after its export
        (folder / "profile.csv").write_text("Concurrency\n")
        (folder / "state.json").write_bytes(state)
    res = _run(url, tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.count("not a valid state") == 2, res.stdout
    finished = Store(tmp_path).finished()
    assert {r.candidate.key for r in finished} == {DEFAULT_KEY, OTHER_KEY}
    for key in (DEFAULT_KEY, OTHER_KEY):
        export = json.loads((tmp_path / "candidates" / key / "export.json").read_text())
        assert export["experiments"], key  # measured again, not the leftover
    assert (tmp_path / "summary.md").stat().st_size > 0
    assert _loaded(url) == before


@pytest.mark.server
def test_a_model_loaded_by_someone_else_during_a_measurement_stops_the_search(
        server: Any, tmp_path: Path) -> None:
    """What was measured is not the candidate's: the search stops instead of keeping it, and the
    configuration before the search is loaded again."""
    import io

    from perfanalyzer.cli.search_cmd import configs_from_kwargs
    from perfanalyzer.cli.search_cmd import search as search_command
    from perfanalyzer.profile.run import profile
    from perfanalyzer.search.guard import SearchBusyError
    from perfanalyzer.search.runner import run_search

    url = server.http_url
    before = _loaded(url)

    async def measure(cfg: Any, stop: asyncio.Event, out: Any) -> Any:
        c = create_client("http", ClientOptions(url=url))
        try:  # another user loads the model's own configuration meanwhile
            await c.load_model(MODEL, json.dumps(before))
        finally:
            await c.close()
        return await profile(cfg.replace(request_count=5), out=out, stop_event=stop)

    ctx = search_command.make_context("search", _argv(url, tmp_path)[4:])
    sc, cfg = configs_from_kwargs(dict(ctx.params))
    with pytest.raises(SearchBusyError, match="loaded again by someone else"):
        asyncio.run(run_search(sc, cfg, stop=asyncio.Event(), out=io.StringIO(),
                               measure=measure))
    assert not list((tmp_path / "candidates").glob("*/state.json"))
    assert _loaded(url) == before


@pytest.mark.parametrize("data", [DAMAGED["truncated"], DAMAGED["list"], DAMAGED["nested"],
                                  DAMAGED["not utf-8"]])
def test_damaged_settings_or_record_are_one_line_errors(tmp_path: Path, data: bytes) -> None:
    """The search's settings and its record of the original configuration cannot be guessed:
    refused in one line naming the file (exit 3), not a traceback."""
    from perfanalyzer.errors import OptionError

    (tmp_path / "search.json").write_bytes(data)
    with pytest.raises(OptionError, match=r"search\.json: not a search's settings") as exc:
        Store(tmp_path).open({"model": MODEL})
    assert "\n" not in str(exc.value)
    (tmp_path / "original.json").write_bytes(data)
    with pytest.raises(OptionError, match=r"original\.json: damaged") as exc:
        Store(tmp_path).recorded()
    assert "\n" not in str(exc.value) and exc.value.exit_code == 3
