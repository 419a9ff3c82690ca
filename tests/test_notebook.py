"""reports/sweep.ipynb runs top to bottom on the CSV shipped next to it and draws its figure."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPORTS = Path(__file__).parents[1] / "reports"


@pytest.mark.slow
def test_sweep_notebook_executes_and_plots_the_shipped_csv() -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    nb = nbformat.read(REPORTS / "sweep.ipynb", as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert len(code) == 1 and len(code[0].source.strip().splitlines()) == 3
    assert "example_perf.csv" in code[0].source
    assert (REPORTS / "example_perf.csv").is_file()
    # jupyter_client starts a "python" kernel spec with sys.executable; check it does.
    nb.cells.append(nbformat.v4.new_code_cell("import sys; print(sys.executable)"))
    client = nbclient.NotebookClient(nb, kernel_name="python3", timeout=180,
                                     resources={"metadata": {"path": str(REPORTS)}})
    client.execute()
    outputs = code[0].outputs
    assert [o.output_type for o in outputs if o.output_type == "error"] == []
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) == 1
    assert nb.cells[-1].outputs[0]["text"].strip() == sys.executable
