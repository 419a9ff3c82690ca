"""--enable-mpi against the real Triton: merged ranks, MPMD windows, faults, ranks as network
namespaces. Skipped without mpi4py/mpiexec (the mpi extra)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from perfanalyzer.config import RunConfig
from perfanalyzer.errors import OptionError
from perfanalyzer.mpi import world
from tests.support.mpi_runs import (
    PA,
    SKEW_TOL_NS,
    error_lines,
    export_requests,
    leftover_segments,
    mpi_segments,
    mpiexec,
    namespaces,
    need_mpi,
    rank_pid,
    rows,
    window_edges,
)
from tests.support.mpi_short_init import SCRIPT as SHORT_INIT
from tests.support.mpi_short_init import SHORT_INIT_TIMEOUT_S
from tests.support.triton_stats import settled_success_count, success_count


@pytest.fixture
def no_segment_left() -> Any:
    """A rank that does not finish (killed, stopped, never started MPI) leaves MPI's /dev/shm
    segment behind unless its guard removes it: none of the run's may remain."""
    before = mpi_segments()
    yield
    left = leftover_segments(before)
    for seg in left:  # this test's leftovers: not for the next tests to trip on
        seg.unlink(missing_ok=True)
    assert not left, f"MPI shared memory left in /dev/shm: {sorted(map(str, left))}"


FAST = ["-p", "500", "-s", "25", "-r", "6"]


# ---- no server: detection and groups ------------------------------------------------------------

def test_enable_mpi_outside_mpiexec_is_a_one_line_option_error() -> None:
    env = {k: v for k, v in os.environ.items() if k not in world.MPI_ENV}
    r = subprocess.run([*PA, "--enable-mpi", "-m", "delay", "-u", "127.0.0.1:9"], env=env,
                       capture_output=True, text=True, timeout=60, check=False)
    assert r.returncode == 3
    assert r.stderr.strip().count("\n") == 0
    assert r.stderr.startswith("error: --enable-mpi:") and "mpiexec" in r.stderr


