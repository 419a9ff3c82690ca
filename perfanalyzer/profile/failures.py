"""A load point where a large share of requests failed is reported as failed (exit 99), not as a
measured point: its figures would describe the failures, not the server."""

from __future__ import annotations

from ..config import LoadMode, RunConfig
from ..config.safety import MAX_CONCURRENCY
from ..errors import PerfAnalyzerError
from ..measure.window import PointResult

#: Largest share of failed requests (over the point's windows) still reported as a measurement.
MAX_FAILED_SHARE = 0.10


class FailedPoint(PerfAnalyzerError):
    """Too many requests of a load point failed (exit 99)."""


def check_failures(point: PointResult, max_share: float = MAX_FAILED_SHARE) -> None:
    """Raise FailedPoint when more than ``max_share`` of the requests in the point's reported
    (merged) windows failed."""
    merged = point.merged  # the windows whose figures would be reported
    failed, total = merged.errors, merged.errors + merged.completed
    if total == 0 or failed <= max_share * total:
        return
    first = next(iter(merged.error_counts), "")
    raise FailedPoint(f"load {point.level:g}: {failed} of {total} requests failed "
                      f"({100 * failed / total:.1f} %, above {100 * max_share:g} %): not reported "
                      f"as a measurement; first error: {str(first)[:200]}")


def check_ceiling(cfg: RunConfig, level: float) -> None:
    """An open-ended concurrency sweep (END 0) stops at :data:`MAX_CONCURRENCY` unless --force."""
    if cfg.load.mode is LoadMode.CONCURRENCY and not cfg.load.force and level > MAX_CONCURRENCY:
        raise FailedPoint(f"--concurrency-range: the sweep reached the ceiling of "
                          f"{MAX_CONCURRENCY} concurrent requests before -l was exceeded "
                          f"(add --force to go beyond)")


__all__ = ["MAX_FAILED_SHARE", "FailedPoint", "check_ceiling", "check_failures"]
