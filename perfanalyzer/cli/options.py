"""perf_analyzer's flags (same names, same defaults) plus perfanalyzer's own, as click options."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from ..config import options as d

F = Callable[..., Any]


def _opts(*decorators: F) -> F:
    def apply(fn: F) -> F:
        for dec in reversed(decorators):
            fn = dec(fn)
        return fn

    return apply


def _config(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    from ..config.file import config_callback

    config_callback(ctx, param, value)


general = _opts(
    click.option("--config", metavar="FILE.toml", is_eager=True, expose_value=False,
                 callback=_config, help="Take flags from a TOML file (keys: long flag names); "
                 "flags on the command line override it."),
    click.option("-m", "--model-name", "model", help="Model to profile (required)."),
    click.option("-x", "--model-version", default="", help="Model version (default: latest)."),
    click.option("-b", "--batch-size", default=1, type=int, show_default=True, help="Batch size."),
    click.option("-u", "--url", default="", help="Server URL (default localhost:8000 for HTTP, "
                 "localhost:8001 for gRPC)."),
    click.option("-i", "--protocol", default="http", type=click.Choice(["http", "grpc"],
                 case_sensitive=False), show_default=True),
    click.option("-v", "--verbose", count=True, help="More output (repeatable)."),
    click.option("-a", "--async", "async_flag", is_flag=True, help="Asynchronous requests "
                 "(the default)."),
    click.option("--sync", is_flag=True, help="Synchronous semantics: one blocking request per "
                 "concurrency slot (same load shape as async in perfanalyzer)."),
    click.option("--streaming", is_flag=True, help="gRPC bidirectional streaming (decoupled "
                 "models)."),
    click.option("-H", "--header", "headers", multiple=True, help="HTTP header 'Name:Value' "
                 "(repeatable)."),
)

load = _opts(
    click.option("--concurrency-range", default=None, metavar="START[:END[:STEP]]",
                 help="Concurrency sweep (default 1). END 0 = until -l is exceeded."),
    click.option("--request-rate-range", default=None, metavar="START[:END[:STEP]]",
                 help="Request-rate sweep in requests/s (floats): open-loop load."),
    click.option("--request-distribution", default="constant", show_default=True,
                 type=click.Choice(["constant", "poisson"])),
    click.option("--request-intervals", default=None, metavar="FILE",
                 help="Custom send intervals in µs, one per line, looped."),
    click.option("--binary-search", is_flag=True, help="Binary search between START and END "
                 "for the highest load under -l (STEP = precision)."),
    click.option("-l", "--latency-threshold", default=0.0, type=float, show_default=True,
                 help="Latency limit in ms (0 = none)."),
    click.option("--max-threads", default=0, type=int, help="Cap on requests in flight in "
                 "request-rate modes (0 = no cap)."),
    click.option("--workers", default=0, type=int, help="Load worker processes (0 = automatic)."),
)

measurement = _opts(
    click.option("--measurement-mode", default="time_windows", show_default=True,
                 type=click.Choice(["time_windows", "count_windows"])),
    click.option("-p", "--measurement-interval", default=d.DEFAULT_MEASUREMENT_INTERVAL_MS,
                 type=int, show_default=True, help="Window length in ms (time_windows)."),
    click.option("--measurement-request-count", default=d.DEFAULT_MEASUREMENT_REQUEST_COUNT,
                 type=int, show_default=True, help="Requests per window (count_windows)."),
    click.option("-s", "--stability-percentage", default=d.DEFAULT_STABILITY_PCT, type=float,
                 show_default=True, help="Allowed max/min spread over the last 3 windows, %."),
    click.option("-r", "--max-trials", default=d.DEFAULT_MAX_TRIALS, type=int,
                 show_default=True, help="Windows before giving up on stability."),
    click.option("--stability-windows", default=d.DEFAULT_STABILITY_WINDOWS, type=int,
                 show_default=True, help="Windows the stability rule looks at and the reported "
                 "figures merge (perf_analyzer: 3). More windows give the CI gate's significance "
                 "test more samples (perfanalyzer extension)."),
    click.option("--percentile", default=-1, type=int, help="Stabilize on this latency "
                 "percentile instead of the average."),
    click.option("--request-count", default=0, type=int, help="Measure exactly this many "
                 "requests in one window."),
    click.option("--warmup-request-count", default=0, type=int, help="Requests sent before "
                 "measuring, not counted."),
    click.option("--adaptive", is_flag=True, help="Lengthen windows until the spread is "
                 "within -s (perfanalyzer extension)."),
)

data = _opts(
    click.option("--input-data", multiple=True, default=(), metavar="zero|random|DIR|FILE.json",
                 help="Input data (repeatable; default random)."),
    click.option("--shape", "shapes", multiple=True, metavar="NAME:D1,D2",
                 help="Shape of a dynamic input, without the batch dimension (repeatable)."),
    click.option("--string-length", default=d.DEFAULT_STRING_LENGTH, type=int, show_default=True),
    click.option("--string-data", default=None, help="Use this string for every BYTES element."),
    click.option("--input-tensor-format", default="binary", type=click.Choice(["binary", "json"])),
    click.option("--output-tensor-format", default="binary",
                 type=click.Choice(["binary", "json"])),
    click.option("--shared-memory", default="none", type=click.Choice(["none", "system", "cuda"]),
                 show_default=True),
    click.option("--output-shared-memory-size", default=None, type=int,
                 help=f"Bytes per output (per batch item) when its size is unknown "
                 f"[default: {d.DEFAULT_OUTPUT_SHM_SIZE}]."),
    click.option("--sequence-length", default=None, type=int,
                 help=f"Requests per sequence (default {d.DEFAULT_SEQUENCE_LENGTH})."),
    click.option("--sequence-length-variation", default=d.DEFAULT_SEQUENCE_LENGTH_VARIATION,
                 type=float, show_default=True, help="± % around --sequence-length."),
    click.option("--sequence-id-range", default=None, metavar="START[:END]"),
    click.option("--num-of-sequences", default=d.DEFAULT_NUM_OF_SEQUENCES, type=int,
                 show_default=True, help="Live sequences in request-rate modes."),
    click.option("--serial-sequences", is_flag=True, help="At most one request in flight per "
                 "sequence."),
)

transport = _opts(
    click.option("--ssl-grpc-use-ssl", is_flag=True),
    click.option("--ssl-grpc-root-certifications-file", default=None),
    click.option("--ssl-grpc-private-key-file", default=None),
    click.option("--ssl-grpc-certificate-chain-file", default=None),
    click.option("--ssl-https-verify-peer", default=1, type=click.IntRange(0, 1)),
    click.option("--ssl-https-verify-host", default=2, type=click.IntRange(0, 2)),
    click.option("--ssl-https-ca-certificates-file", default=None),
    click.option("--ssl-https-client-certificate-file", default=None),
    click.option("--ssl-https-private-key-file", default=None),
    click.option("--grpc-compression-algorithm", default="none",
                 type=click.Choice(["none", "gzip", "deflate"])),
    click.option("--http-compression", default="none", type=click.Choice(["none", "gzip",
                 "deflate"]), help="Compress HTTP request bodies (perfanalyzer extension)."),
)

output = _opts(
    click.option("-f", "--filename", default=None, metavar="FILE.csv",
                 help="Write perf_analyzer's CSV."),
    click.option("--verbose-csv", is_flag=True),
    click.option("--profile-export-file", default=None, metavar="FILE.json",
                 help="Write every request and window as JSON (re-reportable)."),
    click.option("--collect-metrics", is_flag=True),
    click.option("--metrics-url", default=None),
    click.option("--metrics-interval", default=d.DEFAULT_METRICS_INTERVAL_MS, type=int),
    click.option("--baseline", default=None, metavar="RUN.json|CSV",
                 help="Compare with this baseline after the run and fail on a regression."),
    # gate (issue 15): replicate runs
    click.option("--repeat", default=1, type=int, show_default=True, metavar="N",
                 help="Measure the whole sweep N times (run 1 all points, run 2 all points...); "
                      "figures are shown with their 95% CI across runs, the CSV pools the runs."),
    click.option("--launch-server", is_flag=True, help="Start a local Triton with the bundled "
                 "models for this run."),
    click.option("--model-repository", default=None, help="Model repository for "
                 "--launch-server."),
    click.option("--seed", default=0, type=int, help="Seed for random data and schedules."),
)

ALL = (general, load, measurement, data, transport, output)


def profile_options(fn: F) -> F:
    for group in reversed(ALL):
        fn = group(fn)
    return fn
