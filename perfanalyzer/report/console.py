"""Console summary in perf_analyzer's shape, plus what perfanalyzer adds (client CPU, errors,
late sends, distance from stable)."""

from __future__ import annotations

from .. import columns as C
from ..measure.metrics import Summary
from ..measure.stabilizer import (
    NO_REQUESTS,
    NO_REQUESTS_MESSAGE,
    Criteria,
    distance_from_stable,
)
from ..measure.window import PointResult
from ..results import LatencySource, LoadMode, PointStatus, RunResult
from . import periodic_text
from .caveats import advice, likely_cause, trust_lines
from .figures import fmt_rate, row_figures, std_text, us
from .metrics_text import metrics_lines, orca_lines
from .streamed_text import goodput_lines, streaming_lines


def settings_text(*, batch_size: int, count_windows: bool, interval_ms: int, request_count: int,
                  async_mode: bool, percentile: int, mode: str, streaming: bool,
                  distribution: str = "constant", burstiness: float = 1.0,
                  periodic: tuple[int, int, int, int] | None = None) -> str:
    stab = (C.percentile_name(percentile) if percentile > 0 else "average latency")
    lines = ["*** Measurement Settings ***", f"  Batch size: {batch_size}",
             "  Service Kind: TRITON"]
    if periodic is not None:  # --periodic-concurrency-range: no windows
        lines += periodic_text.settings_lines(*periodic)
    elif count_windows:
        lines += ['  Using "count_windows" mode for stabilization',
                  f"  Stabilizing using {stab} and throughput",
                  f"  Minimum number of samples in each window: {request_count}"]
    else:
        lines += ['  Using "time_windows" mode for stabilization',
                  f"  Stabilizing using {stab} and throughput",
                  f"  Measurement window: {interval_ms} msec"]
    if mode in (LoadMode.REQUEST_RATE, LoadMode.CUSTOM_INTERVALS):
        kind = distribution if distribution in ("poisson", "gamma") else "uniform"
        if distribution == "gamma":
            kind += f" (burstiness {burstiness:g})"
        lines.append(f"  Using {kind} distribution on request generation"
                     if mode == LoadMode.REQUEST_RATE else "  Using custom request intervals")
    lines.append(f"  Using {'asynchronous' if async_mode else 'synchronous'} calls for inference")
    if streaming:
        lines.append("  Using streaming (gRPC bidirectional stream); latency to the last response")
    return "\n".join(lines) + "\n"


def point_text(run: RunResult, point: PointResult, protocol: str) -> str:
    s = point.merged
    level = (f"Request concurrency: {int(point.level)}" if run.mode is LoadMode.CONCURRENCY
             else f"{C.REQUEST_RATE}: {fmt_rate(point.level)} inference requests per seconds")
    if run.periodic:
        level = periodic_text.header(run.periodic)
    lines = [level, *_server_behind_lines(run, point), "  Client: ",
             f"    Request count: {s.completed}"]
    if s.completed == 0:  # nothing measured: perf_analyzer's error, not a block of zeros
        lines += [f"    Failed requests: {s.errors}"] if s.errors else []
        lines += (_stability_lines(run, point) if point.interrupted
                  else [f"  {NO_REQUESTS_MESSAGE}"])
        lines += periodic_text.step_lines(run.periodic) if run.periodic else []
        return "\n".join(lines) + "\n\n"
    lines.append(f"    Throughput: {fmt_rate(s.throughput)} infer/sec")
    if run.model.decoupled or run.settings.streamed:
        per_req = s.responses / s.completed if s.completed else 0.0
        lines.append(f"    {C.RESPONSE_THROUGHPUT.name}: {fmt_rate(s.response_throughput)} infer/sec")
        lines.append(f"    Responses per request: {per_req:.2f}")
        lines += streaming_lines(s)
    lines += goodput_lines(s)
    if run.mode is not LoadMode.CONCURRENCY:
        lines.append(f"    Avg send request rate: {fmt_rate(s.send_rate)} infer/sec")
        lines.append(f"    Late sends (>1 ms behind schedule): {s.late_sends} of {s.sent}")
        lines += _rate_kept_lines(run, point)
    lines.append(f"    {C.AVG_LATENCY.name}: {us(s.latency.avg_ns)} usec "
                 f"(standard deviation {std_text(s.latency)} usec)")
    for p in sorted(s.latency.percentiles):
        lines.append(f"    {C.percentile_name(p)}: {us(s.latency.p(p))} usec")
    if run.mode is not LoadMode.CONCURRENCY:
        lines.append(f"    {C.scheduled(C.AVG_LATENCY.name)}: {us(s.corrected.avg_ns)} usec "
                     f"(p99 {us(s.corrected.p(99))} usec)")
    f = row_figures(s)
    proto = "gRPC" if protocol == "grpc" else "HTTP"
    lines.append(f"    Avg {proto} time: {f.request_time_us} usec (send/recv "
                 f"{f.request_response_us} usec + response wait {f.response_wait_us} usec)")
    lines += _client_load_lines(s)
    if s.errors:
        lines.append(f"    Failed requests: {s.errors}")
        for msg, n in sorted(s.error_counts.items(), key=lambda kv: -kv[1])[:5]:
            lines.append(f"      {n} x {msg}")
    if s.server is not None:
        lines += _server_lines(run, s)
        if f.clamped:
            lines.append(f"  {CLAMP_WARNING}")
    elif run.server_stats:
        lines.append("  [WARNING] The server's statistics could not be read at a window edge: "
                     "the server columns of this point are left empty")
    if run.settings.orca_format:
        lines += orca_lines(point.orca)
    if run.settings.collect_metrics:
        lines += metrics_lines(point.metrics)
    if run.periodic:
        lines += periodic_text.step_lines(run.periodic)
    lines += trust_lines(run, point)
    v = point.verdict
    if not point.stable or v.reason == "throughput_only" or point.interrupted or v.over_threshold:
        lines += _stability_lines(run, point)
    return "\n".join(lines) + "\n\n"


