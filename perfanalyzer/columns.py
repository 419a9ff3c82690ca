"""perf_analyzer's CSV columns, each declared once: name, unit, direction, when it is present and
which figure fills it.

perf_analyzer's users (Model Analyzer, notebooks, scripts) key on the exact header strings, so every
module that writes, reads or names a column takes its name from here: the ``-f`` CSV and the combined
sweep CSV (:mod:`perfanalyzer.report.csv`), the composing models' CSVs, the console, the pandas
frame, the gate's metric names and aliases, and the plots.

A column's ``when`` names the layout flags (attributes of ``report.csv.CsvLayout``) that must all be
set for it to be written; ``cell`` names how its cell is made from a point's figures and ``figure``
which figure (a ``RowFigures`` attribute, a ``Summary`` distribution, or the GPU column's order).
Families (the percentiles, the streaming figures) are declared once with a ``{p}`` in their name and
expanded over the run's percentiles by :func:`csv_columns`.

This module sits at the foundation (it imports nothing of the package) so that the record type and
the measurement layer can name the same figures.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, kw_only=True)
class Column:
    name: str
    #: "infer/s", "us", "%", "text" (GPU cells: ``uuid:value;``) or "level".
    unit: str
    #: A drop is the bad change (throughput-like columns); otherwise a rise is.
    higher_is_better: bool = False
    #: Layout flags that must all be set for the column to be written.
    when: tuple[str, ...] = ()
    #: How a cell is made: "rate", "us", "percentile", "avg_latency", "gpu", "stream",
    #: "goodput", "goodput_share".
    cell: str = "us"
    #: Which figure: a RowFigures attribute ("us", "rate"), a Summary distribution ("stream").
    figure: str = ""
    #: The percentile of an expanded family member (``{p}`` in the name), else None.
    pct: int | None = None
    #: Also a column of the composing models' CSVs (perf_analyzer's GenerateFile).
    composing: bool = False
    #: Other names the gate's ``--fail-on`` accepts (lower case).
    aliases: tuple[str, ...] = ()

    @property
    def family(self) -> bool:
        return "{p}" in self.name

    def at(self, pct: int) -> Column:
        """The family member for percentile ``pct``."""
        return dataclasses.replace(self, name=self.name.format(p=pct), pct=pct)


class Layout(Protocol):
    """What decides which columns a CSV has (``report.csv.CsvLayout`` is one)."""

    @property
    def percentiles(self) -> list[int]: ...


CONCURRENCY = "Concurrency"
REQUEST_RATE = "Request Rate"
#: The first column: the load level's name in each load mode.
LEVEL_NAMES = (CONCURRENCY, REQUEST_RATE)
#: The leading key columns of a multi-dimensional sweep's combined CSV (ours, not perf_analyzer's).
COMBINED_KEYS = ("Batch Size", "Shape Set")
#: The extra trailing column of --csv-all-points (stable, unstable, over_limit, no_requests...).
STATUS = "Status"

THROUGHPUT = Column(name="Inferences/Second", unit="infer/s", higher_is_better=True, cell="rate",
                    figure="throughput", composing=True, aliases=("throughput", "tput", "infer/s"))
RESPONSE_THROUGHPUT = Column(name="Response Throughput", unit="infer/s", higher_is_better=True,
                             when=("decoupled",), cell="rate", figure="response_throughput",
                             aliases=("response throughput",))
CLIENT_SEND = Column(name="Client Send", unit="us", figure="client_send_us", composing=True)
NETWORK = Column(name="Network+Server Send/Recv", unit="us", when=("server_stats",),
                 figure="network_us", composing=True, aliases=("network",))
QUEUE = Column(name="Server Queue", unit="us", when=("server_stats",), figure="queue_us",
               composing=True, aliases=("queue",))
COMPUTE_INPUT = Column(name="Server Compute Input", unit="us", when=("server_stats",),
                       figure="compute_input_us", composing=True)
COMPUTE_INFER = Column(name="Server Compute Infer", unit="us", when=("server_stats",),
                       figure="compute_infer_us", composing=True)
COMPUTE_OUTPUT = Column(name="Server Compute Output", unit="us", when=("server_stats",),
                        figure="compute_output_us", composing=True)
CACHE_HIT = Column(name="Server Cache Hit", unit="us", when=("server_stats", "cache"),
                   figure="cache_hit_us", composing=True)
CACHE_MISS = Column(name="Server Cache Miss", unit="us", when=("server_stats", "cache"),
                    figure="cache_miss_us", composing=True)
CLIENT_RECV = Column(name="Client Recv", unit="us", figure="client_recv_us", composing=True)
PERCENTILE = Column(name="p{p} latency", unit="us", cell="percentile")
#: Written under --verbose-csv without --percentile (perf_analyzer drops it there).
AVG_LATENCY = Column(name="Avg latency", unit="us", when=("verbose", "average"),
                     cell="avg_latency", aliases=("avg", "average", "mean", "latency"))
REQUEST_RESPONSE = Column(name="request/response", unit="us", when=("verbose",),
                          figure="request_response_us")
RESPONSE_WAIT = Column(name="response wait", unit="us", when=("verbose",),
                       figure="response_wait_us")
#: perf_analyzer's --verbose-csv GPU columns with --collect-metrics, in the order of
#: ``measure.prometheus.GPU_FAMILIES``.
GPU = tuple(Column(name=name, unit="text", when=("verbose", "gpu"), cell="gpu", figure=str(k))
            for k, name in enumerate(("Avg GPU Utilization", "Avg GPU Power Usage",
                                      "Max GPU Memory Usage", "Total GPU Memory")))
#: --csv-streaming: each streaming figure's Avg and percentile columns (µs), after perf_analyzer's.
TTFR = Column(name="Avg time to first response", unit="us", when=("streaming",), cell="stream",
              figure="first_response", aliases=("ttfr",))
TTFR_PERCENTILE = Column(name="p{p} time to first response", unit="us", when=("streaming",),
                         cell="stream", figure="first_response")
ITL = Column(name="Avg inter-response time", unit="us", when=("streaming",), cell="stream",
             figure="inter_response", aliases=("itl",))
ITL_PERCENTILE = Column(name="p{p} inter-response time", unit="us", when=("streaming",),
                        cell="stream", figure="inter_response")
GOODPUT = Column(name="Goodput", unit="infer/s", higher_is_better=True, when=("goodput",),
                 cell="goodput", aliases=("goodput",))
GOODPUT_SHARE = Column(name="Goodput %", unit="%", higher_is_better=True, when=("goodput",),
                       cell="goodput_share")

#: Every column after the level, in perf_analyzer's order (families unexpanded).
COLUMNS: tuple[Column, ...] = (
    THROUGHPUT, RESPONSE_THROUGHPUT, CLIENT_SEND, NETWORK, QUEUE, COMPUTE_INPUT, COMPUTE_INFER,
    COMPUTE_OUTPUT, CACHE_HIT, CACHE_MISS, CLIENT_RECV, PERCENTILE, AVG_LATENCY, REQUEST_RESPONSE,
    RESPONSE_WAIT, *GPU, TTFR, TTFR_PERCENTILE, ITL, ITL_PERCENTILE, GOODPUT, GOODPUT_SHARE,
)
#: The server's time split: column → key of the server statistics (``ServerStats.avg_us``).
SERVER_KEYS = {QUEUE.name: "queue", COMPUTE_INPUT.name: "compute_input",
               COMPUTE_INFER.name: "compute_infer", COMPUTE_OUTPUT.name: "compute_output",
               CACHE_HIT.name: "cache_hit", CACHE_MISS.name: "cache_miss"}
#: The stream figures' name in the console and the distribution they read.
STREAM_FIGURES = ((TTFR, TTFR_PERCENTILE), (ITL, ITL_PERCENTILE))


def percentile_name(pct: int) -> str:
    """``p99 latency``: the column of a latency percentile."""
    return PERCENTILE.name.format(p=pct)


def scheduled(name: str) -> str:
    """A latency column measured from the scheduled send (the frame's and the console's name)."""
    return f"{name} from scheduled send"


def csv_columns(layout: Layout, *, composing: bool = False) -> list[Column]:
    """The columns after the level that ``layout`` writes, families expanded, in order."""
    out: list[Column] = []
    for col in COLUMNS:
        if composing and not col.composing:
            continue
        if not all(getattr(layout, flag) for flag in col.when):
            continue
        out += [col.at(p) for p in layout.percentiles] if col.family else [col]
    return out


def by_name() -> dict[str, Column]:
    """Every known column (families over the percentiles 1..99) by name."""
    table: dict[str, Column] = {}
    for col in COLUMNS:
        for member in (col.at(p) for p in range(1, 100)) if col.family else (col,):
            table[member.name] = member
    return table


def alias_target(alias: str) -> str | None:
    """The column an alias of the gate's ``--fail-on`` names (``pNN`` → ``pNN latency``)."""
    low = alias.lower()
    if len(low) in (2, 3) and low[0] == "p" and low[1:].isdigit():
        return percentile_name(int(low[1:]))
    return next((c.name for c in COLUMNS if low in c.aliases), None)


__all__ = ["COLUMNS", "CONCURRENCY", "LEVEL_NAMES", "REQUEST_RATE", "STATUS", "Column",
           "alias_target", "by_name", "csv_columns", "percentile_name", "scheduled"]
