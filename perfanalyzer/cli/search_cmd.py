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
#: --mode tpe's budget when --trials is not given
DEFAULT_TRIALS = 20
#: Re-measurements of the finalists and the default after the exploration (one model).
DEFAULT_REPLICATES = 3


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


def _kinds(text: str) -> tuple[str, ...]:
    words = [w.strip().lower() for w in text.split(",") if w.strip()]
    if any(w not in ("cpu", "gpu") for w in words):
        raise OptionError(f"--instance-kinds: expected cpu, gpu or cpu,gpu, got {text!r}")
    return tuple(dict.fromkeys(words))


def _preferred(values: tuple[str, ...]) -> tuple[tuple[int, ...], ...]:
    return tuple(() if v.strip().lower() == "none" else _ints("--preferred-batch-sizes", v)
                 for v in values)


def search_config(kw: dict[str, Any], client_batches: tuple[int, ...]) -> Any:
    from ..search.limits import MEMORY, parse_limit, parse_weights
    from ..search.objective import Objective
    from ..search.runner import SearchConfig
    from ..search.space import Space

    if kw["latency_budget_ms"] < 0:
        raise OptionError("--latency-budget-ms must be >= 0")
    if kw["instance_counts"] and 0 in _ints("--instance-counts", kw["instance_counts"]):
        raise OptionError("--instance-counts: counts must be >= 1")
    space = Space(instance_count=_ints("--instance-counts", kw["instance_counts"]),
                  instance_kind=_kinds(kw["instance_kinds"]),
                  max_batch_size=_ints("--max-batch-sizes", kw["max_batch_sizes"]),
                  dynamic_batching=_onoff(kw["dynamic_batching"]),
                  max_queue_delay_us=_ints("--max-queue-delays-us", kw["max_queue_delays_us"]),
                  preferred_batch_sizes=_preferred(kw["preferred_batch_sizes"]),
                  client_batch=client_batches)
    limits = tuple(parse_limit(t, kw["percentile"]) for t in kw["constraint"])
    weights = parse_weights(kw["objectives"], kw["percentile"]) if kw["objectives"] else ()
    if weights and kw["objective"] != "throughput":
        raise OptionError("--objective and --objectives: give one (--objectives weighs several)")
    memory = sorted({n for n in [lim.metric for lim in limits] + [n for n, _ in weights]
                     if n in MEMORY})
    if memory and not kw["collect_metrics"]:
        raise OptionError(f"--constraint/--objectives {memory[0]}: the server's memory is read "
                          f"from its metrics: add --collect-metrics")
    objective = Objective(kind="weighted" if weights else kw["objective"],
                          latency_budget_ms=kw["latency_budget_ms"], percentile=kw["percentile"],
                          min_throughput=kw["min_throughput"], constraints=limits,
                          weights=weights)
    if kw["replicates"] is None:  # several models measured together are not re-measured yet
        several = len([m for m in str(kw.get("model") or "").split(",") if m.strip()]) > 1
        kw = {**kw, "replicates": 0 if several else DEFAULT_REPLICATES}
    if kw["replicates"] == 1:
        raise OptionError("--replicates: one run gives no interval: use 0 (no re-measurement) "
                          "or 2 or more")
    if kw["trials"] is not None and kw["search_mode"] != "tpe":
        raise OptionError("--trials: the budget of --mode tpe (quick and full end by themselves)")
    if kw["search_mode"] == "tpe":
        from ..search.tpe import require_optuna

        require_optuna()
    return SearchConfig(output_dir=kw["output_dir"], mode=kw["search_mode"], objective=objective,
                        space=space, top=kw["top"], replicates=kw["replicates"],
                        finalists=kw["finalists"],
                        trials=(kw["trials"] or DEFAULT_TRIALS) if kw["search_mode"] == "tpe"
                        else 0)


@click.command("search", context_settings={"help_option_names": ["-h", "--help"],
                                           "max_content_width": 100})
@click.option("--output-dir", required=True, metavar="DIR",
              help="Folder for the report and every candidate's results; rerunning the same "
              "command resumes a search stopped midway.")
@click.option("--mode", "search_mode", default="quick", show_default=True,
              type=click.Choice(["quick", "full", "tpe"]),
              help="quick: coordinate descent from the model's configuration; full: every "
              "combination; tpe: Optuna's TPE sampler within --trials (needs the search "
              "extra).")