#: perf_analyzer's text when the server-accounted time exceeds the client's wait (Network+Server
#: Send/Recv floored at 0).
CLAMP_WARNING = ("Server average accounted time was larger than client average wait time due to "
                 "small sample size. Increase the measurement interval with "
                 "`--measurement-interval`")

#: Warn when more than this share of sends were late (perf_analyzer's DELAY_PCT_THRESHOLD) ...
LATE_SHARE_WARN = 0.01
#: ... or when a constant or custom schedule sent less than this share of the asked rate.
SEND_RATE_WARN = 0.99


#: Rate modes: warn when the requests in flight grew by more than this share of the sends over
#: the reported windows (the server answered fewer than it was sent: it fell behind).
IN_FLIGHT_GROWTH_WARN = 0.1


def _fell_behind(s: Summary) -> bool:
    """The requests in flight grew by more than :data:`IN_FLIGHT_GROWTH_WARN` of the sends."""
    return s.sent > 0 and s.duration_s > 0 and \
        s.sent - s.completed - s.errors > IN_FLIGHT_GROWTH_WARN * s.sent


def _server_behind_lines(run: RunResult, point: PointResult) -> list[str]:
    """Rate modes: say, before the numbers, when the server did not keep up with the sends: the
    requests in flight grew (sent minus answered over the reported windows)."""
    s = point.merged
    if run.mode is LoadMode.CONCURRENCY or run.periodic or not _fell_behind(s):
        return []
    growth = s.sent - s.completed - s.errors
    answered = (s.completed + s.errors) / s.duration_s
    return [f"  [WARNING] The server fell behind: asked {fmt_rate(point.level)} req/s, sent "
            f"{fmt_rate(s.send_rate)} req/s, answered {fmt_rate(answered)} req/s; requests in "
            f"flight grew by {growth} over the reported windows. Sends held back by the in-flight "
            "cap (--max-threads, 1024 when not given) are late and counted; latency from the "
            "scheduled send includes the wait"]


def _rate_kept_lines(run: RunResult, point: PointResult) -> list[str]:
    """Say plainly when the client could not keep the asked rate (measured, not just flagged)."""
    s = point.merged
    asked = point.level
    if asked <= 0 or s.sent == 0:
        return []
    late_share = s.late_sends / s.sent
    ratio = s.send_rate / asked
    # Poisson (and gamma) gaps make a window's count vary by chance: judge those on lateness only. One request
    # of slack covers the quantization of short windows.
    slack = 1.0 / (asked * s.duration_s)
    short = (run.settings.request_distribution not in ("poisson", "gamma")
             and ratio < SEND_RATE_WARN - slack)
    if late_share <= LATE_SHARE_WARN and not short:
        return []
    who = ("the in-flight cap held sends back while the server fell behind" if _fell_behind(s)
           else "the client did not keep the asked rate")
    return [f"    [WARNING] asked {fmt_rate(asked)} req/s, sent {fmt_rate(s.send_rate)} req/s "
            f"({100 * ratio:.1f}%); {100 * late_share:.0f}% of sends were late: {who} "
            "(latency from scheduled send includes the delay)"]


def _client_load_lines(s: Summary) -> list[str]:
    per_req = s.client.cpu_ns / s.sent / 1000 if s.sent else 0.0
    line = (f"    Client CPU: {s.client_cpu_util:.2f} cores ({per_req:.0f} usec per request), "
            f"max event-loop lag {s.client.max_loop_lag_ns / 1e6:.1f} ms")
    out = [line]
    if s.client_cpu_saturated:
        out.append("    [WARNING] The client was CPU-saturated in this measurement: its figures "
                   "measure the client, not the server (try --workers or a lower load)")
    elif s.client_saturated:
        out.append("    [WARNING] The client's event loop woke up to "
                   f"{s.client.max_loop_lag_ns / 1e6:.0f} ms late: the machine is overloaded or "
                   "the client stalled, so latencies include that delay")
    return out


