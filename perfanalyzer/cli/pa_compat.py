"""perf_analyzer / perf_client flags beyond the core set: honoured, or refused with a one-line reason.

* perf_client's options, which perf_analyzer still takes with a deprecation warning: ``-t N``
  (concurrency N), ``-d`` (sweep concurrency from ``-t`` (1) up to ``-c`` while under ``-l``),
  ``-c MAX``, ``-z`` (= ``--input-data zero``), ``--data-directory DIR`` (= ``--input-data DIR``).
  They are rewritten into the perf_analyzer options before the configuration is built.
* ``--metrics-url`` / ``--metrics-interval`` need ``--collect-metrics`` (perf_analyzer's rule).
* ``--service-kind``: only ``triton`` (KServe v2 over HTTP/gRPC) is supported.
* perf_analyzer options that cannot be honoured here are refused, naming the reason.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import click

from ..client.errors import OptionError
from ..config import options as d
from ..load.fixed_schedule import check_fixed_schedule

F = Callable[..., Any]

SERVICE_KINDS = ("triton", "triton_c_api", "tfserving", "torchserve", "openai", "dynamic_grpc")

#: perf_analyzer options refused here: flag -> (click kwargs, reason).
REFUSED: dict[str, tuple[dict[str, Any], str]] = {
    "--model-signature-name": ({"metavar": "NAME"}, "only used by --service-kind=tfserving, "
                               "which perfanalyzer does not support"),
    "--endpoint": ({"metavar": "PATH"}, "only used by --service-kind=openai, which perfanalyzer "
                   "does not support"),
    "--session-concurrency": ({"type": int, "metavar": "N"}, "OpenAI multi-turn sessions "
                              "(--service-kind=openai) are not supported"),
    "--grpc-method": ({"metavar": "METHOD"}, "only used by --service-kind=dynamic_grpc, which "
                      "perfanalyzer does not support"),
    "--proto": ({"metavar": "FILE"}, "only used by --service-kind=dynamic_grpc, which "
                "perfanalyzer does not support"),
    "--triton-server-directory": ({"metavar": "DIR"}, "the in-process C API "
                                  "(--service-kind=triton_c_api) is not supported; use "
                                  "--launch-server to start a local Triton"),
    "--periodic-concurrency-range": ({"metavar": "START:END[:STEP]"}, "the periodic "
                                     "(LLM streaming) mode is not implemented; use "
                                     "--concurrency-range with --streaming"),
    "--request-period": ({"type": int, "metavar": "N"}, "only used by "
                         "--periodic-concurrency-range, which is not implemented"),
}
TRACE_LEVELS = ("OFF", "TIMESTAMPS", "TENSORS")
PARAM_TYPES = ("bool", "int", "string")


def _refused_option(flag: str, kwargs: dict[str, Any], reason: str) -> F:
    kwargs = {"default": None, **kwargs}
    return click.option(flag, help=f"Refused: {reason}.", **kwargs)


def _more_options() -> list[F]:
    """Triton trace settings, request parameters, HTTPS certificate/key types."""
    key_type = click.Choice(["PEM", "DER"], case_sensitive=False)
    return [
        click.option("--trace-level", default=None, type=click.Choice(TRACE_LEVELS),
                     help="Set the model's Triton trace level for the run (v2/models/M/trace/"
                     "setting; restored afterwards; HTTP only)."),
        click.option("--trace-rate", default=None, type=int, metavar="N",
                     help="Trace every N-th request (Triton trace setting, restored after)."),
        click.option("--trace-count", default=None, type=int, metavar="N",
                     help="Stop tracing after N traces, -1 = no limit (restored after)."),
        click.option("--log-frequency", default=None, type=int, metavar="N",
                     help="Triton writes the trace file every N traces, 0 = at the end "
                     "(restored after)."),
        click.option("--fixed-schedule", is_flag=True, help="Send each request at its "
                     "--input-data entry's \"timestamp\" (ms), in order: one window of all "
                     "entries (less --warmup-request-count)."),
        click.option("--request-parameter", "request_parameter", multiple=True,
                     metavar="NAME:VALUE:TYPE", help="Request parameter sent with every "
                     "request; TYPE bool, int or string (repeatable; HTTP and gRPC)."),
        click.option("--ssl-https-client-certificate-type", default="PEM", type=key_type,
                     show_default=True, help="Format of --ssl-https-client-certificate-file."),
        click.option("--ssl-https-private-key-type", default="PEM", type=key_type,
                     show_default=True, help="Format of --ssl-https-private-key-file."),
    ]


def compat_options(fn: F) -> F:
    """Adds the options of this module to the profile command."""
    opts = [
        click.option("--service-kind", default="triton", show_default=True,
                     type=click.Choice(SERVICE_KINDS),
                     help="Only 'triton' (KServe v2 over HTTP/gRPC) is supported; the others are "
                     "refused."),
        click.option("-t", "pc_concurrency", default=None, type=int,
                     metavar="N", help="perf_client: concurrency N (deprecated; use "
                     "--concurrency-range N)."),
        click.option("-d", "pc_dynamic", is_flag=True, help="perf_client: increase the "
                     "concurrency from -t (1) by 1 until -l is exceeded, up to -c (deprecated; "
                     "use --concurrency-range START:END with -l)."),
        click.option("-c", "pc_max_concurrency", default=None, type=int,
                     metavar="MAX", help="perf_client: highest concurrency -d tries "
                     "(deprecated; needs -d)."),
        click.option("-z", "pc_zero", is_flag=True, help="perf_client: zero input data "
                     "(deprecated; use --input-data zero)."),
        click.option("--data-directory", "pc_data_directory", default=None, metavar="DIR",
                     help="perf_client: input data directory (deprecated; use --input-data "
                     "DIR)."),
    ]
    opts += _more_options()
    opts += [_refused_option(flag, kw, reason) for flag, (kw, reason) in REFUSED.items()]
    for opt in reversed(opts):
        fn = opt(fn)
    return fn


def _warn(message: str) -> None:
    print(f"WARNING: {message}", file=sys.stderr)


def _refuse(kw: dict[str, Any]) -> None:
    if kw.get("service_kind", "triton") != "triton":
        raise OptionError(f"--service-kind {kw['service_kind']}: only 'triton' (KServe v2 over "
                          "HTTP/gRPC) is supported")
    for flag in REFUSED:
        key = flag.lstrip("-").replace("-", "_")
        if kw.get(key) is not None and kw.get(key) is not False:
            raise OptionError(f"{flag}: not supported: {REFUSED[flag][1]}")


def _metrics(kw: dict[str, Any]) -> None:
    if not kw.get("collect_metrics"):
        for key, flag in (("metrics_url", "--metrics-url"),
                          ("metrics_interval", "--metrics-interval")):
            if kw.get(key) is not None:
                raise OptionError(f"{flag} requires --collect-metrics")
    interval = kw.get("metrics_interval")
    if interval is not None and interval <= 0:
        raise OptionError(f"--metrics-interval must be > 0, got {interval}")
    if interval is None:
        kw["metrics_interval"] = d.DEFAULT_METRICS_INTERVAL_MS
    window = kw.get("measurement_interval") or d.DEFAULT_MEASUREMENT_INTERVAL_MS
    if (kw.get("collect_metrics") and kw.get("measurement_mode", "time_windows") == "time_windows"
            and kw["metrics_interval"] > window):
        _warn(f"--metrics-interval {kw['metrics_interval']} ms is longer than the measurement "
              f"window (-p {window} ms): some windows will hold no metrics scrape")


def _perf_client(kw: dict[str, Any]) -> None:
    t, dyn, cmax = kw.get("pc_concurrency"), kw.get("pc_dynamic"), kw.get("pc_max_concurrency")
    if t is not None or dyn or cmax is not None:
        if kw.get("concurrency_range"):
            raise OptionError("-t/-d/-c (perf_client) and --concurrency-range are mutually "
                              "exclusive")
        if cmax is not None and not dyn:
            raise OptionError("-c: the highest concurrency only applies with -d")
        if t is not None and t < 1:
            raise OptionError(f"-t: concurrency must be >= 1, got {t}")
        if cmax is not None and cmax < 1:
            raise OptionError(f"-c: concurrency must be >= 1, got {cmax}")
        start = t if t is not None else 1
        if dyn:
            end = cmax if cmax is not None else 0  # 0 = until -l is exceeded
            kw["concurrency_range"] = f"{start}:{end}:1"
            _warn("-d/-c are deprecated (perf_client options); use --concurrency-range "
                  f"{start}:{end}:1 with -l")
        else:
            kw["concurrency_range"] = str(start)
            _warn(f"-t is deprecated (perf_client option); use --concurrency-range {start}")
    data = list(kw.get("input_data") or ())
    if kw.get("pc_zero"):
        _warn("-z is deprecated (perf_client option); use --input-data zero")
        data.append("zero")
    if kw.get("pc_data_directory"):
        _warn("--data-directory is deprecated (perf_client option); use --input-data DIR")
        data.append(kw["pc_data_directory"])
    if data:
        kw["input_data"] = tuple(data)


def apply_compat(kw: dict[str, Any]) -> dict[str, Any]:
    """Refuse what cannot be honoured, check the metrics flags, rewrite perf_client's options."""
    _refuse(kw)
    _metrics(kw)
    _perf_client(kw)
    check_fixed_schedule(kw)
    return kw


