"""Bad input gets one line naming its real cause and the right exit code, never a traceback: float
options refuse nan and inf (every one of them, walked from the commands), unreadable saved runs
and config files, a bad serve --host, a folder as --baseline, and headers a server refuses for
their size."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import pytest

from perfanalyzer.cli.main import SUBCOMMANDS, cli, main
from perfanalyzer.config import RunConfig
from perfanalyzer.config.option import entries
from perfanalyzer.errors import OptionError
from tests.support.saved_runs import export_file as _export
from tests.support.synthetic_runs import synthetic_run

#: What each command needs besides the float flag to reach option checking (no server).
BASE_ARGS = {"profile": ["-m", "simple", "-u", "127.0.0.1:1"], "serve": [],
             "compare": ["a.csv", "b.csv"],
             "search": ["-m", "simple", "-u", "127.0.0.1:1", "--output-dir", "out"]}
#: compare's option errors are "cannot compare" (2); every other command's are 3.
OPTION_EXIT = {"compare": 2}


def _run(capsys: pytest.CaptureFixture[str], args: list[str]) -> tuple[int, str]:
    with pytest.raises(SystemExit) as e:
        main(args)
    return int(e.value.code or 0), capsys.readouterr().err


def _float_options() -> list[tuple[str, str]]:
    """(command, long flag) of every float option of every command."""
    out = []
    ctx = click.Context(cli)
    for name in ["profile", *sorted(set(SUBCOMMANDS))]:
        command = cli.get_command(ctx, name)
        assert command is not None
        for p in command.params:
            if isinstance(p, click.Option) and isinstance(p.type, (click.types.FloatParamType,
                                                                     click.FloatRange)):
                out.append((name, next(f for f in p.opts if f.startswith("--"))))
    return out


FLOAT_OPTIONS = _float_options()


def test_the_walk_finds_the_float_options() -> None:
    found = set(FLOAT_OPTIONS)
    assert {("serve", "--ready-timeout"), ("compare", "--alpha"),
            ("profile", "--stability-percentage"), ("profile", "--latency-threshold"),
            ("search", "--min-throughput"), ("search", "--latency-budget-ms")} <= found
    table = {e.option.long for e in entries(RunConfig) if e.option.kind is float}
    assert table <= {flag for command, flag in found if command == "profile"}


@pytest.mark.parametrize(("command", "flag"), FLOAT_OPTIONS)
@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "NaN", "1e999"])
def test_every_float_option_refuses_non_finite_values(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        command: str, flag: str, value: str) -> None:
    monkeypatch.chdir(tmp_path)
    prefix = [] if command == "profile" else [command]
    code, err = _run(capsys, [*prefix, *BASE_ARGS[command], f"{flag}={value}"])
    assert code == OPTION_EXIT.get(command, 3), err
    assert len(err.strip().splitlines()) == 1 and flag in err and "finite" in err, err


def test_a_toml_nan_is_refused_too(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    conf = tmp_path / "c.toml"
    conf.write_text("stability-percentage = nan\n")
    code, err = _run(capsys, ["-m", "simple", "--config", str(conf)])
    assert code == 3 and "stability-percentage" in err and "finite" in err, err


def test_a_config_built_in_code_refuses_nan() -> None:
    with pytest.raises(OptionError, match="--request-timeout: expected a finite number"):
        RunConfig.of(model="m", request_timeout_s=float("nan")).validate()


def test_a_non_utf8_config_file_is_one_line(capsys: pytest.CaptureFixture[str],
                                            tmp_path: Path) -> None:
    conf = tmp_path / "c.toml"
    conf.write_bytes(b'model-name = "\xff\xfe"\n')
    code, err = _run(capsys, ["--config", str(conf)])
    assert code == 3 and err.startswith(f"error: {conf}: not valid TOML: not UTF-8"), err


def _report(capsys: pytest.CaptureFixture[str], path: Path) -> tuple[int, str]:
    return _run(capsys, ["report", str(path)])


def test_report_on_deeply_nested_json_is_one_line(capsys: pytest.CaptureFixture[str],
                                                  tmp_path: Path) -> None:
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 200_000)
    code, err = _report(capsys, deep)
    assert code == 3 and err.startswith(f"error: {deep}: not a run export (JSON nested too "
                                        "deeply"), err


@pytest.mark.parametrize(("edit", "words"), [
    (lambda p: p.update(level="one"), "points[0].level: expected a number, got 'one'"),
    (lambda p: p.update(level=None), "points[0].level: expected a number"),
    (lambda p: p.update(windows="x"), "perfanalyzer.points[0].windows"),
    (lambda p: p.update(merged_windows=[1, 2]), "wrong type or shape"),
])
def test_report_on_a_tampered_run_is_one_line(capsys: pytest.CaptureFixture[str],
                                              tmp_path: Path, edit: Any, words: str) -> None:
    path = _export(tmp_path / "run.json", synthetic_run(seed=1))
    doc = json.loads(path.read_text())
    edit(doc["perfanalyzer"]["points"][0])
    path.write_text(json.dumps(doc))
    code, err = _report(capsys, path)
    assert code == 3 and len(err.strip().splitlines()) == 1, err
    assert words in err and "Traceback" not in err


def test_serve_names_a_bad_host(capsys: pytest.CaptureFixture[str]) -> None:
    for ports in ([], ["--http-port", "0", "--grpc-port", "0", "--metrics-port", "0"]):
        r = subprocess.run([sys.executable, "-m", "perfanalyzer", "serve", "--host", "bad host",
                            *ports], capture_output=True, text=True, timeout=120)
        lines = r.stderr.strip().splitlines()
        assert r.returncode == 3 and len(lines) == 1, r.stderr
        assert lines[0].startswith("perfanalyzer serve: error: --host: 'bad host' is not an "
                                   "address (") and "in use" not in lines[0]


def test_the_launcher_does_not_call_a_bad_host_a_port_in_use() -> None:
    from perfanalyzer.server.launcher import ServerLaunchError, TritonLauncher

    with pytest.raises(ServerLaunchError, match="--host: 'bad host' is not an address"):
        TritonLauncher(host="bad host", http_port=18000).start(timeout_s=5)


def test_baseline_folder_is_named_a_folder(capsys: pytest.CaptureFixture[str],
                                           tmp_path: Path) -> None:
    code, err = _run(capsys, ["-m", "simple", "-u", "127.0.0.1:1", "--baseline", str(tmp_path)])
    assert code == 3 and err.strip() == (
        f"error: --baseline: {tmp_path} is a folder, not a CSV or JSON run"), err
    code, err = _run(capsys, ["-m", "simple", "-u", "127.0.0.1:1", "--baseline",
                              str(tmp_path / "none.json")])
    assert code == 3 and "does not exist" in err


@pytest.mark.server
@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_a_header_too_large_for_the_server_is_named(triton: Any, protocol: str) -> None:
    url = triton.http_url if protocol == "http" else triton.grpc_url
    r = subprocess.run([sys.executable, "-m", "perfanalyzer", "-m", "add_sub", "-u", url, "-i",
                        protocol, "-H", "X-Big: " + "a" * 120_000, "-p", "300"],
                       capture_output=True, text=True, timeout=300)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 99 and len(lines) == 1, r.stderr[-3000:]
    assert "TLS" not in lines[0] and "Traceback" not in r.stderr
    if protocol == "http":
        assert "the -H headers take 120009 bytes, more than servers commonly accept" in lines[0]
    else:  # Triton's gRPC server says why itself
        assert "metadata size exceeds" in lines[0]
