"""perf_analyzer / perf_client flags beyond the core set: honoured, or refused with a one-line reason.

* perf_client's options, which perf_analyzer still takes with a deprecation warning: ``-t N``
  (concurrency N), ``-d`` (sweep concurrency from ``-t`` (1) up to ``-c`` while under ``-l``),
  ``-c MAX``, ``-z`` (= ``--input-data zero``), ``--data-directory DIR`` (= ``--input-data DIR``).
  They are rewritten into the perf_analyzer options before the configuration is built.
* ``--metrics-url`` / ``--metrics-interval`` need ``--collect-metrics`` (perf_analyzer's rule);
  ``--fixed-schedule`` becomes one window at the schedule's rate.
* perf_analyzer options that cannot be honoured here are refused, naming the reason.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import click

from ..config import defaults as d
from ..errors import OptionError

F = Callable[..., Any]


#: perf_analyzer options refused here: flag -> (click kwargs, reason).
REFUSED: dict[str, tuple[dict[str, Any], str]] = {
    "--model-signature-name": ({"metavar": "NAME"}, "only used by --service-kind=tfserving, "
                               "which perfanalyzer does not support"),
    "--session-concurrency": ({"type": int, "metavar": "N"}, "OpenAI multi-turn sessions "
                              "(--service-kind=openai) are not supported"),
    "--grpc-method": ({"metavar": "METHOD"}, "only used by --service-kind=dynamic_grpc, which "
                      "perfanalyzer does not support"),
    "--proto": ({"metavar": "FILE"}, "only used by --service-kind=dynamic_grpc, which "
                "perfanalyzer does not support"),
    "--triton-server-directory": ({"metavar": "DIR"}, "the in-process C API "
                                  "(--service-kind=triton_c_api) is not supported; use "
                                  "--launch-server to start a local Triton"),
}


def _refused_option(flag: str, kwargs: dict[str, Any], reason: str) -> F:
    kwargs = {"default": None, **kwargs}
    return click.option(flag, help=f"Refused: {reason}.", **kwargs)


def compat_options(fn: F) -> F:
    """Adds the options of this module to the profile command."""
    opts = [
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
    opts += [_refused_option(flag, kw, reason) for flag, (kw, reason) in REFUSED.items()]
    for opt in reversed(opts):
        fn = opt(fn)
    return fn


def _warn(message: str) -> None:
    print(f"WARNING: {message}", file=sys.stderr)


def _refuse(kw: dict[str, Any]) -> None:
    for flag in REFUSED:
        key = flag.lstrip("-").replace("-", "_")
        if kw.get(key) is not None and kw.get(key) is not False:
            raise OptionError(f"{flag}: not supported: {REFUSED[flag][1]}")


def _metrics(kw: dict[str, Any]) -> None:
    if not kw.get("collect_metrics"):
        for key, flag in (("metrics_url", "--metrics-url"),
                          ("metrics_interval_ms", "--metrics-interval")):
            if kw.get(key) is not None:
                raise OptionError(f"{flag} requires --collect-metrics")
    interval = kw.get("metrics_interval_ms")
    if interval is not None and interval <= 0:
        return  # the option table's check refuses it (no warning about a value refused)
    interval = interval or d.DEFAULT_METRICS_INTERVAL_MS
    window = kw.get("measurement_interval_ms") or d.DEFAULT_MEASUREMENT_INTERVAL_MS
    if (kw.get("collect_metrics") and kw.get("measurement_mode", "time_windows") == "time_windows"
            and interval > window):
        _warn(f"--metrics-interval {interval} ms is longer than the measurement "
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


def _sequence_length(kw: dict[str, Any]) -> None:
    """perf_analyzer reads ``--sequence-length 0`` as its default (with a warning): the flag is
    then as if not given (a negative length is refused by the option table)."""
    if kw.get("sequence_length") == 0:
        kw["sequence_length"] = None
        _warn(f"--sequence-length 0: the sequence length must be > 0; the default "
              f"{d.DEFAULT_SEQUENCE_LENGTH} is used (as perf_analyzer does)")


def apply_compat(kw: dict[str, Any]) -> dict[str, Any]:
    """Refuse what cannot be honoured, check the metrics flags, rewrite perf_client's options."""
    _refuse(kw)
    _metrics(kw)
    _perf_client(kw)
    _sequence_length(kw)
    if kw.get("fixed_schedule"):
        from ..load.fixed_schedule import check_fixed_schedule  # numpy: only when asked for

        check_fixed_schedule(kw)
    return kw


#: Long flags this module adds beside the option table: perf_client aliases (rewritten into table
#: flags before the build) and refused perf_analyzer options (never configuration).
COMPAT_LONG_FLAGS = frozenset({"--data-directory", *REFUSED})