def _server_lines(run: RunResult, s: Summary) -> list[str]:
    assert s.server is not None
    m = s.server.model
    # perf_analyzer's ensemble branch runs whenever composing-model statistics exist: an
    # ensemble's or, with --bls-composing-models, a BLS model's (queue and compute summed over them)
    ens = bool(run.model.composing)
    nested = frozenset(run.model.nested_ensembles)
    f = row_figures(s, ensemble_total=ens, skip=nested)
    succ = m.get("success")
    avg_req = us(succ.ns / succ.count) if succ.count else 0
    accounted = sum(v or 0 for v in (f.queue_us, f.compute_input_us, f.compute_infer_us,
                                     f.compute_output_us, f.cache_hit_us, f.cache_miss_us))
    overhead = max(0, avg_req - accounted)
    lines = ["  Server: ", f"    Inference count: {m.inference_count}",
             f"    Execution count: {m.execution_count}",
             f"    Successful request count: {succ.count}",
             f"    Avg request latency: {avg_req} usec (overhead {overhead} usec + queue "
             f"{f.queue_us} usec + compute input {f.compute_input_us} usec + compute infer "
             f"{f.compute_infer_us} usec + compute output {f.compute_output_us} usec)"]
    if run.model.cache_enabled:
        hit = m.get("cache_hit")
        lines.append(f"    Cache hit count: {hit.count}")
        lines.append(f"    Cache miss count: {m.get('cache_miss').count}")
    for c in s.server.composing:
        cs = c.get("success")
        if c.name in nested:
            lines.append(f"    Composing model {c.name}: {cs.count} requests (an ensemble: its "
                         "members below are what is summed)")
            continue
        lines.append(f"    Composing model {c.name}: {cs.count} requests, queue "
                     f"{us(c.get('queue').ns / max(c.get('queue').count, 1))} usec, compute infer "
                     f"{us(c.get('compute_infer').ns / max(c.get('compute_infer').count, 1))} usec")
    return lines


def _stability_lines(run: RunResult, point: PointResult) -> list[str]:
    v = point.verdict
    n = len(point.windows)
    what = "concurrency" if run.mode is LoadMode.CONCURRENCY else "request rate"
    if v.reason == "throughput_only":
        return ["  Warning: Request latency is not stabilizing. Please try lowering the request "
                "rate.", f"    ({distance_from_stable(v, run_criteria(run))})"]
    if point.interrupted:
        return [f"  Interrupted after {n} measurement windows; figures are from those windows."]
    if v.over_threshold or v.reason == "latency_threshold":
        return ["  Measured latency went over the set limit of "
                f"{run.settings.latency_threshold_ms:g} msec."]
    if v.reason == NO_REQUESTS:
        return [f"  {NO_REQUESTS_MESSAGE}"]
    cause = likely_cause(run, point)
    return [f"  Failed to obtain stable measurement within {n} measurement windows for "
            f"{what} {fmt_rate(point.level)}. {advice(cause)}",
            f"    Distance from stable: {distance_from_stable(v, run_criteria(run))}; likely "
            f"cause: {cause}. The figures above merge the last windows; the point is not "
            "written to -f (--csv-all-points writes it, marked)."]


def run_criteria(run: RunResult) -> Criteria:
    s = run.settings
    return Criteria(stability_pct=s.stability_percentage, max_trials=s.max_trials,
                    window_count=s.stability_windows)


STATUS_TEXT = {PointStatus.UNSTABLE: "not stable", PointStatus.OVER_LIMIT: "over the -l limit",
               PointStatus.NO_REQUESTS: "no valid requests",
               PointStatus.INTERRUPTED: "interrupted, not stable"}


def table_text(run: RunResult) -> str:
    lines = [f"{C.THROUGHPUT.name} vs. Client Average Batch Latency"]
    name = run.level_name
    for p in run.points:
        level = str(int(p.level)) if run.mode is LoadMode.CONCURRENCY else fmt_rate(p.level)
        judged = run.judged(p)
        val = judged.latency_ns
        kind = C.percentile_name(run.percentile) if run.percentile > 0 else "latency"
        if (run.settings.latency_source is LatencySource.SCHEDULED
                and run.mode is not LoadMode.CONCURRENCY):
            kind = C.scheduled(kind)
        status = judged.status
        flag = "" if judged.stable else f" ({STATUS_TEXT.get(status, status)}) [not in -f]"
        if judged.stable and p.verdict.reason == "throughput_only":
            flag = " (latency not stable)"
        lines.append(f"{name}: {level}, throughput: {fmt_rate(p.merged.throughput)} infer/sec, "
                     f"{kind} {us(val)} usec{flag}")
    return "\n".join(lines) + "\n"