def test_enable_mpi_without_mpi4py_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(world.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(OptionError, match=r"--enable-mpi: mpi4py is not installed.*\[mpi\]"):
        world.init_world()


def test_a_libmpi_that_is_not_the_launchers_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PMI_SIZE", "2")
    monkeypatch.delenv("OMPI_COMM_WORLD_SIZE", raising=False)
    world._check_same_mpi(2, "MPICH Version: 5.0.2")  # its own world: fine
    with pytest.raises(OptionError, match=r"mpiexec started 2 ranks but this rank's MPI library "
                                          r"\(Open MPI v5\.0\.11\) sees 1"):
        world._check_same_mpi(1, "Open MPI v5.0.11, package: Open MPI")


def _info(rank: int, **flags: Any) -> world.RankInfo:
    return world.rank_info(RunConfig.of(model=flags.pop("model", "m"), **flags), rank)


def test_groups_same_model_and_endpoint_merge_led_by_the_lowest_rank() -> None:
    infos = [_info(0, model="a"), _info(1, model="b"), _info(2, model="a"), _info(3, model="b",
                                                                                  url="other:1")]
    assert world.form_group(infos, 2).ranks == (0, 2)
    assert world.form_group(infos, 2).leader == 0
    assert not world.form_group(infos, 1).merged  # same model, other endpoint: its own group
    assert world.form_group(infos, 0).is_leader


def test_mismatched_load_flags_in_a_group_name_the_flag() -> None:
    infos = [_info(0, concurrency_range=(2, 2, 1)), _info(1, concurrency_range=(3, 3, 1))]
    with pytest.raises(OptionError, match=r"ranks 0 and 1 .* different --concurrency-range "
                                          r"\(2:2:1 vs 3:3:1\)"):
        world.form_group(infos, 1)


def test_count_windows_are_refused_in_a_merged_group_only() -> None:
    merged = [_info(0, measurement_mode="count_windows"), _info(1, measurement_mode="count_windows")]
    with pytest.raises(OptionError, match="count windows"):
        world.form_group(merged, 0)
    alone = [_info(0, measurement_mode="count_windows"), _info(1, model="other")]
    assert not world.form_group(alone, 0).merged


# ---- the real server ----------------------------------------------------------------------------


@pytest.mark.server
@pytest.mark.slow
def test_two_ranks_merge_into_one_row_that_matches_the_server(triton: Any, tmp_path: Path) -> None:
    need_mpi()
    csv_path, export = tmp_path / "m.csv", tmp_path / "m.json"
    before = success_count(triton.http_url, "delay")
    r = mpiexec([*PA, "--enable-mpi", "-u", triton.http_url, "-m", "delay",
                 "--concurrency-range", "2", "-p", "1000", "-s", "10",
                 "-f", str(csv_path), "--profile-export-file", str(export)],
                [*PA, "--enable-mpi", "-u", triton.http_url, "-m", "delay",
                 "--concurrency-range", "2", "-p", "1000", "-s", "10"])
    assert r.returncode in (0, 2), r.stderr
    (row,) = rows(csv_path)
    assert row["Concurrency"] == "4"  # the total over the two ranks
    throughput = float(row["Inferences/Second"])
    # Little's law on the merged windows: 4 requests always outstanding.
    avg_us = _avg_latency_us(r.stdout)
    assert throughput * avg_us / 1e6 == pytest.approx(4.0, rel=0.02)
    total = export_requests(export)  # every request of both ranks, drain included
    assert settled_success_count(triton.http_url, "delay", before + total) - before == total
    assert r.stdout.count("Request concurrency: 4") == 1  # one console summary
    mpi = json.loads(export.read_text())["perfanalyzer"]["provenance"]["mpi"]
    assert len(mpi["group"]) == 2 and mpi["lost"] == []


def _avg_latency_us(stdout: str) -> float:
    line = next(ln for ln in stdout.splitlines() if "Avg latency:" in ln)
    return float(line.split("Avg latency:")[1].split("usec")[0])


@pytest.mark.server
@pytest.mark.slow
def test_mpmd_two_models_measure_over_the_same_windows(triton: Any, tmp_path: Path) -> None:
    """Three ranks, mixed groups: two merge their load on delay, one measures add_sub alone."""
    need_mpi()
    out = {m: (tmp_path / f"{m}.csv", tmp_path / f"{m}.json") for m in ("delay", "add_sub")}
    segs = [[*PA, "--enable-mpi", "-u", triton.http_url, "-m", m, "--concurrency-range", "1",
             *FAST, "-f", str(c), "--profile-export-file", str(j), "--csv-all-points"]
            for m, (c, j) in out.items()]  # every point in the CSV: exit 2 is allowed below
    second = [*PA, "--enable-mpi", "-u", triton.http_url, "-m", "delay", "--concurrency-range",
              "1", *FAST]
    r = mpiexec(segs[0], segs[1], second)
    assert r.returncode in (0, 2), r.stderr
    assert [rows(c)[0]["Concurrency"] for c, _ in out.values()] == ["2", "1"]
    for c, _ in out.values():
        assert len(rows(c)) == 1
    (a,), (b,) = (window_edges(j) for _, j in out.values())
    assert len(a) == len(b)  # no rank stopped before the other was done
    diffs = [abs(x - y) / 1e6 for x, y in zip(a, b, strict=True)]
    assert max(diffs) < SKEW_TOL_NS / 1e6, diffs
    # The raw edges (one host: one monotonic clock) say the same.
    ea, eb = (json.loads(j.read_text())["perfanalyzer"]["provenance"]["mpi"]["edges_clock_ns"]
              for _, j in out.values())
    assert len(ea) == len(eb) == len(a)  # the level's first edge + one per window end
    assert max(abs(x - y) for x, y in zip(ea, eb, strict=True)) < SKEW_TOL_NS


@pytest.mark.server
def test_mismatched_flags_stop_every_rank_before_any_load(triton: Any) -> None:
    need_mpi()
    before = success_count(triton.http_url, "delay")
    r = mpiexec(*[[*PA, "--enable-mpi", "-u", triton.http_url, "-m", "delay",
                   "--concurrency-range", c, "-p", "500"] for c in ("1", "2")])
    assert r.returncode == 3
    lines = error_lines(r.stderr)
    assert len(lines) == 2 and len(set(lines)) == 1  # one line per rank, the same
    assert "--concurrency-range" in lines[0]
    assert success_count(triton.http_url, "delay") == before


def _start(tmp_path: Path, url: str, extra: tuple[str, ...] = ()) -> tuple[Any, Path, Path]:
    csv_path, log = tmp_path / "k.csv", tmp_path / "log.txt"
    seg = [*PA, "--enable-mpi", "-u", url, "-m", "delay", "--concurrency-range", "1:8",
           "-p", "500", "-s", "50", "-r", "4"]
    cmd = [need_mpi(), *extra, "-n", "1", *seg, "-f", str(csv_path), "--profile-export-file",
           str(tmp_path / "k.json"), ":", "-n", "1", *seg]
    with open(log, "w") as f:
        proc = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while not (csv_path.exists() and len(rows(csv_path)) >= 1):  # a point is written
        assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
        time.sleep(0.1)
    return proc, csv_path, log


def _rank_pid(log: Path, rank: int, timeout_s: float = 15.0) -> int | None:
    """The pid the rank printed at start (mpiexec forwards its stderr with some delay)."""
    deadline = time.monotonic() + timeout_s
    while (pid := rank_pid(log.read_text(), rank)) is None and time.monotonic() < deadline:
        time.sleep(0.1)
    return pid


def _wait(proc: Any, timeout: float) -> int:
    try:
        return int(proc.wait(timeout=timeout))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


@pytest.mark.server
@pytest.mark.slow
def test_a_hung_rank_is_named_and_the_others_write_what_they_measured(
        triton: Any, no_segment_left: None, tmp_path: Path) -> None:
    proc, csv_path, log = _start(tmp_path, triton.http_url)
    pid = _rank_pid(log, 1)
    assert pid is not None, log.read_text()
    os.kill(pid, signal.SIGSTOP)  # hung: MPI cannot tell; the deadline does
    try:
        deadline = time.monotonic() + 30
        while "error:" not in log.read_text():
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
    finally:
        with contextlib.suppress(ProcessLookupError):  # mpiexec may have ended it already
            os.kill(pid, signal.SIGCONT)
    code = _wait(proc, 30)
    text = log.read_text()
    assert code != 0
    err, *after = error_lines(text)
    assert "rank 1 (" in err and f"pid {pid})" in err
    # Rank 1, continued above, can reach its next exchange before mpiexec ends it, and say that
    # rank 0 has gone (a loaded CI box saw it): any later error line is that one, about rank 0.
    assert all(e.startswith("error: rank 0 (") and "has ended" in e for e in after), text
    assert len(rows(csv_path)) >= 1 and (tmp_path / "k.json").exists()  # partial results


@pytest.mark.server
@pytest.mark.slow
def test_a_killed_rank_ends_the_run_with_the_rank_named(triton: Any, no_segment_left: None,
                                                        tmp_path: Path) -> None:
    proc, csv_path, log = _start(tmp_path, triton.http_url)
    pid = _rank_pid(log, 1)
    assert pid is not None, log.read_text()
    written = len(rows(csv_path))
    os.kill(pid, signal.SIGKILL)
    code = _wait(proc, 30)  # MPICH's mpiexec ends the job at once; other MPIs: our deadline
    assert code != 0
    text = log.read_text()
    assert "perfanalyzer rank 1 (" in text and f"pid {pid})" in text  # pid -> rank
    assert len(rows(csv_path)) >= written  # the points measured before are kept


@pytest.mark.server
@pytest.mark.slow
def test_a_rank_without_enable_mpi_stops_the_others_at_the_start_deadline(
        triton: Any, no_segment_left: None, tmp_path: Path) -> None:
    """The flagless rank never starts MPI: the others wait in MPI_Init until their guard ends
    them, with the reason."""
    need_mpi()
    args = ["-u", triton.http_url, "-m", "delay", "--concurrency-range", "1", "-p", "500"]
    # The rank with the flag under a shorter deadline than the product's 60 s (what is checked is
    # what happens when it passes, not how long it is)
    short = [sys.executable, str(SHORT_INIT), *args, "--enable-mpi"]
    r = mpiexec(short, [*PA, *args], timeout=SHORT_INIT_TIMEOUT_S + 90)
    assert r.returncode != 0
    assert f"MPI did not start within {SHORT_INIT_TIMEOUT_S:g} s" in r.stderr, r.stderr


@pytest.mark.server
@pytest.mark.slow
def test_ranks_as_separate_hosts_in_network_namespaces(tmp_path: Path) -> None:
    """Two "hosts" (network namespaces, veth pairs to a bridge) reach a Triton that listens only
    on the bridge's address; MPI between them goes over TCP (no shared memory)."""
    need_mpi()
    from perfanalyzer.server.launcher import TritonLauncher

    models = Path(__file__).with_name("models")
    with namespaces(2) as net:
        server = TritonLauncher(model_repository=models, explicit_models=["delay"],
                                host=net.server).start(timeout_s=180)
        try:
            before = success_count(server.http_url, "delay")
            export = tmp_path / "ns.json"
            segs = [["ip", "netns", "exec", ns, *PA, "--enable-mpi", "-u", server.http_url,
                     "-m", "delay", "--concurrency-range", "1", *FAST]
                    for ns in net.namespaces]
            segs[0] += ["-f", str(tmp_path / "ns.csv"), "--profile-export-file", str(export)]
            r = mpiexec(*segs, env={"MPIR_CVAR_NOLOCAL": "1", "FI_PROVIDER": "tcp"})
            assert r.returncode in (0, 2), r.stderr
            (row,) = rows(tmp_path / "ns.csv")
            assert row["Concurrency"] == "2"
            total = export_requests(export)
            assert settled_success_count(server.http_url, "delay", before + total) \
                - before == total
        finally:
            server.stop()


@pytest.mark.server
@pytest.mark.slow
def test_ctrl_c_on_mpiexec_stops_every_rank_like_a_single_run(triton: Any, tmp_path: Path) -> None:
    proc, csv_path, log = _start(tmp_path, triton.http_url)
    proc.send_signal(signal.SIGINT)  # mpiexec forwards it to every rank
    code = _wait(proc, 60)
    assert code == 130, log.read_text()
    assert len(rows(csv_path)) >= 1 and (tmp_path / "k.json").exists()
    assert not error_lines(log.read_text())


def test_launch_server_is_refused_with_enable_mpi() -> None:
    with pytest.raises(OptionError, match="--launch-server"):
        world.check_flags(RunConfig.of(model="m", enable_mpi=True, launch_server=True))
