"""``--collect-metrics``: scrape the server's Prometheus endpoint while measuring.

The scraper runs as its own task on its own deadline (each scrape may take about one metrics
interval, within 1..5 s), so a slow or dead endpoint never stalls a window; a failed scrape is one warning
for the run, never an error. Each scrape is kept with the (monotonic) time it completed; a window
owns the scrapes that completed inside it, and a load point the scrapes of its merged windows.

Aggregation is perf_analyzer's (``MergeMetrics``): GPU utilization and power are averaged over every
scrape, used memory is the maximum, total memory the first value. Triton without GPUs exports CPU
families instead (``nv_cpu_utilization``, ``nv_cpu_memory_used_bytes``, ``nv_cpu_memory_total_bytes``);
they are aggregated the same way (utilization averaged, used memory max, total first).

The text format is parsed with ``prometheus_client``'s parser, not by hand.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

from ..columns import GPU
from ..redact import redact_url, scrub
from .background import Background

METRICS_PORT = 8002
METRICS_PATH = "/metrics"
#: One scrape may take the metrics interval, but at least MIN and at most CAP seconds: it runs on its
#: own task, so even a slow scrape never delays a window edge.
SCRAPE_TIMEOUT_MIN_S = 1.0
SCRAPE_TIMEOUT_CAP_S = 5.0

GPU_UTIL = "nv_gpu_utilization"
GPU_POWER = "nv_gpu_power_usage"
GPU_MEM_USED = "nv_gpu_memory_used_bytes"
GPU_MEM_TOTAL = "nv_gpu_memory_total_bytes"
GPU_FAMILIES = (GPU_UTIL, GPU_POWER, GPU_MEM_USED, GPU_MEM_TOTAL)
CPU_UTIL = "nv_cpu_utilization"
CPU_MEM_USED = "nv_cpu_memory_used_bytes"
CPU_MEM_TOTAL = "nv_cpu_memory_total_bytes"
CPU_FAMILIES = (CPU_UTIL, CPU_MEM_USED, CPU_MEM_TOTAL)
#: How each family merges over scrapes: "avg", "max" or "first" (perf_analyzer's MergeMetrics).
MERGE_RULE = {GPU_UTIL: "avg", GPU_POWER: "avg", GPU_MEM_USED: "max", GPU_MEM_TOTAL: "first",
              CPU_UTIL: "avg", CPU_MEM_USED: "max", CPU_MEM_TOTAL: "first"}
#: perf_analyzer's verbose-CSV GPU columns, in order, with their family.
GPU_COLUMNS = tuple((col.name, family) for col, family in zip(GPU, GPU_FAMILIES, strict=True))
#: Families whose values are integers (bytes): written without a decimal point.
INTEGER_FAMILIES = frozenset({GPU_MEM_USED, GPU_MEM_TOTAL, CPU_MEM_USED, CPU_MEM_TOTAL})

#: family -> {gpu_uuid ("" for unlabelled CPU families): value}
Values = dict[str, dict[str, float]]


@dataclass(frozen=True, slots=True)
class Scrape:
    """One scrape: when it completed (perf_counter_ns) and the families it found."""

    t_ns: int
    values: Values


def default_metrics_url(server_url: str) -> str:
    """perf_analyzer's default: the host of ``-u`` with port 8002 and path /metrics."""
    rest = server_url.split("://", 1)[-1].split("/", 1)[0]
    if rest.startswith("["):  # [ipv6]:port
        host = rest[: rest.index("]") + 1]
    else:
        host = rest.rsplit(":", 1)[0] if ":" in rest else rest
    return f"{host or 'localhost'}:{METRICS_PORT}{METRICS_PATH}"


def http_url(url: str) -> str:
    return url if "://" in url else f"http://{url}"


#: A label value longer than this is cut where it is kept and printed (a GPU UUID is 40).
MAX_LABEL_CHARS = 80
_CELL_SEPARATORS = frozenset(',;:"')


def label_text(value: str) -> str:
    """A label value safe to print and write: control characters, non-ASCII text, backslashes
    and the CSV's separators escaped (a newline in a label would forge console or CSV lines, a
    comma CSV columns), cut to :data:`MAX_LABEL_CHARS` characters. GPU UUIDs are unchanged."""
    text = str(value)
    if not all(" " <= c <= "~" and c != "\\" for c in text):
        text = text.encode("unicode_escape").decode("ascii")
    if any(c in _CELL_SEPARATORS for c in text):  # the CSV's "uuid:value;" cells, its commas
        text = "".join(f"\\x{ord(c):02x}" if c in _CELL_SEPARATORS else c for c in text)
    if len(text) > MAX_LABEL_CHARS:
        text = f"{text[:MAX_LABEL_CHARS - 3]}..."
    return text


