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


class RunEnded(PerfAnalyzerError):
    """A request error that ends the run ended this point (exit 99; the point is kept)."""


def check_ended(point: PointResult) -> None:
    """Raise RunEnded when a request error that ends the run (``ClientError.ends_run``, e.g. a
    validation_data mismatch) ended the point."""
    if point.failure:
        raise RunEnded(point.failure)


class NotCalled(PerfAnalyzerError):
    """A --bls-composing-models model served none of the point's requests (exit 99)."""


def check_bls_calls(point: PointResult, bls: bool) -> None:
    """With --bls-composing-models, every named model must have served requests while the model
    under test did: otherwise the model under test does not call it (it is no BLS model, or not
    this one's), and its figures would be empty. perf_analyzer stops there with "failed to find
    the requested model version"; so does this, naming the model."""
    server = point.merged.server
    if not bls or server is None or not server.model.get("success").count:
        return
    idle = [m.name for m in server.composing if not m.get("success").count]
    if idle:
        raise NotCalled(f"--bls-composing-models: {', '.join(map(repr, idle))} served none of the "
                        f"{server.model.get('success').count} requests of {server.model.name!r} "
                        f"at load {point.level:g}: {server.model.name!r} is not a BLS model calling "
                        "it (perf_analyzer: failed to find the requested model version)")


def check_ceiling(cfg: RunConfig, level: float) -> None:
    """An open-ended concurrency sweep (END 0) stops at :data:`MAX_CONCURRENCY` unless --force."""
    if cfg.load.mode is LoadMode.CONCURRENCY and not cfg.load.force and level > MAX_CONCURRENCY:
        raise FailedPoint(f"--concurrency-range: the sweep reached the ceiling of "
                          f"{MAX_CONCURRENCY} concurrent requests before -l was exceeded "
                          f"(add --force to go beyond)")


__all__ = ["MAX_FAILED_SHARE", "FailedPoint", "NotCalled", "RunEnded", "check_bls_calls",
           "check_ceiling", "check_ended", "check_failures"]
