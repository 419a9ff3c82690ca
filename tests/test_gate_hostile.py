"""The gate's inputs, as an unlucky or hostile CI would hand them over: a figure that is nan, inf or
negative is an input error naming file, line and column (exit 2, never a silent pass or a verdict),
and runs of another model, model version or batch size are not compared unless
--allow-different-model says so."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from perfanalyzer.errors import CompareError
from perfanalyzer.gate.inputs import PointData, Side, check_run_figures
from tests.support.cli_runs import compare_in_process as _cli
from tests.support.paths import PA_CSV
from tests.support.saved_runs import export_file as _export
from tests.support.synthetic_runs import CONFIG, synthetic_run

LINES = PA_CSV.read_text().splitlines()


def _tampered(tmp_path: Path, line: int, column: int, value: str) -> Path:
    """The golden perf_analyzer CSV with one cell replaced (``line`` 1 is the header)."""
    rows = [r.split(",") for r in LINES]
    rows[line - 1][column] = value
    path = tmp_path / f"cur_{line}_{column}.csv"
    path.write_text("\n".join(",".join(r) for r in rows) + "\n")
    return path


@pytest.mark.parametrize(("column", "value"), [
    (1, "nan"), (1, "NaN"), (1, "inf"), (1, "-inf"), (1, "Infinity"), (1, "1e999"), (1, "-5"),
    (12, "nan"), (12, "-1"), (4, "inf"), (0, "nan"), (0, "0"), (0, "-2"),
])
def test_impossible_figure_in_the_current_csv_is_an_input_error(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, column: int, value: str) -> None:
    bad = _tampered(tmp_path, 2, column, value)
    name = LINES[0].split(",")[column]
    code, out, err = _cli(capsys, PA_CSV, bad)
    assert code == 2, out + err
    assert err.startswith(f"error: {bad}: line 2, column {name!r}: "), err
    assert "not a possible figure" in err and len(err.strip().splitlines()) == 1
    assert "RESULT: cannot compare" in out


def test_impossible_figure_in_the_baseline_csv_is_an_input_error(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = _tampered(tmp_path, len(LINES), 9, "inf")
    code, _out, err = _cli(capsys, bad, PA_CSV)
    assert code == 2 and err.startswith(f"error: {bad}: line {len(LINES)}, column 'p50 latency': inf ")


def test_a_nan_level_in_a_json_run_is_an_input_error(capsys: pytest.CaptureFixture[str],
                                                     tmp_path: Path) -> None:
    path = _export(tmp_path / "cur.json", synthetic_run(seed=2))
    doc = json.loads(path.read_text())
    doc["perfanalyzer"]["points"][1]["level"] = float("nan")
    path.write_text(json.dumps(doc))
    base = _export(tmp_path / "base.json", synthetic_run(seed=1))
    code, _out, err = _cli(capsys, base, path)
    assert code == 2 and "load point nan, column 'Concurrency'" in err and "not finite" in err


def test_a_nan_figure_of_a_run_names_point_run_and_column() -> None:
    runs = ({"Inferences/Second": 10.0}, {"Inferences/Second": float("nan")})
    side = Side(label="r.json", kind="run", level_name="Concurrency", columns=("Inferences/Second",),
                points={2.0: PointData(level=2.0, values={"Inferences/Second": 10.0}, runs=runs)},
                runs=2)
    with pytest.raises(CompareError, match=r"r.json: Concurrency 2 \(run 2\), column "
                                           r"'Inferences/Second': nan is not a possible figure"):
        check_run_figures(side)


def _run_file(tmp_path: Path, name: str, seed: int, **config: Any) -> Path:
    return _export(tmp_path / name, synthetic_run(seed=seed, config={**CONFIG, **config}))


@pytest.mark.parametrize(("key", "value", "what"), [
    ("model", "other_model", "model"), ("model_version", "2", "model version"),
    ("batch_size", 4, "batch size")])
def test_runs_of_another_model_version_or_batch_size_are_not_compared(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, key: str, value: Any,
        what: str) -> None:
    base = _run_file(tmp_path, "base.json", 1)
    cur = _run_file(tmp_path, "cur.json", 2, **{key: value})
    code, out, err = _cli(capsys, base, cur)
    assert code == 2, out + err
    assert err.startswith(f"error: {cur}: {what} '{value}' is not the baseline's "), err
    assert "--allow-different-model" in err and "RESULT: cannot compare" in out
    code, out, err = _cli(capsys, base, cur, "--allow-different-model")
    assert code in (0, 1) and err == "", err
    assert f"config {key}:" in out  # still listed among the differences


def test_allow_different_model_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _cli(capsys, "--help")
    assert code == 0 and "--allow-different-model" in out and "batch sizes" in out
