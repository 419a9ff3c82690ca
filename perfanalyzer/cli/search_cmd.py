"""``perfanalyzer search``: find the best model configuration (Model Analyzer's job).

Takes every profile flag (the load, windows and data of each candidate's sweep) plus the search's
own; the code is in :mod:`perfanalyzer.search`.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from ..config.policy import SEARCH_REFUSED
from ..errors import OptionError
from .floats import FiniteFloat
from .options import profile_options

#: Profile flags the search sets itself or cannot use (``search_refused`` in the option table):
#: refused when given, with the reason.
_REFUSED = SEARCH_REFUSED


def _ints(flag: str, text: str | None) -> tuple[int, ...]:
    if not text:
        return ()
    try:
        values = tuple(int(v) for v in text.split(","))
    except ValueError:
        raise OptionError(f"{flag}: expected integers like 1,2,4, got {text!r}") from None
    if any(v < 0 for v in values):
        raise OptionError(f"{flag}: values must be >= 0, got {text!r}")
    return values


def _onoff(text: str) -> tuple[bool, ...]:
    words = [w.strip().lower() for w in text.split(",") if w.strip()]
    if not words or any(w not in ("on", "off") for w in words):
        raise OptionError(f"--dynamic-batching: expected on, off or on,off, got {text!r}")
    return tuple(dict.fromkeys(w == "on" for w in words))


def _preferred(values: tuple[str, ...]) -> tuple[tuple[int, ...], ...]:
    return tuple(() if v.strip().lower() == "none" else _ints("--preferred-batch-sizes", v)
                 for v in values)


def search_config(kw: dict[str, Any], client_batches: tuple[int, ...]) -> Any:
    from ..search.objective import Objective
    from ..search.runner import SearchConfig
    from ..search.space import Space

    if kw["latency_budget_ms"] < 0:
        raise OptionError("--latency-budget-ms must be >= 0")
    if kw["instance_counts"] and 0 in _ints("--instance-counts", kw["instance_counts"]):
        raise OptionError("--instance-counts: counts must be >= 1")
    space = Space(instance_count=_ints("--instance-counts", kw["instance_counts"]),
                  max_batch_size=_ints("--max-batch-sizes", kw["max_batch_sizes"]),
                  dynamic_batching=_onoff(kw["dynamic_batching"]),
                  max_queue_delay_us=_ints("--max-queue-delays-us", kw["max_queue_delays_us"]),
                  preferred_batch_sizes=_preferred(kw["preferred_batch_sizes"]),
                  client_batch=client_batches)
    objective = Objective(kind=kw["objective"], latency_budget_ms=kw["latency_budget_ms"],
                          percentile=kw["percentile"], min_throughput=kw["min_throughput"])
    return SearchConfig(output_dir=kw["output_dir"], mode=kw["search_mode"], objective=objective,
                        space=space, top=kw["top"])


@click.command("search", context_settings={"help_option_names": ["-h", "--help"],
                                           "max_content_width": 100})
@click.option("--output-dir", required=True, metavar="DIR",
              help="Folder for the report and every candidate's results; rerunning the same "
              "command resumes a search stopped midway.")
@click.option("--mode", "search_mode", default="quick", show_default=True,
              type=click.Choice(["quick", "full"]),
              help="quick: coordinate descent from the model's configuration; full: every "
              "combination.")
@click.option("--objective", default="throughput", show_default=True,
              type=click.Choice(["throughput", "latency", "goodput"]),
              help="Maximise throughput, minimise latency (at --percentile, else average), or "
              "maximise goodput (requests within the --goodput limits per second).")
@click.option("--latency-budget-ms", default=0.0, type=FiniteFloat(min=0), show_default=True,
              help="Latency budget (at --percentile); each sweep stops there (0 = none).")
@click.option("--min-throughput", default=0.0, type=FiniteFloat(min=0), show_default=True,
              help="Only points with at least this many infer/s count.")
@click.option("--instance-counts", default="1,2,4", show_default=True, metavar="N[,N...]",
              help="Model instance counts to try (instance_group count).")
@click.option("--max-batch-sizes", default="", metavar="N[,N...]",
              help="Server max_batch_size values [default: the model's].")
@click.option("--dynamic-batching", default="on,off", show_default=True, metavar="on,off",
              help="Try the model with dynamic batching on, off, or both.")
@click.option("--max-queue-delays-us", default="", metavar="US[,US...]",
              help="Dynamic batching max_queue_delay_microseconds values [default: the model's].")
@click.option("--preferred-batch-sizes", multiple=True, metavar="N[,N...]|none",
              help="One alternative set of preferred batch sizes (repeatable) [default: the "
              "model's].")
@click.option("--top", default=5, type=click.IntRange(1), show_default=True,
              help="Configurations listed in summary.md.")
@profile_options
def search(**kwargs: Any) -> None:
    """Search model configurations (instance count, max_batch_size, dynamic batching, client
    batch) for the best throughput under a latency budget, through Triton's model repository
    API (needs explicit model control; --launch-server starts the bundled server that way). The
    model's configuration is restored at the end; the best one is written as config.pbtxt."""
    from ..search.main import run

    sc, cfg = configs_from_kwargs(kwargs)
    sys.exit(run(sc, cfg))


def configs_from_kwargs(kwargs: dict[str, Any]) -> tuple[Any, Any]:
    """(SearchConfig, RunConfig) from the command's keyword arguments (raises OptionError)."""
    from ..config.build import build as config_from_kwargs
    from ..config.dims import parse_batch_sizes

    kwargs = dict(kwargs)
    for key, (flag, default, why) in _REFUSED.items():
        if kwargs.get(key) not in (default, None, ""):
            raise OptionError(f"{flag}: not a search flag: {why}")
    batches = parse_batch_sizes(kwargs["batch_size"])
    search_kw = {k: kwargs.pop(k) for k in ("output_dir", "search_mode", "objective",
                                           "latency_budget_ms", "min_throughput",
                                           "instance_counts", "max_batch_sizes",
                                           "dynamic_batching", "max_queue_delays_us",
                                           "preferred_batch_sizes", "top")}
    search_kw["percentile"] = kwargs["percentile"]
    kwargs["batch_size"] = str(batches[0])
    # The budget is each sweep's -l: END 0 (until the budget) and --binary-search work as in profile.
    kwargs["latency_threshold_ms"] = search_kw["latency_budget_ms"]
    cfg = config_from_kwargs(kwargs)
    if cfg.inputs.shape_sets:
        raise OptionError("--shape: alternative shape sets are not searched; give one shape set")
    if search_kw["objective"] == "goodput" and not cfg.measurement.goodput:
        raise OptionError("--objective goodput: give the limits with --goodput \"KEY:MS ...\"")
    return search_config(search_kw, batches), cfg