def parse_metrics(text: str) -> Values:
    """The GPU and CPU families of a Prometheus text exposition (other families are ignored)."""
    # Imported here: only runs with --collect-metrics pay for prometheus_client.
    from prometheus_client.parser import text_string_to_metric_families

    wanted = set(GPU_FAMILIES) | set(CPU_FAMILIES)
    out: Values = {}
    for family in text_string_to_metric_families(text):
        if family.name not in wanted:
            continue
        for sample in family.samples:
            if sample.name != family.name:
                continue
            key = label_text(sample.labels.get("gpu_uuid", ""))
            out.setdefault(family.name, {})[key] = float(sample.value)
    return out


def merge_scrapes(scrapes: Sequence[Scrape]) -> Values:
    """Aggregate scrapes per family and per GPU with perf_analyzer's rules."""
    acc: dict[str, dict[str, list[float]]] = {}
    for s in scrapes:
        for fam, per in s.values.items():
            for key, v in per.items():
                acc.setdefault(fam, {}).setdefault(key, []).append(v)
    out: Values = {}
    for fam, series in acc.items():
        rule = MERGE_RULE.get(fam, "avg")
        out[fam] = {k: (sum(vs) / len(vs) if rule == "avg" else max(vs) if rule == "max"
                        else vs[0]) for k, vs in series.items()}
    return out


def fmt_value(family: str, v: float) -> str:
    """A value as perf_analyzer's ostream writes it: integers for bytes, else ``%g``."""
    if family in INTEGER_FAMILIES:
        return str(int(v))
    return f"{v:g}"


def gpu_cell(merged: Mapping[str, Mapping[str, float]], family: str) -> str:
    """perf_analyzer's CSV cell: ``uuid:value;`` per GPU (sorted by uuid), trailing semicolon."""
    per = merged.get(family, {})
    return "".join(f"{k}:{fmt_value(family, per[k])};" for k in sorted(per) if k)


@dataclass(frozen=True, kw_only=True)
class ScrapeSettings:
    url: str
    interval_s: float = 1.0


