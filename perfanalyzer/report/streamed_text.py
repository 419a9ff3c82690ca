"""Console lines of the streaming figures and goodput (the wording is fixed: scripts read it)."""

from __future__ import annotations

from ..measure.metrics import LatencyStats, Summary
from .figures import fmt_rate, us


def _stat_lines(name: str, stats: LatencyStats) -> list[str]:
    lines = [f"    Avg {name}: {us(stats.avg_ns)} usec"]
    lines += [f"    p{p} {name}: {us(stats.p(p))} usec" for p in sorted(stats.percentiles)]
    return lines


def streaming_lines(s: Summary) -> list[str]:
    """Time to first response and inter-response time of a point's streamed requests."""
    lines = _stat_lines("time to first response", s.first_response)
    if s.inter_response.count:
        lines += _stat_lines("inter-response time", s.inter_response)
    else:
        lines.append("    Inter-response time: none measured (no request had two responses)")
    lines.append(f"    Avg time to last response: {us(s.latency.avg_ns)} usec")
    return lines


def goodput_lines(s: Summary) -> list[str]:
    """--goodput: the rate of requests within every limit and their share."""
    if s.goodput is None:
        return []
    share = s.goodput_share
    pct = f"{100.0 * share:.1f}" if share is not None else "0.0"
    return [f"    Goodput: {fmt_rate(s.goodput)} infer/sec ({pct} % of requests within limits)"]


__all__ = ["goodput_lines", "streaming_lines"]
