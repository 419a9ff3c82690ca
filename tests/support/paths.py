"""Where the tests' files are."""

from __future__ import annotations

from pathlib import Path

#: The repository's root (with pyproject.toml, perfanalyzer/, scripts/).
ROOT = Path(__file__).resolve().parents[2]
TESTS = Path(__file__).parents[1]
#: The model repository the ``triton`` fixture serves.
TEST_MODELS = TESTS / "models"
#: perf_analyzer's own CSVs and the other byte-for-byte references.
GOLDEN = TESTS / "golden"
#: perf_analyzer 2.50's own CSV of a concurrency sweep.
PA_CSV = GOLDEN / "perf_analyzer_2.50_concurrency.csv"