@click.option("--trials", default=None, type=click.IntRange(1), metavar="N",
              help="--mode tpe: the most candidates measured (the default included) "
              "[default: 20].")
@click.option("--objective", default="throughput", show_default=True,
              type=click.Choice(["throughput", "latency", "goodput"]),
              help="Maximise throughput, minimise latency (at --percentile, else average), or "
              "maximise goodput (requests within the --goodput limits per second).")
@click.option("--latency-budget-ms", default=0.0, type=FiniteFloat(min=0), show_default=True,
              help="Latency budget (at --percentile); each sweep stops there (0 = none).")
@click.option("--min-throughput", default=0.0, type=FiniteFloat(min=0), show_default=True,
              help="Only points with at least this many infer/s count.")
@click.option("--constraint", multiple=True, metavar="NAME<=V|NAME>=V",
              help="A limit every counted point must meet, on Model Analyzer's metric names "
              "(repeatable): perf_throughput (infer/s), perf_latency_avg, perf_latency_p99... (ms), "
              "gpu_used_memory, cpu_used_ram (MB; need --collect-metrics).")
@click.option("--objectives", default="", metavar="NAME:W[,NAME:W...]",
              help="Several objectives with weights (Model Analyzer's names), e.g. "
              "perf_throughput:2,perf_latency_p99:1: the weighted mean of their logarithms "
              "(throughput up, latency and memory down) is maximised.")
@click.option("--instance-counts", default="1,2,4", show_default=True, metavar="N[,N...]",
              help="Model instance counts to try (instance_group count).")
@click.option("--instance-kinds", default="", metavar="cpu,gpu",
              help="Instance kinds to try (KIND_CPU, KIND_GPU); gpu needs a server whose "
              "metrics report a GPU [default: the model's].")
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
@click.option("--replicates", default=None, type=click.IntRange(0),
              help="After the exploration, the finalists and the default are re-measured this "
              "many times at their best level (fresh warm-up each run); the ranking shows 95 % "
              "intervals across the runs. 0: no re-measurement (single measurements). "
              f"[default: {DEFAULT_REPLICATES}; 0 for several models (-m a,b), which are not "
              "re-measured yet]")
@click.option("--finalists", default=3, type=click.IntRange(1), show_default=True,
              help="How many of the best explored candidates are re-measured (the default is "
              "always re-measured too).")
@profile_options
def search(**kwargs: Any) -> None:
    """Search model configurations (instance count, max_batch_size, dynamic batching, client
    batch) for the best throughput under a latency budget, through Triton's model repository
    API (needs explicit model control; --launch-server starts the bundled server that way). The
    model's configuration is restored at the end; the best one is written as config.pbtxt.
    -m ENSEMBLE searches its composing models (--bls-composing-models: a BLS model's), -m a,b
    several models loaded together under simultaneous load; each model's best is then
    best/MODEL/config.pbtxt."""
    from .lean_process import single_threaded_blas

    single_threaded_blas()
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
                                           "instance_counts", "instance_kinds",
                                           "max_batch_sizes",
                                           "dynamic_batching", "max_queue_delays_us",
                                           "preferred_batch_sizes", "top", "replicates",
                                           "finalists", "constraint", "objectives",
                                           "trials")}
    search_kw["percentile"] = kwargs["percentile"]
    search_kw["collect_metrics"] = kwargs["collect_metrics"]
    search_kw["model"] = kwargs["model"]
    kwargs["batch_size"] = str(batches[0])
    # The budget is each sweep's -l: END 0 (until the budget) and --binary-search work as in profile.
    kwargs["latency_threshold_ms"] = search_kw["latency_budget_ms"]
    cfg = config_from_kwargs(kwargs)
    if cfg.inputs.shape_sets:
        raise OptionError("--shape: alternative shape sets are not searched; give one shape set")
    sc = search_config(search_kw, batches)
    uses = {lim.metric for lim in sc.objective.constraints} | {n for n, _ in sc.objective.weights}
    if "goodput" in uses and not cfg.measurement.goodput:
        raise OptionError("--constraint/--objectives goodput: give the limits with --goodput "
                          "\"KEY:MS ...\"")
    several = [m for m in cfg.server.model.split(",") if m.strip()]
    if len(several) > 1:
        from ..search.together import check_together

        check_together(sc.replicates, cfg)
    if search_kw["objective"] == "goodput" and not cfg.measurement.goodput:
        raise OptionError("--objective goodput: give the limits with --goodput \"KEY:MS ...\"")
    return sc, cfg