@dataclass
class Scraper(Background):
    """Scrapes ``settings.url`` every interval into :attr:`scrapes` until :meth:`stop`."""

    settings: ScrapeSettings
    warn: TextIO | None = None
    fetch: Callable[[str, float], Any] | None = None  # tests: async (url, timeout) -> text
    scrapes: list[Scrape] = field(default_factory=list)
    failures: int = 0
    _warned: set[str] = field(default_factory=set)
    _fetching: threading.Event | None = None  # set once the last fetch's thread has its answer
    task_name = "pa-metrics-scraper"

    def between(self, lo_ns: int, hi_ns: int) -> tuple[Scrape, ...]:
        """Scrapes that completed in ``(lo_ns, hi_ns]``."""
        return tuple(s for s in self.scrapes if lo_ns < s.t_ns <= hi_ns)

    @property
    def _shown(self) -> str:
        """The URL as printed: without its user-info (a password)."""
        return redact_url(self.settings.url)

    def _warn_once(self, key: str, message: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            print(f"WARNING: {scrub(message)}", file=self.warn or sys.stderr, flush=True)

    async def _run(self) -> None:
        interval = self.settings.interval_s
        timeout = min(max(interval, SCRAPE_TIMEOUT_MIN_S), SCRAPE_TIMEOUT_CAP_S)
        while not self.stopping:
            t0 = time.perf_counter_ns()
            await self.scrape_once(timeout)
            elapsed = (time.perf_counter_ns() - t0) / 1e9
            await asyncio.sleep(max(0.0, interval - elapsed))

    async def scrape_once(self, timeout_s: float) -> Scrape | None:
        """One scrape on its own deadline; a failure is counted and warned about once."""
        try:
            text = await _within(self._fetch(timeout_s), timeout_s)
            values = parse_metrics(text)
        except Exception as exc:  # socket, HTTP status or parse errors: one warning
            self.failures += 1
            self._warn_once("scrape", f"--collect-metrics: could not scrape {self._shown} "
                            f"({type(exc).__name__}: {exc}); those metrics cells stay empty")
            return None
        self._check_missing(values)
        scrape = Scrape(time.perf_counter_ns(), values)
        self.scrapes.append(scrape)
        return scrape

    def _check_missing(self, values: Values) -> None:
        if not any(f in values for f in GPU_FAMILIES + CPU_FAMILIES):
            self._warn_once("none", f"--collect-metrics: {self._shown} exports none of the "
                            "nv_gpu_* / nv_cpu_* families")
        elif not any(f in values for f in GPU_FAMILIES):
            self._warn_once("gpu", "--collect-metrics: the server exports no GPU metrics "
                            "(nv_gpu_utilization...); the GPU columns stay empty")

    async def _fetch(self, timeout_s: float) -> str:
        if self.fetch is not None:
            return str(await self.fetch(self.settings.url, timeout_s))
        # The standard library's client in a thread of its own, a daemon: a scrape is one small
        # GET per interval. Not asyncio's default executor: at the end of the run asyncio.run
        # (and the interpreter's exit) would wait for its threads without a deadline, so an
        # endpoint that stalls a response would hold the finished run. One scrape at a time: a
        # thread still stuck on the previous one makes this scrape a failure, not a second thread.
        if self._fetching is not None and not self._fetching.is_set():
            raise TimeoutError("the previous scrape has not ended yet")
        done: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._fetching = _in_daemon_thread(done, _get_text, http_url(self.settings.url),
                                           timeout_s)
        return await done


async def _within(aw: Awaitable[str], timeout_s: float) -> str:
    """``aw``'s result within ``timeout_s`` (else TimeoutError). Not ``asyncio.wait_for``: on
    Python 3.11 it swallows a cancel that lands as ``aw`` completes, and the scraper's task would
    then outlive :meth:`Background.stop`'s cancel."""
    fut = asyncio.ensure_future(aw)
    try:
        done, _pending = await asyncio.wait({fut}, timeout=timeout_s)
    except BaseException:  # cancelled: the scrape is dropped, whatever became of it
        if not fut.done():
            fut.cancel()
        elif not fut.cancelled():
            fut.exception()  # (retrieved, so not reported as lost)
        raise
    if not done:
        fut.cancel()
        raise TimeoutError(f"no answer within {timeout_s:g} s")
    return fut.result()


def _in_daemon_thread(done: asyncio.Future[str], fn: Callable[..., str],
                      *args: Any) -> threading.Event:
    """Run ``fn(*args)`` in a new daemon thread; its result or exception settles ``done`` on
    ``done``'s loop (unless ``done`` was cancelled, or the loop has closed: nobody waits then).
    The event returned is set once ``fn`` has returned or raised (before ``done`` is settled)."""
    loop = done.get_loop()
    returned = threading.Event()

    def settle(ok: bool, value: Any) -> None:
        if not done.done():
            if ok:
                done.set_result(value)
            else:
                done.set_exception(value)

    def work() -> None:
        value: Any
        try:
            ok, value = True, fn(*args)
        except Exception as exc:  # handed to the awaiting task
            ok, value = False, exc
        returned.set()
        with contextlib.suppress(RuntimeError):  # the loop is closed
            loop.call_soon_threadsafe(settle, ok, value)

    threading.Thread(target=work, name="pa-metrics-fetch", daemon=True).start()
    return returned


#: A response body is read in pieces of at most this many bytes, the deadline checked between.
_READ_CHUNK = 65536


def _get_text(url: str, timeout_s: float) -> str:
    """GET ``url`` within about ``timeout_s`` in all: the socket timeout bounds each read, and
    the whole body must have come by the deadline (an endpoint trickling bytes is cut off)."""
    # urllib would open file:// or ftp:// URLs too: a scrape is an HTTP GET, nothing else
    if url.split("://", 1)[0].lower() not in ("http", "https"):
        raise ValueError(f"not an http(s) URL: {redact_url(url)[:100]}")
    deadline_ns = time.perf_counter_ns() + int(timeout_s * 1e9)
    chunks: list[bytes] = []
    with urllib.request.urlopen(_request(url), timeout=timeout_s) as resp:  # HTTPError: non-2xx
        while chunk := resp.read1(_READ_CHUNK):
            chunks.append(chunk)
            if time.perf_counter_ns() > deadline_ns:
                raise TimeoutError(f"the response did not end within {timeout_s:g} s")
    return b"".join(chunks).decode("utf-8", errors="replace")


def _request(url: str) -> urllib.request.Request:
    """A GET of ``url``; its ``user:password@`` (which urllib would take for the host) is sent
    as HTTP Basic authorization instead."""
    parts = urllib.parse.urlsplit(url)
    if parts.username is None:
        return urllib.request.Request(url)
    netloc = parts.netloc.rsplit("@", 1)[1]
    user, password = urllib.parse.unquote(parts.username), urllib.parse.unquote(parts.password or "")
    token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    return urllib.request.Request(urllib.parse.urlunsplit(parts._replace(netloc=netloc)),
                                  headers={"Authorization": f"Basic {token}"})


def scrapes_json(scrapes: Iterable[Scrape], offset_ns: int = 0) -> list[dict[str, Any]]:
    """Scrapes as JSON (times shifted by ``offset_ns``, e.g. to wall clock)."""
    return [{"t_ns": s.t_ns + offset_ns, "values": s.values} for s in scrapes]


def scrapes_from_json(raw: Iterable[Mapping[str, Any]], offset_ns: int = 0) -> tuple[Scrape, ...]:
    return tuple(Scrape(int(r["t_ns"]) - offset_ns,
                        {f: {label_text(k): float(v) for k, v in per.items()}
                         for f, per in r["values"].items()}) for r in raw)


def metrics_summary(scrapes: Sequence[Scrape]) -> dict[str, Any]:
    """Merged figures for the JSON export: {"scrapes": n, family: {uuid or "": value}}."""
    return {"scrapes": len(scrapes), **merge_scrapes(scrapes)}


def scraper_for(settings: ScrapeSettings | None, warn: TextIO | None = None) -> Scraper | None:
    """The run's scraper with --collect-metrics (``settings``), else None."""
    return None if settings is None else Scraper(settings, warn=warn)
