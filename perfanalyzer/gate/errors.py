"""The gate's own error: a comparison that cannot be made (exit 2)."""

from __future__ import annotations

from ..client.errors import PerfAnalyzerError

#: ``perfanalyzer compare`` exit codes.
EXIT_PASS = 0
EXIT_REGRESSION = 1
EXIT_CANNOT_COMPARE = 2


class CompareError(PerfAnalyzerError):
    """The runs cannot be compared: unreadable file, mismatched load points or modes, a bad
    ``--fail-on`` spec or a checked metric missing from one side. One line, naming the file or spec.

    Option errors of ``compare`` exit 2 too (not perf_analyzer's 3): a CI gate has three answers,
    pass, regression, and "no verdict".
    """

    exit_code = EXIT_CANNOT_COMPARE


__all__ = ["EXIT_CANNOT_COMPARE", "EXIT_PASS", "EXIT_REGRESSION", "CompareError"]
