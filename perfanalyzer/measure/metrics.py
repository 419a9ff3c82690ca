"""Window and load-point summaries, computed once per window from record slices with numpy."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ..client.base import STAT_KEYS, ModelStatistics, StatDuration
from ..config.goodput import GoodputLimits
from ..records import RecordSlice
from .percentile import percentile_index
from .streamed import response_gaps, within_limits

REPORT_PERCENTILES = (50, 90, 95, 99)
#: A window is flagged client-saturated when the client used this share of one core or more.
CLIENT_SATURATION_CPU = 0.90
#: ... or when the event loop woke up this late (ns) at least once.
CLIENT_SATURATION_LAG_NS = 20_000_000


def nearest_rank(sorted_ns: np.ndarray, p: float) -> int:
    """perf_analyzer's percentile of already sorted samples (0 when there are none)."""
    n = len(sorted_ns)
    return int(sorted_ns[percentile_index(p, n)]) if n else 0


@dataclass(frozen=True, slots=True)
class LatencyStats:
    count: int = 0
    avg_ns: float = 0.0
    std_ns: float = 0.0
    min_ns: int = 0
    max_ns: int = 0
    percentiles: dict[int, int] = field(default_factory=dict)

    def p(self, pct: int) -> int:
        return self.percentiles.get(pct, 0)

    @classmethod
    def of(cls, lat_ns: np.ndarray, extra: Sequence[int] = ()) -> LatencyStats:
        if len(lat_ns) == 0:
            return cls()
        s = np.sort(lat_ns)
        pcts = sorted(set(REPORT_PERCENTILES) | {int(p) for p in extra if p > 0})
        # the sample standard deviation (n - 1), as perf_analyzer's; undefined for one request
        std = float(s.std(ddof=1)) if len(s) > 1 else math.nan
        return cls(count=len(s), avg_ns=float(s.mean()), std_ns=std,
                   min_ns=int(s[0]), max_ns=int(s[-1]),
                   percentiles={p: nearest_rank(s, p) for p in pcts})


@dataclass(frozen=True, slots=True)
class ServerDelta:
    """Per-window server counter deltas: the model under test and its composing models."""

    model: ModelStatistics
    composing: tuple[ModelStatistics, ...] = ()

    def __add__(self, other: ServerDelta) -> ServerDelta:
        return ServerDelta(_add_stats(self.model, other.model),
                           tuple(_add_stats(a, b) for a, b in zip(self.composing, other.composing,
                                                                   strict=True)))

    def avg_us(self, key: str, *, ensemble_total: bool = False,
               skip: frozenset[str] = frozenset()) -> float:
        """Average duration of ``key`` per request in µs; for ensembles optionally summed over
        the composing models not in ``skip`` (nested ensembles: perf_analyzer's console sums leaf
        models only, each counted once)."""
        models = ([m for m in self.composing if m.name not in skip]
                  if ensemble_total and self.composing else [self.model])
        return sum(_avg_us(m.get(key)) for m in models)


