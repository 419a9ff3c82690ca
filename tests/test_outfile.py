"""Output safety: no file the user did not name is ever modified, devices
and FIFOs are written in place, bad paths are refused before any load, and data measured before a
failing write is kept in a named fallback file (exit 99)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from perfanalyzer.config import RunConfig
from perfanalyzer.errors import OptionError
from perfanalyzer.profile.flow import Files, Outputs, check_outputs
from perfanalyzer.report.csv import csv_text, write_csv
from perfanalyzer.report.export import export_text, write_export
from perfanalyzer.report.outfile import OutputError, check_output, write_output
from tests.support.saved_runs import saved_run


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "perfanalyzer", *args], capture_output=True,
                          text=True, timeout=60, check=False)


def test_character_device_is_written_in_place_never_replaced(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("making a device node needs root")
    dev = tmp_path / "null"
    os.mknod(dev, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # a private /dev/null
    write_csv(saved_run(), dev)
    assert stat.S_ISCHR(os.lstat(dev).st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["null"]  # no temp file left
    check_output(dev, "-f")


def test_fifo_is_written_in_place_and_one_without_reader_fails_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []

    def read() -> None:
        with open(fifo, "rb") as fh:
            got.append(fh.read())

    reader = threading.Thread(target=read)
    reader.start()
    try:
        # the reader's open() may not have happened yet: retry until the write finds it
        for _ in range(200):
            try:
                write_output(fifo, "a,b\n", "-f")
                break
            except OutputError as exc:
                assert "no reader" in str(exc)
                threading.Event().wait(0.01)
    finally:
        reader.join(timeout=10)
    assert got == [b"a,b\n"]
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    with pytest.raises(OutputError, match="FIFO has no reader"):
        write_output(fifo, "x", "-f")


def test_symlink_target_is_refused_and_neither_link_nor_file_changes(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("keep")
    link = tmp_path / "out.csv"
    link.symlink_to(victim)
    with pytest.raises(OptionError, match=r"^-f .*out\.csv: is a symbolic link.*victim\.txt"):
        check_output(link, "-f")
    with pytest.raises(OutputError, match="symbolic link"):
        write_csv(saved_run(), link)
    assert link.is_symlink() and os.readlink(link) == str(victim)
    assert victim.read_text() == "keep"


@pytest.mark.parametrize("name", ["out.csv", "run.json"])
def test_symlink_planted_at_the_old_temp_name_is_never_followed(tmp_path: Path,
                                                                 name: str) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("keep")
    (tmp_path / f".{name}.tmp").symlink_to(victim)
    target = tmp_path / name
    run = saved_run()
    if name.endswith(".csv"):
        write_csv(run, target)
        assert target.read_text() == csv_text(run)
    else:
        write_export(run, target)
        assert target.read_text() == export_text(run)
    assert victim.read_text() == "keep"
    assert not target.is_symlink()


@pytest.mark.parametrize(("where", "message"), [
    (lambda t: t / "nowhere" / "out.csv", "folder .*nowhere does not exist"),
    (lambda t: Path("/sys/perfanalyzer-out.csv"), r"cannot create a file in /sys"),
    (lambda t: t / "file" / "out.csv", r"file is not a folder"),
    (lambda t: t / "adir", "is a folder, not a file"),
])
def test_bad_output_paths_are_refused_before_any_load(tmp_path: Path, where, message) -> None:
    (tmp_path / "file").write_text("x")
    (tmp_path / "adir").mkdir()
    path = where(tmp_path)
    with pytest.raises(OptionError, match=message):
        check_output(path, "-f")
    # the CLI refuses before connecting: the message is about -f, not about the (absent) server
    r = _cli("-m", "simple", "-u", "127.0.0.1:9", "-f", str(path))
    assert r.returncode == 3, r.stderr
    (line,) = r.stderr.strip().splitlines()
    assert line.startswith("error: -f ") or "-f " in line


def test_export_path_checked_like_the_csv(tmp_path: Path) -> None:
    with pytest.raises(OptionError, match=r"--profile-export-file .*is a folder|must not"):
        check_outputs(RunConfig.of(model="m", profile_export_file=str(tmp_path)))
    with pytest.raises(OptionError, match="cannot create a file in /sys"):
        check_outputs(RunConfig.of(model="m", profile_export_file="/sys/run.json"))


def test_export_never_clobbers_a_file_that_appeared_during_the_run(tmp_path: Path) -> None:
    target = tmp_path / "run.json"
    check_output(target, "--profile-export-file", must_be_absent=True)
    target.write_text("someone else's")
    with pytest.raises(OutputError, match="must not already exist"):
        write_export(saved_run(), target)
    assert target.read_text() == "someone else's"


def test_failing_write_after_measuring_keeps_the_data_in_a_named_fallback(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    cfg = RunConfig.of(model="m", filename=str(folder / "perf.csv"),
                    profile_export_file=str(folder / "run.json"))
    check_outputs(cfg)
    folder.rmdir()  # the folder goes away while measuring
    run = saved_run(ensemble=False)  # no composing CSVs: one line per file
    assert Outputs(files=Files.of(cfg)).finish(run) is False  # exit 99: test_flow
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 2
    kept = [line.rsplit("kept in ", 1)[1] for line in lines]
    try:
        assert lines[0].startswith("error: -f ") and Path(kept[0]).read_text() == csv_text(run)
        assert lines[1].startswith("error: --profile-export-file ")
        assert Path(kept[1]).read_text() == export_text(run)
    finally:
        for k in kept:
            Path(k).unlink(missing_ok=True)


def test_new_file_gets_the_usual_mode_and_replacing_keeps_the_old_mode(tmp_path: Path) -> None:
    target = tmp_path / "perf.csv"
    write_output(target, "a\n", "-f")
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o666 & ~mask
    os.chmod(target, 0o640)
    write_output(target, "b\n", "-f")
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o640 and target.read_text() == "b\n"


@pytest.mark.parametrize("chunk", [1, 2, 3, 1000])
def test_export_streamed_in_chunks_is_byte_identical(tmp_path: Path, chunk: int,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    from perfanalyzer.report import export

    monkeypatch.setattr(export, "CHUNK_RECORDS", chunk)
    run = saved_run()
    path = tmp_path / "run.json"
    write_export(run, path)
    assert path.read_text() == json.dumps(export.export_dict(run), separators=(",", ":"))