def _request_parameter(text: str) -> tuple[str, str, str]:
    name, sep1, rest = text.partition(":")
    value, sep2, kind = rest.rpartition(":")
    if not (sep1 and sep2 and name) or kind not in PARAM_TYPES:
        raise OptionError(f"--request-parameter: expected NAME:VALUE:TYPE with TYPE bool, int or "
                          f"string, got {text!r}")
    if kind == "bool" and value.lower() not in ("true", "false"):
        raise OptionError(f"--request-parameter {name}: a bool is true or false, got {value!r}")
    if kind == "int":
        try:
            int(value)
        except ValueError:
            raise OptionError(f"--request-parameter {name}: not an int: {value!r}") from None
    return name, value, kind


def compat_fields(kw: dict[str, Any]) -> dict[str, Any]:
    """The RunConfig fields of this module's options, checked."""
    trace = {k: kw.get(k) for k in ("trace_level", "trace_rate", "trace_count", "log_frequency")}
    given = [f"--{k.replace('_', '-')}" for k, v in trace.items() if v is not None]
    if given and str(kw.get("protocol", "http")).lower() != "http":
        raise OptionError(f"{given[0]}: Triton's trace settings are changed over HTTP; not "
                          "supported with -i grpc")
    if trace["trace_rate"] is not None and trace["trace_rate"] < 1:
        raise OptionError("--trace-rate must be >= 1")
    if trace["trace_count"] is not None and trace["trace_count"] < -1:
        raise OptionError("--trace-count must be >= -1 (-1 = no limit)")
    if trace["log_frequency"] is not None and trace["log_frequency"] < 0:
        raise OptionError("--log-frequency must be >= 0")
    return {
        **trace,
        "fixed_schedule": bool(kw.get("fixed_schedule")),
        "request_parameters": tuple(_request_parameter(t)
                                    for t in kw.get("request_parameter") or ()),
        "ssl_https_client_certificate_type": str(
            kw.get("ssl_https_client_certificate_type") or "PEM").upper(),
        "ssl_https_private_key_type": str(kw.get("ssl_https_private_key_type") or "PEM").upper(),
    }