def accounted_ns(m: ModelStatistics) -> int:
    """A model's server-accounted time per request in integer ns, as perf_analyzer's report
    writer takes it: queue, compute (the three summed, over one count), cache hit and cache miss,
    each average floored to ns (never to µs before subtracting)."""
    compute = sum(m.get(k).ns for k in ("compute_input", "compute_infer", "compute_output"))
    count = m.get("compute_input").count
    return (_avg_ns(m.get("queue")) + (compute // count if count else 0)
            + _avg_ns(m.get("cache_hit")) + _avg_ns(m.get("cache_miss")))


def _avg_ns(d: StatDuration) -> int:
    return d.ns // d.count if d.count else 0


def _avg_us(d: StatDuration) -> float:
    return d.ns / d.count / 1000.0 if d.count else 0.0


def _add_stats(a: ModelStatistics, b: ModelStatistics) -> ModelStatistics:
    return ModelStatistics(
        name=a.name, version=a.version,
        inference_count=a.inference_count + b.inference_count,
        execution_count=a.execution_count + b.execution_count,
        durations={k: StatDuration(a.get(k).count + b.get(k).count, a.get(k).ns + b.get(k).ns)
                   for k in STAT_KEYS},
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientLoad:
    """What the client itself spent in a window."""

    cpu_ns: int = 0
    max_loop_lag_ns: int = 0

    def __add__(self, other: ClientLoad) -> ClientLoad:
        return ClientLoad(cpu_ns=self.cpu_ns + other.cpu_ns,
                          max_loop_lag_ns=max(self.max_loop_lag_ns, other.max_loop_lag_ns))


@dataclass(frozen=True, slots=True, kw_only=True)
class Summary:
    """Figures of one window, or of a load point (several merged windows)."""

    start_ns: int
    end_ns: int
    batch_size: int
    completed: int
    errors: int
    error_counts: dict[str, int]
    responses: int
    latency: LatencyStats
    #: Latency from the intended (scheduled) send time; equals ``latency`` for closed loops.
    corrected: LatencyStats
    first_response: LatencyStats
    sent: int
    late_sends: int
    server: ServerDelta | None
    client: ClientLoad
    windows: int = 1
    #: Cores the client may use (worker processes); saturation is judged against this.
    windows_cores: float = 1.0
    #: Average client send / receive time per completed request (ns; the records' ``send_ns``
    #: and ``recv_ns``): perf_analyzer's client send and receive columns.
    client_send_ns: float = 0.0
    client_recv_ns: float = 0.0
    #: Every gap between consecutive responses of one request (streaming), pooled.
    inter_response: LatencyStats = field(default_factory=LatencyStats)
    #: --goodput: the limits, and how many completed requests met all of them.
    goodput_limits: GoodputLimits | None = None
    good: int = 0

    @property
    def goodput(self) -> float | None:
        """Inferences per second of the requests within the --goodput limits (None: no limits)."""
        if self.goodput_limits is None:
            return None
        return self.good * self.batch_size / self.duration_s

    @property
    def goodput_share(self) -> float | None:
        """The share of completed requests within the limits (None: no limits or no request)."""
        if self.goodput_limits is None or not self.completed:
            return None
        return self.good / self.completed

    @property
    def duration_s(self) -> float:
        return max(self.end_ns - self.start_ns, 1) / 1e9

    @property
    def throughput(self) -> float:
        """Inferences per second (completed requests × batch size ÷ seconds)."""
        return self.completed * self.batch_size / self.duration_s

    @property
    def request_throughput(self) -> float:
        return self.completed / self.duration_s

    @property
    def response_throughput(self) -> float:
        return self.responses / self.duration_s

    @property
    def send_rate(self) -> float:
        return self.sent / self.duration_s

    @property
    def client_cpu_util(self) -> float:
        """Client CPU time per wall time (1.0 = one core busy)."""
        return self.client.cpu_ns / max(self.end_ns - self.start_ns, 1)

    @property
    def client_cpu_saturated(self) -> bool:
        """The client used (nearly) all the CPU it can use."""
        return self.client_cpu_util >= CLIENT_SATURATION_CPU * self.windows_cores

    @property
    def client_saturated(self) -> bool:
        """CPU-saturated, or its event loop could not keep time (late wake-ups)."""
        return (self.client_cpu_saturated
                or self.client.max_loop_lag_ns >= CLIENT_SATURATION_LAG_NS)


def summarize(records: RecordSlice, *, start_ns: int, end_ns: int, batch_size: int,
              server: ServerDelta | None, client: ClientLoad, percentiles: Sequence[int] = (),
              sent: int | None = None, late_sends: int = 0, windows: int = 1,
              cores: float = 1.0, goodput: GoodputLimits | None = None) -> Summary:
    """Summarize the records that completed in ``(start_ns, end_ns]``."""
    ok = records.status == 0
    last = records.last[ok]
    n_ok = len(last)
    bad = records.status[~ok]
    error_counts = dict(Counter(records.errors[c] for c in bad.tolist())) if len(bad) else {}
    return Summary(
        start_ns=start_ns, end_ns=end_ns, batch_size=batch_size,
        completed=int(ok.sum()), errors=len(bad), error_counts=error_counts,
        responses=int(records.responses[ok].sum()),
        latency=LatencyStats.of(last - records.sent[ok], percentiles),
        corrected=LatencyStats.of(last - records.intended[ok], percentiles),
        first_response=LatencyStats.of(records.first[ok] - records.sent[ok], percentiles),
        sent=len(records) if sent is None else sent, late_sends=late_sends,
        server=server, client=client, windows=windows, windows_cores=cores,
        client_send_ns=float(records.send_ns[ok].mean()) if n_ok else 0.0,
        client_recv_ns=float(records.recv_ns[ok].mean()) if n_ok else 0.0,
        inter_response=LatencyStats.of(response_gaps(records, ok), percentiles),
        goodput_limits=goodput,
        good=int(within_limits(records, ok, goodput).sum()) if goodput is not None else 0,
    )
